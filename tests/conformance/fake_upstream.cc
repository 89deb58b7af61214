#include "fake_upstream.h"

#include "case_file.h"

#include <arpa/inet.h>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <optional>
#include <poll.h>
#include <stdexcept>
#include <sys/socket.h>
#include <unistd.h>

namespace weir::conformance {

namespace {

constexpr size_t kReadChunk = 64 * 1024;

bool ieq(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

bool lists_token(std::string_view list, std::string_view token) {
  while (!list.empty()) {
    size_t comma = list.find(',');
    if (ieq(trim(list.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

enum class Frame { complete, incomplete, invalid };

// End of a chunked body starting at `pos` (past the trailer section's empty line). Proxies
// re-frame what they forward, so anything but strict CRLF framing is reported as invalid.
Frame chunked_end(std::string_view in, size_t pos, size_t& end) {
  for (;;) {
    size_t eol = in.find("\r\n", pos);
    if (eol == std::string_view::npos) return Frame::incomplete;
    std::string_view line = in.substr(pos, eol - pos);
    size_t digits = 0;
    uint64_t size = 0;
    while (digits < line.size() && std::isxdigit(static_cast<unsigned char>(line[digits])))
      ++digits;
    if (digits == 0 || digits > 15) return Frame::invalid;
    std::from_chars(line.data(), line.data() + digits, size, 16);
    pos = eol + 2;
    if (size == 0) {
      for (;;) {
        size_t t = in.find("\r\n", pos);
        if (t == std::string_view::npos) return Frame::incomplete;
        bool last = t == pos;
        pos = t + 2;
        if (last) {
          end = pos;
          return Frame::complete;
        }
      }
    }
    if (in.size() < pos + size + 2) return Frame::incomplete;
    if (in.substr(pos + size, 2) != "\r\n") return Frame::invalid;
    pos += size + 2;
  }
}

struct RequestHead {
  std::string_view method, target, version;
  std::optional<uint64_t> content_length;
  bool chunked = false;
  bool close = false;
  bool keep_alive = false;
};

std::optional<RequestHead> parse_head(std::string_view head) {
  RequestHead h;
  size_t eol = head.find("\r\n");
  std::string_view line = head.substr(0, eol);
  size_t sp1 = line.find(' ');
  size_t sp2 = line.rfind(' ');
  if (sp1 == std::string_view::npos || sp2 == sp1) return std::nullopt;
  h.method = line.substr(0, sp1);
  h.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  h.version = line.substr(sp2 + 1);
  head.remove_prefix(eol == std::string_view::npos ? head.size() : eol + 2);
  while (!head.empty()) {
    eol = head.find("\r\n");
    std::string_view field = head.substr(0, eol);
    head.remove_prefix(eol == std::string_view::npos ? head.size() : eol + 2);
    size_t colon = field.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view name = field.substr(0, colon);
    std::string_view value = trim(field.substr(colon + 1));
    if (ieq(name, "content-length")) {
      uint64_t n = 0;
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (ec != std::errc() || end != value.data() + value.size()) return std::nullopt;
      h.content_length = n;
    } else if (ieq(name, "transfer-encoding")) {
      h.chunked = lists_token(value, "chunked");
    } else if (ieq(name, "connection")) {
      h.close = h.close || lists_token(value, "close");
      h.keep_alive = h.keep_alive || lists_token(value, "keep-alive");
    }
  }
  return h;
}

} // namespace

bool Recording::empty() const {
  for (const std::string& c : connections)
    if (!c.empty()) return false;
  return true;
}

FakeUpstream::FakeUpstream(uint16_t port) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  socklen_t len = sizeof addr;
  if (listen_fd_ < 0 || ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
      ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
      ::listen(listen_fd_, 128) != 0 ||
      ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0 ||
      ::pipe2(wake_, O_CLOEXEC) != 0) {
    std::string why = std::strerror(errno);
    if (listen_fd_ >= 0) ::close(listen_fd_);
    throw std::runtime_error("fake upstream on 127.0.0.1:" + std::to_string(port) + ": " + why);
  }
  port_ = ntohs(addr.sin_port);
  thread_ = std::thread([this] { run(); });
}

FakeUpstream::~FakeUpstream() {
  char c = 0;
  (void)!::write(wake_[1], &c, 1);
  thread_.join();
  for (auto& [fd, conn] : connections_)
    ::close(fd);
  for (int fd : {listen_fd_, wake_[0], wake_[1]})
    if (fd >= 0) ::close(fd);
}

void FakeUpstream::run() {
  std::vector<pollfd> fds;
  for (;;) {
    fds.clear();
    fds.push_back({wake_[0], POLLIN, 0});
    fds.push_back({listen_fd_, POLLIN, 0});
    {
      std::lock_guard lock(mutex_);
      for (const auto& [fd, conn] : connections_)
        fds.push_back({fd, POLLIN, 0});
    }
    int n = ::poll(fds.data(), fds.size(), -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[0].revents) return;
    if (fds[1].revents & POLLIN) accept_one();
    for (size_t i = 2; i < fds.size(); ++i) {
      if (!fds[i].revents) continue;
      std::lock_guard lock(mutex_);
      auto it = connections_.find(fds[i].fd);
      if (it != connections_.end()) read_from(it->second);
    }
  }
}

void FakeUpstream::accept_one() {
  int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
  if (fd < 0) return;
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  timeval send_timeout{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &send_timeout, sizeof send_timeout);
  std::lock_guard lock(mutex_);
  Connection& c = connections_[fd];
  c.fd = fd;
  c.id = next_id_++;
}

void FakeUpstream::read_from(Connection& c) {
  char buf[kReadChunk];
  ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
  if (n <= 0) {
    if (c.id == reply_connection_) recording_.reply_connection_closed = true;
    int fd = c.fd;
    ::close(fd);
    connections_.erase(fd); // c is gone
    changed_.notify_all();
    return;
  }
  auto [slot, inserted] = recording_index_.try_emplace(c.id, recording_.connections.size());
  if (inserted) recording_.connections.emplace_back();
  recording_.connections[slot->second].append(buf, static_cast<size_t>(n));
  c.in.append(buf, static_cast<size_t>(n));
  frame_requests(c);
  changed_.notify_all();
}

void FakeUpstream::frame_requests(Connection& c) {
  while (!c.unframable) {
    size_t head_end = c.in.find("\r\n\r\n");
    if (head_end == std::string::npos) return;
    std::optional<RequestHead> h = parse_head(std::string_view(c.in).substr(0, head_end + 2));
    if (!h) {
      c.unframable = true;
      return;
    }
    size_t end = head_end + 4;
    if (h->chunked) {
      Frame f = chunked_end(c.in, end, end);
      if (f == Frame::incomplete) return;
      if (f == Frame::invalid) {
        c.unframable = true;
        return;
      }
    } else if (h->content_length) {
      if (c.in.size() - end < *h->content_length) return;
      end += *h->content_length;
    }
    std::string raw = c.in.substr(0, end);
    c.in.erase(0, end);
    std::string target(h->target);
    bool head_method = h->method == "HEAD";
    bool close_after = h->close || (h->version == "HTTP/1.0" && !h->keep_alive);
    targets_seen_.insert(target);
    if (c.carried_reply) recording_.reply_connection_reused = true;
    if (target.rfind(kRunnerPrefix, 0) == 0) {
      // The runner's own request: answered, not recorded.
      auto slot = recording_index_.find(c.id);
      if (slot != recording_index_.end()) {
        std::string& rec = recording_.connections[slot->second];
        size_t at = rec.rfind(raw);
        if (at != std::string::npos) rec.erase(at, raw.size());
      }
    } else {
      ++case_requests_;
      recording_.request_lines.push_back(raw.substr(0, raw.find("\r\n")));
      if (!reply_.empty() && !recording_.reply_sent) {
        recording_.reply_sent = true;
        reply_connection_ = c.id;
        c.carried_reply = true;
        if (!c.closing) answer(c, reply_, !reply_keep_);
        continue;
      }
    }
    if (c.closing) continue;
    std::string shown = printable(target, 200);
    std::string body = head_method ? "" : "upstream\n";
    std::string response = "HTTP/1.1 200 OK\r\nContent-Length: 9\r\nX-Conformance: upstream\r\n"
                           "X-Conformance-Target: " +
                           shown + "\r\n" + (close_after ? "Connection: close\r\n" : "") + "\r\n" +
                           body;
    answer(c, response, close_after);
  }
}

void FakeUpstream::answer(Connection& c, std::string_view bytes, bool close_after) {
  while (!bytes.empty()) {
    ssize_t n = ::send(c.fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  if (close_after) {
    // A half close: the proxy reads the end of the reply, and whatever it sends later is still
    // recorded (closing with its bytes unread would reset the connection instead).
    ::shutdown(c.fd, SHUT_WR);
    c.closing = true;
  }
}

void FakeUpstream::begin_case(std::string reply, bool keep) {
  std::lock_guard lock(mutex_);
  reply_ = std::move(reply);
  reply_keep_ = keep;
  recording_ = {};
  recording_index_.clear();
  targets_seen_.clear();
  reply_connection_ = 0;
  case_requests_ = 0;
  for (auto& [fd, c] : connections_)
    c.carried_reply = false;
}

bool FakeUpstream::wait_for_target(const std::string& target, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, timeout, [&] { return targets_seen_.count(target) > 0; });
}

bool FakeUpstream::wait_for_request(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, timeout, [&] { return case_requests_ > 0; });
}

Recording FakeUpstream::end_case() {
  std::lock_guard lock(mutex_);
  Recording out = std::move(recording_);
  recording_ = {};
  recording_index_.clear();
  reply_.clear();
  return out;
}

} // namespace weir::conformance
