#include "weir/control/admin_server.h"

#include "weir/base/clock.h"
#include "weir/base/json.h"
#include "weir/control/controller.h"
#include "weir/control/dashboard.h"
#include "weir/http/head.h"
#include "weir/http/parser.h"
#include "weir/http/rewrite.h"
#include "weir/metrics/compare.h"
#include "weir/metrics/prometheus.h"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <charconv>
#include <cstring>
#include <ctime>
#include <memory>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

namespace weir::control {

namespace asio = boost::asio;
using boost::system::error_code;
using tcp = asio::ip::tcp;

namespace {

constexpr std::string_view kTextPlain = "text/plain; charset=utf-8";
constexpr std::string_view kJson = "application/json";

struct Window {
  const char* name;
  std::chrono::seconds length;
};
constexpr Window kWindows[] = {{"1s", std::chrono::seconds(1)},
                               {"10s", std::chrono::seconds(10)},
                               {"1m", std::chrono::seconds(60)},
                               {"5m", std::chrono::seconds(300)}};

void append_number(std::string& out, uint64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

void write_window(json::Writer& w, const metrics::WindowStats& s) {
  w.begin_object();
  w.key("seconds").value(s.seconds);
  w.key("requests").value(s.requests);
  w.key("errors").value(s.errors);
  w.key("client_errors").value(s.client_errors);
  w.key("rps").value(s.rps);
  w.key("error_rate").value(s.error_rate);
  w.key("p50_ms").value(s.p50_ms);
  w.key("p90_ms").value(s.p90_ms);
  w.key("p99_ms").value(s.p99_ms);
  w.key("p999_ms").value(s.p999_ms);
  w.key("mean_ms").value(s.mean_ms);
  w.end_object();
}

// A backend's rollout top-up traffic, apart from its user figures: totals, windows, and the
// synthetic share of what the canary analysis counts (user + synthetic) in each window.
void write_synthetic(json::Writer& w, const metrics::Aggregator& synthetic,
                     const metrics::Aggregator& user, const metrics::BackendKey& key) {
  const metrics::BackendTotals* totals = synthetic.latest(key);
  w.key("synthetic").begin_object();
  w.key("total").begin_object();
  w.key("requests").value(totals->requests);
  w.key("errors").value(totals->upstream_errors);
  w.key("client_errors").value(totals->client_errors);
  w.end_object();
  w.key("windows").begin_object();
  for (const Window& window : kWindows) {
    if (auto s = synthetic.window(key, window.length)) {
      w.key(window.name);
      write_window(w, *s);
    }
  }
  w.end_object();
  w.key("share").begin_object();
  for (const Window& window : kWindows) {
    auto s = synthetic.window(key, window.length);
    if (!s) continue;
    auto u = user.window(key, window.length);
    uint64_t all = s->requests + (u ? u->requests : 0);
    w.key(window.name)
        .value(all ? static_cast<double>(s->requests) / static_cast<double>(all) : 0.0);
  }
  w.end_object();
  w.end_object();
}

void optional_number(json::Writer& w, const std::optional<double>& v) {
  if (v)
    w.value(*v);
  else
    w.null();
}

} // namespace

// One admin client connection. Holds itself alive through its pending handlers; the server
// knows it by pointer so that close() can end it.
class AdminServer::Session : public std::enable_shared_from_this<Session> {
public:
  Session(AdminServer& server, tcp::socket socket)
      : server_(&server), socket_(std::move(socket)), timer_(socket_.get_executor()),
        parser_(http::Parser::Kind::request,
                http::ParserLimits{server.limits_.max_request_head_bytes,
                                   server.limits_.max_request_line_bytes,
                                   server.limits_.max_headers}),
        // Room for the largest head the parser accepts, so the parser (431) speaks first.
        capacity_(server.limits_.max_request_head_bytes + 4096),
        buffer_(std::make_unique<char[]>(capacity_)) {
    server_->sessions_.insert(this);
  }
  ~Session() {
    if (server_) server_->sessions_.erase(this);
  }

  void start() {
    last_active_ = std::chrono::steady_clock::now();
    error_code ec;
    socket_.set_option(tcp::no_delay(true), ec);
    if (auto remote = socket_.remote_endpoint(ec); !ec)
      peer_ = config::Address{remote.address().to_string(), remote.port()}.text();
    arm_timer();
    process();
  }

  // The server goes away: stop touching it, close the socket (pending handlers see the error).
  void detach() {
    server_ = nullptr;
    close();
  }

