#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace weir::health {

// What one check or probe request observed.
struct CheckResult {
  bool connected = false;
  bool timed_out = false;
  int status = 0; // 0 when no response head arrived
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body; // at most kMaxBody bytes
  std::chrono::nanoseconds latency{0};
  std::string error; // why it did not complete ("" when a full response arrived)
};

// A one-shot request to one endpoint over a fresh connection, with a deadline: TCP connect
// only (`request` empty), or an HTTP/1.1 request whose whole response is read. Control thread
// only — health checks never run on a worker and never use the workers' pools.
class HttpCheck : public std::enable_shared_from_this<HttpCheck> {
public:
  static constexpr size_t kMaxBody = 1024 * 1024;
  using Done = std::function<void(CheckResult)>;

  static void run(boost::asio::io_context& io, const boost::asio::ip::tcp::endpoint& endpoint,
                  std::string request, std::chrono::milliseconds timeout, Done done);

  HttpCheck(boost::asio::io_context& io, std::string request, Done done);

private:
  void start(const boost::asio::ip::tcp::endpoint& endpoint, std::chrono::milliseconds timeout);
  void read();
  void finish(std::string error);

  boost::asio::ip::tcp::socket socket_;
  boost::asio::steady_timer timer_;
  std::string request_;
  std::string buffer_;
  Done done_;
  CheckResult result_;
  std::chrono::steady_clock::time_point started_;
  bool finished_ = false;
};

} // namespace weir::health
