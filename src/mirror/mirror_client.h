#pragma once

#include "weir/mirror/sender.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace weir::mirror {

// The mirror thread's lean HTTP/1.1 client: one request (head and body already written out) to
// one endpoint, its answer read with http::Parser within a deadline, the connection kept for the
// next request to that endpoint when the answer allows it (a few idle ones per endpoint). A
// request that fails on a kept connection before any answer byte is sent once more on a new one
// (the endpoint may have closed it meanwhile). An answer's body is read up to kMaxComparedBody:
// past it the exchange ends with the status and the connection is closed (an endless answer
// costs no more). Mirror thread only.
class MirrorClient {
public:
  struct Request {
    boost::asio::ip::tcp::endpoint endpoint;
    std::string key; // "host:port", the idle connections' key
    std::string bytes;
    bool head_request = false;        // the answer has no body
    std::vector<std::string> headers; // whose values the Answer keeps
    bool keep_body = false;           // the Answer keeps the body (up to kMaxComparedBody)
    std::chrono::milliseconds connect_timeout{1000};
    std::chrono::milliseconds timeout{30000}; // the whole exchange
  };
  // `result`: "1xx".."5xx", or why there is no answer: "connect", "timeout", "reset",
  // "bad_response".
  using Done = std::function<void(Answer answer, std::string result)>;

  explicit MirrorClient(boost::asio::io_context& io) : io_(io) {}
  ~MirrorClient();
  void send(Request request, Done done);
  // Closes the idle connections of endpoints `keep` does not name (they left their service:
  // nothing would take them again).
  void forget_idle_except(const std::function<bool(const std::string& key)>& keep);

  static constexpr size_t kIdlePerEndpoint = 8;

private:
  struct Exchange;
  void start(const std::shared_ptr<Exchange>& x, bool fresh);
  void write(const std::shared_ptr<Exchange>& x);
  void read(const std::shared_ptr<Exchange>& x);
  void on_read(const std::shared_ptr<Exchange>& x, const boost::system::error_code& ec, size_t n);
  // A kept connection that fails before any answer byte is tried once more on a new one.
  void fail(const std::shared_ptr<Exchange>& x, std::string why);
  void finish(const std::shared_ptr<Exchange>& x, std::string result);
  void keep(const std::string& key, boost::asio::ip::tcp::socket socket);

  boost::asio::io_context& io_;
  std::map<std::string, std::vector<boost::asio::ip::tcp::socket>> idle_;
};

} // namespace weir::mirror
