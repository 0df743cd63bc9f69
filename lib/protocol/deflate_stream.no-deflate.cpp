// The stand-in for a build without zlib (DEFLATE=0): every stream call fails with
// error::deflate_unavailable, "zws was built without permessage-deflate (make DEFLATE=1)",
// and deflate_available() tells the endpoint never to offer or accept the extension.
#include "protocol/deflate_stream.hpp"
#include "zws/deflate.hpp"

namespace zws {

bool deflate_available() noexcept { return false; }

namespace detail {

zlib_budget::zlib_budget(zlib_budget* parent, std::size_t) noexcept : parent_(parent) {}
zlib_budget::~zlib_budget() {}  // NOLINT(modernize-use-equals-default): one declaration for both builds
bool zlib_budget::take(std::size_t) noexcept { return false; }
void zlib_budget::give(std::size_t) noexcept {}

std::size_t inflater_state_bytes(int) noexcept { return 0; }
std::size_t deflater_state_bytes(int, int) noexcept { return 0; }

inflater::inflater(const inflater_config& c) noexcept : cfg_(c), err_(error::deflate_unavailable) {}
inflater::~inflater() {}  // NOLINT(modernize-use-equals-default): one declaration for both builds
inflater::inflater(inflater&& other) noexcept : cfg_(other.cfg_), err_(other.err_) {}
inflater& inflater::operator=(inflater&& other) noexcept {
  cfg_ = other.cfg_;
  return *this;
}
error inflater::fail(error e) noexcept { return err_ = e; }
void inflater::begin(std::uint64_t, bool) noexcept {}
error inflater::write(std::span<const std::uint8_t>, buffer&) noexcept { return fail(error::deflate_unavailable); }
error inflater::finish(buffer&) noexcept { return fail(error::deflate_unavailable); }
std::size_t inflater::memory_held() const noexcept { return 0; }
void inflater::release() noexcept {}

deflater::deflater(const deflater_config& c) noexcept : cfg_(c), err_(error::deflate_unavailable) {}
deflater::~deflater() {}  // NOLINT(modernize-use-equals-default): one declaration for both builds
deflater::deflater(deflater&& other) noexcept : cfg_(other.cfg_), err_(other.err_) {}
deflater& deflater::operator=(deflater&& other) noexcept {
  cfg_ = other.cfg_;
  return *this;
}
error deflater::compress(std::span<const std::uint8_t>, buffer&) noexcept { return error::deflate_unavailable; }
std::size_t deflater::memory_held() const noexcept { return 0; }
void deflater::release() noexcept {}

shared_deflaters::shared_deflaters(int level, std::uint8_t mem_level, zlib_budget* budget) noexcept
    : budget_(budget), level_(level), mem_level_(mem_level) {}
deflater& shared_deflaters::for_window(std::uint8_t) noexcept { return by_bits_[0]; }
bool shared_deflaters::reserved(std::uint8_t) const noexcept { return false; }
std::size_t shared_deflaters::memory_held() const noexcept { return 0; }
void shared_deflaters::release() noexcept {}

}  // namespace detail
}  // namespace zws
