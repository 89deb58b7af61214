#include "weir/net/http_client.h"

#include "weir/base/log.h"
#include "weir/http/parser.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <exception>
#include <memory>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>

namespace weir::net {
namespace {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using boost::system::error_code;
using tcp = asio::ip::tcp;

// The response head must fit in the read buffer (the parser keeps views into it until the head
// is complete); body bytes are copied out after each read and the buffer reused.
constexpr size_t kMaxHeadBytes = 65536;
constexpr size_t kReadChunk = 16384;

std::string format_ms(std::chrono::milliseconds d) {
  if (d.count() % 1000 == 0) return std::to_string(d.count() / 1000) + "s";
  return std::to_string(d.count()) + "ms";
}

// One exchange: resolve → connect → (TLS handshake) → write → read until the response is
// complete. Owned by the shared_ptr its pending handlers hold; the deadline timer closes the
// socket, which ends every pending operation.
class Exchange : public std::enable_shared_from_this<Exchange> {
public:
  Exchange(asio::io_context& io, HttpRequest request, HttpClient::Done done)
      : request_(std::move(request)), done_(std::move(done)), resolver_(io), socket_(io),
        timer_(io), parser_(http::Parser::Kind::response, {kMaxHeadBytes, kMaxHeadBytes, 200}),
        buffer_(kMaxHeadBytes + kReadChunk) {}

  void start() {
    if (finished_) return; // aborted before it started
    try {
      begin();
    } catch (const std::exception& e) {
      finish(std::string("internal error: ") + e.what());
    }
  }

private:
  void begin() {
    timer_.expires_after(request_.timeout);
    timer_.async_wait([self = shared_from_this()](const error_code& ec) {
      if (ec) return;
      self->response_.timed_out = true;
      self->finish("timed out after " + format_ms(self->request_.timeout));
    });
    if (request_.url.tls && !setup_tls()) return;
    parser_.start_connection();
    parser_.reset(request_.method == "HEAD");
    wire_ = request_head();
    const auto flags = request_.url.numeric
                           ? tcp::resolver::numeric_host | tcp::resolver::numeric_service
                           : tcp::resolver::numeric_service;
    resolver_.async_resolve(
        request_.url.host, std::to_string(request_.url.port), flags,
        [self = shared_from_this()](const error_code& ec, tcp::resolver::results_type results) {
          if (self->finished_) return;
          if (ec) return self->finish("resolve " + self->request_.url.host + ": " + ec.message());
          asio::async_connect(self->socket_, results,
                              [self](const error_code& cec, const tcp::endpoint&) {
                                if (self->finished_) return;
                                if (cec) return self->finish("connect: " + cec.message());
                                error_code ignored;
                                self->socket_.set_option(tcp::no_delay(true), ignored);
                                if (self->request_.on_body) self->keep_alive();
                                self->connected();
                              });
        });
  }

