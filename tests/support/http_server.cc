#include "http_server.h"

#include "weir/http/head.h"
#include "weir/http/parser.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <future>
#include <stdexcept>

namespace weir::test {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using boost::system::error_code;
using tcp = asio::ip::tcp;

namespace {

std::string wire(const TestHttpServer::Reply& r) {
  using Framing = TestHttpServer::Reply::Framing;
  std::string out = "HTTP/1.1 " + std::to_string(r.status) + (r.status < 400 ? " OK" : " Failed") +
                    "\r\nConnection: close\r\n";
  for (const auto& [name, value] : r.headers)
    out += name + ": " + value + "\r\n";
  if (r.framing == Framing::length) {
    out += "Content-Length: " + std::to_string(r.body.size()) + "\r\n\r\n" + r.body;
  } else if (r.framing == Framing::chunked) {
    out += "Transfer-Encoding: chunked\r\n\r\n";
    // Small chunks, so a client meets several chunk headers in one read and across reads.
    for (size_t i = 0; i < r.body.size(); i += 7) {
      const std::string piece = r.body.substr(i, 7);
      char size[16];
      std::snprintf(size, sizeof size, "%zx", piece.size());
      out += std::string(size) + "\r\n" + piece + "\r\n";
    }
    out += "0\r\n\r\n";
  } else {
    out += "\r\n" + r.body;
  }
  return out;
}

} // namespace

struct TestHttpServer::Impl {
  std::unique_ptr<ssl::context> tls; // outlives the io_context and the streams its handlers hold
  asio::io_context io{1};
  tcp::acceptor acceptor{io};
  std::thread thread;
  mutable std::mutex mutex;
  Handler handler;
  std::vector<Request> requests;
  std::vector<std::shared_ptr<void>> held; // connections kept open (no_answer) until shutdown

  class Connection;
  void accept();
};

class TestHttpServer::Impl::Connection : public std::enable_shared_from_this<Connection> {
public:
  Connection(Impl& server, tcp::socket socket)
      : server_(server), socket_(std::move(socket)), timer_(server.io),
        parser_(http::Parser::Kind::request, {}), buffer_(65536) {
    if (server.tls) tls_ = std::make_unique<ssl::stream<tcp::socket&>>(socket_, *server.tls);
    parser_.start_connection();
    parser_.reset();
  }

  void start() {
    if (!tls_) return read();
    tls_->async_handshake(ssl::stream_base::server,
                          [self = shared_from_this()](const error_code& ec) {
                            if (!ec) self->read();
                          });
  }

private:
  void read() {
    if (filled_ == buffer_.size()) return;
    auto got = [self = shared_from_this()](const error_code& ec, size_t n) {
      if (ec) return;
      self->filled_ += n;
      self->parse();
    };
    auto buf = asio::buffer(buffer_.data() + filled_, buffer_.size() - filled_);
    if (tls_)
      tls_->async_read_some(buf, std::move(got));
    else
      socket_.async_read_some(buf, std::move(got));
  }

  void parse() {
    for (;;) { // also with nothing left: a bodiless request's end comes after its head
      size_t consumed = 0;
      auto event = parser_.execute(buffer_.data() + parsed_, filled_ - parsed_, consumed);
      parsed_ += consumed;
      if (event == http::Parser::Event::error) return;
      if (event == http::Parser::Event::head) {
        const auto& h = parser_.head();
        request_.method = std::string(h.method_name);
        request_.target = std::string(h.target);
        for (const auto& header : h.headers)
          request_.headers.emplace_back(std::string(header.name), std::string(header.value));
      }
      for (auto piece : parser_.body())
        request_.body.append(piece);
      if (event == http::Parser::Event::done) return answer();
      if (event == http::Parser::Event::need_more) break;
    }
    read();
  }

  void answer() {
    Handler handler;
    {
      std::lock_guard lock(server_.mutex);
      server_.requests.push_back(request_);
      handler = server_.handler;
    }
    // Called unlocked: a handler may look at requests() (e.g. to answer differently later).
    Reply reply = handler ? handler(request_) : Reply{};
    if (reply.no_answer) {
      std::lock_guard lock(server_.mutex);
      server_.held.push_back(shared_from_this());
      return;
    }
    wire_ = wire(reply);
    timer_.expires_after(reply.delay);
    timer_.async_wait([self = shared_from_this()](const error_code& ec) {
      if (ec) return;
      auto written = [self](const error_code&, size_t) { self->close(); };
      if (self->tls_)
        asio::async_write(*self->tls_, asio::buffer(self->wire_), written);
      else
        asio::async_write(self->socket_, asio::buffer(self->wire_), written);
    });
  }

  void close() {
    if (tls_) {
      // close_notify, so a close-delimited body ends cleanly over TLS too.
      tls_->async_shutdown([self = shared_from_this()](const error_code&) {
        error_code ignored;
        self->socket_.close(ignored);
      });
      return;
    }
    error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
  }

  Impl& server_;
  tcp::socket socket_;
  std::unique_ptr<ssl::stream<tcp::socket&>> tls_;
  asio::steady_timer timer_;
  http::Parser parser_;
  std::vector<char> buffer_;
  size_t filled_ = 0;
  size_t parsed_ = 0;
  Request request_;
  std::string wire_;
};

void TestHttpServer::Impl::accept() {
  acceptor.async_accept([this](const error_code& ec, tcp::socket socket) {
    if (ec) return;
    std::make_shared<Connection>(*this, std::move(socket))->start();
    accept();
  });
}

std::string TestHttpServer::Request::header(std::string_view name) const {
  for (const auto& [n, v] : headers)
    if (http::iequals(n, name)) return v;
  return "";
}

TestHttpServer::TestHttpServer(Handler handler, std::optional<Tls> tls)
    : impl_(std::make_unique<Impl>()), tls_(tls.has_value()) {
  impl_->handler = std::move(handler);
  if (tls) {
    impl_->tls = std::make_unique<ssl::context>(ssl::context::tls_server);
    impl_->tls->use_certificate_chain_file(tls->cert_file); // throws on error
    impl_->tls->use_private_key_file(tls->key_file, ssl::context::pem);
  }
  const tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), 0);
  impl_->acceptor.open(endpoint.protocol());
  impl_->acceptor.set_option(tcp::acceptor::reuse_address(true));
  impl_->acceptor.bind(endpoint);
  impl_->acceptor.listen();
  port_ = impl_->acceptor.local_endpoint().port();
  impl_->accept();
  impl_->thread = std::thread([this] { impl_->io.run(); });
}

TestHttpServer::~TestHttpServer() {
  asio::post(impl_->io, [this] {
    error_code ignored;
    impl_->acceptor.close(ignored);
    impl_->io.stop();
  });
  impl_->thread.join();
}

std::string TestHttpServer::url(const std::string& path, const std::string& host) const {
  return std::string(tls_ ? "https://" : "http://") + host + ":" + std::to_string(port_) + path;
}

void TestHttpServer::set_handler(Handler handler) {
  std::lock_guard lock(impl_->mutex);
  impl_->handler = std::move(handler);
}

std::vector<TestHttpServer::Request> TestHttpServer::requests() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->requests;
}

size_t TestHttpServer::request_count() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->requests.size();
}

} // namespace weir::test
