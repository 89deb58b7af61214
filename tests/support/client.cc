#include "client.h"

#include <arpa/inet.h>
#include <cerrno>
#include <charconv>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace weir::test {

namespace {

constexpr size_t kReadChunk = 256 * 1024;

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

bool contains_token(std::string_view list, std::string_view token) {
  while (!list.empty()) {
    size_t comma = list.find(',');
    std::string_view item = trim(list.substr(0, comma));
    if (iequals(item, token)) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

} // namespace

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

std::string HttpResponse::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (iequals(k, name)) return v;
  return "";
}

bool HttpResponse::has_header(std::string_view name) const {
  return header_count(name) > 0;
}

size_t HttpResponse::header_count(std::string_view name) const {
  size_t n = 0;
  for (const auto& h : headers)
    if (iequals(h.first, name)) ++n;
  return n;
}

std::unique_ptr<RawClient> RawClient::connect(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return nullptr;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int rc;
  do {
    rc = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  } while (rc < 0 && errno == EINTR);
  if (rc < 0) {
    ::close(fd);
    return nullptr;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  timeval send_timeout{30, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &send_timeout, sizeof send_timeout);
  return std::unique_ptr<RawClient>(new RawClient(fd));
}

RawClient::~RawClient() {
  if (fd_ >= 0) ::close(fd_);
}

bool RawClient::send(std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

void RawClient::shutdown_write() {
  ::shutdown(fd_, SHUT_WR);
}

std::string_view RawClient::buffered() const {
  return std::string_view(buf_).substr(pos_);
}

void RawClient::consume(size_t n) {
  pos_ += n;
  if (pos_ == buf_.size()) {
    buf_.clear();
    pos_ = 0;
  }
}

RawClient::Fill RawClient::fill(std::chrono::steady_clock::time_point deadline) {
  if (eof_) return Fill::eof;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() < 0) left = std::chrono::milliseconds(0);
    pollfd p{fd_, POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(std::min<long long>(left.count(), 1 << 30)));
    if (r < 0) {
      if (errno == EINTR) continue;
      return Fill::error;
    }
    if (r == 0) return Fill::timeout;
    if (pos_ > 0 && pos_ >= buf_.size() / 2) {
      buf_.erase(0, pos_);
      pos_ = 0;
    }
    size_t old = buf_.size();
    buf_.resize(old + kReadChunk);
    ssize_t n = ::recv(fd_, buf_.data() + old, kReadChunk, 0);
    if (n < 0) {
      buf_.resize(old);
      if (errno == EINTR || errno == EAGAIN) continue;
      if (errno == ECONNRESET) {
        eof_ = true;
        return Fill::eof;
      }
      return Fill::error;
    }
    buf_.resize(old + static_cast<size_t>(n));
    if (n == 0) {
      eof_ = true;
      return Fill::eof;
    }
    return Fill::data;
  }
}

std::optional<HttpResponse> RawClient::read_response(std::chrono::milliseconds timeout,
                                                     bool head_request) {
  return read_one(nullptr, timeout, head_request);
}

std::optional<HttpResponse>
RawClient::read_response_streaming(const std::function<void(std::string_view)>& on_body,
                                   std::chrono::milliseconds timeout, bool head_request) {
  return read_one(&on_body, timeout, head_request);
}

std::optional<HttpResponse>
RawClient::read_one(const std::function<void(std::string_view)>* on_body,
                    std::chrono::milliseconds timeout, bool head_request) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  size_t head_end;
  for (;;) {
    head_end = buffered().find("\r\n\r\n");
    if (head_end != std::string_view::npos) break;
    if (fill(deadline) != Fill::data) return std::nullopt;
  }
  HttpResponse resp;
  std::string_view head = buffered().substr(0, head_end + 2);
  size_t line_end = head.find("\r\n");
  std::string_view status_line = head.substr(0, line_end);
  size_t sp1 = status_line.find(' ');
  if (sp1 == std::string_view::npos) return std::nullopt;
  resp.version = std::string(status_line.substr(0, sp1));
  std::string_view rest = status_line.substr(sp1 + 1);
  size_t sp2 = rest.find(' ');
  std::string_view code = rest.substr(0, sp2);
  auto [p, ec] = std::from_chars(code.data(), code.data() + code.size(), resp.status);
  if (ec != std::errc() || p != code.data() + code.size()) return std::nullopt;
  if (sp2 != std::string_view::npos) resp.reason = std::string(rest.substr(sp2 + 1));
  head.remove_prefix(line_end + 2);
  while (!head.empty()) {
    size_t eol = head.find("\r\n");
    std::string_view line = head.substr(0, eol);
    head.remove_prefix(eol + 2);
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    resp.headers.emplace_back(std::string(line.substr(0, colon)),
                              std::string(trim(line.substr(colon + 1))));
  }
  consume(head_end + 4);

  auto sink = [&](std::string_view bytes) {
    resp.body_bytes += bytes.size();
    if (on_body)
      (*on_body)(bytes);
    else
      resp.body.append(bytes);
  };

