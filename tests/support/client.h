#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

// A deliberately simple, blocking HTTP/1.1 client for tests: it sends exactly the bytes it is
// given and parses what comes back without normalising anything.
namespace weir::test {

using namespace std::chrono_literals;

struct HttpResponse {
  int status = 0; // 0: no response (connect failed, timeout or closed before a status line)
  std::string reason;
  std::string version;                                      // "HTTP/1.1"
  std::vector<std::pair<std::string, std::string>> headers; // in order, as received
  std::string body;                                         // de-chunked
  bool complete = false;   // the whole body arrived as framed (or up to a clean close)
  bool chunked = false;    // the body came with Transfer-Encoding: chunked
  uint64_t body_bytes = 0; // body length, also when it was streamed to a callback

  std::string header(std::string_view name) const; // case-insensitive, first match, "" if absent
  bool has_header(std::string_view name) const;
  size_t header_count(std::string_view name) const;
};

class RawClient {
public:
  // A connection to 127.0.0.1:port with TCP_NODELAY; nullptr if it cannot connect.
  static std::unique_ptr<RawClient> connect(uint16_t port);
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;
  ~RawClient();

  // Writes all of bytes (blocking; gives up after 30 s without progress). False on error.
  bool send(std::string_view bytes);
  // Parses one response (a 1xx interim response counts as one, without a body): status line,
  // headers, then the body by Content-Length, chunked, or until the peer closes. Bytes past the
  // response stay buffered for the next call. nullopt if no complete head arrives within
  // `timeout`; a response whose body did not fully arrive has complete == false.
  std::optional<HttpResponse> read_response(std::chrono::milliseconds timeout = 10s,
                                            bool head_request = false);
  // As read_response, but body bytes go to on_body as they arrive instead of into body.
  std::optional<HttpResponse>
  read_response_streaming(const std::function<void(std::string_view)>& on_body,
                          std::chrono::milliseconds timeout, bool head_request = false);
  // Buffered bytes plus everything read until the peer closes or `timeout` passes.
  std::string read_until_close(std::chrono::milliseconds timeout);
  // Up to n bytes (buffered first); waits until at least `n` bytes are there or timeout/close.
  std::string read_exactly(size_t n, std::chrono::milliseconds timeout);
  // True once a read returns 0 or ECONNRESET within `timeout`; data read meanwhile is kept.
  bool closed_by_peer(std::chrono::milliseconds timeout);
  // shutdown(SHUT_WR): a half close, the peer sees EOF.
  void shutdown_write();
  int fd() const { return fd_; }
  // Bytes received but not yet consumed by read_response.
  std::string_view buffered() const;

private:
  explicit RawClient(int fd) : fd_(fd) {}
  enum class Fill { data, eof, error, timeout };
  Fill fill(std::chrono::steady_clock::time_point deadline);
  void consume(size_t n);
  std::optional<HttpResponse> read_one(const std::function<void(std::string_view)>* on_body,
                                       std::chrono::milliseconds timeout, bool head_request);

  int fd_ = -1;
  std::string buf_;
  size_t pos_ = 0; // consumed prefix of buf_
  bool eof_ = false;
};

// "METHOD PATH HTTP/1.1\r\nHost: localhost\r\n" + headers (+ Content-Length when there is a body
// or the method is POST/PUT and the caller gave neither Content-Length nor Transfer-Encoding)
// + "\r\n" + body. A caller-given Host replaces the default one.
std::string build_request(std::string_view method, std::string_view path,
                          const std::vector<std::pair<std::string, std::string>>& headers,
                          std::string_view body);

// One request on a fresh connection; status 0 if it failed (see HttpResponse::status).
HttpResponse http_request(uint16_t port, std::string_view method, std::string_view path,
                          std::vector<std::pair<std::string, std::string>> headers = {},
                          std::string_view body = {});

bool iequals(std::string_view a, std::string_view b);

} // namespace weir::test
