// The request direction of a client connection: the idle wait, reading and parsing the request,
// routing it (backend_choice.h decides), taking an upstream connection and sending the request
// through it. Worker thread only.
#include "weir/base/clock.h"
#include "weir/http/chunk_framing.h"
#include "weir/http/rewrite.h"
#include "weir/mirror/tap.h"
#include "weir/runtime/backend_choice.h"
#include "weir/runtime/client_connection.h"
#include "weir/runtime/worker.h"

#include <algorithm>
#include <cstring>
#include <utility>

namespace weir::runtime {

namespace asio = boost::asio;
using boost::system::error_code;

namespace {

constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

} // namespace

void ClientConnection::wait_idle() {
  // Idle keep-alive connections hold no buffer: wait for readability, then borrow a Stream.
  reading_ = ClientRead::idle;
  ++pending_;
  client_->wait_readable();
}

void ClientConnection::on_idle_readable(const error_code& ec) {
  if (ec) return close();
  if (conn_ != ConnState::idle) return; // a 408 for a silent client is on its way: closing
  if (lingering_) {
    // Drained (ClientConnection::drain): what the client still sends is dropped, its end closes.
    char sink[4096];
    for (;;) {
      error_code rec;
      size_t n = client_->read_now(asio::buffer(sink), rec);
      if (rec == asio::error::would_block) return wait_idle();
      if (rec || n == 0) return close();
    }
  }
  if (!s_) s_ = worker_.streams().acquire();
  go(ConnEvent::bytes_arrived);
  error_code rec;
  size_t n =
      client_->read_now(asio::buffer(s_->in.get() + s_->in_len, s_->capacity - s_->in_len), rec);
  if (rec == asio::error::would_block) {
    // Woken for nothing (the transport may wake a wait at once after a read that filled its
    // buffer): the connection is still idle, under the idle deadline, not the header's.
    if (s_->in_len == 0 && conn_ == ConnState::head) {
      release_stream();
      go(ConnEvent::nothing_read);
    }
    return conn_ == ConnState::idle ? wait_idle() : read_client();
  }
  // The next request's first bytes: its head has client_header_timeout from now.
  if (!rec && n > 0 && requests_ > 0 && deadline_kind_ == Deadline::idle)
    set_deadline(Deadline::header, client_timeouts().header);
  on_client_read(rec, n);
}

void ClientConnection::read_client() {
  if (client_reading() || closed()) return;
  if (s_->in_pos == s_->in_len && !s_->request.in_head() && req_ != RequestState::buffering) {
    if (s_->in_len != 0) in_buffer_reset_ = true; // body bytes of this request are gone
    s_->in_pos = s_->in_len = 0;
  }
  if (s_->in_len == s_->capacity) {
    // Only a head can fill the buffer (bodies are consumed as they arrive).
    return send_local(431, "request head too large\n", true);
  }
  if (conn_ != ConnState::head && !request_done()) {
    // Waiting on the client for body bytes: client_body_timeout runs until they come.
    body_deadline_ = worker_.now() + client_timeouts().body;
  }
  reading_ = ClientRead::request;
  ++pending_;
  client_->read(asio::buffer(s_->in.get() + s_->in_len, s_->capacity - s_->in_len));
}

void ClientConnection::on_client_read(const error_code& ec, size_t n) {
  if (ec || n == 0) {
    // The client went away or half-closed. Between requests that is a normal end; with a
    // request half read there is nothing sensible to forward.
    if (exchanging() && request_done()) {
      keep_alive_ = false; // let the response finish, then close
      return;
    }
    return close();
  }
  s_->in_len += n;
  if (exchanging() || conn_ == ConnState::head) set_deadline(deadline_kind_, {});
  advance_request();
}

void ClientConnection::advance_request() {
  if (closed() || upstream_writing() || upstream_ == UpstreamState::connecting ||
      upstream_ == UpstreamState::queued)
    return;
  if (request_done()) return;
  if (req_ == RequestState::buffering) {
    const http::Head& head = s_->request.head();
    if (s_->in_len - body_offset_ < head.content_length && s_->in_len < s_->capacity)
      return read_client();
    // The body is in (or the buffer full): now the upstream, and head and body in one write.
    go(RequestEvent::body_held);
    upstream::Pool* pool = std::exchange(buffering_for_, nullptr);
    if (!attach_upstream(pool, false)) return; // connecting or queued: they carry on
    on_upstream_ready();
  }
  uint64_t body_bytes = 0;
  s_->request_iov.clear();
  // Gather as much as the buffer holds: the head (once routed) and every body piece after it,
  // so a request that arrived whole leaves in one write.
  for (;;) {
    size_t consumed = 0;
    http::Parser::Event ev =
        s_->request.execute(s_->in.get() + s_->in_pos, s_->in_len - s_->in_pos, consumed);
    s_->in_pos += consumed;
    bytes_in_ += consumed;
    switch (ev) {
    case http::Parser::Event::need_more:
      if (!exchanging()) return read_client();
      if (request_head_queued_ || body_bytes) return flush_request(false, body_bytes);
      return read_client();
    case http::Parser::Event::head:
      body_offset_ = s_->in_pos;
      in_buffer_reset_ = false;
      on_request_head();
      // Buffering the body, connecting, or answered locally (then the exchange is over once
      // the answer is out).
      if (req_ == RequestState::buffering) return advance_request(); // reads on, or full
      if (!exchanging() || request_done()) return;
      continue;
    case http::Parser::Event::body:
      for (std::string_view piece : s_->request.body()) {
        s_->request_iov.emplace_back(piece.data(), piece.size());
        body_bytes += piece.size();
        if (tap_) tap_->request_body(piece);
      }
      continue;
    case http::Parser::Event::done:
      for (std::string_view piece : s_->request.body()) {
        s_->request_iov.emplace_back(piece.data(), piece.size());
        body_bytes += piece.size();
        if (tap_) tap_->request_body(piece);
      }
      if (tap_) tap_->request_done(s_->request_out); // the copy leaves for the mirror thread
      go(RequestEvent::last_byte);
      if (!exchanging()) return; // a local response already went out
      // The attempt's clock starts once the whole request is in hand (as Envoy's per-try
      // timeout does): a slow upload is the client's time, not the endpoint's.
      if (up_ && !final_head()) arm_try_timer();
      return flush_request(true, body_bytes);
    case http::Parser::Event::error:
      if (conn_ == ConnState::head) {
        const http::Parser& p = s_->request;
        std::string body(p.error_reason());
        body.push_back('\n');
        return send_local(http::status_for(p.error()), body, true);
      }
      // Mid-body: the upstream got (at most) a truncated request, so that connection goes. The
      // client still hears why, unless its response has already begun.
      if (!response_started_ && !client_writing()) {
        drop_upstream();
        if (request_head_queued_) unassign_backend(); // nothing reached the upstream
        const http::Parser& p = s_->request;
        std::string body(p.error_reason());
        body.push_back('\n');
        return send_local(http::status_for(p.error()), body, true);
      }
      return close();
    }
  }
}

void ClientConnection::flush_request(bool done, uint64_t body_bytes) {
  // request_iov holds the body pieces; put the head and chunk framing around them.
  auto& iov = s_->request_iov;
  bool chunked = s_->request.head().framing == http::Framing::chunked;
  if (chunked)
    http::frame_chunk(iov, s_->request_chunk, body_bytes, done);
  else if (body_bytes == 0)
    iov.clear();
  if (request_head_queued_) {
    request_head_queued_ = false;
    iov.insert(iov.begin(), asio::buffer(s_->request_out));
  }
  if (!iov.empty()) request_sent_ = true;
  if (iov.empty()) return done ? void() : read_client();
  up_->write(BufferView(iov));
}

void ClientConnection::on_upstream_written(const error_code& ec) {
  worker_.tick();
  if (ec) {
    if (retry_on_fresh_connection()) return;
    if (!response_started_)
      return fail_upstream(502, "upstream connection failed", metrics::UpstreamFailure::reset);
    return close();
  }
  if (conn_ == ConnState::tunnel) return tunnel_.on_upstream_written();
  set_deadline(Deadline::upstream, {});
  if (!exchanging()) return;
  if (request_done()) {
    if (response_done() && !client_writing()) finish_exchange();
    return;
  }
  advance_request();
}

int ClientConnection::pick_backend(const Snapshot::Route& route, const http::Head& head,
                                   bool trusted) {
  set_cookie_.clear();
  BackendChoice choice = choose_backend(*snap_, route, head, trusted);
  attempt_.set_forced(choice.forced);
  switch (choice.kind) {
  case BackendChoice::Kind::split:
    return worker_.pick_backend(static_cast<uint32_t>(route_));
  case BackendChoice::Kind::fixed:
    return choice.backend;
  case BackendChoice::Kind::new_bucket: {
    uint32_t bucket = worker_.random_bucket();
    append_bucket_cookie(route, bucket, set_cookie_);
    return bucket_backend(route, bucket);
  }
  }
  return -1;
}

void ClientConnection::redirect_to_https(uint16_t port) {
  const http::Head& head = s_->request.head();
  std::string_view host = head.authority;
  if (host.starts_with('[')) {
    host = host.substr(0, host.find(']') + 1); // "[::1]:8080" → "[::1]"
  } else {
    host = host.substr(0, host.find(':'));
  }
  const bool sane = host.size() > 0 && std::all_of(host.begin(), host.end(), [](char c) {
                      return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                             (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '[' ||
                             c == ']' || c == ':';
                    });
  if (!sane) return send_local(400, "no host to redirect to\n", request_has_body_);
  std::string location = "Location: https://";
  location.append(host);
  if (port != 443) location.append(":").append(std::to_string(port));
  location.append(head.path.empty() ? std::string_view("/") : head.path).append("\r\n");
  // 308, not 301: the method and body stay what they were when the client follows it.
  send_local(308, "", request_has_body_, location);
}

void ClientConnection::on_request_head() {
  const http::Head& head = s_->request.head();
  Worker& w = worker_;
  go(ConnEvent::head_parsed);
  started_ = worker_.now();
  request_deadline_ = started_ + client_timeouts().request;
  body_deadline_ = Clock::time_point::max();
  attempt_.set_forced(false);
  attempts_ = 0;
  request_sent_ = false;
  snap_ = w.snapshot_ref();
  const Snapshot& snap = *snap_;
  client_version_minor_ = head.version_minor;
  keep_alive_ = head.keep_alive && !w.draining();
  head_request_ = head.method_name == "HEAD";
  upgrade_ = head.upgrade;
  const http::Header* upgrade_to = upgrade_ ? head.find("upgrade") : nullptr;
  websocket_ = upgrade_to && upgrades_to_websocket(upgrade_to->value);
  request_has_body_ = head.framing == http::Framing::chunked ||
                      (head.framing == http::Framing::length && head.content_length > 0);
  ++requests_;
  status_ = 0;
  request_open_ = true;

  if (listener_->snapshot_index < 0) {
    // A reload removed this listener: its connections finish what they have, nothing more.
    keep_alive_ = false;
    return send_local(503, "listener removed by a reload\n", true);
  }
  const Snapshot::Listener& listener =
      snap.listeners[static_cast<size_t>(listener_->snapshot_index)];
  if (listener.redirect_to_https != 0) return redirect_to_https(listener.redirect_to_https);
  const route::Table::Hit hit = listener.table.match(head);
  route_ = hit.route;
  match_alternative_ = hit.alternative;
  match_prefix_length_ = hit.prefix_length;
  if (route_ < 0) return send_local(404, "no route for this host and path\n", request_has_body_);
  const Snapshot::Route& route = snap.routes[static_cast<size_t>(route_)];
  if (route.redirect.enabled) return answer_redirect(route);
  start_request_timeout(route);
  bool trusted = peer_trusted();
  backend_ = pick_backend(route, head, trusted);
  if (backend_ < 0) return send_local(503, route.unavailable_body, request_has_body_);
  const Snapshot::Backend& backend = route.backends[static_cast<size_t>(backend_)];
  upstream::Pool* pool = w.pick_endpoint(backend.service, endpoint_);
  if (!pool) return send_local(503, route.unavailable_body, request_has_body_);
  if (route.retries.attempts > 0) w.retry_budget().deposit(route.retries.budget_percent);
  attempt_.begin(
      w.backend_cells(static_cast<uint32_t>(route_), static_cast<uint32_t>(backend_)),
      w.endpoint_cells(static_cast<uint32_t>(route_), static_cast<uint32_t>(backend_), endpoint_),
      started_);

  if (w.access_log().enabled()) {
    s_->logged_method.assign(head.method_name);
    s_->logged_target.assign(head.target);
  }
  w.format_request_id(request_id_);
  write_request_head(pool->key(), trusted);
  if (mirror::Lane* lane = w.mirror_lane())
    tap_ = lane->sample(snap, static_cast<uint32_t>(route_), head, upgrade_);

  response_started_ = false;
  reframe_ = Reframe::as_is;
  continue_sent_ = retried_ = false;
  if (request_has_body_ && head.framing == http::Framing::length && !head.expect_continue &&
      !upgrade_ && s_->in_len - body_offset_ < head.content_length) {
    // A body still arriving is read into the buffer before any upstream connection is taken
    // (nginx's request buffering, up to the read buffer): a client that trickles its body ties
    // up no upstream connection and costs one read per trickle, not a relay in both directions.
    buffering_for_ = pool;
    go(RequestEvent::routed_hold);
    deadline_kind_ = Deadline::none; // client_body_timeout and request_timeout apply meanwhile
    deadline_ = Clock::time_point::max();
    return;
  }
  go(RequestEvent::routed);
  if (attach_upstream(pool, false)) on_upstream_ready();
}

bool ClientConnection::attach_upstream(upstream::Pool* pool, bool force_new) {
  // One attempt's upstream connection: pooled when one is idle (unless force_new), else a new
  // one that connects first, else a place in the pool's line when the endpoint has all the
  // connections it may have. Returns true when it can be used at once.
  bool fresh = true;
  upstream::Connection* c =
      force_new ? pool->connect_new(this) : pool->acquire(this, fresh, request_has_body_);
  if (!c) {
    queued_in_ = pool;
    go(UpstreamEvent::queue);
    set_deadline(Deadline::queue, snap_->client.queue); // the request's snapshot
    return false;
  }
  return attach(c, fresh);
}

void ClientConnection::on_upstream_granted(upstream::Connection* c, bool fresh) {
  worker_.tick();
  queued_in_ = nullptr;
  if (closed()) {
    c->close_and_release();
    return;
  }
  if (attach(c, fresh)) start_sending();
}

bool ClientConnection::attach(upstream::Connection* c, bool fresh) {
  up_ = c;
  attempt_deadline_ = Clock::time_point::max(); // timeouts.backend_request: from on_upstream_ready
  up_->count_request();
  s_->response.start_connection();
  s_->response.reset(head_request_);
  s_->up_len = s_->up_pos = 0;
  upstream_eof_ = false;
  go(ResponseEvent::attempt);
  if (!fresh) {
    go(UpstreamEvent::reuse);
    return true;
  }
  go(UpstreamEvent::connect);
  set_deadline(Deadline::connect, snap_->routes[static_cast<size_t>(route_)].timeouts.connect);
  up_->connect(up_->pool()->endpoint());
  return false;
}

void ClientConnection::on_upstream_connected(const error_code& ec) {
  worker_.tick();
  if (ec && local_shortage(ec)) return refuse_for_shortage();
  if (ec && ec.category() == net::tls_category()) {
    // The TCP connection was made; the handshake failed (most often the endpoint's certificate
    // did not verify): a connect failure, counted as "tls", its reason in the log.
    worker_.log_tls_failure(up_ ? up_->pool()->key() : std::string_view(),
                            up_ ? up_->tls_failure() : std::string_view());
    return fail_upstream(502, "upstream TLS handshake failed", metrics::UpstreamFailure::tls);
  }
  if (ec)
    return fail_upstream(503, "upstream connect failed",
                         ec == asio::error::timed_out ? metrics::UpstreamFailure::connect_timeout
                                                      : metrics::UpstreamFailure::connect_refused);
  go(UpstreamEvent::connected);
  start_sending();
}

bool ClientConnection::local_shortage(const error_code& ec) {
  return ec == asio::error::no_descriptors ||
         ec == boost::system::errc::too_many_files_open_in_system ||
         ec == asio::error::no_buffer_space || ec == asio::error::no_memory;
}

void ClientConnection::refuse_for_shortage() {
  // weir could not open the socket (out of descriptors, buffers or memory): nothing reached the
  // endpoint, so it is no backend's request and no endpoint's failure (outlier detection must
  // not eject a healthy endpoint for weir's own shortage). The answer is weir's, like the
  // queue's 503; no retry, another endpoint would need a socket too.
  drop_upstream();
  unassign_backend();
  if (response_started_ || client_writing()) return close();
  keep_alive_ = keep_alive_ && !request_has_body_;
  send_local(503, "proxy out of resources, try again\n", false, "Retry-After: 1\r\n");
}

void ClientConnection::start_sending() {
  on_upstream_ready();
  if (!exchanging()) return;
  if (resend_) return resend_request();              // a retry: the whole request is in hand
  if (request_done()) return flush_request(true, 0); // a reused connection's bodyless replay
  advance_request();
}

bool ClientConnection::retry_on_fresh_connection() {
  // A kept-alive connection can be closed by the upstream just as a request is written to it
  // (its idle timeout raced us). Nothing was processed then, so a request without a body is
  // sent again, once, on a new connection — as nginx and HAProxy do.
  if (!up_ || !up_->reused() || retried_ || response_started_ || client_writing() ||
      request_has_body_ || !request_done() || s_->response.started())
    return false;
  upstream::Pool* pool = up_->pool();
  drop_upstream();
  retried_ = true;
  attach_upstream(pool, true);
  return true;
}

void ClientConnection::on_upstream_ready() {
  set_deadline(Deadline::upstream,
               snap_->routes[static_cast<size_t>(route_)].timeouts.upstream_read);
  if (request_done()) arm_try_timer(); // else once the request's last byte arrives
  start_attempt_timeout();

  request_head_queued_ = true;
  up_->wait_readable();
  if (s_->request.head().expect_continue && request_has_body_ && client_version_minor_ == 1 &&
      !continue_sent_) {
    // Like Envoy, the proxy answers 100-continue itself once the upstream is reachable and
    // strips Expect, so clients do not wait on upstreams that ignore it.
    continue_sent_ = true;
    one_buffer_ = asio::buffer(kContinue);
    write_client(ClientWrite::interim);
  }
}

void ClientConnection::on_interim_written() {
  advance_response();
}

} // namespace weir::runtime
