#include "mirror_client.h"

#include "weir/http/parser.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

namespace weir::mirror {

namespace asio = boost::asio;
using boost::system::error_code;
using tcp = asio::ip::tcp;

namespace {

constexpr uint32_t kMaxHeadBytes = 16384;
constexpr size_t kBufferBytes = 64 * 1024;

std::string status_class(int status) {
  return std::string(1, static_cast<char>('0' + status / 100)) + "xx";
}

} // namespace

// One request's way through the client. Owned by the shared_ptr its pending handlers hold; the
// deadline closes the socket, which ends every pending operation.
struct MirrorClient::Exchange {
  Exchange(asio::io_context& io, Request r, Done d)
      : request(std::move(r)), done(std::move(d)), socket(io), timer(io),
        parser(http::Parser::Kind::response, {kMaxHeadBytes, kMaxHeadBytes, 200}),
        buffer(kBufferBytes) {}

  Request request;
  Done done;
  tcp::socket socket;
  asio::steady_timer timer;
  http::Parser parser;
  std::vector<char> buffer;
  size_t filled = 0;
  size_t parsed = 0;
  uint64_t body_bytes = 0; // of the final answer, de-chunked
  Answer answer;
  bool reused = false;
  bool finished = false;
  bool timed_out = false;
};

MirrorClient::~MirrorClient() = default;

void MirrorClient::send(Request request, Done done) {
  auto x = std::make_shared<Exchange>(io_, std::move(request), std::move(done));
  x->timer.expires_after(x->request.timeout);
  x->timer.async_wait([x](const error_code& ec) {
    if (ec || x->finished) return;
    x->timed_out = true;
    error_code ignored;
    x->socket.close(ignored);
  });
  start(std::move(x), false);
}

void MirrorClient::keep(const std::string& key, tcp::socket socket) {
  auto& list = idle_[key];
  if (list.size() >= kIdlePerEndpoint) return; // closed as it goes
  list.push_back(std::move(socket));
}

void MirrorClient::forget_idle_except(const std::function<bool(const std::string& key)>& keep) {
  for (auto it = idle_.begin(); it != idle_.end();)
    it = keep(it->first) ? std::next(it) : idle_.erase(it); // the sockets close as they go
}

void MirrorClient::start(const std::shared_ptr<Exchange>& x, bool fresh) {
  x->parser.start_connection();
  x->parser.reset(x->request.head_request);
  x->filled = x->parsed = 0;
  x->answer = Answer{};
  x->body_bytes = 0;
  if (!fresh) {
    auto& list = idle_[x->request.key];
    if (!list.empty()) {
      x->socket = std::move(list.back());
      list.pop_back();
      x->reused = true;
      return write(x);
    }
  }
  // A connect that takes longer than the route's connect timeout fails as a connect.
  auto connect_timer = std::make_shared<asio::steady_timer>(io_);
  connect_timer->expires_after(x->request.connect_timeout);
  connect_timer->async_wait([x](const error_code& ec) {
    if (ec || x->finished) return;
    error_code ignored;
    x->socket.close(ignored);
  });
  x->socket.async_connect(x->request.endpoint, [this, x, connect_timer](const error_code& ec) {
    connect_timer->cancel();
    if (x->finished) return;
    if (ec) return finish(x, "connect");
    error_code ignored;
    x->socket.set_option(tcp::no_delay(true), ignored);
    write(x);
  });
}

void MirrorClient::write(const std::shared_ptr<Exchange>& x) {
  asio::async_write(x->socket, asio::buffer(x->request.bytes),
                    [this, x](const error_code& ec, size_t) {
                      if (x->finished) return;
                      if (ec) return fail(x, "reset");
                      read(x);
                    });
}

void MirrorClient::read(const std::shared_ptr<Exchange>& x) {
  if (x->filled == x->buffer.size()) return finish(x, "bad_response"); // head too large
  x->socket.async_read_some(
      asio::buffer(x->buffer.data() + x->filled, x->buffer.size() - x->filled),
      [this, x](const error_code& ec, size_t n) { on_read(x, ec, n); });
}

void MirrorClient::on_read(const std::shared_ptr<Exchange>& x, const error_code& ec, size_t n) {
  if (x->finished) return;
  x->filled += n;
  using Event = http::Parser::Event;
  for (;;) {
    size_t consumed = 0;
    Event ev = x->parser.execute(x->buffer.data() + x->parsed, x->filled - x->parsed, consumed);
    x->parsed += consumed;
    if (ev == Event::error) return finish(x, "bad_response");
    const http::Head& head = x->parser.head();
    if (ev == Event::head && head.status >= 200) {
      x->answer.status = head.status;
      x->answer.headers.assign(x->request.headers.size(), std::string());
      for (size_t i = 0; i < x->request.headers.size(); ++i)
        for (const http::Header& h : head.headers)
          if (http::iequals(h.name, x->request.headers[i])) {
            std::string& v = x->answer.headers[i];
            if (!v.empty()) v += ", ";
            v.append(h.value);
          }
    }
    if (head.status >= 200)
      for (std::string_view piece : x->parser.body()) {
        x->body_bytes += piece.size();
        if (!x->request.keep_body || x->answer.body_too_large) continue;
        if (x->answer.body.size() + piece.size() > kMaxComparedBody) {
          x->answer.body_too_large = true;
          x->answer.body.clear();
          x->answer.body.shrink_to_fit();
          continue;
        }
        x->answer.body.append(piece);
      }
    if (ev != Event::done && head.status >= 200 && x->body_bytes > kMaxComparedBody) {
      // Longer than any answer weir compares: the status is known, and the rest (an endless
      // body, until the timeout) would only cost the mirror thread and hold a place of
      // max_in_flight. The connection goes with its unread bytes.
      error_code ignored;
      x->socket.close(ignored);
      return finish(x, status_class(head.status));
    }
    if (ev == Event::done) {
      if (head.status < 200) { // an interim answer: the final one follows
        x->parser.reset(x->request.head_request);
        continue;
      }
      const int status = head.status;
      if (head.keep_alive && x->parsed == x->filled && !ec &&
          head.framing != http::Framing::until_close)
        keep(x->request.key, std::move(x->socket));
      return finish(x, status_class(status));
    }
    if (ev == Event::need_more) break;
  }
  if (x->parsed == x->filled && !x->parser.in_head()) x->filled = x->parsed = 0;
  if (ec) {
    if (ec == asio::error::eof && x->parser.finish() == Event::done)
      return finish(x, status_class(x->parser.head().status));
    return fail(x, "reset");
  }
  read(x);
}

void MirrorClient::fail(const std::shared_ptr<Exchange>& x, std::string why) {
  if (x->reused && !x->timed_out && !x->parser.started()) {
    error_code ignored;
    x->socket.close(ignored);
    x->reused = false;
    return start(x, true);
  }
  finish(x, std::move(why));
}

void MirrorClient::finish(const std::shared_ptr<Exchange>& x, std::string result) {
  if (x->finished) return;
  x->finished = true;
  x->timer.cancel();
  if (x->timed_out) result = "timeout";
  if (x->done) x->done(std::move(x->answer), std::move(result));
}

} // namespace weir::mirror
