// The noServer pattern: a plain HTTP server of our own accepts connections and
// reads each request head; plain requests it answers itself, upgrade requests
// it hands over — socket plus the bytes already read — to Server::adopt.
//   adopt_server PORT      (/adopted echoes; other paths 404 from zws)
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zws/zws.hpp>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

namespace {

// Reads until the end of the request head, for at most five seconds.
bool read_head(int fd, std::string& bytes) {
  char buf[4096];
  while (bytes.find("\r\n\r\n") == std::string::npos) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 5000) <= 0) return false;
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0 || bytes.size() > 16384) return false;
    bytes.append(buf, std::size_t(n));
  }
  return true;
}

bool is_upgrade(std::string head) {
  std::transform(head.begin(), head.end(), head.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return head.find("\r\nupgrade: websocket") != std::string::npos;
}

void answer_plain(int fd) {
  static const char reply[] =
      "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 18\r\nConnection: close\r\n\r\n"
      "plain http server\n";
  (void)!::write(fd, reply, sizeof reply - 1);
  ::close(fd);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: adopt_server PORT\n");
    return 1;
  }
  int lfd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(std::uint16_t(std::atoi(argv[1])));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(lfd, 64) != 0) {
    std::perror("adopt_server: bind/listen");
    return 1;
  }
  zws::Server server;
  server.route("/adopted", {.on_message = [](zws::WebSocket& ws, const zws::Message& m) { ws.send(m.data, m.opcode); }});
  std::thread loop([&server] { server.run(); });
  std::printf("adopt_server on 127.0.0.1:%s\n", argv[1]);
  std::fflush(stdout);
  for (;;) {
    int fd = ::accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    std::string bytes;
    if (!read_head(fd, bytes)) {
      ::close(fd);
    } else if (!is_upgrade(bytes)) {
      answer_plain(fd);
    } else if (auto err = server.adopt(fd, bytes)) {
      std::fprintf(stderr, "adopt_server: adopt: %s\n", err.message().c_str());
    }
  }
}
