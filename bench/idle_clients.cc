// idle_clients: opens N keep-alive connections to a proxy, sends one GET on each and reads its
// response, then keeps every connection open and idle until SIGTERM or SIGINT.
// bench/run.sh measures the proxy's resident memory before and after, to price one idle
// keep-alive client connection. Prints "idle N" on stdout once all N are idle.
//
// usage: idle_clients HOST PORT N [PATH]
#include <arpa/inet.h>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string>
#include <string_view>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

namespace {

// Case-insensitive search for "\r\ncontent-length:" in a head; -1 when absent.
long content_length(std::string_view head) {
  constexpr std::string_view kName = "\r\ncontent-length:";
  for (size_t i = 0; i + kName.size() <= head.size(); ++i) {
    size_t j = 0;
    while (j < kName.size() && std::tolower(static_cast<unsigned char>(head[i + j])) == kName[j])
      ++j;
    if (j != kName.size()) continue;
    size_t p = i + j;
    while (p < head.size() && (head[p] == ' ' || head[p] == '\t'))
      ++p;
    long n = 0;
    auto [end, ec] = std::from_chars(head.data() + p, head.data() + head.size(), n);
    return ec == std::errc() ? n : -1;
  }
  return -1;
}

// True once `data` holds one complete response (Content-Length or chunked framing).
bool response_complete(std::string_view data) {
  const size_t head_end = data.find("\r\n\r\n");
  if (head_end == std::string_view::npos) return false;
  const std::string_view head = data.substr(0, head_end + 2);
  const std::string_view body = data.substr(head_end + 4);
  const long len = content_length(head);
  if (len >= 0) return body.size() >= static_cast<size_t>(len);
  return body.size() >= 5 && body.substr(body.size() - 5) == "0\r\n\r\n";
}

int connect_one(const sockaddr_in& addr) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// One request and its whole response, with a 5 s deadline per read.
bool exchange(int fd, const std::string& request) {
  if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(request.size()))
    return false;
  std::string data;
  char buf[4096];
  while (!response_complete(data)) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 5000) <= 0) return false;
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return false;
    data.append(buf, static_cast<size_t>(n));
  }
  return data.rfind("HTTP/1.1 200", 0) == 0 || data.rfind("HTTP/1.0 200", 0) == 0;
}

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) {
  g_stop = 1;
}

} // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: idle_clients HOST PORT N [PATH]\n");
    return 2;
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  if (::inet_pton(AF_INET, argv[1], &addr.sin_addr) != 1) {
    std::fprintf(stderr, "idle_clients: bad IPv4 address '%s'\n", argv[1]);
    return 2;
  }
  addr.sin_port = htons(static_cast<uint16_t>(std::atoi(argv[2])));
  const long n = std::atol(argv[3]);
  const std::string path = argc > 4 ? argv[4] : "/";
  const std::string request =
      "GET " + path + " HTTP/1.1\r\nHost: bench.local\r\nUser-Agent: idle_clients\r\n\r\n";

  std::signal(SIGTERM, on_signal);
  std::signal(SIGINT, on_signal);
  std::signal(SIGPIPE, SIG_IGN);

  std::vector<int> fds;
  fds.reserve(static_cast<size_t>(n));
  for (long i = 0; i < n; ++i) {
    const int fd = connect_one(addr);
    if (fd < 0) {
      std::fprintf(stderr, "idle_clients: connect #%ld: %s\n", i, std::strerror(errno));
      return 1;
    }
    if (!exchange(fd, request)) {
      std::fprintf(stderr, "idle_clients: request on connection #%ld failed\n", i);
      return 1;
    }
    fds.push_back(fd);
  }
  std::printf("idle %ld\n", n);
  std::fflush(stdout);

  // Stay idle; a closed connection (proxy timeout) is reported, since it voids the measurement.
  std::vector<pollfd> polls;
  polls.reserve(fds.size());
  for (int fd : fds)
    polls.push_back({fd, POLLIN, 0});
  while (!g_stop) {
    const int r = ::poll(polls.data(), polls.size(), 1000);
    if (r < 0 && errno != EINTR) break;
    if (r <= 0) continue;
    for (size_t i = 0; i < polls.size(); ++i) {
      if (polls[i].revents == 0) continue;
      std::fprintf(stderr, "idle_clients: connection #%zu closed by the proxy\n", i);
      polls[i].fd = -1;
    }
  }
  for (int fd : fds)
    ::close(fd);
  return 0;
}
