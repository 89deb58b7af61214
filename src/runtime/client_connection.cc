// The client connection's lifetime: start, the client transport's completions, the states'
// only writer (go), deadlines, weir's own answers, and the close. Worker thread only.
#include "weir/runtime/client_connection.h"

#include "weir/config/address.h"
#include "weir/http/rewrite.h"
#include "weir/mirror/tap.h"
#include "weir/runtime/worker.h"

#include <arpa/inet.h>
#include <cassert>
#include <charconv>
#include <cstring>
#include <unistd.h>
#include <utility>

namespace weir::runtime {

namespace asio = boost::asio;
using boost::system::error_code;

namespace {
// "a.b.c.d" of a v4 address, NUL-terminated (out: 16 bytes at least). inet_ntop formats through
// sprintf: a tenth of a new connection's instructions (bench/profile.sh MODE=close).
void format_ipv4(const unsigned char* a, char* out) {
  for (int i = 0; i < 4; ++i) {
    out = std::to_chars(out, out + 3, static_cast<unsigned>(a[i])).ptr;
    *out++ = i < 3 ? '.' : '\0';
  }
}

// A transition that does not exist is a bug in the connection, never input: the sanitizer
// build stops on it; a release build keeps the state it had.
template <typename State, typename Event> void step(State& s, Event e) {
  std::optional<State> n = next(s, e);
  assert(n.has_value() && "client connection: a transition that does not exist");
  if (n) s = *n;
}
} // namespace

void ClientConnection::go(ConnEvent e) {
  step(conn_, e);
}
void ClientConnection::go(RequestEvent e) {
  step(req_, e);
}
void ClientConnection::go(ResponseEvent e) {
  step(resp_, e);
}
void ClientConnection::go(UpstreamEvent e) {
  step(upstream_, e);
}

ClientConnection::ClientConnection(Worker& worker, const ListenerSlot* listener)
    : worker_(worker),
      transport_(worker.poller(), worker.ring(), worker.io(), this, worker.handler_allocator()),
      client_(&transport_.get()), listener_(listener), try_timer_(worker.io()) {}

ClientConnection::~ClientConnection() {
  if (tls_) tls_->release();
}

void ClientConnection::start(int fd, const sockaddr* peer) {
  error_code ec;
  const Snapshot& snap = *worker_.snapshot();
  const int index = listener_->snapshot_index;
  const Snapshot::Listener* listener =
      index >= 0 && static_cast<size_t>(index) < snap.listeners.size()
          ? &snap.listeners[static_cast<size_t>(index)]
          : nullptr;
  if (listener && listener->tls) {
    SSL* ssl = listener->tls->new_ssl();
    if (!ssl) {
      ::close(fd);
      delete this;
      return;
    }
    tls_ = new net::TlsTransport(worker_.poller(), worker_.ring(), worker_.io(), this,
                                 worker_.handler_allocator(), ssl);
    tls_->keep_alive(listener->tls); // its SNI and ALPN callbacks point into it
    client_ = tls_;
  }
  net::SocketTransport& socket =
      tls_ ? static_cast<net::SocketTransport&>(*tls_) : transport_.get();
  if (!socket.adopt(fd, ec)) {
    // Not registered (out of memory in the kernel): nothing was started, nothing refers to us.
    ::close(fd);
    delete this;
    return;
  }
  if (peer->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(peer);
    std::memcpy(peer_bytes_, &in->sin_addr, 4);
    format_ipv4(peer_bytes_, client_ip_);
  } else if (peer->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(peer);
    if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
      // A v4 client on a dual-stack listener: known, matched and logged by its v4 address.
      std::memcpy(peer_bytes_, in6->sin6_addr.s6_addr + 12, 4);
      format_ipv4(peer_bytes_, client_ip_);
    } else {
      std::memcpy(peer_bytes_, &in6->sin6_addr, 16);
      peer_v6_ = true;
      ::inet_ntop(AF_INET6, &in6->sin6_addr, client_ip_, sizeof client_ip_);
    }
  }
  client_ip_len_ = static_cast<uint8_t>(::strnlen(client_ip_, sizeof client_ip_));
  worker_.link(this);
  worker_.metrics().client_connections.add();
  idle_since_ = worker_.now();
  if (tls_)
    set_deadline(Deadline::handshake, client_timeouts().handshake);
  else
    set_deadline(Deadline::header, client_timeouts().header);
  wait_idle();
}

