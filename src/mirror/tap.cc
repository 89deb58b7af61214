// The worker's side of mirroring: which requests are mirrored (Lane) and what is copied of them
// (Tap). Worker thread only, but for the counters named in sender.h.
#include "weir/mirror/tap.h"

#include "weir/http/head.h"

namespace weir::mirror {

namespace {

constexpr size_t kMaxTarget = 256;

bool is_one_of(std::string_view line, std::initializer_list<std::string_view> names) {
  size_t colon = line.find(':');
  if (colon == std::string_view::npos) return false;
  std::string_view name = line.substr(0, colon);
  for (std::string_view n : names)
    if (http::iequals(name, n)) return true;
  return false;
}

} // namespace

const char* drop_reason_name(DropReason r) {
  switch (r) {
  case DropReason::in_flight:
    return "in_flight";
  case DropReason::body_too_large:
    return "body_too_large";
  case DropReason::no_endpoint:
    return "no_endpoint";
  case DropReason::tls:
    return "tls";
  case DropReason::backing_off:
    return "backing_off";
  case DropReason::kCount:
    break;
  }
  return "unknown";
}

Lane::RouteState& Lane::state(const std::string& route) {
  auto it = routes_.find(route);
  if (it != routes_.end()) return *it->second;
  std::lock_guard lock(routes_mutex_);
  return *routes_.emplace(route, std::make_unique<RouteState>()).first->second;
}

void Lane::add_dropped(std::map<std::string, std::vector<uint64_t>>& out) const {
  std::lock_guard lock(routes_mutex_);
  for (const auto& [route, st] : routes_) {
    auto& sums = out[route];
    sums.resize(static_cast<size_t>(DropReason::kCount));
    for (size_t i = 0; i < sums.size(); ++i)
      sums[i] += st->dropped[i].load(std::memory_order_relaxed);
  }
}

std::unique_ptr<Tap> Lane::sample(const runtime::Snapshot& snap, uint32_t route,
                                  const http::Head& head, bool upgrade) {
  const runtime::Snapshot::Route& r = snap.routes[route];
  const runtime::Snapshot::Route::Mirror& m = r.mirror;
  if (m.service < 0 || m.percent <= 0 || upgrade) return nullptr;
  // A rollback drill's mirror to an old version must not repeat a write.
  if (m.safe_methods_only && head.method_name != "GET" && head.method_name != "HEAD")
    return nullptr;
  RouteState& st = state(r.name);
  // A credit, not a random draw: percent 10 mirrors exactly every tenth request of the route
  // on this worker.
  st.credit += m.percent;
  if (st.credit < 100) return nullptr;
  st.credit -= 100;
  auto drop = [&](DropReason reason) {
    st.dropped[static_cast<size_t>(reason)].fetch_add(1, std::memory_order_relaxed);
    return nullptr;
  };
  if (head.framing == http::Framing::length && head.content_length > m.max_body_bytes)
    return drop(DropReason::body_too_large);
  if (st.in_flight.load(std::memory_order_relaxed) >= m.max_in_flight)
    return drop(DropReason::in_flight);
  st.in_flight.fetch_add(1, std::memory_order_relaxed);
  auto copy = std::make_unique<Copy>();
  copy->seq = (static_cast<uint64_t>(worker_) << 48) | (++next_seq_ & ((uint64_t{1} << 48) - 1));
  copy->route = r.name;
  copy->method = head.method_name;
  copy->target = head.target.substr(0, kMaxTarget);
  copy->compare = m.compare;
  copy->in_flight = &st.in_flight;
  std::vector<std::string> headers;
  if (m.compare && route < snap.config->routes.size())
    headers = snap.config->routes[route].filters.mirror.compare.headers;
  copy->compared_headers = headers;
  return std::make_unique<Tap>(sender_, st, std::move(copy), m.max_body_bytes, std::move(headers));
}

Tap::Tap(Sender& sender, Lane::RouteState& state, std::unique_ptr<Copy> copy, uint64_t max_body,
         std::vector<std::string> compared_headers)
    : sender_(sender), state_(state), copy_(std::move(copy)),
      compared_headers_(std::move(compared_headers)), max_body_(max_body) {
  seq_ = copy_->seq;
  compare_ = copy_->compare;
}

Tap::~Tap() {
  if (!submitted_) {
    // Never handed over (dropped, or the request did not complete): its place is free again.
    state_.in_flight.fetch_sub(1, std::memory_order_relaxed);
    return;
  }
  if (compare_ && !answer_sent_) {
    auto none = std::make_unique<ClientAnswer>();
    none->seq = seq_;
    sender_.answered(std::move(none));
  }
}

void Tap::request_body(std::string_view piece) {
  if (too_large_ || !copy_) return;
  if (copy_->body.size() + piece.size() > max_body_) {
    too_large_ = true;
    copy_->body.clear();
    copy_->body.shrink_to_fit();
    return;
  }
  copy_->body.append(piece);
}

void Tap::request_done(std::string_view upstream_head) {
  if (!copy_) return;
  if (too_large_) {
    state_.dropped[static_cast<size_t>(DropReason::body_too_large)].fetch_add(
        1, std::memory_order_relaxed);
    copy_.reset();
    return;
  }
  copy_->head.assign(upstream_head);
  submitted_ = true;
  sender_.submit(std::move(copy_));
}

void Tap::response_head(const http::Head& head, std::string_view service,
                        std::string_view endpoint) {
  if (!compare_ || answer_sent_) return;
  if (!answer_) answer_ = std::make_unique<ClientAnswer>();
  ClientAnswer& a = *answer_;
  a.seq = seq_;
  a.service.assign(service);
  a.endpoint.assign(endpoint);
  a.answer.status = head.status;
  a.answer.body.clear();
  a.answer.body_too_large = false;
  a.answer.headers.assign(compared_headers_.size(), std::string());
  for (size_t i = 0; i < compared_headers_.size(); ++i)
    for (const http::Header& h : head.headers)
      if (http::iequals(h.name, compared_headers_[i])) {
        std::string& v = a.answer.headers[i];
        if (!v.empty()) v += ", ";
        v.append(h.value);
      }
}

void Tap::response_body(std::string_view piece) {
  if (!answer_ || answer_->answer.body_too_large) return;
  Answer& a = answer_->answer;
  if (a.body.size() + piece.size() > kMaxComparedBody) {
    a.body_too_large = true;
    a.body.clear();
    a.body.shrink_to_fit();
    return;
  }
  a.body.append(piece);
}

void Tap::response_done() {
  if (!answer_ || !submitted_ || answer_sent_) return;
  answer_->answered = true;
  answer_sent_ = true;
  sender_.answered(std::move(answer_));
}

std::string mirror_request_head(std::string_view upstream_head, size_t body_bytes) {
  std::string out;
  out.reserve(upstream_head.size() + 48);
  size_t pos = 0;
  bool first = true;
  while (pos < upstream_head.size()) {
    size_t end = upstream_head.find("\r\n", pos);
    if (end == std::string_view::npos) end = upstream_head.size();
    std::string_view line = upstream_head.substr(pos, end - pos);
    pos = end + 2;
    if (line.empty()) break; // the end of the head
    if (!first &&
        is_one_of(line, {"content-length", "transfer-encoding", "connection", kMirrorHeader}))
      continue;
    first = false;
    out.append(line).append("\r\n");
  }
  out.append(kMirrorHeader).append(": 1\r\n");
  if (body_bytes > 0)
    out.append("Content-Length: ").append(std::to_string(body_bytes)).append("\r\n");
  out.append("\r\n");
  return out;
}

} // namespace weir::mirror
