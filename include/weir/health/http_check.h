#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace weir::tls {
class ClientContext;
}

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
//
// With a service's TLS settings (`tls` non-null) the connection speaks TLS exactly as the
// workers' do (same CAs, verification, SNI and client certificate), so a check sees what user
// traffic would. A connect-only check then also completes the handshake (HAProxy's check-ssl):
// an endpoint whose certificate no longer verifies is down, not merely listening. A handshake
// that fails is a failed check whose error says why ("certificate verify failed: ...").
class HttpCheck : public std::enable_shared_from_this<HttpCheck> {
public:
  static constexpr size_t kMaxBody = 1024 * 1024;
  using Done = std::function<void(CheckResult)>;

  static void run(boost::asio::io_context& io, const boost::asio::ip::tcp::endpoint& endpoint,
                  std::string request, std::chrono::milliseconds timeout, Done done);
  // `tls` null: plain TCP. It is only used during the call (the connection's SSL holds its own
  // reference to the OpenSSL context), so a context replaced by a reload meanwhile is fine.
  static void run(boost::asio::io_context& io, const boost::asio::ip::tcp::endpoint& endpoint,
                  std::string request, std::chrono::milliseconds timeout,
                  const tls::ClientContext* tls, Done done);

  HttpCheck(boost::asio::io_context& io, std::string request, Done done);
  ~HttpCheck();

private:
  struct Tls;
  void start(const boost::asio::ip::tcp::endpoint& endpoint, std::chrono::milliseconds timeout,
             const tls::ClientContext* tls);
  void connected();
  void handshake_failed(const boost::system::error_code& ec);
  void send();
  void read();
  void on_read(const boost::system::error_code& ec, size_t old, size_t n);
  void finish(std::string error);

  boost::asio::ip::tcp::socket socket_;
  std::unique_ptr<Tls> tls_; // the TLS stream over socket_ (null: plain TCP)
  boost::asio::steady_timer timer_;
  std::string request_;
  std::string buffer_;
  Done done_;
  CheckResult result_;
  std::chrono::steady_clock::time_point started_;
  bool finished_ = false;
};

} // namespace weir::health
