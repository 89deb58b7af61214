// The response direction of a client connection: reading and parsing the upstream's response,
// re-framing it for the client, the end of an exchange and the start of the next one, and the
// ends of a WebSocket tunnel. Worker thread only.
#include "weir/base/clock.h"
#include "weir/http/chunk_framing.h"
#include "weir/http/rewrite.h"
#include "weir/mirror/tap.h"
#include "weir/runtime/client_connection.h"
#include "weir/runtime/worker.h"

#include <cstring>

namespace weir::runtime {

namespace asio = boost::asio;
using boost::system::error_code;

void ClientConnection::on_upstream_readable(const error_code& ec) {
  worker_.tick();
  if (closed() || !up_) return;
  if (ec) {
    if (retry_on_fresh_connection()) return;
    return fail_upstream(502, "upstream read failed", metrics::UpstreamFailure::reset);
  }
  if (conn_ == ConnState::tunnel) return tunnel_read_upstream({});
  if (client_writing() || response_done()) return;
  if (s_->up_pos == s_->up_len && !s_->response.in_head()) s_->up_pos = s_->up_len = 0;
  if (s_->up_len == s_->capacity)
    return fail_upstream(502, "upstream response head too large",
                         metrics::UpstreamFailure::bad_response);
  error_code rec;
  size_t n = up_->read_now(asio::buffer(s_->up.get() + s_->up_len, s_->capacity - s_->up_len), rec);
  if (rec == asio::error::would_block) return up_->wait_readable();
  if (rec || n == 0) {
    if (retry_on_fresh_connection()) return;
    upstream_eof_ = true;
    http::Parser::Event ev = s_->response.finish();
    if (ev == http::Parser::Event::done) {
      // The close ends a body framed by it: only the end (a last chunk) is left to send; the
      // gather list still names the previous write's buffers.
      if (tap_) tap_->response_done();
      go(ResponseEvent::last_byte);
      s_->response_iov.clear();
      s_->response_out.clear();
      return flush_response(0, true, 0);
    }
    if (!response_started_ && !client_writing())
      return fail_upstream(502, "upstream closed the connection before a complete response",
                           metrics::UpstreamFailure::reset);
    attempt_.fail(metrics::UpstreamFailure::reset);
    return close(); // a truncated response must not look complete
  }
  attempt_.first_byte(worker_.now());
  s_->up_len += n;
  set_deadline(Deadline::upstream, {});
  advance_response();
}

void ClientConnection::advance_response() {
  if (closed() || client_writing() || response_done() || !up_) return;
  auto& iov = s_->response_iov;
  iov.clear();
  s_->response_out.clear();
  uint64_t body_bytes = 0;
  for (;;) {
    size_t consumed = 0;
    http::Parser::Event ev =
        s_->response.execute(s_->up.get() + s_->up_pos, s_->up_len - s_->up_pos, consumed);
    s_->up_pos += consumed;
    switch (ev) {
    case http::Parser::Event::need_more:
      if (!s_->response_out.empty() || body_bytes)
        return flush_response(s_->response_out.size(), false, body_bytes);
      if (!up_) return close();
      return up_->wait_readable();
    case http::Parser::Event::head:
      if (!on_response_head(s_->response_out)) return;
      if (conn_ == ConnState::tunnel) return flush_response(s_->response_out.size(), false, 0);
      continue;
    case http::Parser::Event::body:
      for (std::string_view piece : s_->response.body()) {
        iov.emplace_back(piece.data(), piece.size());
        body_bytes += piece.size();
        if (tap_) tap_->response_body(piece);
      }
      continue;
    case http::Parser::Event::done: {
      for (std::string_view piece : s_->response.body()) {
        iov.emplace_back(piece.data(), piece.size());
        body_bytes += piece.size();
        if (tap_) tap_->response_body(piece);
      }
      int status = s_->response.head().status;
      if (status >= 100 && status < 200) {
        s_->response.reset(head_request_); // an interim response; the final one follows
        continue;
      }
      if (tap_) tap_->response_done();
      go(ResponseEvent::last_byte);
      return flush_response(s_->response_out.size(), true, body_bytes);
    }
    case http::Parser::Event::error:
      // Nothing reached the client yet (a prepared head is simply not sent): answer 502.
      if (!response_started_)
        return fail_upstream(502, "invalid response from upstream",
                             metrics::UpstreamFailure::bad_response);
      return close();
    }
  }
}

bool ClientConnection::on_response_head(std::string& out) {
  const http::Head& head = s_->response.head();
  if (head.status >= 200 || head.status == 101) {
    go(ResponseEvent::final_head);
    disarm_try_timer();
  }
  if (head.status >= 100 && head.status < 200 && head.status != 101) {
    if (head.status == 100) return true; // the proxy answered Expect itself
    http::ClientResponseContext ctx;
    ctx.client_version_minor = client_version_minor_;
    if (client_version_minor_ == 1) http::write_client_response(head, ctx, out);
    return true;
  }
  if (head.status == 101) {
    if (!upgrade_) {
      fail_upstream(502, "upstream switched protocols unasked",
                    metrics::UpstreamFailure::bad_response);
      return false;
    }
    http::ClientResponseContext ctx;
    ctx.tunnel = true;
    http::write_client_response(head, ctx, out);
    status_ = 101;
    go(ConnEvent::switched);
    return true;
  }
  // A retry on the status: the upstream answered, its connection did not fail (kCount). When
  // no retry starts, this head goes to the client as it is.
  if (head.status >= 500 && retry(metrics::UpstreamFailure::kCount, head.status)) return false;
  status_ = head.status;
  if (tap_) {
    // The answer the client gets, and who gave it (a mirror compares only another service's).
    const Snapshot::Route& route = snap_->routes[static_cast<size_t>(route_)];
    const uint32_t service = route.backends[static_cast<size_t>(backend_)].service;
    tap_->response_head(head, snap_->services[service].id,
                        up_ ? up_->pool()->key() : std::string_view());
  }
  bool has_body = !head_request_ && head.status != 204 && head.status != 304;
  bool unknown_length =
      head.framing == http::Framing::chunked || head.framing == http::Framing::until_close;
  if (has_body && unknown_length) {
    if (client_version_minor_ == 1) {
      reframe_ = Reframe::chunked;
    } else {
      reframe_ = Reframe::raw; // HTTP/1.0 knows no chunks: send as is, end it by closing
      keep_alive_ = false;
    }
  }
  if (upgrade_) keep_alive_ = false; // the upstream refused the upgrade; don't resynchronise
  http::ClientResponseContext ctx;
  ctx.client_version_minor = client_version_minor_;
  ctx.chunked = reframe_ == Reframe::chunked;
  ctx.head_request = head_request_;
  ctx.close = !keep_alive_ || worker_.draining();
  ctx.extra_headers = set_cookie_;
  ctx.headers = response_filters();
  if (ctx.close) keep_alive_ = false;
  http::write_client_response(head, ctx, out);
  return true;
}

void ClientConnection::flush_response(size_t head_bytes, bool done, uint64_t body_bytes) {
  auto& iov = s_->response_iov;
  bool chunked = reframe_ == Reframe::chunked;
  if (chunked) http::frame_chunk(iov, s_->response_chunk, body_bytes, done);
  if (head_bytes) iov.insert(iov.begin(), asio::const_buffer(s_->response_out.data(), head_bytes));
  if (iov.empty()) {
    if (done) return finish_exchange();
    if (!up_) return close();
    return up_->wait_readable();
  }
  if (done) {
    // The response's last bytes: the request is counted and logged as they go, not once the
    // write is reported (the client may read them first).
    uint64_t n = 0;
    for (const asio::const_buffer& b : iov)
      n += b.size();
    finish_request(n);
  }
  write_client(ClientWrite::response);
}

void ClientConnection::on_client_written() {
  if (conn_ == ConnState::tunnel) return start_tunnel(); // the 101 went out
  set_deadline(Deadline::upstream, {});
  if (response_done()) return finish_exchange();
  if (s_->up_pos < s_->up_len) return advance_response();
  if (upstream_eof_ || !up_) return close(); // no connection: the response cannot go on
  up_->wait_readable();
}

void ClientConnection::finish_exchange() {
  if (closed()) return;
  disarm_try_timer();
  if (up_) {
    if (!request_done() || upstream_writing()) {
      // The upstream answered before the request was fully sent; that connection is out of
      // step, and so is the client's (the rest of its body is still on the wire).
      keep_alive_ = false;
      drop_upstream();
    } else {
      const http::Head& rh = s_->response.head();
      bool reusable = rh.keep_alive && !upstream_eof_ && s_->up_pos == s_->up_len &&
                      rh.framing != http::Framing::until_close && !upgrade_;
      upstream::Connection* c = up_;
      up_ = nullptr;
      go(UpstreamEvent::released);
      if (reusable)
        c->pool()->release(c);
      else
        c->close_and_release();
    }
  }
  finish_request();
  snap_.reset();
  // keep_alive_ is what the response head told the client. A drain that began after the head
  // went out must not close a connection the client was told it may reuse (its next request
  // would be lost): it goes idle, and gets Connection: close with its next response or is closed
  // as an idle one (ClientConnection::drain).
  if (!keep_alive_) {
    if (conn_ != ConnState::closing) go(ConnEvent::last_response);
    return close();
  }
  start_next_request();
}

void ClientConnection::start_next_request() {
  route_ = backend_ = -1;
  status_ = 0;
  bytes_in_ = bytes_out_ = 0;
  go(RequestEvent::next_request);
  go(ResponseEvent::next_request);
  response_started_ = false;
  s_->request.reset();
  size_t left = s_->in_len - s_->in_pos;
  if (left > 0) {
    // Pipelined bytes: move them to the front so the next head is contiguous from offset 0.
    std::memmove(s_->in.get(), s_->in.get() + s_->in_pos, left);
    s_->in_pos = 0;
    s_->in_len = left;
    go(ConnEvent::pipelined);
    set_deadline(Deadline::header, client_timeouts().header);
    return advance_request();
  }
  set_deadline(Deadline::idle, {});
  idle_since_ = worker_.now();
  if (client_reading()) {
    // A read into the stream is already pending (the client spoke first): let it complete.
    go(ConnEvent::pipelined);
    return;
  }
  go(ConnEvent::exchange_done);
  release_stream();
  wait_idle();
}

// ---------------------------------------------------------------------------------------------
// WebSocket (and any other Upgrade) tunnel after the upstream's 101: Tunnel moves the bytes,
// these are its ends.

void ClientConnection::start_tunnel() {
  // Bytes that came along with the handshake belong to the tunnel already. While the request's
  // last write is still going out, the tunnel holds them and reads nothing from the client until
  // that write completes (on_upstream_written reaches it): one upstream write at a time, and the
  // read buffer the write may point into is not overwritten.
  asio::const_buffer to_upstream(s_->in.get() + s_->in_pos, s_->in_len - s_->in_pos);
  asio::const_buffer to_client(s_->up.get() + s_->up_pos, s_->up_len - s_->up_pos);
  s_->in_pos = s_->in_len;
  s_->up_pos = s_->up_len;
  // The tunnel is its route × service's from now until close() (the attempt's cells: the
  // request's snapshot, whatever the worker installed since).
  if (!tunnel_cells_) {
    tunnel_cells_ = attempt_.cells();
    if (tunnel_cells_) tunnel_cells_->tunnels.add();
  }
  tunnel_.start(*this, to_upstream, to_client, asio::buffer(s_->in.get(), s_->capacity),
                asio::buffer(s_->up.get(), s_->capacity), upstream_writing(), websocket_);
}

void ClientConnection::tunnel_read_client(asio::mutable_buffer buffer) {
  if (closed() || client_reading()) return;
  reading_ = ClientRead::tunnel;
  ++pending_;
  client_->read(buffer);
}

void ClientConnection::tunnel_write_client(asio::const_buffer bytes) {
  if (closed()) return;
  s_->response_iov.clear();
  s_->response_iov.emplace_back(bytes);
  write_client(ClientWrite::tunnel);
}

void ClientConnection::tunnel_read_upstream(asio::mutable_buffer) {
  // The tunnel reads the upstream into the whole response buffer (where start_tunnel() pointed
  // it): what is there now, else once the readiness wait says more came.
  if (closed() || !up_ || tunnel_.to_client() != Tunnel::Pump::reading) return;
  error_code rec;
  size_t n = up_->read_now(asio::buffer(s_->up.get(), s_->capacity), rec);
  if (rec == asio::error::would_block) return up_->wait_readable();
  s_->up_pos = s_->up_len = 0;
  tunnel_.on_upstream_read(rec, n);
}

void ClientConnection::tunnel_write_upstream(asio::const_buffer bytes) {
  if (closed() || !up_) return;
  s_->request_iov.clear();
  s_->request_iov.emplace_back(bytes);
  up_->write(BufferView(s_->request_iov));
}

void ClientConnection::tunnel_end_client() {
  client_->shutdown_send();
}

void ClientConnection::tunnel_end_upstream() {
  if (up_) up_->shutdown_send();
}

void ClientConnection::tunnel_activity() {
  set_deadline(Deadline::tunnel, {});
}

void ClientConnection::tunnel_done() {
  close();
}

void ClientConnection::tunnel_abort() {
  close();
}

std::chrono::steady_clock::time_point ClientConnection::tunnel_now() {
  return worker_.now();
}

} // namespace weir::runtime
