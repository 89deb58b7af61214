#include "weir/metrics/prometheus.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>

namespace weir::metrics {

namespace {

constexpr size_t kBounds = std::size(kLatencyBounds);
constexpr std::string_view kCodes[5] = {"1xx", "2xx", "3xx", "4xx", "5xx"};

void append_u64(std::string& out, uint64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

void append_double(std::string& out, double v) {
  if (std::isnan(v)) return out.append("NaN"), void();
  if (std::isinf(v)) return out.append(v > 0 ? "+Inf" : "-Inf"), void();
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

void family(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  out.append("# HELP ").append(name).push_back(' ');
  out.append(help).push_back('\n');
  out.append("# TYPE ").append(name).push_back(' ');
  out.append(type).push_back('\n');
}

void label(std::string& out, std::string_view key, std::string_view value) {
  if (!out.empty()) out.push_back(',');
  out.append(key).append("=\"");
  append_label_value(out, value);
  out.push_back('"');
}

// `labels` is a list of key="value" pairs without braces (reused per key); `extra` one more
// pair, written after it.
void sample_head(std::string& out, std::string_view name, std::string_view suffix,
                 std::string_view labels, std::string_view extra) {
  out.append(name).append(suffix);
  if (!labels.empty() || !extra.empty()) {
    out.push_back('{');
    out.append(labels);
    if (!labels.empty() && !extra.empty()) out.push_back(',');
    out.append(extra);
    out.push_back('}');
  }
  out.push_back(' ');
}

void sample(std::string& out, std::string_view name, std::string_view labels,
            std::string_view extra, uint64_t v) {
  sample_head(out, name, {}, labels, extra);
  append_u64(out, v);
  out.push_back('\n');
}

void sample_double(std::string& out, std::string_view name, std::string_view labels, double v) {
  sample_head(out, name, {}, labels, {});
  append_double(out, v);
  out.push_back('\n');
}

// "namespace/name" → its two halves (a service id without '/' is all name).
void backend_labels(std::string& out, std::string_view route, std::string_view service) {
  out.clear();
  size_t slash = service.find('/');
  std::string_view ns =
      slash == std::string_view::npos ? std::string_view() : service.substr(0, slash);
  std::string_view name = slash == std::string_view::npos ? service : service.substr(slash + 1);
  if (!route.empty()) label(out, "route", route);
  label(out, "namespace", ns);
  label(out, "service", name);
}

void endpoint_labels(std::string& out, const EndpointKey& key) {
  backend_labels(out, key.route, key.service);
  label(out, "endpoint", key.endpoint);
}

// For each `le` bound, how many fine buckets (a prefix) lie entirely at or below it.
const std::array<size_t, kBounds>& bucket_prefixes() {
  static const std::array<size_t, kBounds> table = [] {
    std::array<size_t, kBounds> t{};
    size_t b = 0;
    for (size_t i = 0; i < kBounds; ++i) {
      while (b < Histogram::kBuckets &&
             Histogram::bucket_low(b) + Histogram::bucket_width(b) - 1 <= kLatencyBounds[i].ns)
        ++b;
      t[i] = b;
    }
    return t;
  }();
  return table;
}

void histogram(std::string& out, std::string_view name, std::string_view labels,
               const LatencyTotals& h, std::string& extra) {
  uint64_t cumulative = 0;
  for (size_t i = 0; i < kBounds; ++i) {
    cumulative += h.buckets[i];
    extra.assign("le=\"").append(kLatencyBounds[i].text).push_back('"');
    sample_head(out, name, "_bucket", labels, extra);
    append_u64(out, cumulative);
    out.push_back('\n');
  }
  cumulative += h.buckets[kBounds];
  // +Inf and _count from the buckets themselves: a worker may have bumped a bucket but not yet
  // its count when the merge read them, and the two must agree.
  sample_head(out, name, "_bucket", labels, "le=\"+Inf\"");
  append_u64(out, cumulative);
  out.push_back('\n');
  sample_head(out, name, "_sum", labels, {});
  append_double(out, static_cast<double>(h.sum_ns) / 1e9);
  out.push_back('\n');
  sample_head(out, name, "_count", labels, {});
  append_u64(out, cumulative);
  out.push_back('\n');
}

} // namespace

void LatencyTotals::add(const Histogram& h) {
  const auto& prefixes = bucket_prefixes();
  size_t b = 0;
  for (size_t i = 0; i < kBounds; ++i)
    for (; b < prefixes[i]; ++b)
      buckets[i] += h.bucket(b);
  for (; b < Histogram::kBuckets; ++b)
    buckets[kBounds] += h.bucket(b);
  sum_ns += h.sum_ns();
}

void BackendSums::add(const BackendCells& c) {
  requests += c.requests.get();
  upstream_errors += c.upstream_errors.get();
  client_errors += c.client_errors.get();
  retries += c.retries.get();
  forced_requests += c.forced_requests.get();
  bytes_in += c.bytes_in.get();
  bytes_out += c.bytes_out.get();
  tunnels += c.tunnels.get();
  total.add(c.total);
  ttfb.add(c.ttfb);
}

void EndpointTotals::add(const EndpointCells& c) {
  for (size_t i = 0; i < 5; ++i)
    status[i] += c.status[i].get();
  for (size_t i = 0; i < std::size(failures); ++i)
    failures[i] += c.failures[i].get();
  active += c.active.get();
}

void Exposition::add(const Registry& registry) {
  registry.visit([&](const BackendKey& key, const BackendCells& c) { backends[key].add(c); },
                 [&](const EndpointKey& key, const EndpointCells& c) { endpoints[key].add(c); });
  client_connections += registry.client_connections.get();
  accept_errors += registry.accept_errors.get();
  registry.visit_tls([&](const std::string& listener, const TlsListenerCells& c) {
    TlsHandshakes& t = tls_handshakes[listener];
    t.full += c.full.get();
    t.resumed += c.resumed.get();
    t.failed += c.failed.get();
    t.timedout += c.timedout.get();
  });
  access_log_dropped += registry.access_log_dropped.get();
}

void Exposition::add_synthetic(const Registry& registry) {
  registry.visit([&](const BackendKey& key, const BackendCells& c) { synthetic[key].add(c); },
                 nullptr);
}

void append_label_value(std::string& out, std::string_view value) {
  for (char c : value) {
    switch (c) {
    case '\\':
      out.append("\\\\");
      break;
    case '"':
      out.append("\\\"");
      break;
    case '\n':
      out.append("\\n");
      break;
    default:
      out.push_back(c);
    }
  }
}

void write_prometheus(const Exposition& e, std::string& out) {
  std::string labels;
  std::string extra;
  labels.reserve(256);
  extra.reserve(64);

  family(out, "weir_build_info", "gauge", "Always 1; the version label says which weir runs.");
  labels.clear();
  label(labels, "version", e.version);
  sample(out, "weir_build_info", labels, {}, 1);

  family(out, "weir_config_reloads_total", "counter",
         "Config reloads (control socket or SIGHUP) by result; a failed one changed nothing.");
  sample(out, "weir_config_reloads_total", {}, "result=\"ok\"", e.reloads_ok);
  sample(out, "weir_config_reloads_total", {}, "result=\"failed\"", e.reloads_failed);

  family(out, "weir_client_connections", "gauge", "Open downstream (client) connections.");
  sample(out, "weir_client_connections", {}, {}, e.client_connections);

  if (!e.tls_handshakes.empty()) {
    family(out, "weir_tls_handshakes_total", "counter",
           "Client TLS handshakes by listener and result: full, resumed (a session ticket or the "
           "cache), failed, timeout (limits.tls_handshake_timeout).");
    for (const auto& [listener, t] : e.tls_handshakes) {
      labels.clear();
      label(labels, "listener", listener);
      sample(out, "weir_tls_handshakes_total", labels, "result=\"full\"", t.full);
      sample(out, "weir_tls_handshakes_total", labels, "result=\"resumed\"", t.resumed);
      sample(out, "weir_tls_handshakes_total", labels, "result=\"failed\"", t.failed);
      sample(out, "weir_tls_handshakes_total", labels, "result=\"timeout\"", t.timedout);
    }
    family(out, "weir_tls_resumption_ratio", "gauge",
           "Of the listener's completed handshakes since start, the share that resumed a session.");
    for (const auto& [listener, t] : e.tls_handshakes) {
      labels.clear();
      label(labels, "listener", listener);
      const uint64_t done = t.full + t.resumed;
      sample_double(out, "weir_tls_resumption_ratio", labels,
                    done == 0 ? 0.0 : static_cast<double>(t.resumed) / static_cast<double>(done));
    }
  }
  if (!e.certificates.empty()) {
    family(out, "weir_tls_certificate_expiry_seconds", "gauge",
           "When each served certificate expires (its notAfter), in Unix seconds: alert on it "
           "minus time().");
    for (const auto& c : e.certificates) {
      labels.clear();
      label(labels, "listener", c.listener);
      label(labels, "name", c.name);
      sample(out, "weir_tls_certificate_expiry_seconds", labels, {},
             static_cast<uint64_t>(std::max<int64_t>(0, c.not_after)));
    }
  }

  family(out, "weir_accept_errors_total", "counter",
         "accept() failures (out of file descriptors or memory); accepting pauses briefly.");
  sample(out, "weir_accept_errors_total", {}, {}, e.accept_errors);
  family(out, "weir_access_log_dropped_total", "counter",
         "Access log lines dropped because the log writer fell behind.");
  sample(out, "weir_access_log_dropped_total", {}, {}, e.access_log_dropped);

  family(out, "weir_requests_total", "counter",
         "Responses sent to clients for requests sent to an endpoint, by status class.");
  for (const auto& [key, t] : e.endpoints) {
    endpoint_labels(labels, key);
    for (size_t i = 0; i < 5; ++i) {
      extra.assign("code=\"").append(kCodes[i]).push_back('"');
      sample(out, "weir_requests_total", labels, extra, t.status[i]);
    }
  }

  family(out, "weir_upstream_failures_total", "counter",
         "Upstream exchanges that failed without a response, by cause.");
  for (const auto& [key, t] : e.endpoints) {
    endpoint_labels(labels, key);
    for (size_t i = 0; i < std::size(t.failures); ++i) {
      extra.assign("cause=\"").append(failure_name(static_cast<UpstreamFailure>(i))).push_back('"');
      sample(out, "weir_upstream_failures_total", labels, extra, t.failures[i]);
    }
  }

  family(out, "weir_active_requests", "gauge", "Requests in flight to an endpoint.");
  for (const auto& [key, t] : e.endpoints) {
    endpoint_labels(labels, key);
    sample(out, "weir_active_requests", labels, {}, t.active);
  }

  {
    // Per service: a tunnel outlives weight changes, and what matters at a cutover is whether a
    // version still holds any, whichever route they came by.
    std::map<std::string_view, uint64_t> by_service;
    for (const auto& [key, t] : e.backends)
      by_service[key.service] += t.tunnels;
    family(out, "weir_tunnels_open", "gauge",
           "WebSocket and other Upgrade tunnels open now (after the upstream's 101), by service.");
    for (const auto& [service, n] : by_service) {
      backend_labels(labels, {}, service);
      sample(out, "weir_tunnels_open", labels, {}, n);
    }
  }

  struct CounterFamily {
    std::string_view name;
    std::string_view help;
    uint64_t BackendSums::*field;
  };
  static constexpr CounterFamily kCounters[] = {
      {"weir_backend_requests_total", "Requests a route sent to a backend, answered or not.",
       &BackendSums::requests},
      {"weir_upstream_errors_total",
       "Requests that failed because of the upstream (5xx answers, connect, reset, timeout, bad "
       "response): the errors that count against a version.",
       &BackendSums::upstream_errors},
      {"weir_client_errors_total",
       "Requests that failed because of the client (4xx answers, disconnects); never a "
       "version's fault.",
       &BackendSums::client_errors},
      {"weir_retries_total",
       "Retry attempts sent to this backend after an earlier attempt of the request failed.",
       &BackendSums::retries},
      {"weir_forced_requests_total",
       "Requests whose version was forced by the rollout override; counted in none of the "
       "backend figures above, so they never feed canary analysis or fast abort.",
       &BackendSums::forced_requests},
      {"weir_bytes_received_total", "Request bytes received from clients, heads included.",
       &BackendSums::bytes_in},
      {"weir_bytes_sent_total", "Response bytes sent to clients, heads included.",
       &BackendSums::bytes_out},
  };
  for (const CounterFamily& c : kCounters) {
    family(out, c.name, "counter", c.help);
    for (const auto& [key, t] : e.backends) {
      backend_labels(labels, key.route, key.service);
      sample(out, c.name, labels, {}, t.*c.field);
    }
  }

  family(out, "weir_synthetic_requests_total", "counter",
         "Synthetic requests weir sent to a backend itself (rollout top-up traffic while real "
         "traffic is too thin to judge); in none of the backend figures above.");
  for (const auto& [key, t] : e.synthetic) {
    backend_labels(labels, key.route, key.service);
    sample(out, "weir_synthetic_requests_total", labels, {}, t.requests);
  }
  family(out, "weir_synthetic_errors_total", "counter",
         "Synthetic requests that failed because of the upstream (5xx, connect, reset, timeout, "
         "bad response).");
  for (const auto& [key, t] : e.synthetic) {
    backend_labels(labels, key.route, key.service);
    sample(out, "weir_synthetic_errors_total", labels, {}, t.upstream_errors);
  }

  family(out, "weir_request_duration_seconds", "histogram",
         "Request start to response complete, as weir saw it.");
  for (const auto& [key, t] : e.backends) {
    backend_labels(labels, key.route, key.service);
    histogram(out, "weir_request_duration_seconds", labels, t.total, extra);
  }
  family(out, "weir_upstream_response_time_seconds", "histogram",
         "Request start to the first byte of the upstream's response.");
  for (const auto& [key, t] : e.backends) {
    backend_labels(labels, key.route, key.service);
    histogram(out, "weir_upstream_response_time_seconds", labels, t.ttfb, extra);
  }

  family(out, "weir_backend_weight", "gauge",
         "Live weight of a route's backend: an operator's override, else the configured one.");
  for (const auto& w : e.weights) {
    backend_labels(labels, w.route, w.service);
    sample(out, "weir_backend_weight", labels, {}, w.weight);
  }
  family(out, "weir_backend_configured_weight", "gauge",
         "Weight of a route's backend in the config file.");
  for (const auto& w : e.weights) {
    backend_labels(labels, w.route, w.service);
    sample(out, "weir_backend_configured_weight", labels, {}, w.configured_weight);
  }

  family(out, "weir_endpoint_up", "gauge",
         "1 when an endpoint may take new requests, 0 when drained, failing its health "
         "checks or ejected as an outlier.");
  for (const auto& s : e.endpoint_states) {
    backend_labels(labels, {}, s.service);
    label(labels, "endpoint", s.endpoint);
    sample(out, "weir_endpoint_up", labels, {}, s.up ? 1 : 0);
  }
}

} // namespace weir::metrics
