// lib/base/simd/dispatch.cpp — picks the kernel table once and implements the public
// functions of zws/simd.hpp through it.
//
// The hot path is one relaxed load of a table pointer and one indirect call. The
// pointer starts at a table of resolvers: the first call through it chooses the
// real table (CPUID/XCR0 via cpu(), then ZWS_FORCE_ISA), stores it and forwards.
// Concurrent first calls all compute and store the same pointer, so no lock is
// needed, and every table is a constant-initialised object, so a relaxed load
// is enough to see its contents.
#include <atomic>
#include <cstdlib>
#include <cstring>

#include "base/cpu.hpp"
#include "base/simd/kernels.hpp"
#include "zws/simd.hpp"

namespace zws::detail {
namespace {

constexpr isa best_first[] = {isa::avx512, isa::avx2, isa::sse2, isa::scalar};

const kernels* table_of(isa i) noexcept {
  const cpu_features& f = cpu();
  switch (i) {
    case isa::scalar: return &scalar_kernels;
    case isa::sse2: return !f.sse2 ? nullptr : f.ssse3 ? &ssse3_kernels : &sse2_kernels;
    case isa::avx2: return f.avx2 ? &avx2_kernels : nullptr;
    case isa::avx512: return f.avx512 ? &avx512_kernels : nullptr;
  }
  return nullptr;
}

struct choice {
  isa id;
  const kernels* table;
};

choice choose() noexcept {
  if (const char* forced = std::getenv("ZWS_FORCE_ISA")) {
    for (isa i : best_first)
      if (isa_name(i) == forced)
        if (const kernels* t = table_of(i)) return {i, t};
  }
  for (isa i : best_first)
    if (const kernels* t = table_of(i)) return {i, t};
  return {isa::scalar, &scalar_kernels};
}

const choice& chosen() noexcept {
  static const choice c = choose();
  return c;
}

extern const kernels resolver_kernels;
constinit std::atomic<const kernels*> active{&resolver_kernels};

const kernels& resolve() noexcept {
  const kernels* t = chosen().table;
  active.store(t, std::memory_order_relaxed);
  return *t;
}

std::size_t resolve_mask(std::uint8_t* dst, const std::uint8_t* src, std::size_t n, std::uint32_t key,
                         std::size_t phase) {
  return resolve().mask(dst, src, n, key, phase);
}

bool resolve_utf8_valid(const std::uint8_t* p, std::size_t n) { return resolve().utf8_valid(p, n); }

const kernels resolver_kernels = {resolve_mask, resolve_utf8_valid};

std::uint32_t key_word(mask_key key) noexcept {
  return std::uint32_t(key.bytes[0]) | std::uint32_t(key.bytes[1]) << 8 | std::uint32_t(key.bytes[2]) << 16 |
         std::uint32_t(key.bytes[3]) << 24;
}

}  // namespace

const kernels* kernels_for(isa i) noexcept { return table_of(i); }

const kernels& active_kernels() noexcept { return *active.load(std::memory_order_relaxed); }

}  // namespace zws::detail

namespace zws {

std::string_view isa_name(isa i) noexcept {
  switch (i) {
    case isa::scalar: return "scalar";
    case isa::sse2: return "sse2";
    case isa::avx2: return "avx2";
    case isa::avx512: return "avx512";
  }
  return "unknown";
}

isa active_isa() noexcept { return detail::chosen().id; }

bool isa_supported(isa i) noexcept { return detail::kernels_for(i) != nullptr; }

std::size_t detail::mask_dispatched(std::uint8_t* dst, const std::uint8_t* src, std::size_t n, mask_key key,
                                    std::size_t phase) noexcept {
  return active_kernels().mask(dst, src, n, key_word(key), phase);
}

bool utf8_valid(std::span<const std::uint8_t> bytes) noexcept {
  return detail::active_kernels().utf8_valid(bytes.data(), bytes.size());
}

}  // namespace zws