  // Waiting for a request with nothing of one received: the kind of session that may be closed
  // to make room (idle keep-alive scrapers, or sockets opened only to hoard the listener).
  bool idle() const { return !writing_ && !closed_ && pos_ == len_; }
  std::chrono::steady_clock::time_point last_active() const { return last_active_; }
  bool closed() const { return closed_; }
  void close() {
    closed_ = true;
    timer_.cancel();
    error_code ignored;
    socket_.close(ignored);
  }

private:
  void arm_timer() {
    timer_.expires_after(server_->idle_timeout_);
    timer_.async_wait([weak = weak_from_this()](const error_code& ec) {
      if (ec) return;
      if (auto self = weak.lock()) self->close();
    });
  }

  void read() {
    auto self = shared_from_this();
    socket_.async_read_some(asio::buffer(buffer_.get() + len_, capacity_ - len_),
                            [self](const error_code& ec, size_t n) {
                              if (ec || n == 0 || !self->server_) return self->close();
                              self->last_active_ = std::chrono::steady_clock::now();
                              self->len_ += n;
                              self->process();
                            });
  }

  void process() {
    for (;;) {
      size_t consumed = 0;
      auto ev = parser_.execute(buffer_.get() + pos_, len_ - pos_, consumed);
      pos_ += consumed;
      switch (ev) {
      case http::Parser::Event::need_more:
        // Body bytes are dropped as they are parsed; only a head must stay in place.
        if (!parser_.in_head() && pos_ == len_) pos_ = len_ = 0;
        if (len_ == capacity_) return respond(431, kTextPlain, "request head too large\n", true);
        return read();
      case http::Parser::Event::head:
        on_head();
        if (body_limit_hit_) return respond(413, kTextPlain, "request body too large\n", true);
        continue;
      case http::Parser::Event::body:
        for (std::string_view piece : parser_.body()) {
          body_bytes_ += piece.size();
          if (keep_body_ && body_bytes_ <= kMaxActionBody) body_in_.append(piece);
        }
        if (body_bytes_ > (keep_body_ ? kMaxActionBody : kMaxBody))
          return respond(413, kTextPlain, "request body too large\n", true);
        continue;
      case http::Parser::Event::done:
        // The last body bytes may come with the end of the message.
        for (std::string_view piece : parser_.body()) {
          body_bytes_ += piece.size();
          if (keep_body_ && body_bytes_ <= kMaxActionBody) body_in_.append(piece);
        }
        if (body_bytes_ > (keep_body_ ? kMaxActionBody : kMaxBody))
          return respond(413, kTextPlain, "request body too large\n", true);
        return answer();
      case http::Parser::Event::error: {
        std::string body(parser_.error_reason());
        body.push_back('\n');
        return respond(http::status_for(parser_.error()), kTextPlain, body, true);
      }
      }
    }
  }

