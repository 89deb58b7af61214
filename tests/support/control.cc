#include "control.h"

#include <cerrno>
#include <cstring>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace weir::test {

std::unique_ptr<ControlClient> ControlClient::connect(const std::string& path, int* err) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) {
    if (err) *err = ENAMETOOLONG;
    return nullptr;
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    if (err) *err = errno;
    return nullptr;
  }
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    if (err) *err = errno;
    ::close(fd);
    return nullptr;
  }
  return std::unique_ptr<ControlClient>(new ControlClient(fd));
}

ControlClient::~ControlClient() {
  ::close(fd_);
}

bool ControlClient::send(std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

std::optional<std::string> ControlClient::read_line(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    size_t nl = buf_.find('\n');
    if (nl != std::string::npos) {
      std::string line = buf_.substr(0, nl);
      buf_.erase(0, nl + 1);
      return line;
    }
    if (!fill(deadline)) return std::nullopt;
  }
}

json::Value ControlClient::command(std::string_view line, std::chrono::milliseconds timeout) {
  last_.clear();
  if (!send(std::string(line) + "\n")) return {};
  auto reply = read_line(timeout);
  if (!reply) return {};
  last_ = *reply;
  auto parsed = json::parse(*reply);
  return parsed.value ? *parsed.value : json::Value();
}

bool ControlClient::closed_by_peer(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (fill(deadline)) {
  }
  return eof_;
}

bool ControlClient::fill(std::chrono::steady_clock::time_point deadline) {
  if (eof_) return false;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() < 0) return false;
    pollfd p{fd_, POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    char chunk[8192];
    ssize_t n = ::read(fd_, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      eof_ = true;
      return false;
    }
    buf_.append(chunk, static_cast<size_t>(n));
    return true;
  }
}

std::unique_ptr<ControlClient> connect_control(const std::string& socket) {
  int err = 0;
  auto c = ControlClient::connect(socket, &err);
  EXPECT_TRUE(c) << "cannot connect to " << socket << ": " << std::strerror(err);
  return c;
}

const json::Value& backend_field(const json::Value& route, const std::string& service,
                                 const std::string& field) {
  static const json::Value null;
  for (const auto& b : route["backends"].as_array())
    if (b.get_string("service") == service) return b[field];
  return null;
}

} // namespace weir::test