  if (head_request || (resp.status >= 100 && resp.status < 200) || resp.status == 204 ||
      resp.status == 304) {
    resp.complete = true;
    return resp;
  }
  if (contains_token(resp.header("transfer-encoding"), "chunked")) {
    resp.chunked = true;
    for (;;) {
      size_t eol;
      while ((eol = buffered().find("\r\n")) == std::string_view::npos)
        if (fill(deadline) != Fill::data) return resp;
      std::string_view size_line = buffered().substr(0, eol);
      size_t semi = size_line.find(';');
      std::string_view hex = trim(size_line.substr(0, semi));
      uint64_t size = 0;
      auto [q, e] = std::from_chars(hex.data(), hex.data() + hex.size(), size, 16);
      if (e != std::errc() || q != hex.data() + hex.size() || hex.empty()) return resp;
      consume(eol + 2);
      if (size == 0) {
        // Trailer section, up to an empty line.
        for (;;) {
          while ((eol = buffered().find("\r\n")) == std::string_view::npos)
            if (fill(deadline) != Fill::data) return resp;
          bool last = eol == 0;
          std::string_view line = buffered().substr(0, eol);
          size_t colon = line.find(':');
          if (!last && colon != std::string_view::npos)
            resp.headers.emplace_back(std::string(line.substr(0, colon)),
                                      std::string(trim(line.substr(colon + 1))));
          consume(eol + 2);
          if (last) break;
        }
        resp.complete = true;
        return resp;
      }
      while (size > 0) {
        if (buffered().empty() && fill(deadline) != Fill::data) return resp;
        size_t take = static_cast<size_t>(std::min<uint64_t>(size, buffered().size()));
        sink(buffered().substr(0, take));
        consume(take);
        size -= take;
      }
      while (buffered().size() < 2)
        if (fill(deadline) != Fill::data) return resp;
      if (buffered().substr(0, 2) != "\r\n") return resp;
      consume(2);
    }
  }
  std::string cl = resp.header("content-length");
  if (!cl.empty()) {
    uint64_t left = 0;
    auto [q, e] = std::from_chars(cl.data(), cl.data() + cl.size(), left);
    if (e != std::errc() || q != cl.data() + cl.size()) return resp;
    while (left > 0) {
      if (buffered().empty() && fill(deadline) != Fill::data) return resp;
      size_t take = static_cast<size_t>(std::min<uint64_t>(left, buffered().size()));
      sink(buffered().substr(0, take));
      consume(take);
      left -= take;
    }
    resp.complete = true;
    return resp;
  }
  // No framing: the body runs until the peer closes.
  for (;;) {
    if (!buffered().empty()) {
      sink(buffered());
      consume(buffered().size());
    }
    Fill f = fill(deadline);
    if (f == Fill::eof) {
      resp.complete = true;
      return resp;
    }
    if (f != Fill::data) return resp;
  }
}

std::string RawClient::read_until_close(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    Fill f = fill(deadline);
    if (f != Fill::data) break;
  }
  std::string out(buffered());
  consume(out.size());
  return out;
}

std::string RawClient::read_exactly(size_t n, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (buffered().size() < n)
    if (fill(deadline) != Fill::data) break;
  std::string out(buffered().substr(0, n));
  consume(out.size());
  return out;
}

bool RawClient::closed_by_peer(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    Fill f = fill(deadline);
    if (f == Fill::eof) return true;
    if (f == Fill::error) return errno == ECONNRESET || errno == EPIPE;
    if (f == Fill::timeout) return false;
  }
}

std::string build_request(std::string_view method, std::string_view path,
                          const std::vector<std::pair<std::string, std::string>>& headers,
                          std::string_view body) {
  bool has_host = false, has_length = false;
  for (const auto& [k, v] : headers) {
    if (iequals(k, "host")) has_host = true;
    if (iequals(k, "content-length") || iequals(k, "transfer-encoding")) has_length = true;
  }
  std::string req;
  req.reserve(256 + body.size());
  req.append(method).append(" ").append(path).append(" HTTP/1.1\r\n");
  if (!has_host) req.append("Host: localhost\r\n");
  for (const auto& [k, v] : headers)
    req.append(k).append(": ").append(v).append("\r\n");
  if (!has_length && (!body.empty() || method == "POST" || method == "PUT"))
    req.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n");
  req.append("\r\n").append(body);
  return req;
}

HttpResponse http_request(uint16_t port, std::string_view method, std::string_view path,
                          std::vector<std::pair<std::string, std::string>> headers,
                          std::string_view body) {
  auto client = RawClient::connect(port);
  if (!client) return {};
  if (!client->send(build_request(method, path, headers, body))) return {};
  for (;;) {
    auto resp = client->read_response(10s, method == "HEAD");
    if (!resp) return {};
    // Interim responses (100 Continue) are not the answer.
    if (resp->status >= 100 && resp->status < 200 && resp->status != 101) continue;
    return std::move(*resp);
  }
}

} // namespace weir::test
