// lib/protocol/resp_reader.no-redis.cpp — resp_reader in a build without the Redis
// bridge: every call reports that it is missing, so a bridge configured anyway
// fails with a message that says how to get it.
#include "protocol/resp.hpp"

namespace zws::resp {

namespace {
constexpr std::string_view missing_reason = "zws was built without the Redis bridge: rebuild with make REDIS=1";
}

struct resp_reader::impl {};

resp_reader::resp_reader(std::size_t) {}
resp_reader::~resp_reader() = default;

bool resp_reader::available() noexcept { return false; }

std::string_view resp_reader::error() const noexcept { return missing_reason; }

result resp_reader::next(std::span<const std::uint8_t>) { return {0, status::missing, {}}; }

}  // namespace zws::resp
