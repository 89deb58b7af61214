#include "weir/health/http_check.h"

#include "weir/http/parser.h"
#include "weir/tls/client_context.h"

#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

namespace weir::health {

namespace asio = boost::asio;
using boost::system::error_code;

// Asio's TLS stream over the check's own socket: it owns the SSL made by the service's
// ClientContext (SNI and the name to verify are already set on it).
struct HttpCheck::Tls {
  Tls(asio::ip::tcp::socket& socket, SSL* ssl) : stream(socket, ssl) {}
  asio::ssl::stream<asio::ip::tcp::socket&> stream;
};

void HttpCheck::run(asio::io_context& io, const asio::ip::tcp::endpoint& endpoint,
                    std::string request, std::chrono::milliseconds timeout, Done done) {
  run(io, endpoint, std::move(request), timeout, nullptr, std::move(done));
}

void HttpCheck::run(asio::io_context& io, const asio::ip::tcp::endpoint& endpoint,
                    std::string request, std::chrono::milliseconds timeout,
                    const tls::ClientContext* tls, Done done) {
  std::make_shared<HttpCheck>(io, std::move(request), std::move(done))
      ->start(endpoint, timeout, tls);
}

HttpCheck::HttpCheck(asio::io_context& io, std::string request, Done done)
    : socket_(io), timer_(io), request_(std::move(request)), done_(std::move(done)) {}

HttpCheck::~HttpCheck() = default;

void HttpCheck::start(const asio::ip::tcp::endpoint& endpoint, std::chrono::milliseconds timeout,
                      const tls::ClientContext* tls) {
  started_ = std::chrono::steady_clock::now();
  if (tls) {
    SSL* ssl = tls->new_ssl(endpoint.address().to_string());
    if (!ssl) return finish("tls: cannot make a TLS session");
    tls_ = std::make_unique<Tls>(socket_, ssl);
  }
  timer_.expires_after(timeout);
  timer_.async_wait([self = shared_from_this()](const error_code& ec) {
    if (ec) return;
    self->result_.timed_out = true;
    self->finish("timed out");
  });
  socket_.async_connect(endpoint, [self = shared_from_this()](const error_code& ec) {
    if (self->finished_) return;
    if (ec) return self->finish("connect: " + ec.message());
    self->result_.connected = true;
    self->connected();
  });
}

void HttpCheck::connected() {
  if (!tls_) {
    if (request_.empty()) return finish("");
    return send();
  }
  tls_->stream.async_handshake(asio::ssl::stream_base::client,
                               [self = shared_from_this()](const error_code& ec) {
                                 if (self->finished_) return;
                                 if (ec) return self->handshake_failed(ec);
                                 if (self->request_.empty()) return self->finish("");
                                 self->send();
                               });
}

void HttpCheck::handshake_failed(const error_code& ec) {
  // The verify result names what is wrong with the endpoint's certificate (unknown issuer, name
  // mismatch, expired); asio's message would only say "certificate verify failed".
  const long verify = SSL_get_verify_result(tls_->stream.native_handle());
  std::string why;
  if (verify != X509_V_OK)
    why = std::string("certificate verify failed: ") + X509_verify_cert_error_string(verify);
  else if (ec == asio::ssl::error::stream_truncated || ec == asio::error::eof)
    why = "the connection closed during the handshake";
  else
    why = ec.message();
  ERR_clear_error(); // the control thread's OpenSSL error queue serves every other TLS call too
  finish("tls handshake: " + why);
}

void HttpCheck::send() {
  auto written = [self = shared_from_this()](const error_code& ec, size_t) {
    if (self->finished_) return;
    if (ec) return self->finish("write: " + ec.message());
    self->read();
  };
  if (tls_)
    asio::async_write(tls_->stream, asio::buffer(request_), std::move(written));
  else
    asio::async_write(socket_, asio::buffer(request_), std::move(written));
}

void HttpCheck::read() {
  size_t old = buffer_.size();
  if (old > kMaxBody + 64 * 1024) return finish("response too large");
  buffer_.resize(old + 16384);
  auto got = [self = shared_from_this(), old](const error_code& ec, size_t n) {
    self->on_read(ec, old, n);
  };
  if (tls_)
    tls_->stream.async_read_some(asio::buffer(buffer_.data() + old, 16384), std::move(got));
  else
    socket_.async_read_some(asio::buffer(buffer_.data() + old, 16384), std::move(got));
}

void HttpCheck::on_read(const error_code& ec, size_t old, size_t n) {
  if (finished_) return;
  buffer_.resize(old + n);
  // Parse what we have from the start: responses are small and this runs rarely.
  http::Parser parser(http::Parser::Kind::response, {65536, 65536, 200});
  // A response to HEAD has no body whatever its Content-Length says (rollout top-up
  // traffic may be configured to send HEAD).
  const bool head = request_.starts_with("HEAD ");
  if (head) parser.reset(true);
  std::string body;
  bool done = false;
  size_t pos = 0;
  for (;;) {
    size_t consumed = 0;
    auto event =
        ec ? parser.finish() : parser.execute(buffer_.data() + pos, buffer_.size() - pos, consumed);
    pos += consumed;
    for (auto piece : parser.body())
      if (body.size() < kMaxBody) body.append(piece.substr(0, kMaxBody - body.size()));
    if (event == http::Parser::Event::head) continue; // an interim one: the final one follows
    if (event == http::Parser::Event::done) {
      if (parser.head().status < 200) {
        parser.reset(head);
        continue;
      }
      done = true;
      break;
    }
    if (event == http::Parser::Event::error) {
      if (ec && !parser.started()) return finish("connection closed: " + ec.message());
      return finish(std::string("bad response: ") + std::string(parser.error_reason()));
    }
    if (event == http::Parser::Event::need_more) break;
    if (ec) break;
  }
  if (done) {
    result_.status = parser.head().status;
    for (const auto& h : parser.head().headers)
      result_.headers.emplace_back(std::string(h.name), std::string(h.value));
    result_.body = std::move(body);
    return finish("");
  }
  if (ec) return finish("connection closed before a complete response");
  read();
}

void HttpCheck::finish(std::string error) {
  if (finished_) return;
  finished_ = true;
  result_.latency = std::chrono::steady_clock::now() - started_;
  result_.error = std::move(error);
  timer_.cancel();
  error_code ignored;
  socket_.close(ignored);
  Done done = std::move(done_);
  if (done) done(std::move(result_));
}

} // namespace weir::health