void ClientConnection::on_transport_handshake(const error_code& ec) {
  worker_.tick();
  if (metrics::TlsListenerCells* cells = listener_->tls_cells) {
    if (ec)
      cells->failed.add();
    else if (tls_->resumed())
      cells->resumed.add();
    else
      cells->full.add();
  }
  // The request head's time starts now: the handshake had its own.
  if (!ec && !closed() && deadline_kind_ == Deadline::handshake)
    set_deadline(Deadline::header, client_timeouts().header);
}

// ---------------------------------------------------------------------------------------------
// The client transport's completions, by what the operation was for

// Every completion handler reads the clock once (Worker::tick) before anything in it sets a
// deadline or measures time with worker_.now().

void ClientConnection::on_transport_read(const error_code& ec, size_t n) {
  worker_.tick();
  ClientRead kind = std::exchange(reading_, ClientRead::none);
  bool was_closed = closed();
  finish_op();
  if (was_closed) return;
  switch (kind) {
  case ClientRead::request:
    return on_client_read(ec, n);
  case ClientRead::tunnel:
    return tunnel_.on_client_read(ec, n);
  case ClientRead::idle:
  case ClientRead::none:
    return;
  }
}

void ClientConnection::on_transport_readable(const error_code& ec) {
  worker_.tick();
  reading_ = ClientRead::none;
  bool was_closed = closed();
  finish_op();
  if (!was_closed) on_idle_readable(ec);
}

void ClientConnection::on_transport_written(const error_code& ec, size_t n) {
  worker_.tick();
  ClientWrite kind = std::exchange(writing_, ClientWrite::none);
  bool was_closed = closed();
  finish_op();
  if (was_closed) return;
  if (ec) return close();
  switch (kind) {
  case ClientWrite::interim:
    return on_interim_written();
  case ClientWrite::local:
    bytes_out_ += n;
    if (conn_ == ConnState::closing) return close();
    return finish_exchange();
  case ClientWrite::response:
    bytes_out_ += n;
    return on_client_written();
  case ClientWrite::tunnel:
    bytes_out_ += n;
    return tunnel_.on_client_written();
  case ClientWrite::none:
    return;
  }
}

void ClientConnection::write_client(ClientWrite kind) {
  writing_ = kind;
  if (kind != ClientWrite::interim) response_started_ = true;
  ++pending_;
  // The last bytes of the connection's last response: the end of the stream goes right behind
  // them (net::Transport::write_last), not after the completion has made its way back here.
  bool last = kind == ClientWrite::local
                  ? conn_ == ConnState::closing
                  : kind == ClientWrite::response && response_done() && !keep_alive_;
  BufferView out = kind == ClientWrite::interim || kind == ClientWrite::local
                       ? BufferView(&one_buffer_, 1)
                       : BufferView(s_->response_iov);
  if (last)
    client_->write_last(out);
  else
    client_->write(out);
}

// ---------------------------------------------------------------------------------------------
// Local answers, errors, timeouts and the end of a connection

void ClientConnection::send_local(int status, std::string_view body, bool close_after,
                                  std::string_view extra_headers) {
  status_ = status;
  if (worker_.draining() || !keep_alive_) close_after = true;
  if (!close_after && !request_done() && conn_ != ConnState::idle) {
    // The connection can carry another request only if this one is fully read: a body still on
    // the wire would be taken for the next request.
    if (request_has_body_) {
      close_after = true;
    } else {
      size_t consumed = 0;
      if (s_->request.execute(s_->in.get() + s_->in_pos, s_->in_len - s_->in_pos, consumed) !=
          http::Parser::Event::done)
        close_after = true;
      s_->in_pos += consumed;
    }
  }
  keep_alive_ = keep_alive_ && !close_after;
  go(RequestEvent::answered);
  go(ResponseEvent::answer_local);
  if (close_after) go(ConnEvent::last_response);
  s_->response_out.clear();
  http::write_local_response(status, body, close_after, s_->response_out, extra_headers);
  one_buffer_ = asio::buffer(s_->response_out);
  // Counted and logged as the answer goes, like an upstream's response (flush_response).
  finish_request(s_->response_out.size());
  write_client(ClientWrite::local);
}

