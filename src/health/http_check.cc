#include "weir/health/http_check.h"

#include "weir/http/parser.h"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

namespace weir::health {

namespace asio = boost::asio;
using boost::system::error_code;

void HttpCheck::run(asio::io_context& io, const asio::ip::tcp::endpoint& endpoint,
                    std::string request, std::chrono::milliseconds timeout, Done done) {
  std::make_shared<HttpCheck>(io, std::move(request), std::move(done))->start(endpoint, timeout);
}

HttpCheck::HttpCheck(asio::io_context& io, std::string request, Done done)
    : socket_(io), timer_(io), request_(std::move(request)), done_(std::move(done)) {}

void HttpCheck::start(const asio::ip::tcp::endpoint& endpoint, std::chrono::milliseconds timeout) {
  started_ = std::chrono::steady_clock::now();
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
    if (self->request_.empty()) return self->finish("");
    asio::async_write(self->socket_, asio::buffer(self->request_),
                      [self](const error_code& wec, size_t) {
                        if (self->finished_) return;
                        if (wec) return self->finish("write: " + wec.message());
                        self->read();
                      });
  });
}

void HttpCheck::read() {
  size_t old = buffer_.size();
  if (old > kMaxBody + 64 * 1024) return finish("response too large");
  buffer_.resize(old + 16384);
  socket_.async_read_some(
      asio::buffer(buffer_.data() + old, 16384),
      [self = shared_from_this(), old](const error_code& ec, size_t n) {
        if (self->finished_) return;
        self->buffer_.resize(old + n);
        // Parse what we have from the start: responses are small and this runs rarely.
        http::Parser parser(http::Parser::Kind::response, {65536, 65536, 200});
        // A response to HEAD has no body whatever its Content-Length says (rollout top-up
        // traffic may be configured to send HEAD).
        const bool head = self->request_.starts_with("HEAD ");
        if (head) parser.reset(true);
        std::string body;
        bool done = false;
        size_t pos = 0;
        for (;;) {
          size_t consumed = 0;
          auto event =
              ec ? parser.finish()
                 : parser.execute(self->buffer_.data() + pos, self->buffer_.size() - pos, consumed);
          pos += consumed;
          for (auto piece : parser.body())
            if (body.size() < kMaxBody) body.append(piece.substr(0, kMaxBody - body.size()));
          if (event == http::Parser::Event::head) {
            if (parser.head().status < 200) { // interim response: the final one follows
              continue;
            }
            continue;
          }
          if (event == http::Parser::Event::done) {
            if (parser.head().status < 200) {
              parser.reset(head);
              continue;
            }
            done = true;
            break;
          }
          if (event == http::Parser::Event::error) {
            if (ec && !parser.started()) return self->finish("connection closed: " + ec.message());
            return self->finish(std::string("bad response: ") + std::string(parser.error_reason()));
          }
          if (event == http::Parser::Event::need_more) break;
          if (ec) break;
        }
        if (done) {
          self->result_.status = parser.head().status;
          for (const auto& h : parser.head().headers)
            self->result_.headers.emplace_back(std::string(h.name), std::string(h.value));
          self->result_.body = std::move(body);
          return self->finish("");
        }
        if (ec) return self->finish("connection closed before a complete response");
        self->read();
      });
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
