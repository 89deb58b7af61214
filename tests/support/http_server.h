#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace weir::test {

// A small in-process HTTP/1.1 server on 127.0.0.1 (kernel-chosen port) whose answers a test
// scripts: the fake of a rollout hook's endpoint, or of a misbehaving server for weir's HTTP
// client. Requests are parsed by weir's own http::Parser; every connection gets one answer and is
// closed. Optional TLS from PEM files. It runs its own io_context on its own thread; the handler
// runs on that thread, the accessors may be called from any thread.
class TestHttpServer {
public:
  struct Request {
    std::string method;
    std::string target;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    std::string header(std::string_view name) const; // case-insensitive; "" if absent
  };

  struct Reply {
    Reply() = default;
    Reply(int status, std::string body,
          std::vector<std::pair<std::string, std::string>> headers = {})
        : status(status), body(std::move(body)), headers(std::move(headers)) {}

    int status = 200;
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;
    enum class Framing { length, chunked, close } framing = Framing::length;
    std::chrono::milliseconds delay{0}; // before the answer is written (a slow server)
    bool no_answer = false;             // read the request, then hold the connection open
  };

  using Handler = std::function<Reply(const Request&)>;

  struct Tls {
    std::string cert_file; // PEM chain of the server
    std::string key_file;
  };

  // Throws std::runtime_error if it cannot listen (or load the TLS files).
  explicit TestHttpServer(Handler handler, std::optional<Tls> tls = std::nullopt);
  ~TestHttpServer();
  TestHttpServer(const TestHttpServer&) = delete;
  TestHttpServer& operator=(const TestHttpServer&) = delete;

  uint16_t port() const { return port_; }
  // "http://127.0.0.1:PORT" or "https://..." with `host` in place of the address.
  std::string url(const std::string& path = "/", const std::string& host = "127.0.0.1") const;

  void set_handler(Handler handler);
  // Requests answered or held so far, in arrival order.
  std::vector<Request> requests() const;
  size_t request_count() const;

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  uint16_t port_ = 0;
  bool tls_ = false;
};

} // namespace weir::test