void ClientConnection::fail_upstream(int status, std::string_view why,
                                     metrics::UpstreamFailure cause) {
  if (retry(cause, 0)) return;
  attempt_.fail(cause);
  drop_upstream();
  if (response_started_ || client_writing()) return close();
  std::string body(why);
  if (route_ >= 0 && snap_) body += " for route " + snap_->routes[static_cast<size_t>(route_)].name;
  body.push_back('\n');
  send_local(status, body, false);
}

void ClientConnection::check_deadline(Clock::time_point now) {
  if (closed()) return;
  // A drained tunnel's closing caps, apart from its idle deadline (which its bytes refresh).
  if (conn_ == ConnState::tunnel && tunnel_.check_deadline(now)) return;
  if (check_route_timeouts(now)) return;
  if (conn_ == ConnState::exchange && !request_done()) {
    // The head is in; the rest of the request is the client's to send.
    if (now >= request_deadline_) return request_timed_out("request not received in time\n");
    if (client_reading() && now >= body_deadline_)
      return request_timed_out("request body not received in time\n");
  }
  if (now < deadline_) return;
  if (client_writing()) {
    // Timed out with a response still unsent: a reset, not a close, so the kernel drops what
    // the client would not read instead of holding it (nginx's reset_timedout_connection). A
    // thousand slow readers would otherwise pin hundreds of MB of socket memory.
    client_->reset_on_close();
  }
  switch (deadline_kind_) {
  case Deadline::none:
    return;
  case Deadline::queue: {
    // The 503 below went out already and the client has not taken it (the deadline stays the
    // queue's): nothing more to say, and a second answer must not replace a pending write.
    if (client_writing()) return close();
    // Every connection the endpoint may have stayed busy: weir is the bottleneck, not the
    // version, so the answer is weir's own and not an upstream error.
    if (queued_in_) queued_in_->cancel_wait(this);
    queued_in_ = nullptr;
    go(UpstreamEvent::released);
    keep_alive_ = keep_alive_ && !request_has_body_;
    return send_local(503, "upstream connection limit reached, try again\n", false,
                      "Retry-After: 1\r\n");
  }
  case Deadline::handshake:
    // A connection that never sent a byte (a port scan, a TCP check) stalled no handshake.
    if (listener_->tls_cells && tls_ && tls_->received_any()) listener_->tls_cells->timedout.add();
    return close();
  case Deadline::idle:
    return close();
  case Deadline::header:
    if (client_writing()) return close();
    if (conn_ == ConnState::idle && requests_ > 0) return close();
    if (!s_) s_ = worker_.streams().acquire();
    return send_local(408, "request head not received in time\n", true);
  case Deadline::connect:
    return fail_upstream(503, "upstream connect timed out",
                         metrics::UpstreamFailure::connect_timeout);
  case Deadline::upstream:
    if (response_started_) return close();
    return fail_upstream(504, "upstream response timed out",
                         metrics::UpstreamFailure::response_timeout);
  case Deadline::tunnel:
    return close();
  }
}

void ClientConnection::set_deadline(Deadline kind, Clock::duration after) {
  // `after` zero: refresh the current kind's window (activity).
  if (after == Clock::duration::zero()) {
    const config::Timeouts* t =
        (snap_ && route_ >= 0) ? &snap_->routes[static_cast<size_t>(route_)].timeouts : nullptr;
    switch (kind) {
    case Deadline::idle:
    case Deadline::tunnel:
      after = t ? t->idle : client_timeouts().idle;
      break;
    case Deadline::upstream:
      after = t ? t->upstream_read : config::Duration(30000);
      break;
    case Deadline::header:
    case Deadline::handshake:
      return; // absolute from the first byte: not refreshed by progress
    case Deadline::queue:
    case Deadline::connect:
    case Deadline::none:
      return;
    }
  }
  deadline_kind_ = kind;
  deadline_ = worker_.now() + after;
}

