#include "upstream.h"

#include "client.h"

#include <arpa/inet.h>
#include <cerrno>
#include <charconv>
#include <csignal>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sstream>
#include <stdexcept>
#include <sys/socket.h>
#include <unistd.h>

#ifndef DEMO_UPSTREAM_BIN
#error "DEMO_UPSTREAM_BIN must be defined (tests/integration/meson.build does it)"
#endif

namespace weir::test {

sockaddr_in loopback_address(uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  return a;
}

uint16_t unused_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  sockaddr_in a = loopback_address(0);
  socklen_t len = sizeof a;
  uint16_t port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), len) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
    port = ntohs(a.sin_port);
  ::close(fd);
  return port;
}

ClosedPort::ClosedPort() {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return;
  sockaddr_in a = loopback_address(0);
  socklen_t len = sizeof a;
  if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), len) == 0 &&
      ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) == 0)
    port_ = ntohs(a.sin_port);
}

ClosedPort::~ClosedPort() {
  if (fd_ >= 0) ::close(fd_);
}

std::string ClosedPort::address() const {
  return "127.0.0.1:" + std::to_string(port_);
}

int listen_loopback(uint16_t& port, int backlog) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a = loopback_address(0);
  socklen_t len = sizeof a;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, backlog) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    int err = errno;
    ::close(fd);
    errno = err;
    return -1;
  }
  port = ntohs(a.sin_port);
  return fd;
}

uint16_t port_at_end(std::string_view line) {
  while (!line.empty() && (line.back() == '\r' || line.back() == ' '))
    line.remove_suffix(1);
  size_t colon = line.rfind(':');
  if (colon == std::string_view::npos) return 0;
  std::string_view digits = line.substr(colon + 1);
  unsigned value = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (ec != std::errc() || end != digits.data() + digits.size() || value == 0 || value > 65535)
    return 0;
  return static_cast<uint16_t>(value);
}

DemoUpstream& DemoUpstream::operator=(DemoUpstream&& other) {
  if (this != &other) {
    stop();
    proc = std::move(other.proc);
    port = other.port;
  }
  return *this;
}

bool DemoUpstream::stop() {
  if (!proc) return true;
  return proc->stop_cleanly("weir-demo-upstream on port " + std::to_string(port),
                            std::chrono::seconds(10), SIGTERM);
}

DemoUpstream DemoUpstream::start(const std::string& name, std::vector<std::string> extra_args) {
  std::vector<std::string> argv = {DEMO_UPSTREAM_BIN, "--listen", "127.0.0.1:0", "--name", name};
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  DemoUpstream up;
  up.proc = Process::start(argv);
  if (!up.proc) {
    ADD_FAILURE() << "cannot start " << DEMO_UPSTREAM_BIN;
    throw std::runtime_error("cannot start demo upstream");
  }
  auto line = up.proc->wait_for_line("listening on", std::chrono::seconds(10));
  if (line) up.port = port_at_end(*line);
  if (!line || up.port == 0) {
    ADD_FAILURE() << "weir-demo-upstream " << name << " did not report its port within 10 s;"
                  << " output:\n"
                  << up.proc->output();
    up.proc.reset(); // reported above
    throw std::runtime_error("demo upstream did not start");
  }
  return up;
}

DemoUpstream::Counts DemoUpstream::counts() const {
  HttpResponse r = http_request(port, "GET", "/counts");
  Counts c;
  std::istringstream in(r.body);
  std::string word;
  long n = 0;
  while (in >> word >> n) {
    if (word == "with") c.with = n;
    if (word == "without") c.without = n;
  }
  return c;
}

std::string DemoUpstream::address() const {
  return "127.0.0.1:" + std::to_string(port);
}

} // namespace weir::test
