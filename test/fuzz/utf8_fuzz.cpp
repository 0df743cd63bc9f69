// libFuzzer target for lib/simd and lib/base/utf8.cpp, checked against the scalar
// reference: every UTF-8 kernel this CPU has must give the scalar answer;
// utf8_error_offset must equal the size exactly when the input is valid; the
// streaming validator, fed the input in pieces whose sizes come from the input,
// must agree and must accept the prefix before the error; and every mask kernel
// must produce the scalar result, in place and copying, from any key and phase.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "base/simd/kernels.hpp"
#include "zws/simd.hpp"
#include "zws/utf8.hpp"

namespace {

using zws::detail::kernels;

std::vector<const kernels*> available_kernels() {
  std::vector<const kernels*> out{&zws::detail::sse2_kernels};
  for (zws::isa i : {zws::isa::sse2, zws::isa::avx2, zws::isa::avx512})
    if (const kernels* k = zws::detail::kernels_for(i)) out.push_back(k);
  return out;
}

void check(bool ok) {
  if (!ok) __builtin_trap();
}

// Piece sizes for the validator: mostly small (splitting code points), sometimes large.
struct splitter {
  std::uint32_t state;
  std::size_t next(std::size_t left) {
    state = state * 1103515245u + 12345u;
    const std::size_t r = state >> 8;
    const std::size_t len = (r & 3) == 0 ? r % 300 : r % 5;
    return len < left ? len : left;
  }
};

void check_utf8(const std::uint8_t* data, std::size_t size) {
  const bool want = zws::detail::scalar_kernels.utf8_valid(data, size);
  for (const kernels* k : available_kernels()) check(k->utf8_valid(data, size) == want);
  check(zws::utf8_valid({data, size}) == want);

  const std::size_t err = zws::utf8_error_offset({data, size});
  check((err == size) == want);

  zws::utf8_validator v;
  splitter split{static_cast<std::uint32_t>(size * 2654435761u) ^ (size ? data[size - 1] : 0u)};
  bool ok = true;
  for (std::size_t at = 0; at < size && ok;) {
    const std::size_t len = split.next(size - at);
    ok = v.write({data + at, len});
    at += len;
  }
  check((ok && v.finish()) == want);

  zws::utf8_validator prefix;
  check(prefix.write({data, err}));
}

void check_mask(const std::uint8_t* data, std::size_t size) {
  if (size < 5) return;
  std::uint32_t key;
  std::memcpy(&key, data, 4);
  const std::size_t phase = data[4] & 3;
  const std::size_t offset = data[4] >> 2;  // 0..63: misaligns the copies below
  const std::uint8_t* src = data + 5;
  const std::size_t n = size - 5;
  std::vector<std::uint8_t> want(n), got(n + offset), in_place(n + offset);
  const std::size_t want_phase = zws::detail::scalar_kernels.mask(want.data(), src, n, key, phase);
  for (const kernels* k : available_kernels()) {
    check(k->mask(got.data() + offset, src, n, key, phase) == want_phase);
    check(std::memcmp(got.data() + offset, want.data(), n) == 0);
    if (n) std::memcpy(in_place.data() + offset, src, n);
    check(k->mask(in_place.data() + offset, in_place.data() + offset, n, key, phase) == want_phase);
    check(std::memcmp(in_place.data() + offset, want.data(), n) == 0);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  check_utf8(data, size);
  check_mask(data, size);
  return 0;
}