  void on_head() {
    const http::Head& h = parser_.head();
    method_ = h.method_name;
    std::string_view path = h.path;
    path_.assign(path.substr(0, path.find('?')));
    head_request_ = method_ == "HEAD";
    // HTTP/1.0 would need "Connection: keep-alive" echoed; closing is simpler and correct.
    keep_alive_ = h.keep_alive && h.version_minor >= 1 && !h.upgrade;
    body_bytes_ = 0;
    body_in_.clear();
    // Only a dashboard action's body is kept (a small JSON object); others are read and dropped.
    keep_body_ = method_ == "POST" && server_->dashboard_ && Dashboard::serves(path_);
    body_limit_hit_ = h.framing == http::Framing::length &&
                      h.content_length > (keep_body_ ? kMaxActionBody : kMaxBody);
    // Copied: the head's bytes are overwritten by the body's as it is read. Two of them are
    // ambiguous (which one did a proxy in front check?): refused with 400.
    size_t auths = 0;
    authorization_.clear();
    for (const http::Header& header : h.headers)
      if (http::iequals(header.name, "authorization") && auths++ == 0)
        authorization_.assign(header.value);
    ambiguous_authorization_ = auths > 1;
    // A client that waits for "100 Continue" before it sends an action's body gets it now
    // (nothing else is being written: the previous response has gone). Best effort, never
    // blocking: a client that gets nothing sends its body after its own timeout.
    if (keep_body_ && h.expect_continue && !body_limit_hit_ && h.framing != http::Framing::none) {
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      [[maybe_unused]] ssize_t sent = ::send(socket_.native_handle(), kContinue.data(),
                                             kContinue.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    }
  }

  void answer() {
    bool close_after = !keep_alive_ || server_->winding_down_;
    if (server_->dashboard_ && Dashboard::serves(path_)) return ask_dashboard(close_after);
    if (method_ != "GET" && method_ != "HEAD")
      return respond(405, kTextPlain, "only GET and HEAD\n", close_after, "Allow: GET, HEAD\r\n");
    AdminServer& s = *server_;
    body_.clear();
    if (path_ == "/metrics") {
      s.write_metrics(body_);
      return respond(200, metrics::kPrometheusContentType, body_, close_after);
    }
    if (path_ == "/healthz") return respond(200, kTextPlain, "ok\n", close_after);
    if (path_ == "/ready") {
      if (s.ready()) return respond(200, kTextPlain, "ready\n", close_after);
      // Why, when discovery is what it waits for: an operator reads it with curl.
      std::string why = s.not_ready_reason();
      return respond(503, kTextPlain, "not ready\n" + why, close_after);
    }
    if (path_ == "/stats.json") {
      s.write_stats(body_);
      body_.push_back('\n');
      return respond(200, kJson, body_, close_after);
    }
    respond(404, kTextPlain,
            server_->dashboard_
                ? "not found; try / (the dashboard), /metrics, /healthz, /ready or /stats.json\n"
                : "not found; try /metrics, /healthz, /ready or /stats.json\n",
            close_after);
  }

  // The dashboard answers now or once the commands it asks have replied; meanwhile nothing
  // more is read from this connection (a pipelined request waits its turn).
  void ask_dashboard(bool close_after) {
    if (ambiguous_authorization_)
      return respond(400, kTextPlain, "more than one Authorization header\n", true,
                     Dashboard::security_headers());
    Dashboard::Request request{method_, path_, authorization_, body_in_, peer_};
    // Holds the session: nothing else is pending on it meanwhile. The idle timer still ends a
    // session whose answer takes too long (closed_ then).
    server_->dashboard_->handle(
        request, [self = shared_from_this(), close_after](Dashboard::Response r) {
          if (!self->server_ || self->closed_) return;
          std::string headers(Dashboard::security_headers());
          if (r.status == 405)
            headers += r.body.starts_with("POST") ? "Allow: POST\r\n" : "Allow: GET, HEAD\r\n";
          self->respond(r.status, r.content_type, r.body, close_after, headers);
        });
  }

  void respond(int status, std::string_view type, std::string_view body, bool close_after,
               std::string_view extra_headers = {}) {
    out_.clear();
    out_.append("HTTP/1.1 ");
    append_number(out_, static_cast<uint64_t>(status));
    out_.push_back(' ');
    out_.append(http::reason_phrase(status)).append("\r\nContent-Type: ").append(type);
    out_.append("\r\nContent-Length: ");
    append_number(out_, body.size());
    out_.append("\r\nCache-Control: no-store\r\n").append(extra_headers);
    if (close_after) out_.append("Connection: close\r\n");
    out_.append("\r\n");
    if (!head_request_) out_.append(body);
    close_after_ = close_after;
    writing_ = true;
    asio::async_write(socket_, asio::buffer(out_),
                      [self = shared_from_this()](const error_code& ec, size_t) {
                        self->writing_ = false;
                        self->last_active_ = std::chrono::steady_clock::now();
                        if (ec || !self->server_) return self->close();
                        self->after_write();
                      });
  }

  void after_write() {
    if (close_after_) {
      error_code ignored;
      socket_.shutdown(tcp::socket::shutdown_send, ignored);
      return close();
    }
    // Pipelined bytes of the next request move to the front; the finished head is not needed.
    std::memmove(buffer_.get(), buffer_.get() + pos_, len_ - pos_);
    len_ -= pos_;
    pos_ = 0;
    parser_.reset();
    head_request_ = false;
    if (body_.capacity() > 1 << 20) std::string().swap(body_);
    if (out_.capacity() > 1 << 20) std::string().swap(out_);
    arm_timer();
    process();
  }

  AdminServer* server_;
  tcp::socket socket_;
  asio::steady_timer timer_;
  http::Parser parser_;
  size_t capacity_;
  std::unique_ptr<char[]> buffer_;
  size_t len_ = 0; // bytes in buffer_
  size_t pos_ = 0; // bytes of buffer_ parsed
  std::string method_;
  std::string path_;
  std::string authorization_; // the request's Authorization header, for the dashboard
  std::string body_in_;       // a dashboard action's body
  bool keep_body_ = false;
  bool ambiguous_authorization_ = false;
  std::string peer_; // the client's address
  std::string body_;
  std::string out_;
  uint64_t body_bytes_ = 0;
  bool body_limit_hit_ = false;
  bool head_request_ = false;
  bool keep_alive_ = true;
  bool close_after_ = false;
  bool writing_ = false;
  bool closed_ = false;
  std::chrono::steady_clock::time_point last_active_;
};

AdminServer::AdminServer(asio::io_context& io, Controller& controller)
    : io_(io), controller_(controller), acceptor_(io) {}

AdminServer::~AdminServer() {
  close();
}

Result<bool> AdminServer::open(const config::Admin& admin, const config::Limits& limits) {
  limits_ = limits;
  idle_timeout_ = limits.admin_idle_timeout;
  auto fail = [&](const std::string& what) {
    return Error{ErrorSource::config, "admin listener " + admin.address.text() + ": " + what};
  };
  error_code ec;
  auto address = asio::ip::make_address(admin.address.host, ec);
  if (ec) return fail(ec.message());
  tcp::endpoint endpoint(address, admin.address.port);
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    error_code ignored;
    acceptor_.close(ignored);
    return fail(ec.message());
  }
  accept();
  return true;
}

Result<bool> AdminServer::adopt(const config::Admin& admin, const config::Limits& limits, int fd) {
  limits_ = limits;
  idle_timeout_ = limits.admin_idle_timeout;
  const bool v6 = admin.address.host.find(':') != std::string::npos;
  error_code ec;
  acceptor_.assign(v6 ? tcp::v6() : tcp::v4(), fd, ec);
  if (ec) {
    ::close(fd);
    return Error{ErrorSource::config,
                 "admin listener " + admin.address.text() + " (handed over): " + ec.message()};
  }
  return true;
}

int AdminServer::native_handle() {
  return acceptor_.is_open() ? acceptor_.native_handle() : -1;
}

void AdminServer::accept() {
  acceptor_.async_accept([this](const error_code& ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
    if (!ec) {
      if (make_room()) {
        std::make_shared<Session>(*this, std::move(socket))->start();
      } else {
        error_code ignored;
        socket.close(ignored); // every session is mid-request: nobody may hoard more fds
      }
    }
    accept();
  });
}

bool AdminServer::make_room() {
  size_t open = 0;
  Session* oldest_idle = nullptr;
  for (Session* s : sessions_) {
    if (s->closed()) continue; // evicted, its handlers have not run yet
    ++open;
    if (!s->idle()) continue;
    if (!oldest_idle || s->last_active() < oldest_idle->last_active()) oldest_idle = s;
  }
  if (open < limits_.max_admin_connections) return true;
  // Full: the session idle longest goes, so a health check or scrape always gets in even when
  // someone holds a thousand idle sockets (they are closed one by one as others arrive).
  if (!oldest_idle) return false;
  oldest_idle->close();
  return true;
}

void AdminServer::stop_accepting() {
  error_code ignored;
  if (acceptor_.is_open()) acceptor_.close(ignored);
  winding_down_ = true;
}

size_t AdminServer::close_idle(std::chrono::steady_clock::duration idle_for) {
  const auto now = std::chrono::steady_clock::now();
  size_t left = 0;
  for (Session* s : std::vector<Session*>(sessions_.begin(), sessions_.end())) {
    if (s->closed()) continue;
    if (s->idle() && now - s->last_active() >= idle_for)
      s->close();
    else
      ++left;
  }
  return left;
}

void AdminServer::close() {
  error_code ignored;
  if (acceptor_.is_open()) acceptor_.close(ignored);
  auto sessions = std::move(sessions_);
  sessions_.clear();
  for (Session* s : sessions)
    s->detach();
}

std::string AdminServer::address() const {
  error_code ec;
  auto endpoint = acceptor_.local_endpoint(ec);
  if (ec) return {};
  config::Address a{endpoint.address().to_string(), endpoint.port()};
  return a.text();
}

bool AdminServer::ready() const {
  return !shutting_down_ && controller_.snapshot() != nullptr &&
         !controller_.workers().workers().empty() && controller_.not_ready().empty();
}

std::string AdminServer::not_ready_reason() const {
  if (shutting_down_) return "shutting down\n";
  return controller_.not_ready();
}

void AdminServer::write_metrics(std::string& out) const {
  metrics::Exposition e;
  for (const auto& w : controller_.workers().workers())
    e.add(w->metrics());
  e.add_synthetic(controller_.synthetic_metrics());
  if (const auto& snap = controller_.snapshot()) {
    for (const auto& r : snap->routes)
      for (const auto& b : r.backends)
        e.weights.push_back({r.name, snap->services[b.service].id, b.weight, b.configured_weight});
    for (const auto& s : snap->services)
      for (const auto& ep : s.endpoints)
        e.endpoint_states.push_back({s.id, ep.key, !ep.drained && !ep.down});
  }
  for (const auto& [listener, ctx] : controller_.tls().listeners)
    for (const auto& c : ctx->certificates())
      e.certificates.push_back({listener, c.primary_name(), c.not_after});
  e.reloads_ok = controller_.reloads_ok();
  e.reloads_failed = controller_.reloads_failed();
  e.version = WEIR_VERSION;
  metrics::write_prometheus(e, out);
  controller_.write_rollout_metrics(out);
  controller_.write_fleet_metrics(out);
  controller_.discovery().write_metrics(out);
  if (controller_.workers().mirroring()) controller_.workers().mirror().write_metrics(out);
}

void AdminServer::write_stats(std::string& out) const {
  const auto& snap = controller_.snapshot();
  const metrics::Aggregator& agg = controller_.aggregator();
  const metrics::Aggregator& synthetic = controller_.synthetic_aggregator();
  json::Writer w;
  w.begin_object();
  w.key("time").value(utc_now());
  w.key("routes").begin_object();
  if (snap) {
    for (const auto& r : snap->routes) {
      w.key(r.name).begin_object();
      // backends[i] per window, for the comparison.
      std::vector<metrics::BackendWindow> per_window[std::size(kWindows)];
      w.key("backends").begin_object();
      for (const auto& b : r.backends) {
        const std::string& id = snap->services[b.service].id;
        metrics::BackendKey key{r.name, id};
        const metrics::BackendTotals* totals = agg.latest(key);
        w.key(id).begin_object();
        w.key("configured_weight").value(b.configured_weight);
        w.key("weight").value(b.weight);
        w.key("total").begin_object();
        w.key("requests").value(totals ? totals->requests : uint64_t{0});
        w.key("errors").value(totals ? totals->upstream_errors : uint64_t{0});
        w.key("client_errors").value(totals ? totals->client_errors : uint64_t{0});
        w.end_object();
        // Empty until the once-a-second merge has seen this backend.
        w.key("windows").begin_object();
        for (size_t i = 0; i < std::size(kWindows); ++i) {
          auto stats = agg.window(key, kWindows[i].length);
          per_window[i].push_back(
              {id, b.configured_weight, stats.value_or(metrics::WindowStats{})});
          if (!stats) continue;
          w.key(kWindows[i].name);
          write_window(w, *stats);
        }
        w.end_object();
        if (synthetic.latest(key)) write_synthetic(w, synthetic, agg, key);
        w.end_object();
      }
      w.end_object();
      int base = metrics::baseline_index(per_window[0]);
      w.key("baseline");
      if (base < 0)
        w.null();
      else
        w.value(per_window[0][static_cast<size_t>(base)].service);
      // service → window → comparison with the baseline.
      w.key("comparison").begin_object();
      std::vector<std::vector<metrics::BackendComparison>> compared;
      for (const auto& backends : per_window)
        compared.push_back(metrics::compare_backends(backends));
      for (size_t b = 0; !compared.empty() && b < compared[0].size(); ++b) {
        w.key(compared[0][b].service).begin_object();
        for (size_t i = 0; i < std::size(kWindows); ++i) {
          const metrics::BackendComparison& c = compared[i][b];
          w.key(kWindows[i].name).begin_object();
          w.key("comparable").value(c.comparable);
          w.key("error_rate_diff").value(c.error_rate_diff);
          w.key("error_rate_ratio");
          optional_number(w, c.error_rate_ratio);
          w.key("p99_diff_ms").value(c.p99_diff_ms);
          w.key("p99_ratio");
          optional_number(w, c.p99_ratio);
          w.end_object();
        }
        w.end_object();
      }
      w.end_object();
      if (std::string rollout = controller_.rollout_status(r.name); !rollout.empty())
        w.key("rollout").raw(rollout);
      w.end_object();
    }
  }
  w.end_object();
  w.end_object();
  out.append(w.str());
}

} // namespace weir::control