void ClientConnection::request_timed_out(std::string_view why) {
  keep_alive_ = false;
  if (response_started_ || client_writing()) return close();
  bool nothing_sent = request_head_queued_ ||
                      (req_ == RequestState::buffering && upstream_ == UpstreamState::none) ||
                      upstream_ == UpstreamState::queued;
  if (queued_in_) queued_in_->cancel_wait(this);
  queued_in_ = nullptr;
  drop_upstream();
  if (nothing_sent) unassign_backend(); // nothing reached the upstream
  send_local(408, why, true);
}

bool ClientConnection::peer_trusted() const {
  for (const config::Cidr& net : worker_.snapshot()->trusted_proxies)
    if (config::cidr_contains(net, peer_v6_, peer_bytes_)) return true;
  return false;
}

const Snapshot::ClientTimeouts& ClientConnection::client_timeouts() const {
  const Snapshot& snap = *worker_.snapshot();
  int i = listener_->snapshot_index; // an index into the worker's current snapshot
  return i >= 0 && static_cast<size_t>(i) < snap.listeners.size()
             ? snap.listeners[static_cast<size_t>(i)].client
             : snap.client;
}

void ClientConnection::drain(Clock::time_point now) {
  // Not while bytes wait unread (a request that just arrived: its readiness is on the way, and
  // closing now would reset it) or the client has ended its side (its close comes anyway).
  if (lingering_ || conn_ != ConnState::idle || now - idle_since_ < worker_.drain_idle_after() ||
      !client_->quiet())
    return;
  // A lingering close (nginx's lingering_close): weir's end first, then whatever the client
  // still sends is read and dropped until it closes its end. A request that crossed weir's end
  // on the wire is absorbed, and the client reads a clean end of stream, not a reset (which
  // closing at once would cause) — a client that retries on a closed keep-alive connection
  // retries either way.
  lingering_ = true;
  client_->shutdown_send();
  deadline_kind_ = Deadline::idle;
  deadline_ = now + kDrainLinger;
  // Busy connections see worker.draining() when their response is done.
}

void ClientConnection::unassign_backend() {
  // The request was refused before any byte of it left weir: it is no backend's request.
  end_retry_in_flight();
  attempt_.unassign();
  backend_ = -1;
  request_head_queued_ = false;
}

void ClientConnection::drop_upstream() {
  // Whatever the attempt's connection was doing, it is over (a place in a pool's line is
  // cancelled by the caller first).
  go(UpstreamEvent::released);
  if (!up_) return;
  upstream::Connection* c = up_;
  up_ = nullptr;
  disarm_try_timer();
  c->close_and_release();
}

void ClientConnection::release_stream() {
  if (s_) {
    worker_.streams().release(s_);
    s_ = nullptr;
  }
}

void ClientConnection::close() {
  if (closed()) return;
  if (request_open_) finish_request();
  go(ConnEvent::closed);
  if (tunnel_cells_) {
    tunnel_cells_->tunnels.sub();
    tunnel_cells_ = nullptr;
  }
  if (tunnel_drain_ != 0) worker_.tunnel_drains().forget(tunnel_drain_, tunnel_slot_);
  tunnel_drain_ = 0;
  if (queued_in_) queued_in_->cancel_wait(this);
  queued_in_ = nullptr;
  drop_upstream();
  disarm_try_timer();
  end_retry_in_flight();
  snap_.reset();
  // No shutdown first: close() sends the FIN itself (and a reset when input is left unread,
  // shutdown or not), so a shutdown would be one syscall per connection for nothing.
  client_->close();
  worker_.unlink(this);
  worker_.metrics().client_connections.sub();
  ++pending_;
  finish_op();
}

void ClientConnection::finish_op() {
  if (--pending_ == 0 && closed()) {
    release_stream();
    delete this;
  }
}

} // namespace weir::runtime