  // Verification is on by default: the system CA store (or the given CA file), the peer's name
  // checked against the certificate (X509_VERIFY_PARAM, so a mismatch is reported as such), and
  // SNI for host names (never for address literals, RFC 6066 section 3).
  bool setup_tls() {
    ssl_context_ = std::make_unique<ssl::context>(ssl::context::tls_client);
    ssl_context_->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                              ssl::context::no_sslv3);
    error_code ec;
    if (request_.ca_file.empty()) {
      ssl_context_->set_default_verify_paths(ec);
      if (ec) return finish("tls: cannot load the system CA store: " + ec.message()), false;
    } else {
      ssl_context_->load_verify_file(request_.ca_file, ec);
      if (ec)
        return finish("tls: cannot load CA file " + request_.ca_file + ": " + ec.message()), false;
    }
    ssl_context_->set_verify_mode(ssl::verify_peer);
    tls_ = std::make_unique<ssl::stream<tcp::socket&>>(socket_, *ssl_context_);
    SSL* handle = tls_->native_handle();
    const std::string& host = request_.url.host;
    if (request_.url.numeric) {
      if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(handle), host.c_str()) != 1)
        return finish("tls: cannot check the address " + host), false;
    } else {
      if (SSL_set1_host(handle, host.c_str()) != 1 ||
          SSL_set_tlsext_host_name(handle, host.c_str()) != 1)
        return finish("tls: cannot set the server name " + host), false;
    }
    return true;
  }

  std::string request_head() const {
    std::string out = request_.method + " " + request_.url.target +
                      " HTTP/1.1\r\nHost: " + request_.url.authority() + "\r\n";
    bool user_agent = false;
    for (const auto& [name, value] : request_.headers) {
      if (http::iequals(name, "user-agent")) user_agent = true;
      out += name + ": " + value + "\r\n";
    }
    if (!user_agent) out += "User-Agent: weir/" WEIR_VERSION "\r\n";
    if (!request_.body.empty() || request_.method == "POST" || request_.method == "PUT")
      out += "Content-Length: " + std::to_string(request_.body.size()) + "\r\n";
    out += "Connection: close\r\n\r\n";
    out += request_.body;
    return out;
  }

  // A streamed answer (a watch) may be quiet for minutes: TCP keepalive finds a peer that is
  // gone (a failover, a NAT that forgot us) within about a minute, not at the deadline.
  void keep_alive() {
    const int fd = socket_.native_handle();
    const int on = 1, idle = 30, interval = 10, count = 3;
    ::setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
    ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
    ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval);
    ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof count);
  }

  void connected() {
    if (!tls_) return send();
    tls_->async_handshake(ssl::stream_base::client,
                          [self = shared_from_this()](const error_code& ec) {
                            if (self->finished_) return;
                            if (ec) return self->finish("tls: " + self->tls_failure(ec));
                            self->send();
                          });
  }

  // The handshake error, with the certificate check's own reason when that is what failed.
  std::string tls_failure(const error_code& ec) const {
    std::string out = ec.message();
    const long verify = SSL_get_verify_result(tls_->native_handle());
    if (verify != X509_V_OK) out += " (" + std::string(X509_verify_cert_error_string(verify)) + ")";
    return out;
  }

  void send() {
    auto written = [self = shared_from_this()](const error_code& ec, size_t) {
      if (self->finished_) return;
      if (ec) return self->finish("write: " + ec.message());
      self->read();
    };
    if (tls_)
      asio::async_write(*tls_, asio::buffer(wire_), std::move(written));
    else
      asio::async_write(socket_, asio::buffer(wire_), std::move(written));
  }

  void read() {
    if (filled_ == buffer_.size()) return finish("bad response: head larger than 64 KiB");
    const size_t room = std::min(kReadChunk, buffer_.size() - filled_);
    auto got = [self = shared_from_this()](const error_code& ec, size_t n) {
      if (self->finished_) return;
      self->filled_ += n;
      self->on_data(ec);
    };
    if (tls_)
      tls_->async_read_some(asio::buffer(buffer_.data() + filled_, room), std::move(got));
    else
      socket_.async_read_some(asio::buffer(buffer_.data() + filled_, room), std::move(got));
  }

  void on_data(const error_code& ec) {
    // Also with nothing left to feed: after a head the parser reports the message's end (a
    // bodiless answer) only when called again.
    for (;;) {
      size_t consumed = 0;
      const auto event = parser_.execute(buffer_.data() + parsed_, filled_ - parsed_, consumed);
      parsed_ += consumed;
      if (!handle(event)) return;
      if (event == http::Parser::Event::need_more) break;
    }
    if (parsed_ == filled_ && (!parser_.in_head() || !parser_.started())) filled_ = parsed_ = 0;
    if (ec) {
      // A TLS peer that closes without close_notify ends a close-delimited body the same way.
      if (ec != asio::error::eof && ec != ssl::error::stream_truncated)
        return finish("read: " + ec.message());
      const auto event = parser_.finish();
      if (event == http::Parser::Event::done) {
        if (!handle(event)) return;
      }
      return finish(parser_.started() ? "connection closed before the response was complete"
                                      : "connection closed without a response");
    }
    read();
  }

  // False once the exchange has finished.
  bool handle(http::Parser::Event event) {
    using Event = http::Parser::Event;
    if (event == Event::error)
      return finish("bad response: " + std::string(parser_.error_reason())), false;
    if (event == Event::head && parser_.head().status >= 200) {
      response_.status = parser_.head().status;
      for (const auto& h : parser_.head().headers)
        response_.headers.emplace_back(std::string(h.name), std::string(h.value));
      if (request_.on_head && !request_.on_head(response_.status)) return finish("stopped"), false;
    }
    for (auto piece : parser_.body()) {
      if (request_.on_body && parser_.head().status >= 200) {
        if (!request_.on_body(piece)) return finish("stopped"), false;
        if (finished_) return false; // aborted from inside on_body
        continue;
      }
      if (response_.body.size() + piece.size() > request_.max_body_bytes)
        return finish("response body larger than " + std::to_string(request_.max_body_bytes) +
                      " bytes"),
               false;
      response_.body.append(piece);
    }
    if (event == Event::done) {
      if (parser_.head().status < 200) { // interim response: the final one follows
        parser_.reset(request_.method == "HEAD");
        return true;
      }
      return finish(""), false;
    }
    return true;
  }

public:
  // The caller does not want the answer any more: no `done`.
  void abort() {
    done_ = nullptr;
    finish("aborted");
  }

private:
  void finish(std::string error) {
    if (finished_) return;
    finished_ = true;
    error_code ignored;
    timer_.cancel();
    resolver_.cancel();
    socket_.close(ignored);
    if (!error.empty()) {
      response_.status = 0;
      response_.headers.clear();
      response_.body.clear();
    }
    response_.error = std::move(error);
    HttpClient::Done done = std::move(done_);
    if (!done) return;
    try {
      done(std::move(response_));
    } catch (const std::exception& e) {
      // Nothing here can recover the caller's error, and it must not unwind through Asio.
      log::error(std::string("http client: a completion handler threw: ") + e.what());
    }
  }

  HttpRequest request_;
  HttpClient::Done done_;
  tcp::resolver resolver_;
  tcp::socket socket_;
  asio::steady_timer timer_;
  std::unique_ptr<ssl::context> ssl_context_;
  std::unique_ptr<ssl::stream<tcp::socket&>> tls_;
  http::Parser parser_;
  std::string wire_;
  std::vector<char> buffer_;
  size_t filled_ = 0; // bytes read into buffer_
  size_t parsed_ = 0; // of them, consumed by the parser
  HttpResponse response_;
  bool finished_ = false;
};

} // namespace

HttpClient::Abort HttpClient::fetch(asio::io_context& io, HttpRequest request, Done done) {
  auto exchange = std::make_shared<Exchange>(io, std::move(request), std::move(done));
  asio::post(io, [exchange] { exchange->start(); });
  return [weak = std::weak_ptr<Exchange>(exchange)] {
    if (auto e = weak.lock()) e->abort();
  };
}

} // namespace weir::net
