#include "weir/runtime/client_connection.h"

#include "weir/base/buffer_view.h"
#include "weir/base/clock.h"
#include "weir/config/address.h"
#include "weir/http/rewrite.h"
#include "weir/metrics/cells.h"
#include "weir/runtime/worker.h"

#include <boost/asio/write.hpp>
#include <charconv>
#include <cstring>
#include <ctime>
#include <utility>

namespace weir::runtime {

namespace asio = boost::asio;
using boost::system::error_code;

namespace {

constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
constexpr std::string_view kCrlf = "\r\n";
constexpr std::string_view kLastChunk = "0\r\n\r\n";

// "HEX\r\n" for a chunk of n bytes; returns its length.
size_t format_chunk_size(char* out, uint64_t n) {
  auto r = std::to_chars(out, out + 16, n, 16);
  r.ptr[0] = '\r';
  r.ptr[1] = '\n';
  return static_cast<size_t>(r.ptr + 2 - out);
}

} // namespace

ClientConnection::ClientConnection(Worker& worker, asio::ip::tcp::socket socket,
                                   const ListenerSlot* listener)
    : worker_(worker), socket_(std::move(socket)), listener_(listener), try_timer_(worker.io()) {}

void ClientConnection::start() {
  error_code ec;
  socket_.set_option(asio::ip::tcp::no_delay(true), ec);
  socket_.non_blocking(true, ec);
  auto remote = socket_.remote_endpoint(ec);
  if (!ec) {
    if (remote.address().is_v4()) {
      auto b = remote.address().to_v4().to_bytes();
      std::memcpy(peer_bytes_, b.data(), 4);
    } else {
      auto b = remote.address().to_v6().to_bytes();
      std::memcpy(peer_bytes_, b.data(), 16);
      peer_v6_ = true;
    }
    std::string ip = remote.address().to_string();
    if (ip.rfind("::ffff:", 0) == 0 && ip.find('.') != std::string::npos) ip = ip.substr(7);
    client_ip_len_ = static_cast<uint8_t>(std::min(ip.size(), sizeof client_ip_));
    std::memcpy(client_ip_, ip.data(), client_ip_len_);
  }
  worker_.link(this);
  worker_.metrics().client_connections.add();
  const auto& limits = worker_.snapshot()->config->limits;
  set_deadline(Deadline::header, limits.client_header_timeout);
  wait_idle();
}

// ---------------------------------------------------------------------------------------------
// Request direction

void ClientConnection::wait_idle() {
  // Idle keep-alive connections hold no buffer: wait for readability, then borrow a Stream.
  phase_ = Phase::idle;
  client_reading_ = true;
  ++pending_;
  socket_.async_wait(asio::socket_base::wait_read, [this](const error_code& ec) {
    client_reading_ = false;
    bool closed = closed_;
    finish_op();
    if (closed) return;
    if (ec) return close();
    if (!s_) s_ = worker_.streams().acquire();
    phase_ = Phase::head;
    if (!first_request_ && deadline_kind_ == Deadline::idle)
      set_deadline(Deadline::header, worker_.snapshot()->config->limits.client_header_timeout);
    error_code rec;
    size_t n =
        socket_.read_some(asio::buffer(s_->in.get() + s_->in_len, s_->capacity - s_->in_len), rec);
    if (rec == asio::error::would_block) {
      if (s_->in_len == 0) {
        release_stream();
        phase_ = Phase::idle;
      }
      return phase_ == Phase::idle ? wait_idle() : read_client();
    }
    on_client_read(rec, n);
  });
}

void ClientConnection::read_client() {
  if (client_reading_ || closed_) return;
  if (s_->in_pos == s_->in_len && !s_->request.in_head() && phase_ != Phase::buffering) {
    if (s_->in_len != 0) in_buffer_reset_ = true; // body bytes of this request are gone
    s_->in_pos = s_->in_len = 0;
  }
  if (s_->in_len == s_->capacity) {
    // Only a head can fill the buffer (bodies are consumed as they arrive).
    return send_local(431, "request head too large\n", true);
  }
  if (phase_ != Phase::head && !request_done_) {
    // Waiting on the client for body bytes: client_body_timeout runs until they come.
    body_deadline_ = Clock::now() + worker_.snapshot()->config->limits.client_body_timeout;
  }
  client_reading_ = true;
  ++pending_;
  socket_.async_read_some(asio::buffer(s_->in.get() + s_->in_len, s_->capacity - s_->in_len),
                          [this](const error_code& ec, size_t n) {
                            client_reading_ = false;
                            bool closed = closed_;
                            finish_op();
                            if (!closed) on_client_read(ec, n);
                          });
}

void ClientConnection::on_client_read(const error_code& ec, size_t n) {
  if (ec || n == 0) {
    // The client went away or half-closed. Between requests that is a normal end; with a
    // request half read there is nothing sensible to forward.
    if (phase_ == Phase::exchange && request_done_) {
      keep_alive_ = false; // let the response finish, then close
      return;
    }
    return close();
  }
  s_->in_len += n;
  if (phase_ == Phase::exchange || phase_ == Phase::head) set_deadline(deadline_kind_, {});
  advance_request();
}

void ClientConnection::advance_request() {
  if (closed_ || upstream_writing_ || phase_ == Phase::connecting || phase_ == Phase::queued)
    return;
  if (request_done_) return;
  if (phase_ == Phase::buffering) {
    const http::Head& head = s_->request.head();
    if (s_->in_len - body_offset_ < head.content_length && s_->in_len < s_->capacity)
      return read_client();
    // The body is in (or the buffer full): now the upstream, and head and body in one write.
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
      if (phase_ != Phase::exchange) return read_client();
      if (request_head_queued_ || body_bytes) return flush_request(false, body_bytes);
      return read_client();
    case http::Parser::Event::head:
      body_offset_ = s_->in_pos;
      in_buffer_reset_ = false;
      on_request_head();
      // Buffering the body, connecting, or answered locally (then the exchange is over once
      // the answer is out).
      if (phase_ == Phase::buffering) return advance_request(); // reads on, or the buffer is full
      if (phase_ != Phase::exchange || request_done_) return;
      continue;
    case http::Parser::Event::body:
      for (std::string_view piece : s_->request.body()) {
        s_->request_iov.emplace_back(piece.data(), piece.size());
        body_bytes += piece.size();
      }
      continue;
    case http::Parser::Event::done:
      for (std::string_view piece : s_->request.body()) {
        s_->request_iov.emplace_back(piece.data(), piece.size());
        body_bytes += piece.size();
      }
      request_done_ = true;
      if (phase_ != Phase::exchange) return; // a local response already went out
      // The attempt's clock starts once the whole request is in hand (as Envoy's per-try
      // timeout does): a slow upload is the client's time, not the endpoint's.
      if (up_ && !final_head_) arm_try_timer();
      return flush_request(true, body_bytes);
    case http::Parser::Event::error:
      if (phase_ == Phase::head) {
        const http::Parser& p = s_->request;
        std::string body(p.error_reason());
        body.push_back('\n');
        return send_local(http::status_for(p.error()), body, true);
      }
      // Mid-body: the upstream got (at most) a truncated request, so that connection goes. The
      // client still hears why, unless its response has already begun.
      if (!response_started_ && !client_writing_) {
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
  if (chunked && body_bytes > 0) {
    size_t n = format_chunk_size(s_->request_chunk, body_bytes);
    iov.insert(iov.begin(), asio::const_buffer(s_->request_chunk, n));
    iov.emplace_back(kCrlf.data(), kCrlf.size());
  } else if (!chunked && body_bytes == 0) {
    iov.clear();
  }
  if (chunked && done) iov.emplace_back(kLastChunk.data(), kLastChunk.size());
  if (request_head_queued_) {
    request_head_queued_ = false;
    iov.insert(iov.begin(), asio::buffer(s_->request_out));
  }
  if (!iov.empty()) request_sent_ = true;
  if (iov.empty()) return done ? void() : read_client();
  upstream_writing_ = true;
  up_->write(BufferView(iov));
}

void ClientConnection::on_upstream_written(const error_code& ec) {
  upstream_writing_ = false;
  if (ec) {
    if (retry_on_fresh_connection()) return;
    if (!response_started_)
      return fail_upstream(502, "upstream connection failed", metrics::UpstreamFailure::reset);
    return close();
  }
  if (phase_ == Phase::tunnel) return tunnel_client_to_upstream();
  set_deadline(Deadline::upstream, {});
  if (phase_ != Phase::exchange) return;
  if (request_done_) {
    if (response_done_ && !client_writing_) finish_exchange();
    return;
  }
  advance_request();
}

void ClientConnection::on_request_head() {
  const http::Head& head = s_->request.head();
  Worker& w = worker_;
  started_ = attempt_started_ = Clock::now();
  request_deadline_ = started_ + w.snapshot()->config->limits.request_timeout;
  body_deadline_ = Clock::time_point::max();
  forced_ = false;
  attempts_ = 0;
  request_sent_ = false;
  snap_ = w.snapshot();
  const Snapshot& snap = *snap_;
  client_version_minor_ = head.version_minor;
  keep_alive_ = head.keep_alive && !w.draining();
  head_request_ = head.method_name == "HEAD";
  upgrade_ = head.upgrade;
  request_has_body_ = head.framing == http::Framing::chunked ||
                      (head.framing == http::Framing::length && head.content_length > 0);
  first_request_ = false;
  status_ = 0;
  request_open_ = true;

  std::string_view authority = head.authority;
  std::string_view path = head.path;
  if (listener_->snapshot_index < 0) {
    // A reload removed this listener: its connections finish what they have, nothing more.
    keep_alive_ = false;
    return send_local(503, "listener removed by a reload\n", true);
  }
  route_ =
      snap.listeners[static_cast<size_t>(listener_->snapshot_index)].table.match(authority, path);
  if (route_ < 0) return send_local(404, "no route for this host and path\n", request_has_body_);
  const Snapshot::Route& route = snap.routes[static_cast<size_t>(route_)];
  backend_ = pick_backend(route, head);
  if (backend_ < 0) return send_local(503, route.unavailable_body, request_has_body_);
  const Snapshot::Backend& backend = route.backends[static_cast<size_t>(backend_)];
  upstream::Pool* pool = w.pick_endpoint(backend.service, endpoint_);
  if (!pool) return send_local(503, route.unavailable_body, request_has_body_);
  if (route.retries.attempts > 0) w.deposit_retry_budget(route.retries.budget_percent);
  cells_ = w.backend_cells(static_cast<uint32_t>(route_), static_cast<uint32_t>(backend_));
  ep_cells_ =
      w.endpoint_cells(static_cast<uint32_t>(route_), static_cast<uint32_t>(backend_), endpoint_);
  ep_cells_->active.add();

  if (w.access_log().enabled()) {
    s_->logged_method.assign(head.method_name);
    s_->logged_target.assign(head.target);
  }
  char request_id[32];
  w.format_request_id(request_id);
  http::UpstreamRequestContext ctx;
  ctx.client_ip = {client_ip_, client_ip_len_};
  ctx.request_id = {request_id, sizeof request_id};
  ctx.tunnel = upgrade_;
  ctx.trusted_peer = peer_trusted();
  ctx.default_host = pool->key();
  s_->request_out.clear();
  http::write_upstream_request(head, ctx, s_->request_out);

  response_started_ = response_chunked_ = response_raw_ = false;
  continue_sent_ = retried_ = false;
  request_done_ = false;
  if (request_has_body_ && head.framing == http::Framing::length && !head.expect_continue &&
      !upgrade_ && s_->in_len - body_offset_ < head.content_length) {
    // A body still arriving is read into the buffer before any upstream connection is taken
    // (nginx's request buffering, up to the read buffer): a client that trickles its body ties
    // up no upstream connection and costs one read per trickle, not a relay in both directions.
    buffering_for_ = pool;
    phase_ = Phase::buffering;
    deadline_kind_ = Deadline::none; // client_body_timeout and request_timeout apply meanwhile
    deadline_ = Clock::time_point::max();
    return;
  }
  if (attach_upstream(pool, false)) on_upstream_ready();
}

bool ClientConnection::attach_upstream(upstream::Pool* pool, bool force_new) {
  // One attempt's upstream connection: pooled when one is idle (unless force_new), else a new
  // one that connects first, else a place in the pool's line when the endpoint has all the
  // connections it may have. Returns true when it can be used at once.
  bool fresh = true;
  upstream::Connection* c = force_new ? pool->connect_new(this) : pool->acquire(this, fresh);
  if (!c) {
    queued_in_ = pool;
    phase_ = Phase::queued;
    set_deadline(Deadline::queue, snap_->config->limits.queue_timeout);
    return false;
  }
  return attach(c, fresh);
}

void ClientConnection::on_upstream_granted(upstream::Connection* c, bool fresh) {
  queued_in_ = nullptr;
  if (closed_) {
    c->close_and_release();
    return;
  }
  if (attach(c, fresh)) start_sending();
}

bool ClientConnection::attach(upstream::Connection* c, bool fresh) {
  up_ = c;
  up_->count_request();
  s_->response.start_connection();
  s_->response.reset(head_request_);
  s_->up_len = s_->up_pos = 0;
  upstream_eof_ = response_done_ = false;
  if (!fresh) return true;
  phase_ = Phase::connecting;
  set_deadline(Deadline::connect, snap_->routes[static_cast<size_t>(route_)].timeouts.connect);
  up_->connect(up_->pool()->endpoint());
  return false;
}

void ClientConnection::on_upstream_connected(const error_code& ec) {
  if (ec)
    return fail_upstream(503, "upstream connect failed",
                         ec == asio::error::timed_out ? metrics::UpstreamFailure::connect_timeout
                                                      : metrics::UpstreamFailure::connect_refused);
  start_sending();
}

void ClientConnection::start_sending() {
  on_upstream_ready();
  if (phase_ != Phase::exchange) return;
  if (resend_) return resend_request();             // a retry: the whole request is in hand
  if (request_done_) return flush_request(true, 0); // a reused connection's bodyless replay
  advance_request();
}

bool ClientConnection::retry_on_fresh_connection() {
  // A kept-alive connection can be closed by the upstream just as a request is written to it
  // (its idle timeout raced us). Nothing was processed then, so a request without a body is
  // sent again, once, on a new connection — as nginx and HAProxy do.
  if (!up_ || !up_->reused() || retried_ || response_started_ || client_writing_ ||
      request_has_body_ || !request_done_ || s_->response.started())
    return false;
  upstream::Pool* pool = up_->pool();
  drop_upstream();
  retried_ = true;
  attach_upstream(pool, true);
  return true;
}

void ClientConnection::on_upstream_ready() {
  phase_ = Phase::exchange;
  set_deadline(Deadline::upstream, snap_->routes[static_cast<size_t>(route_)].timeouts.request);
  final_head_ = false;
  if (request_done_) arm_try_timer(); // else once the request's last byte arrives

  request_head_queued_ = true;
  up_->wait_readable();
  if (s_->request.head().expect_continue && request_has_body_ && client_version_minor_ == 1 &&
      !continue_sent_) {
    // Like Envoy, the proxy answers 100-continue itself once the upstream is reachable and
    // strips Expect, so clients do not wait on upstreams that ignore it.
    continue_sent_ = true;
    client_writing_ = true;
    ++pending_;
    asio::async_write(socket_, asio::buffer(kContinue), [this](const error_code& ec, size_t) {
      client_writing_ = false;
      bool closed = closed_;
      finish_op();
      if (closed) return;
      if (ec) return close();
      advance_response();
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Response direction

void ClientConnection::on_upstream_readable(const error_code& ec) {
  if (closed_ || !up_) return;
  if (ec) {
    if (retry_on_fresh_connection()) return;
    return fail_upstream(502, "upstream read failed", metrics::UpstreamFailure::reset);
  }
  if (phase_ == Phase::tunnel) return tunnel_upstream_to_client();
  if (client_writing_ || response_done_) return;
  if (s_->up_pos == s_->up_len && !s_->response.in_head()) s_->up_pos = s_->up_len = 0;
  if (s_->up_len == s_->capacity)
    return fail_upstream(502, "upstream response head too large",
                         metrics::UpstreamFailure::bad_response);
  error_code rec;
  size_t n = up_->socket().read_some(
      asio::buffer(s_->up.get() + s_->up_len, s_->capacity - s_->up_len), rec);
  if (rec == asio::error::would_block) return up_->wait_readable();
  if (rec || n == 0) {
    if (retry_on_fresh_connection()) return;
    upstream_eof_ = true;
    http::Parser::Event ev = s_->response.finish();
    if (ev == http::Parser::Event::done) {
      // The close ends a body framed by it: only the end (a last chunk) is left to send; the
      // gather list still names the previous write's buffers.
      response_done_ = true;
      s_->response_iov.clear();
      s_->response_out.clear();
      return flush_response(0, true, 0);
    }
    if (!response_started_ && !client_writing_)
      return fail_upstream(502, "upstream closed the connection before a complete response",
                           metrics::UpstreamFailure::reset);
    failure_ = metrics::UpstreamFailure::reset;
    return close(); // a truncated response must not look complete
  }
  if (ttfb_ns_ == 0 && cells_)
    ttfb_ns_ = static_cast<uint64_t>((Clock::now() - attempt_started_).count());
  s_->up_len += n;
  set_deadline(Deadline::upstream, {});
  advance_response();
}

void ClientConnection::advance_response() {
  if (closed_ || client_writing_ || response_done_ || !up_) return;
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
      return up_->wait_readable();
    case http::Parser::Event::head:
      if (!on_response_head(s_->response_out)) return;
      if (phase_ == Phase::tunnel) return flush_response(s_->response_out.size(), false, 0);
      continue;
    case http::Parser::Event::body:
      for (std::string_view piece : s_->response.body()) {
        iov.emplace_back(piece.data(), piece.size());
        body_bytes += piece.size();
      }
      continue;
    case http::Parser::Event::done: {
      for (std::string_view piece : s_->response.body()) {
        iov.emplace_back(piece.data(), piece.size());
        body_bytes += piece.size();
      }
      int status = s_->response.head().status;
      if (status >= 100 && status < 200) {
        s_->response.reset(head_request_); // an interim response; the final one follows
        continue;
      }
      response_done_ = true;
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

namespace {
// Compares in time independent of where the first difference is, so the secret cannot be
// guessed byte by byte from response times.
bool same_secret(std::string_view given, std::string_view secret) {
  unsigned diff = given.size() == secret.size() ? 0u : 1u;
  for (size_t i = 0; i < secret.size(); ++i)
    diff |= static_cast<unsigned char>(secret[i]) ^
            static_cast<unsigned char>(i < given.size() ? given[i] : 0);
  return diff == 0;
}

// The value of cookie `name` in the request's Cookie headers, or "".
std::string_view cookie_value(const http::Head& head, std::string_view name) {
  for (const http::Header& h : head.headers) {
    if (!http::iequals(h.name, "cookie")) continue;
    std::string_view v = h.value;
    while (!v.empty()) {
      size_t semi = v.find(';');
      std::string_view pair = v.substr(0, semi);
      while (!pair.empty() && pair.front() == ' ')
        pair.remove_prefix(1);
      size_t eq = pair.find('=');
      if (eq != std::string_view::npos && pair.substr(0, eq) == name) return pair.substr(eq + 1);
      if (semi == std::string_view::npos) break;
      v.remove_prefix(semi + 1);
    }
  }
  return {};
}
} // namespace

int ClientConnection::pick_backend(const Snapshot::Route& route, const http::Head& head) {
  set_cookie_.clear();
  if (route.sticky_canary < 0 || route.sticky_stable < 0)
    return worker_.pick_backend(static_cast<uint32_t>(route_));
  const auto& canary = route.backends[static_cast<size_t>(route.sticky_canary)];
  const auto& stable = route.backends[static_cast<size_t>(route.sticky_stable)];
  // Operators force a version with the override header (or a cookie of the same name):
  // "always:SECRET" / "never:SECRET", or the plain verb from a trusted proxy. Anyone else's
  // value is ignored, so an outsider can neither pick the canary nor steer its figures.
  if (!route.override_header.empty()) {
    std::string_view o;
    if (const http::Header* h = head.find(route.override_header)) o = h->value;
    if (o.empty()) o = cookie_value(head, route.override_header);
    std::string_view verb = o.substr(0, o.find(':'));
    std::string_view secret = verb.size() < o.size() ? o.substr(verb.size() + 1) : "";
    bool allowed =
        !o.empty() &&
        ((!route.override_secret.empty() && same_secret(secret, route.override_secret)) ||
         (secret.empty() && peer_trusted()));
    if (allowed && verb == "always" && !snap_->services[canary.service].available.empty()) {
      forced_ = true;
      return route.sticky_canary;
    }
    if (allowed && verb == "never" && !snap_->services[stable.service].available.empty()) {
      forced_ = true;
      return route.sticky_stable;
    }
  }
  if (route.affinity_cookie.empty()) return worker_.pick_backend(static_cast<uint32_t>(route_));
  uint64_t sum = uint64_t{canary.effective_weight} + stable.effective_weight;
  if (sum == 0) return worker_.pick_backend(static_cast<uint32_t>(route_));
  int bucket = -1;
  std::string_view v = cookie_value(head, route.affinity_cookie);
  if (!v.empty() && v.size() <= 4 && v.find_first_not_of("0123456789") == std::string_view::npos)
    bucket = std::stoi(std::string(v));
  if (bucket < 0 || bucket > 9999) {
    bucket = static_cast<int>(worker_.random_bucket());
    set_cookie_ = route.set_cookie_prefix + std::to_string(bucket) +
                  "; Max-Age=" + std::to_string(route.affinity_max_age_s) +
                  "; Path=/; HttpOnly; SameSite=Lax\r\n";
  }
  // Buckets below the canary's share go to the canary: as its share grows, clients move from
  // stable to canary only, never back.
  uint64_t threshold = uint64_t{canary.effective_weight} * 10000 / sum;
  return static_cast<uint64_t>(bucket) < threshold ? route.sticky_canary : route.sticky_stable;
}

bool ClientConnection::on_response_head(std::string& out) {
  const http::Head& head = s_->response.head();
  if (head.status >= 200 || head.status == 101) {
    final_head_ = true;
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
    phase_ = Phase::tunnel;
    return true;
  }
  if (head.status >= 500 && retry(metrics::UpstreamFailure::kCount, head.status)) return false;
  status_ = head.status;
  bool has_body = !head_request_ && head.status != 204 && head.status != 304;
  bool unknown_length =
      head.framing == http::Framing::chunked || head.framing == http::Framing::until_close;
  if (has_body && unknown_length) {
    if (client_version_minor_ == 1) {
      response_chunked_ = true;
    } else {
      response_raw_ = true; // HTTP/1.0 knows no chunks: send as is, end it by closing
      keep_alive_ = false;
    }
  }
  if (upgrade_) keep_alive_ = false; // the upstream refused the upgrade; don't resynchronise
  http::ClientResponseContext ctx;
  ctx.client_version_minor = client_version_minor_;
  ctx.chunked = response_chunked_;
  ctx.head_request = head_request_;
  ctx.close = !keep_alive_ || worker_.draining();
  ctx.extra_headers = set_cookie_;
  if (ctx.close) keep_alive_ = false;
  http::write_client_response(head, ctx, out);
  return true;
}

void ClientConnection::flush_response(size_t head_bytes, bool done, uint64_t body_bytes) {
  auto& iov = s_->response_iov;
  if (response_chunked_ && body_bytes > 0) {
    size_t n = format_chunk_size(s_->response_chunk, body_bytes);
    iov.insert(iov.begin(), asio::const_buffer(s_->response_chunk, n));
    iov.emplace_back(kCrlf.data(), kCrlf.size());
  }
  if (response_chunked_ && done) iov.emplace_back(kLastChunk.data(), kLastChunk.size());
  if (head_bytes) iov.insert(iov.begin(), asio::const_buffer(s_->response_out.data(), head_bytes));
  if (iov.empty()) {
    if (done) return finish_exchange();
    return up_->wait_readable();
  }
  write_client(false);
}

void ClientConnection::write_client(bool is_local) {
  client_writing_ = true;
  response_started_ = true;
  ++pending_;
  auto handler = [this, is_local](const error_code& ec, size_t n) {
    client_writing_ = false;
    bool closed = closed_;
    finish_op();
    if (closed) return;
    if (ec) return close();
    bytes_out_ += n;
    if (is_local) {
      if (phase_ == Phase::closing) return close();
      return finish_exchange();
    }
    on_client_written(ec, n);
  };
  if (is_local)
    asio::async_write(socket_, asio::buffer(s_->response_out), std::move(handler));
  else
    asio::async_write(socket_, BufferView(s_->response_iov), std::move(handler));
}

void ClientConnection::on_client_written(const error_code&, size_t) {
  if (phase_ == Phase::tunnel) {
    if (!tunnel_started_) return start_tunnel();
    return tunnel_upstream_to_client();
  }
  set_deadline(Deadline::upstream, {});
  if (response_done_) return finish_exchange();
  if (s_->up_pos < s_->up_len) return advance_response();
  if (upstream_eof_) return close();
  up_->wait_readable();
}

void ClientConnection::finish_exchange() {
  if (closed_) return;
  disarm_try_timer();
  if (up_) {
    if (!request_done_ || upstream_writing_) {
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
      if (reusable)
        c->pool()->release(c);
      else
        c->close_and_release();
    }
  }
  finish_request();
  snap_.reset();
  if (!keep_alive_ || worker_.draining()) {
    phase_ = Phase::closing;
    return close();
  }
  start_next_request();
}

void ClientConnection::start_next_request() {
  route_ = backend_ = -1;
  status_ = 0;
  bytes_in_ = bytes_out_ = 0;
  request_done_ = response_done_ = response_started_ = false;
  s_->request.reset();
  size_t left = s_->in_len - s_->in_pos;
  if (left > 0) {
    // Pipelined bytes: move them to the front so the next head is contiguous from offset 0.
    std::memmove(s_->in.get(), s_->in.get() + s_->in_pos, left);
    s_->in_pos = 0;
    s_->in_len = left;
    phase_ = Phase::head;
    set_deadline(Deadline::header, worker_.snapshot()->config->limits.client_header_timeout);
    return advance_request();
  }
  set_deadline(Deadline::idle, {});
  if (client_reading_) {
    // A read into the stream is already pending (the client spoke first): let it complete.
    phase_ = Phase::head;
    return;
  }
  release_stream();
  wait_idle();
}

// ---------------------------------------------------------------------------------------------
// WebSocket (and any other Upgrade) tunnel after the upstream's 101

void ClientConnection::start_tunnel() {
  tunnel_started_ = true;
  set_deadline(Deadline::tunnel, {});
  // Bytes that came along with the handshake belong to the tunnel already.
  size_t to_upstream = s_->in_len - s_->in_pos;
  if (to_upstream > 0 && !upstream_writing_) {
    upstream_writing_ = true;
    s_->request_iov.clear();
    s_->request_iov.emplace_back(s_->in.get() + s_->in_pos, to_upstream);
    s_->in_pos = s_->in_len;
    up_->write(BufferView(s_->request_iov));
  } else {
    tunnel_client_to_upstream();
  }
  if (s_->up_pos < s_->up_len) {
    s_->response_iov.clear();
    s_->response_iov.emplace_back(s_->up.get() + s_->up_pos, s_->up_len - s_->up_pos);
    s_->up_pos = s_->up_len;
    write_client(false);
  } else {
    tunnel_upstream_to_client();
  }
}

void ClientConnection::tunnel_client_to_upstream() {
  if (closed_ || client_reading_ || upstream_writing_ || tunnel_client_eof_) return;
  client_reading_ = true;
  ++pending_;
  socket_.async_read_some(asio::buffer(s_->in.get(), s_->capacity),
                          [this](const error_code& ec, size_t n) {
                            client_reading_ = false;
                            bool closed = closed_;
                            finish_op();
                            if (closed) return;
                            set_deadline(Deadline::tunnel, {});
                            if (ec || n == 0) {
                              tunnel_client_eof_ = true;
                              error_code ignored;
                              if (up_)
                                up_->socket().shutdown(asio::socket_base::shutdown_send, ignored);
                              if (tunnel_upstream_eof_) close();
                              return;
                            }
                            upstream_writing_ = true;
                            s_->request_iov.clear();
                            s_->request_iov.emplace_back(s_->in.get(), n);
                            up_->write(BufferView(s_->request_iov));
                          });
}

void ClientConnection::tunnel_upstream_to_client() {
  if (closed_ || client_writing_ || tunnel_upstream_eof_ || !up_) return;
  error_code rec;
  size_t n = up_->socket().read_some(asio::buffer(s_->up.get(), s_->capacity), rec);
  if (rec == asio::error::would_block) return up_->wait_readable();
  set_deadline(Deadline::tunnel, {});
  if (rec || n == 0) {
    tunnel_upstream_eof_ = true;
    error_code ignored;
    socket_.shutdown(asio::socket_base::shutdown_send, ignored);
    if (tunnel_client_eof_) close();
    return;
  }
  s_->response_iov.clear();
  s_->response_iov.emplace_back(s_->up.get(), n);
  s_->up_pos = s_->up_len = 0;
  write_client(false);
}

// ---------------------------------------------------------------------------------------------
// Local answers, errors, timeouts and the end of a connection

void ClientConnection::send_local(int status, std::string_view body, bool close_after,
                                  std::string_view extra_headers) {
  status_ = status;
  local_status_ = true;
  if (worker_.draining() || !keep_alive_) close_after = true;
  if (!close_after && !request_done_ && phase_ != Phase::idle) {
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
  request_done_ = true;
  response_done_ = true;
  phase_ = close_after ? Phase::closing : Phase::exchange;
  s_->response_out.clear();
  http::write_local_response(status, body, close_after, s_->response_out, extra_headers);
  write_client(true);
}

void ClientConnection::fail_upstream(int status, std::string_view why,
                                     metrics::UpstreamFailure cause) {
  if (retry(cause, 0)) return;
  failure_ = cause;
  drop_upstream();
  if (response_started_ || client_writing_) return close();
  std::string body(why);
  if (route_ >= 0 && snap_) body += " for route " + snap_->routes[static_cast<size_t>(route_)].name;
  body.push_back('\n');
  send_local(status, body, false);
}

void ClientConnection::check_deadline(Clock::time_point now) {
  if (closed_) return;
  if (!request_done_ && phase_ != Phase::idle && phase_ != Phase::head && phase_ != Phase::tunnel &&
      phase_ != Phase::closing) {
    // The head is in; the rest of the request is the client's to send.
    if (now >= request_deadline_) return request_timed_out("request not received in time\n");
    if (client_reading_ && now >= body_deadline_)
      return request_timed_out("request body not received in time\n");
  }
  if (now < deadline_) return;
  if (client_writing_) {
    // Timed out with a response still unsent: a reset, not a close, so the kernel drops what
    // the client would not read instead of holding it (nginx's reset_timedout_connection). A
    // thousand slow readers would otherwise pin hundreds of MB of socket memory.
    error_code ignored;
    socket_.set_option(asio::socket_base::linger(true, 0), ignored);
  }
  switch (deadline_kind_) {
  case Deadline::none:
    return;
  case Deadline::queue: {
    // Every connection the endpoint may have stayed busy: weir is the bottleneck, not the
    // version, so the answer is weir's own and not an upstream error.
    if (queued_in_) queued_in_->cancel_wait(this);
    queued_in_ = nullptr;
    keep_alive_ = keep_alive_ && !request_has_body_;
    return send_local(503, "upstream connection limit reached, try again\n", false,
                      "Retry-After: 1\r\n");
  }
  case Deadline::idle:
    return close();
  case Deadline::header:
    if (client_writing_) return close();
    if (phase_ == Phase::idle && !first_request_) return close();
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
    const auto& config = *worker_.snapshot()->config;
    const config::Timeouts* t =
        (snap_ && route_ >= 0) ? &snap_->routes[static_cast<size_t>(route_)].timeouts : nullptr;
    switch (kind) {
    case Deadline::idle:
    case Deadline::tunnel:
      after = t ? t->idle
                : (config.routes.empty() ? config::Duration(60000)
                                         : config.routes.front().timeouts.idle);
      break;
    case Deadline::upstream:
      after = t ? t->request : config::Duration(30000);
      break;
    case Deadline::header:
      return; // absolute from the first byte: not refreshed by progress
    case Deadline::queue:
    case Deadline::connect:
    case Deadline::none:
      return;
    }
  }
  deadline_kind_ = kind;
  deadline_ = Clock::now() + after;
}

void ClientConnection::request_timed_out(std::string_view why) {
  keep_alive_ = false;
  if (response_started_ || client_writing_) return close();
  if (queued_in_) queued_in_->cancel_wait(this);
  queued_in_ = nullptr;
  drop_upstream();
  if (request_head_queued_ || phase_ == Phase::buffering || phase_ == Phase::queued)
    unassign_backend(); // nothing reached the upstream
  send_local(408, why, true);
}

bool ClientConnection::peer_trusted() const {
  for (const config::Cidr& net : worker_.snapshot()->config->trusted_proxies)
    if (config::cidr_contains(net, peer_v6_, peer_bytes_)) return true;
  return false;
}

void ClientConnection::drain() {
  if (phase_ == Phase::idle) close();
  // Busy connections see worker.draining() when their response is done.
}

void ClientConnection::unassign_backend() {
  // The request was refused before any byte of it left weir: it is no backend's request.
  end_retry_in_flight();
  if (ep_cells_) ep_cells_->active.sub();
  cells_ = nullptr;
  ep_cells_ = nullptr;
  backend_ = -1;
  request_head_queued_ = false;
}

void ClientConnection::drop_upstream() {
  if (!up_) return;
  upstream::Connection* c = up_;
  up_ = nullptr;
  // A write still pending belongs to the closed connection: its completion is never delivered,
  // and a flag left set would refuse every retry and stall the next request on this client.
  upstream_writing_ = false;
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
  if (closed_) return;
  if (request_open_) finish_request();
  closed_ = true;
  phase_ = Phase::closing;
  if (queued_in_) queued_in_->cancel_wait(this);
  queued_in_ = nullptr;
  drop_upstream();
  disarm_try_timer();
  end_retry_in_flight();
  snap_.reset();
  error_code ignored;
  socket_.shutdown(asio::socket_base::shutdown_send, ignored);
  socket_.close(ignored);
  worker_.unlink(this);
  worker_.metrics().client_connections.sub();
  ++pending_;
  finish_op();
}

void ClientConnection::finish_op() {
  if (--pending_ == 0 && closed_) {
    release_stream();
    delete this;
  }
}

} // namespace weir::runtime
