// A client connection's side of HTTPRoute's filters and timeouts: the request head written with
// the backend's header modifiers and rewrite, the response head's modifiers, a redirect answered
// by weir itself, and timeouts.request / timeouts.backend_request. The filters were compiled
// once with the snapshot (Snapshot::Backend): nothing here allocates on a request's way. Worker
// thread only, like the rest of ClientConnection.
#include "weir/http/rewrite.h"
#include "weir/runtime/client_connection.h"
#include "weir/runtime/redirect.h"
#include "weir/runtime/worker.h"

namespace weir::runtime {

void ClientConnection::write_request_head(std::string_view default_host, bool trusted) {
  const Snapshot::Backend& backend =
      snap_->routes[static_cast<size_t>(route_)].backends[static_cast<size_t>(backend_)];
  http::UpstreamRequestContext ctx;
  ctx.client_ip = {client_ip_, client_ip_len_};
  ctx.request_id = {request_id_, sizeof request_id_};
  ctx.tunnel = upgrade_;
  ctx.trusted_peer = trusted;
  ctx.proto = tls_ ? "https" : "http";
  ctx.default_host = default_host;
  if (!backend.request_headers.empty()) ctx.headers = &backend.request_headers;
  ctx.rewrite_host = backend.rewrite.hostname;
  ctx.rewrite_path = &backend.rewrite.path;
  ctx.prefix_length = match_prefix_length_;
  s_->request_out.clear();
  http::write_upstream_request(s_->request.head(), ctx, s_->request_out);
}

const http::HeaderModifier* ClientConnection::response_filters() const {
  if (!snap_ || route_ < 0 || backend_ < 0) return nullptr;
  const Snapshot::Backend& backend =
      snap_->routes[static_cast<size_t>(route_)].backends[static_cast<size_t>(backend_)];
  return backend.response_headers.empty() ? nullptr : &backend.response_headers;
}

void ClientConnection::answer_redirect(const Snapshot::Route& route) {
  const http::Head& head = s_->request.head();
  if (worker_.access_log().enabled()) {
    s_->logged_method.assign(head.method_name);
    s_->logged_target.assign(head.target);
  }
  RedirectRequest request;
  request.authority = head.authority;
  request.target = head.path;
  request.https = tls_ != nullptr;
  request.prefix_length = match_prefix_length_;
  // The request goes to no upstream: its head buffer holds the Location line instead.
  std::string& location = s_->request_out;
  location.clear();
  if (!append_redirect_location(route.redirect, request, location))
    return send_local(400, "no host to redirect to\n", request_has_body_);
  // A body the client still sends is not read: the connection closes after the answer.
  send_local(route.redirect.status, "", request_has_body_, location);
}

void ClientConnection::start_request_timeout(const Snapshot::Route& route) {
  route_deadline_ = route.timeouts.request.count() > 0 ? started_ + route.timeouts.request
                                                       : Clock::time_point::max();
}

void ClientConnection::start_attempt_timeout() {
  const config::Duration limit =
      snap_->routes[static_cast<size_t>(route_)].timeouts.backend_request;
  attempt_deadline_ = limit.count() > 0 ? worker_.now() + limit : Clock::time_point::max();
}

bool ClientConnection::check_route_timeouts(Clock::time_point now) {
  if (conn_ != ConnState::exchange || !request_open_ || response_done()) return false;
  if (now >= route_deadline_) {
    // timeouts.request: the whole exchange's time is up; no retry can help.
    route_deadline_ = attempt_deadline_ = Clock::time_point::max();
    if (response_started_ || client_writing()) {
      cut_response();
      return true;
    }
    if (!request_done()) {
      request_timed_out("request not received in time (timeouts.request)\n");
      return true;
    }
    if (queued_in_) {
      queued_in_->cancel_wait(this);
      queued_in_ = nullptr;
      unassign_backend(); // nothing reached the upstream
    } else if (up_) {
      attempt_.fail(metrics::UpstreamFailure::response_timeout);
    }
    drop_upstream();
    std::string body = "request timed out (timeouts.request) for route ";
    body.append(snap_->routes[static_cast<size_t>(route_)].name).append("\n");
    send_local(504, body, false);
    return true;
  }
  if (upstream_ == UpstreamState::ready && now >= attempt_deadline_) {
    // timeouts.backend_request: this attempt is abandoned. Before the response began, as
    // retries.per_try_timeout: 504, or another attempt when that is safe.
    attempt_deadline_ = Clock::time_point::max();
    if (!response_started_ && !client_writing()) {
      fail_upstream(504, "upstream attempt timed out (timeouts.backend_request)",
                    metrics::UpstreamFailure::response_timeout);
      return true;
    }
    cut_response();
    return true;
  }
  return false;
}

void ClientConnection::cut_response() {
  // The response is under way: the connection is closed so that the client cannot take what it
  // got for the whole; with a write still pending, by a reset, so the kernel drops what the
  // client did not read instead of holding it (as check_deadline does).
  if (client_writing()) client_->reset_on_close();
  if (up_) attempt_.fail(metrics::UpstreamFailure::response_timeout);
  close();
}

} // namespace weir::runtime
