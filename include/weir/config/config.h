#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

// Plain, validated configuration. Built only by config::Loader; immutable once published.
namespace weir::config {

using Duration = std::chrono::milliseconds;

// A numeric IPv4/IPv6 address and port, e.g. 127.0.0.1:9001 or [::1]:9001.
struct Address {
  std::string host; // numeric, without brackets
  uint16_t port = 0;
  std::string text() const; // "host:port" (IPv6 in brackets)
  bool operator==(const Address&) const = default;
};

// One certificate a TLS listener serves (PEM files).
struct TlsCertificate {
  std::string cert;
  std::string key;
  bool operator==(const TlsCertificate&) const = default;
};

enum class TlsVersion : uint8_t { tls1_2, tls1_3 };

// A listener's TLS termination. SNI picks a certificate by the names in it: an exact name, then a
// wildcard, then the first certificate.
struct ListenerTls {
  std::vector<TlsCertificate> certificates;
  TlsVersion min_version = TlsVersion::tls1_2;
  // TLS 1.2 cipher suites as OpenSSL names them; "default" is weir's list (AEAD with ECDHE
  // only). TLS 1.3's suites are OpenSSL's, all of them modern.
  std::string ciphers = "default";
  std::vector<std::string> alpn{"http/1.1"};
  bool session_resumption = true; // tickets (keys rotated on the control thread) and a cache
  std::string client_ca;          // "": no client certificates asked for
  bool operator==(const ListenerTls&) const = default;
};

struct Listener {
  std::string name;
  Address address;
  std::optional<ListenerTls> tls;
  // Not 0: every request gets 308 to https://<host>:<this port><target>.
  uint16_t redirect_to_https = 0;
};

// TLS to a service's endpoints.
struct UpstreamTls {
  bool enabled = false;
  std::string sni;         // "": none sent, and the endpoint's address is what is verified
  std::string ca;          // "": the system's trusted CAs
  bool verify = true;      // the endpoint's certificate chain and name
  std::string client_cert; // both or neither: mutual TLS
  std::string client_key;
  bool operator==(const UpstreamTls&) const = default;
};

// An inclusive range of HTTP status codes, e.g. 200-399.
struct StatusRange {
  int low = 200;
  int high = 399;
  bool operator==(const StatusRange&) const = default;
};

// Active health checking of every endpoint of a service (control thread, own connections).
struct HealthCheck {
  bool enabled = false;
  enum class Type { http, tcp } type = Type::http;
  std::string path = "/healthz";
  Duration interval{2000};
  Duration timeout{1000};
  uint32_t healthy_threshold = 2;
  uint32_t unhealthy_threshold = 3;
  std::vector<StatusRange> expected_status{{200, 399}};
  bool operator==(const HealthCheck&) const = default;
};

// A scripted request with expectations, run against a service's endpoints directly.
struct Probe {
  std::string name;
  std::string method = "GET";
  std::string path = "/";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::vector<StatusRange> expect_status{{200, 299}};
  std::string expect_body_contains;                                // "" = no check
  std::vector<std::pair<std::string, std::string>> expect_headers; // name → exact value
  Duration max_latency{0};                                         // 0 = no limit
  Duration interval{5000};
  Duration timeout{2000};
  uint32_t ready_after = 3; // consecutive passes that make it ready
  bool operator==(const Probe&) const = default;
};

// Passive outlier detection on the workers' own results.
struct OutlierDetection {
  bool enabled = true;
  // Upstream errors in a row that eject: any 5xx from the endpoint and every failure (connect,
  // reset, timeout, bad response). Envoy's consecutive_5xx.
  uint32_t consecutive_failures = 5;
  // Gateway failures in a row that eject, 0 = off: 502, 503, 504 from the endpoint and every
  // failure (connect, reset, timeout incl. retries.per_try_timeout, bad response), but not
  // other 5xx. Envoy's consecutive_gateway_failure.
  uint32_t consecutive_gateway_failures = 0;
  Duration base_ejection_time{30000};
  uint32_t max_ejection_percent = 50;
  bool operator==(const OutlierDetection&) const = default;
};

// An endpoint given by name: every A and AAAA record of `host` is an endpoint on `port`,
// re-resolved when the answer's TTL runs out (discovery/dns_source.h).
struct DnsName {
  std::string host; // lower case, without a trailing dot
  uint16_t port = 0;
  std::string text() const { return host + ":" + std::to_string(port); }
  bool operator==(const DnsName&) const = default;
};

// A Kubernetes Service whose EndpointSlices give the endpoints (discovery/kubernetes_source.h);
// the Kubernetes namespace is the weir service's namespace.
struct KubernetesRef {
  std::string service;
  std::string port_name;    // the EndpointSlice port of this name ...
  uint16_t port_number = 0; // ... or, when not 0, of this number
  std::string port_text() const { return port_number ? std::to_string(port_number) : port_name; }
  bool operator==(const KubernetesRef&) const = default;
};

struct Service {
  std::string ns;   // namespace, e.g. app-v1
  std::string name; // e.g. app
  // Numeric endpoints as written; in the config in force (Controller::config()) also those
  // that discovery found for `dns_names` and `kubernetes`, which the file never holds.
  std::vector<Address> endpoints;
  // endpoints[0, listed_endpoints) are the file's, the rest discovery found (only the config in
  // force has any).
  uint32_t listed_endpoints = UINT32_MAX;
  std::vector<DnsName> dns_names;
  std::optional<KubernetesRef> kubernetes; // replaces endpoints
                                           // Endpoints come and go without a reload: a new one
                                           // waits for its first health check.
  bool discovered() const { return !dns_names.empty() || kubernetes.has_value(); }
  bool found_by_discovery(size_t endpoint_index) const {
    return discovered() && endpoint_index >= listed_endpoints;
  }
  HealthCheck health_check;
  std::vector<Probe> probes;
  OutlierDetection outlier_detection;
  UpstreamTls tls;
  // Idle keep-alive connections kept per worker and endpoint.
  uint32_t max_idle_connections = 64;
  std::string id() const { return ns + "/" + name; }
  bool operator==(const Service&) const = default;
};

// A condition on one header or query parameter (HTTPRoute's HTTPHeaderMatch and
// HTTPQueryParamMatch). Header names compare without case, query parameter names with it.
struct ValueMatch {
  enum class Type : uint8_t { exact, regex } type = Type::exact;
  std::string name;  // headers: lower case; query parameters: as written
  std::string value; // exact: the whole value; regex: ECMAScript, must match the whole value
  bool operator==(const ValueMatch&) const = default;
};

// HTTPRoute's HTTPPathMatch. prefix matches on segment boundaries: "/api" matches "/api" and
// "/api/x", not "/apix".
struct PathMatch {
  enum class Type : uint8_t { exact, prefix, regex } type = Type::prefix;
  std::string value = "/";
  bool operator==(const PathMatch&) const = default;
};

// One alternative of a route's match list: every condition holds (AND). A route matches when
// any of its alternatives does (OR). YAML `match` is one map (the old {host, path_prefix} keys
// keep working) or a list of them.
struct Match {
  std::string host; // "" any, "example.com" exact, "*.example.com" wildcard
  PathMatch path;
  std::string method; // "" any, else upper case ("GET")
  std::vector<ValueMatch> headers;
  std::vector<ValueMatch> query;
  bool operator==(const Match&) const = default;
};

// HTTPRoute's RequestHeaderModifier / ResponseHeaderModifier: set replaces every header of the
// name (or adds it), add appends one more, remove drops every header of the name.
struct HeaderValue {
  std::string name;
  std::string value;
  bool operator==(const HeaderValue&) const = default;
};
struct HeaderModifier {
  std::vector<HeaderValue> set;
  std::vector<HeaderValue> add;
  std::vector<std::string> remove; // lower case
  bool empty() const { return set.empty() && add.empty() && remove.empty(); }
  bool operator==(const HeaderModifier&) const = default;
};

// HTTPRoute's HTTPPathModifier: the whole path, or the part the matched PathPrefix covered.
struct PathModifier {
  enum class Type : uint8_t { none, replace_full, replace_prefix } type = Type::none;
  std::string value;
  bool operator==(const PathModifier&) const = default;
};

// HTTPRoute's RequestRedirect: weir answers itself, the request goes to no backend. Unset
// parts keep the request's own (scheme, host, path); port 0 is the configured scheme's
// well-known port when a scheme is given, else the port the request came to (a scheme's
// default port is left out of Location).
struct Redirect {
  bool enabled = false;
  std::string scheme; // "" keep, "http", "https"
  std::string hostname;
  uint16_t port = 0;
  PathModifier path;
  int status = 302; // 301, 302, 303, 307, 308
  bool operator==(const Redirect&) const = default;
};

// HTTPRoute's URLRewrite: what the backend sees (Host and path); the client sees nothing.
struct Rewrite {
  std::string hostname; // "" keep
  PathModifier path;
  bool empty() const { return hostname.empty() && path.type == PathModifier::Type::none; }
  bool operator==(const Rewrite&) const = default;
};

// What a shadow comparison looks at, between the answer the client got (from the route's
// backend) and the mirror's answer to the same request.
struct Compare {
  bool enabled = false;
  bool status_class = true;         // 2xx vs 5xx differ; 200 vs 204 do not
  std::vector<std::string> headers; // lower case; values compared exactly
  enum class Body : uint8_t { none, hash, json_fields } body = Body::none;
  std::vector<std::string> json_fields;        // body: json_fields; dotted paths ("a.b")
  std::vector<std::string> ignore_json_fields; // body: hash of the JSON without these
  bool operator==(const Compare&) const = default;
};

// HTTPRoute's RequestMirror, plus weir's comparison: a copy of `percent` of the requests goes
// to `service`, fire and forget; the client never waits for it or sees its answer.
struct Mirror {
  bool enabled = false;
  std::string service;             // "namespace/name"
  double percent = 100;            // 0..100
  uint32_t max_body_bytes = 65536; // a larger request body is not mirrored (counted)
  uint32_t max_in_flight = 64;     // per worker; beyond it a copy is dropped (counted)
  Compare compare;
  bool operator==(const Mirror&) const = default;
};

// HTTPRoute filters. A route's apply to every request it takes; a backend's only to the
// requests sent to it, after the route's.
struct Filters {
  HeaderModifier request_headers;
  HeaderModifier response_headers;
  Redirect redirect; // route only
  Rewrite rewrite;
  Mirror mirror; // route only
  bool operator==(const Filters&) const = default;
};

struct Backend {
  std::string service; // "namespace/name" of a Service
  uint32_t weight = 1;
  Filters filters; // request_headers, response_headers and rewrite only
};

struct Timeouts {
  Duration connect{1000}; // upstream connect → 503
  // HTTPRoute's timeouts.request: from the request's head to the response's last byte; 0 none.
  // Passed before the response head: 504; after it: the response is cut. When set, it is also
  // what upstream_read is (the key used to mean only that).
  Duration request{0};
  // HTTPRoute's timeouts.backend_request: one attempt, from its start until its response is
  // complete; 0 none. Passed before the response head: 504 (retried when safe).
  Duration backend_request{0};
  // The upstream response head, and each later read of it, within this → 504. Not a key of its
  // own: 30 s, or `request` when that is set.
  Duration upstream_read{30000};
  Duration idle{60000}; // client keep-alive idle
};

// When and how a failed request is tried again.
struct Retries {
  uint32_t attempts = 0; // extra attempts after the first; 0 = no retries
  bool on_connect_failure = true;
  bool on_reset = true;
  std::vector<int> on_status{502, 503, 504};
  uint32_t budget_percent = 20;    // retries in flight as a share of active requests
  uint32_t max_body_bytes = 65536; // larger request bodies are never replayed
  bool retry_other_backend = false;
  // An attempt whose response head has not come within this is abandoned (and retried when
  // safe); 0 = off, only timeouts.request applies. Envoy's per_try_timeout.
  Duration per_try_timeout{0};
  // Retries always allowed while fewer are in flight on the worker for the route, whatever the
  // budget holds. Envoy's min_retry_concurrency.
  uint32_t min_concurrency = 3;
  bool operator==(const Retries&) const = default;
};

// One step of a rollout plan.
struct RolloutStep {
  enum class Kind {
    set_weight,
    pause,
    analysis,
    set_header_route, // requests matching `header_route` go to the canary, whatever its weight
    set_mirror,       // `mirror_percent` of requests are mirrored to the canary
  } kind = Kind::pause;
  uint32_t weight = 0;  // set_weight: the canary's share in percent, 0..100
  Duration duration{0}; // pause: 0 = a manual gate (waits for `rollout promote`); analysis: > 0
  // set_header_route (Argo Rollouts' setHeaderRoute): `name` names it; no headers removes it.
  std::string header_route_name;
  std::vector<ValueMatch> header_route;
  double mirror_percent = 0; // set_mirror: 0 stops mirroring
  // set_header_route whose values are a secret (blue/green's preview): status, events and logs
  // name the header, never the value.
  bool header_route_secret = false;
  bool operator==(const RolloutStep&) const = default;
};

// An external metric judged in every analysis interval (Argo Rollouts' metric providers): a
// Prometheus instant query whose scalar result must meet `success_condition`.
struct AnalysisMetric {
  std::string name;
  std::string prometheus_address; // "http://host:port" (or https://), the Prometheus server
  // PromQL; "{{route}}", "{{stable}}", "{{canary}}" (service ids) and "{{canary_service}}" /
  // "{{stable_service}}" (names without namespace) are replaced before the query is sent.
  std::string query;
  std::string success_condition; // e.g. "result < 0.01"; `result` is the query's value
  uint32_t failure_limit = 0;    // failed intervals in a row that abort; 0 = analysis.failure_limit
  Duration timeout{5000};        // per query
  std::string ca_file;           // https: PEM file of CAs to trust; "" = the system store
  bool operator==(const AnalysisMetric&) const = default;
};

// Synthetic traffic for thin services: while the canary got fewer than min_requests real requests
// in an analysis interval, weir sends tagged requests to both versions at `rate` (requests per
// second, split evenly), counted apart from user traffic and added to the analysis.
struct TopUp {
  bool enabled = false;
  double rate = 20; // requests per second ("20/s" in YAML)
  std::string method = "GET";
  std::string path = "/";
  std::string host; // Host header; "" = the route's match host, else the endpoint
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  Duration timeout{2000};
  bool operator==(const TopUp&) const = default;
};

// A gate or notification of a rollout (Flagger's webhooks). weir POSTs a JSON payload to `url`
// and treats a 2xx answer as "go".
struct RolloutHook {
  enum class Type {
    pre_rollout,       // before the first weight step; a failure refuses the start with its reason
    rollout,           // every analysis interval; a failure is a failed interval
    confirm_rollout,   // before the first weight step; waits (re-asked each interval) until 2xx
    confirm_promotion, // before promotion to 100 %; waits until 2xx
    post_rollout,      // after promotion or abort; informational
    rollback,          // every interval while progressing or waiting; a 2xx aborts the rollout
  } type = Type::pre_rollout;
  std::string name;
  std::string url; // http:// or https://
  Duration timeout{5000};
  uint32_t retries = 0; // further attempts after a failed one
  std::string ca_file;  // https: PEM file of CAs to trust; "" = the system store
  bool operator==(const RolloutHook&) const = default;
};
const char* hook_type_name(RolloutHook::Type t);

// Automated canary analysis thresholds (see rollout::analyze).
struct RolloutAnalysis {
  Duration interval{5000};
  uint64_t min_requests = 200;
  double max_error_rate = 0.01;           // ratio (1% in YAML)
  double max_error_rate_increase = 0.005; // ratio, canary minus stable
  Duration max_p99_latency{500};          // 0 = none
  double max_p99_increase = 0.5;          // ratio of stable's p99 (50% in YAML); < 0 = none
  uint32_t failure_limit = 2;             // consecutive failed intervals → abort
  uint32_t inconclusive_limit = 6;        // consecutive inconclusive intervals → pause
  std::vector<AnalysisMetric> metrics;    // external metrics, judged with the built-in ones
  TopUp top_up;
  // Shadow comparison (the route's mirror to the canary with `compare`): diverging answers as a
  // share of compared ones, less the noise measured between two stable endpoints; < 0 = none.
  double max_divergence = -1;
  bool operator==(const RolloutAnalysis&) const = default;
};

// A progressive delivery plan for a route: moves traffic from `stable` to `canary` on its own.
struct Rollout {
  // canary: the steps move the weights bit by bit. blue_green (Argo Rollouts' BlueGreen): the
  // new version gets only preview traffic (the preview header with its secret, probes, top-up)
  // and is analysed on it, then promotion switches 100 % at once; the steps are made from
  // preview, pre_promotion and auto_promotion (config/blue_green_reader.h).
  enum class Strategy { canary, blue_green } strategy = Strategy::canary;
  bool enabled = false;
  std::string stable; // service id, one of the route's backends
  std::string canary; // service id, one of the route's backends
  std::vector<RolloutStep> steps;
  // blue_green: requests with `preview_header: preview_secret` reach the new version while it
  // is previewed.
  std::string preview_header;
  std::string preview_secret;
  // After a promotion, how long the replaced version is kept warm (health-checked, its
  // endpoints in the route at weight 0) and `rollout undo` switches back without --force;
  // 0 = no limit (canary plans' default; blue_green's is 10m).
  Duration rollback_window{0};
  // Tunnels (WebSocket, other Upgrades) at cutover: after a promotion the replaced version's
  // close one by one over tunnels_drain_over (0: left open); after an abort or undo the
  // failed version's close all at once tunnels_abort_grace later.
  Duration tunnels_drain_over{std::chrono::minutes(5)};
  Duration tunnels_abort_grace{std::chrono::seconds(30)};
  // The replaced version is safe to delete once, for this long, it had no request, connection,
  // tunnel or sticky client (and the rollback window closed): rollout.cleanup.grace_period.
  Duration cleanup_grace{std::chrono::minutes(10)};
  // During the rollback window, a drill of the rollback target this often (0: only by hand).
  Duration rollback_drill_every{0};
  RolloutAnalysis analysis;
  uint32_t fast_abort_consecutive_errors = 0; // 0 = off
  bool require_ready = true;
  std::string affinity_cookie; // "" = no sticky versions
  Duration affinity_max_age{3600000};
  std::string override_header; // "" = none; values "always:SECRET" / "never:SECRET"
  std::string override_secret; // "" = only trusted proxies may force a version (plain values)
  std::string notify_webhook;  // "" = none; http://host:port/path (numeric host)
  uint32_t max_canary_share_of_capacity = 100; // percent; see capacity-aware weights
  std::vector<RolloutHook> hooks;
  bool operator==(const Rollout&) const = default;
};

struct Route {
  std::string name;
  std::string listener;
  std::vector<Match> matches; // never empty once loaded; one alternative with no condition
  std::vector<Backend> backends;
  Filters filters;
  Timeouts timeouts;
  Retries retries;
  Rollout rollout;
};

struct Limits {
  uint32_t max_request_head_bytes = 16384;  // request line + headers → 431
  uint32_t max_request_line_bytes = 8192;   // → 414
  uint32_t max_headers = 100;               // → 431
  uint32_t max_response_head_bytes = 16384; // upstream response head → 502
  // Each of an exchange's two read buffers (client side, upstream side), as HAProxy's
  // tune.bufsize; at least the larger head limit. 32 KiB: a body relayed in 16 KiB slices made
  // the relay stall on every third read (bench/README.md, 1 MiB responses). An idle connection
  // holds none.
  uint32_t buffer_bytes = 32768;
  Duration client_header_timeout{10000}; // whole request head must arrive within → 408
  Duration client_body_timeout{10000};   // between two reads of a request body → 408
  Duration request_timeout{300000};      // head to last body byte → 408
  // Client connections per worker; beyond it new ones wait in the listen backlog.
  uint32_t max_client_connections = 10000;
  // Connections to one endpoint (idle ones included), shared out among the workers; a request
  // that finds none free waits up to queue_timeout, then gets 503 with Retry-After.
  uint32_t max_upstream_connections = 1024;
  Duration queue_timeout{5000};
  uint64_t max_access_log_queue_bytes = 16 << 20; // lines beyond it are dropped and counted
  uint32_t max_admin_connections = 64;            // the longest-idle one makes room for a new one
  Duration admin_idle_timeout{10000};
  // A TLS client's handshake must be done within: a stalled one is closed and counted.
  Duration tls_handshake_timeout{10000};
  bool operator==(const Limits&) const = default;
};

// An IPv4 or IPv6 network, e.g. 10.0.0.0/8 or fd00::/8.
struct Cidr {
  bool v6 = false;
  unsigned char bytes[16] = {}; // network address, first 4 bytes for IPv4
  uint8_t prefix = 0;           // bits
  std::string text;             // as written
  bool operator==(const Cidr&) const = default;
};

struct AccessLog {
  bool enabled = false;
  std::string path; // "stdout", "stderr" or a file path
  std::string format = "json";
};

// The Unix domain control socket (weirctl). Absent: no control socket.
struct Control {
  bool enabled = false;
  std::string socket;   // path of the socket file
  uint32_t mode = 0600; // file mode of the socket
  std::string group;    // group owning the socket ("" keeps the process's group)
};

// The admin HTTP listener (/metrics, /healthz, /ready, /stats.json and the dashboard at /).
// Absent: off.
struct Admin {
  bool enabled = false;
  Address address;
  // The dashboard's actions (promote, pause, resume, abort, set weight) for a browser that sends
  // the bearer token kept in token_file (read again at each use, so it can be rotated); off,
  // the dashboard is read-only and its action endpoint answers 403.
  bool dashboard_actions = false;
  std::string token_file; // absolute
};

// The data plane's I/O backend. auto: io_uring where the kernel offers what weir needs from it,
// else epoll (resolved when the workers start, not by the loader).
enum class IoBackend { auto_, epoll, io_uring };

// Where DNS names are resolved (c-ares on the control thread).
struct Resolver {
  std::vector<Address> servers; // empty: the nameservers of /etc/resolv.conf
  Duration min_ttl{1000};       // an answer is asked again after its TTL, clamped to these
  Duration max_ttl{300000};
  bool operator==(const Resolver&) const = default;
};

// How weir reaches the Kubernetes API (LIST and WATCH of EndpointSlices). Empty strings take
// the in-cluster defaults when discovery starts: KUBERNETES_SERVICE_HOST/_PORT and the pod's
// ServiceAccount files.
struct Kubernetes {
  std::string api_server; // https://host:port
  std::string token_file; // read again for every request, so a rotated token is used
  std::string ca_file;
  bool operator==(const Kubernetes&) const = default;
};

// Gateway API objects from the cluster (needs `kubernetes`): weir watches the GatewayClasses
// naming `class_name` as controller, their Gateways, the HTTPRoutes attached to those and the
// ReferenceGrants, and serves the routes they describe beside the file's.
struct Gateway {
  bool enabled = false;
  std::string class_name = "weir";
  bool operator==(const Gateway&) const = default;
};

// A fleet of weir replicas sharing live state and one rollout per route (cluster/fleet.h): every
// replica with the same `name` on the same store is one weir. Off when `name` is "".
struct Cluster {
  std::string name;
  std::string replica;      // this replica's name; the loader fills in the host name
  Duration lease_ttl{5000}; // a replica (and the leader) unheard of this long is gone
  struct Etcd {
    std::vector<std::string> endpoints; // http://host:port of the members (v3 JSON gateway)
    std::string prefix = "/weir/";      // every key weir writes starts with prefix + name + "/"
    bool operator==(const Etcd&) const = default;
  };
  std::optional<Etcd> etcd;
  // Through the file's `kubernetes` API access: a coordination.k8s.io Lease per replica and
  // one for the leader, live state in a ConfigMap, all in `namespace`.
  struct KubernetesStore {
    std::string ns;
    bool operator==(const KubernetesStore&) const = default;
  };
  std::optional<KubernetesStore> kubernetes;
  bool enabled() const { return !name.empty(); }
  bool operator==(const Cluster&) const = default;
};

struct Config {
  std::string source_path; // the file it was loaded from ("" when from a string)
  unsigned workers = 0;    // resolved: "auto" becomes the number of CPUs
  IoBackend io = IoBackend::auto_;
  std::vector<Listener> listeners;
  std::vector<Service> services;
  std::vector<Route> routes;
  Limits limits;
  AccessLog access_log;
  Duration drain_timeout{30000}; // SIGTERM: in-flight requests get this long to finish
  // SIGTERM: /ready answers 503 at once and weir goes on serving this long before it drains, so
  // a load balancer that polls readiness stops sending first (Kubernetes: no preStop needed).
  Duration shutdown_delay{0};
  Control control;
  Admin admin;
  std::string state_dir; // live state (weight overrides, drains) survives restarts here; "" off
  // Peers whose X-Forwarded-* / Forwarded are believed and who may force a rollout version
  // without the override secret. Empty: nobody.
  std::vector<Cidr> trusted_proxies;
  // How often the certificate and key files are looked at for changes (cert-manager rotates
  // them in place); 0 never.
  Duration tls_reload_interval{60000};
  Resolver resolver;
  Kubernetes kubernetes;
  Gateway gateway;
  Cluster cluster;
};

} // namespace weir::config
