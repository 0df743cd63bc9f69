#include "base/random.hpp"

#include <fcntl.h>
#include <sys/random.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace zws::detail {
namespace {

constexpr std::size_t pool_size = 4096;

struct pool {
  std::uint8_t bytes[pool_size];
  std::size_t used = pool_size;
};

void fill(std::uint8_t* p, std::size_t n) noexcept {
  while (n > 0) {
    ssize_t r = ::getrandom(p, n, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      // No getrandom (ENOSYS under old seccomp profiles): fall back to the device.
      int fd = ::open("/dev/urandom", O_RDONLY | O_CLOEXEC);
      if (fd < 0) return;
      while (n > 0 && (r = ::read(fd, p, n)) > 0) {
        p += r;
        n -= static_cast<std::size_t>(r);
      }
      ::close(fd);
      return;
    }
    p += r;
    n -= static_cast<std::size_t>(r);
  }
}

}  // namespace

void random_bytes(void* out, std::size_t n) noexcept {
  thread_local pool p;
  auto* dst = static_cast<std::uint8_t*>(out);
  if (n > pool_size / 4) {
    fill(dst, n);
    return;
  }
  if (pool_size - p.used < n) {
    fill(p.bytes, pool_size);
    p.used = 0;
  }
  std::memcpy(dst, p.bytes + p.used, n);
  // Bytes handed out are wiped so a later dump of the pool reveals nothing used.
  std::memset(p.bytes + p.used, 0, n);
  p.used += n;
}

}  // namespace zws::detail
