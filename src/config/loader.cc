#include "weir/config/loader.h"

#include "cluster_reader.h"
#include "discovery_reader.h"
#include "filter_reader.h"
#include "health_reader.h"
#include "limits_reader.h"
#include "rollout_reader.h"
#include "route_reader.h"
#include "tls_reader.h"
#include "weir/base/token_file.h"
#include "weir/config/address.h"
#include "weir/config/duration.h"
#include "weir/net/url.h"
#include "weir/rollout/condition.h"
#include "weir/rollout/query_template.h"
#include "yaml_checker.h"

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <exception>
#include <fcntl.h>
#include <initializer_list>
#include <map>
#include <optional>
#include <set>
#include <system_error>
#include <thread>
#include <tuple>
#include <unistd.h>
#include <utility>
#include <yaml-cpp/yaml.h>

// The config file's checks, section by section (a route's rollout block in rollout_reader.cc),
// then the cross-reference checks. yaml-cpp's exceptions stop here (house rule 3). A value that
// fails its own check is left out of the cross-reference checks that follow, so one mistake is
// reported once.
namespace weir::config {
namespace {

using namespace yaml;

class Loader {
public:
  explicit Loader(const std::string& file) : c_(file) {}

  LoadResult load(std::string_view text, const std::string& source_path) {
    if (const size_t slash = source_path.rfind('/'); slash != std::string::npos)
      base_dir_ = slash == 0 ? "/" : source_path.substr(0, slash);
    YAML::Node root;
    try {
      root = YAML::Load(std::string(text));
    } catch (const YAML::Exception& e) {
      c_.fail(pos_of_mark(e.mark), "", e.msg);
      return c_.take_errors();
    } catch (const std::exception& e) {
      c_.fail({}, "", std::string("cannot parse YAML: ") + e.what());
      return c_.take_errors();
    }
    try {
      check(root);
    } catch (const YAML::Exception& e) {
      // Not expected: every node is type-checked before use. Reported rather than thrown.
      c_.fail(pos_of_mark(e.mark), "", "internal error while reading YAML: " + e.msg);
    } catch (const std::exception& e) {
      c_.fail({}, "", std::string("internal error while checking the config: ") + e.what());
    }
    if (!c_.ok()) return c_.take_errors();
    config_.source_path = source_path;
    return std::move(config_);
  }

private:
  void check(const YAML::Node& root) {
    const Item top{root, pos_of(root, Pos{1, 1}), ""};
    if (!root.IsMap()) {
      if (!root.IsDefined() || root.IsNull()) {
        c_.fail({}, "", "the file is empty; expected a map with listeners, services and routes");
      } else {
        c_.fail(top, "expected a map at the top level, got " + describe(root));
      }
      return;
    }
    Fields f(c_, top,
             {"workers", "io", "listeners", "services", "routes", "limits", "access_log",
              "drain_timeout", "control", "admin", "state_dir", "trusted_proxies",
              "tls_reload_interval", "shutdown_delay", "resolver", "kubernetes", "gateway",
              "cluster"});

    config_.workers = default_workers();
    if (auto w = f.get("workers")) read_workers(*w);
    if (auto i = f.get("io")) {
      if (auto v = c_.string(*i)) {
        if (*v == "auto")
          config_.io = IoBackend::auto_;
        else if (*v == "epoll")
          config_.io = IoBackend::epoll;
        else if (*v == "io_uring")
          config_.io = IoBackend::io_uring;
        else
          c_.fail(*i, "expected auto, epoll or io_uring, got " + quote(*v));
      }
    }
    if (auto l = f.require("listeners")) read_listeners(*l);
    // With `gateway`, the routes (and their services) may all come from the cluster.
    auto gateway = f.get("gateway");
    if (gateway) read_gateway(c_, *gateway, config_.gateway);
    if (auto s = gateway ? f.get("services") : f.require("services")) read_services(*s);
    if (auto r = gateway ? f.get("routes") : f.require("routes")) read_routes(*r);
    if (auto l = f.get("limits")) read_limits(c_, *l, config_.limits);
    if (auto t = f.get("tls_reload_interval")) {
      if (auto v = c_.duration(*t, false)) config_.tls_reload_interval = *v;
    }
    if (auto a = f.get("access_log")) read_access_log(*a);
    if (auto d = f.get("shutdown_delay")) {
      if (auto v = c_.duration(*d, false)) config_.shutdown_delay = *v;
    }
    if (auto d = f.get("drain_timeout")) {
      if (auto v = c_.duration(*d, false)) config_.drain_timeout = *v;
    }
    if (auto c = f.get("control")) read_control(*c);
    if (auto a = f.get("admin")) read_admin(*a);
    if (auto d = f.get("state_dir")) {
      if (auto v = c_.string(*d)) {
        if (v->empty() || (*v)[0] != '/')
          c_.fail(*d, "expected an absolute directory path, got " + quote(*v));
        else
          config_.state_dir = *v;
      }
    }

    if (auto t = f.get("trusted_proxies")) read_trusted_proxies(*t);
    if (auto r = f.get("resolver")) read_resolver(c_, *r, config_.resolver);
    if (auto k = f.get("kubernetes")) read_kubernetes(c_, *k, base_dir_, config_.kubernetes);
    if (auto cl = f.get("cluster")) read_cluster(c_, *cl, config_.cluster);

    check_references();
  }

  void read_trusted_proxies(const Item& item) {
    if (!c_.expect_list(item)) return;
    for (const Item& element : c_.elements(item)) {
      if (auto v = c_.string(element)) {
        auto net = parse_cidr(*v);
        if (!net)
          c_.fail(element, net.error().message);
        else
          config_.trusted_proxies.push_back(std::move(*net));
      }
    }
  }

  static unsigned default_workers() { return std::max(1u, std::thread::hardware_concurrency()); }

  void read_workers(const Item& item) {
    if (item.node.IsScalar() && item.node.Scalar() == "auto") return;
    const std::string text = item.node.IsScalar() ? item.node.Scalar() : std::string();
    const bool digits =
        !text.empty() && text.size() <= 4 &&
        std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
    const unsigned value = digits ? static_cast<unsigned>(std::stoul(text)) : 0;
    if (value < 1 || value > kMaxWorkers) {
      c_.fail(item, "expected \"auto\" or an integer between 1 and " + std::to_string(kMaxWorkers) +
                        ", got " + describe(item.node));
      return;
    }
    config_.workers = value;
  }

  void read_listeners(const Item& item) {
    auto list = c_.nonempty_list(item, "listener");
    if (!list) return;
    all_listeners_named_ = true;
    for (const Item& element : *list) {
      if (!c_.expect_map(element)) {
        all_listeners_named_ = false;
        continue;
      }
      Fields f(c_, element, {"name", "address", "tls", "redirect_to_https"});
      Listener listener;
      ListenerMarks marks;
      marks.path = element.path;
      if (auto n = f.require("name")) {
        if (auto v = c_.name(*n)) {
          listener.name = *v;
          marks.name = *n;
        }
      }
      if (auto a = f.require("address")) {
        if (auto v = c_.address(*a, true)) {
          listener.address = *v;
          marks.address = *a;
        }
      }
      if (auto t = f.get("tls")) {
        listener.tls.emplace();
        read_listener_tls(c_, *t, base_dir_, *listener.tls);
      }
      if (auto r = f.get("redirect_to_https")) {
        if (listener.tls) {
          c_.fail(*r, "a TLS listener cannot redirect to https: it is https");
        } else if (auto v = c_.integer(*r, 1, 65535)) {
          listener.redirect_to_https = static_cast<uint16_t>(*v);
        }
      }
      if (!marks.name) all_listeners_named_ = false;
      config_.listeners.push_back(std::move(listener));
      listener_marks_.push_back(std::move(marks));
    }
  }

  void read_services(const Item& item) {
    auto list = c_.nonempty_list(item, "service");
    if (!list) return;
    all_services_named_ = true;
    for (const Item& element : *list) {
      if (!c_.expect_map(element)) {
        all_services_named_ = false;
        continue;
      }
      Fields f(c_, element,
               {"namespace", "name", "endpoints", "health_check", "probes", "outlier_detection",
                "max_idle_connections", "tls", "kubernetes"});
      Service service;
      ServiceMarks marks{element.pos, element.path, true};
      if (auto n = f.require("namespace")) {
        if (auto v = c_.name(*n)) {
          service.ns = *v;
        } else {
          marks.valid = false;
        }
      } else {
        marks.valid = false;
      }
      if (auto n = f.require("name")) {
        if (auto v = c_.name(*n)) {
          service.name = *v;
        } else {
          marks.valid = false;
        }
      } else {
        marks.valid = false;
      }
      // Endpoints are listed, or found in Kubernetes: one or the other.
      auto endpoints = f.get("endpoints");
      auto kubernetes = f.get("kubernetes");
      if (endpoints && kubernetes)
        c_.fail(*kubernetes, "a service takes either endpoints or kubernetes, not both "
                             "(kubernetes finds the endpoints)");
      else if (kubernetes)
        read_kubernetes_ref(c_, *kubernetes, service.ns, service.kubernetes.emplace());
      else if (auto e = f.require("endpoints"))
        read_endpoints(c_, *e, service);
      if (auto h = f.get("health_check")) read_health_check(c_, *h, service.health_check);
      if (auto p = f.get("probes")) read_probes(c_, *p, service.probes);
      if (auto o = f.get("outlier_detection"))
        read_outlier_detection(c_, *o, service.outlier_detection);
      if (auto m = f.get("max_idle_connections")) {
        if (auto v = c_.integer(*m, 0, kMaxIdleConnections)) service.max_idle_connections = *v;
      }
      if (auto t = f.get("tls")) read_upstream_tls(c_, *t, base_dir_, service.tls);
      if (!marks.valid) all_services_named_ = false;
      config_.services.push_back(std::move(service));
      service_marks_.push_back(std::move(marks));
    }
  }

  void read_retries(const Item& item, Retries& retries) {
    if (!c_.expect_map(item)) return;
    Fields f(c_, item,
             {"attempts", "on", "budget", "max_body", "retry_other_backend", "per_try_timeout",
              "min_concurrency"});
    if (auto a = f.get("attempts")) {
      if (auto v = c_.integer(*a, 0, kMaxRetryAttempts)) retries.attempts = *v;
    }
    if (auto o = f.get("on")) read_retry_on(*o, retries);
    if (auto b = f.get("budget")) {
      if (auto v = c_.percent(*b)) retries.budget_percent = *v;
    }
    if (auto m = f.get("max_body")) {
      if (auto v = c_.byte_size(*m, kMaxRetryBody)) retries.max_body_bytes = *v;
    }
    if (auto r = f.get("retry_other_backend")) {
      if (auto v = c_.boolean(*r)) retries.retry_other_backend = *v;
    }
    if (auto t = f.get("per_try_timeout")) {
      if (auto v = c_.duration(*t, false)) retries.per_try_timeout = *v;
    }
    if (auto m = f.get("min_concurrency")) {
      if (auto v = c_.integer(*m, 0, kMaxRetryMinConcurrency)) retries.min_concurrency = *v;
    }
  }

  // The conditions listed replace the defaults entirely; an empty list retries on nothing.
  void read_retry_on(const Item& item, Retries& retries) {
    if (!c_.expect_list(item)) return;
    retries.on_connect_failure = false;
    retries.on_reset = false;
    retries.on_status.clear();
    std::set<std::string> seen;
    for (const Item& element : c_.elements(item)) {
      const std::string text = element.node.IsScalar() ? element.node.Scalar() : std::string();
      const auto code = parse_digits(text);
      if (!element.node.IsScalar() || (!code && text != "connect-failure" && text != "reset")) {
        std::string message =
            "expected \"connect-failure\", \"reset\" or a status code from 500 to 599, got " +
            describe(element.node);
        if (element.node.IsScalar()) message += did_you_mean(text, {"connect-failure", "reset"});
        c_.fail(element, message);
        continue;
      }
      if (code && (*code < 500 || *code > 599)) {
        c_.fail(element, "status codes must be between 500 and 599, got " + text);
        continue;
      }
      if (!seen.insert(code ? std::to_string(*code) : text).second) {
        c_.fail(element, quote(text) + " is listed twice");
        continue;
      }
      if (code) {
        retries.on_status.push_back(static_cast<int>(*code));
      } else if (text == "reset") {
        retries.on_reset = true;
      } else {
        retries.on_connect_failure = true;
      }
    }
  }

  void read_routes(const Item& item) {
    auto list = c_.nonempty_list(item, "route");
    if (!list) return;
    for (const Item& element : *list) {
      if (!c_.expect_map(element)) continue;
      std::vector<std::string_view> keys{"name",     "listener", "match",  "backends",
                                         "timeouts", "retries",  "rollout"};
      keys.insert(keys.end(), std::begin(kRouteFilterKeys), std::end(kRouteFilterKeys));
      Fields f(c_, element, keys);
      Route route;
      RouteMarks marks;
      marks.path = element.path;
      marks.match_at = element;
      if (auto n = f.require("name")) {
        if (auto v = c_.name(*n)) {
          route.name = *v;
          marks.name = *n;
        }
      }
      if (auto l = f.require("listener")) {
        if (auto v = c_.name(*l)) {
          route.listener = *v;
          marks.listener = *l;
        }
      }
      if (auto m = f.get("match")) {
        marks.match_at = *m;
        marks.match_ok = read_match(c_, *m, route.matches);
      }
      if (route.matches.empty()) route.matches.emplace_back();
      // A route that redirects answers itself: it needs no backend (HTTPRoute allows none).
      if (f.get("backends") || !f.get("redirect")) {
        if (auto b = f.require("backends")) marks.backends_ok = read_backends(*b, route, marks);
      } else {
        marks.backends_ok = true;
      }
      read_filters(c_, f, route.filters, false, marks.match_ok ? &route.matches : nullptr);
      if (auto m = f.get("mirror")) {
        read_mirror(c_, *m, route.filters.mirror);
        marks.mirror = *m;
      }
      if (auto t = f.get("timeouts")) read_timeouts(*t, route.timeouts);
      if (auto r = f.get("retries")) read_retries(*r, route.retries);
      if (auto r = f.get("rollout")) read_rollout(c_, *r, route.rollout, marks);
      config_.routes.push_back(std::move(route));
      route_marks_.push_back(std::move(marks));
    }
  }

  bool read_backends(const Item& item, Route& route, RouteMarks& marks) {
    auto list = c_.nonempty_list(item, "backend");
    if (!list) return false;
    bool all_ok = true;
    for (const Item& element : *list) {
      if (!c_.expect_map(element)) {
        all_ok = false;
        continue;
      }
      std::vector<std::string_view> keys{"service", "weight"};
      keys.insert(keys.end(), std::begin(kBackendFilterKeys), std::end(kBackendFilterKeys));
      Fields f(c_, element, keys);
      Backend backend;
      BackendMarks bm;
      read_filters(c_, f, backend.filters, true, marks.match_ok ? &route.matches : nullptr);
      if (auto s = f.require("service")) {
        if (auto v = c_.service_id(*s)) {
          backend.service = *v;
          bm.service = *s;
        }
      }
      bm.weight_ok = true;
      if (auto w = f.get("weight")) {
        if (auto v = c_.integer(*w, 0, kMaxWeight)) {
          backend.weight = *v;
        } else {
          bm.weight_ok = false;
        }
      }
      if (!bm.service || !bm.weight_ok) all_ok = false;
      route.backends.push_back(std::move(backend));
      marks.backends.push_back(std::move(bm));
    }
    // Every weight 0 is allowed: the route answers 503 (an operator's way to stop traffic).
    return all_ok;
  }

  void read_timeouts(const Item& item, Timeouts& timeouts) {
    if (!c_.expect_map(item)) return;
    Fields f(c_, item, {"connect", "request", "backend_request", "idle"});
    if (auto i = f.get("connect")) {
      if (auto v = c_.duration(*i, true)) timeouts.connect = *v;
    }
    if (auto i = f.get("request")) {
      if (auto v = c_.duration(*i, true)) timeouts.request = timeouts.upstream_read = *v;
    }
    if (auto i = f.get("backend_request")) {
      if (auto v = c_.duration(*i, true)) {
        // HTTPRoute: one attempt cannot be given longer than the whole request.
        if (timeouts.request.count() > 0 && *v > timeouts.request)
          c_.fail(*i, "must not exceed timeouts.request (" + format_duration(timeouts.request) +
                          "), got " + quote(i->node.Scalar()));
        else
          timeouts.backend_request = *v;
      }
    }
    if (auto i = f.get("idle")) {
      if (auto v = c_.duration(*i, false)) timeouts.idle = *v;
    }
  }

  void read_control(const Item& item) {
    if (!c_.expect_map(item)) return;
    Control& control = config_.control;
    Fields f(c_, item, {"socket", "mode", "group"});
    if (auto p = f.require("socket")) {
      if (auto v = c_.string(*p)) {
        if (v->empty() || (*v)[0] != '/')
          c_.fail(*p, "expected an absolute socket path, got " + quote(*v));
        else if (v->size() > 107)
          c_.fail(*p, "socket path is longer than 107 bytes");
        else
          control.socket = *v;
      }
    }
    if (auto m = f.get("mode")) {
      if (auto v = c_.string(*m)) {
        bool octal =
            !v->empty() && v->size() <= 4 &&
            std::all_of(v->begin(), v->end(), [](char ch) { return ch >= '0' && ch <= '7'; });
        if (!octal)
          c_.fail(*m, "expected an octal file mode like \"0600\", got " + quote(*v));
        else
          control.mode = static_cast<uint32_t>(std::stoul(*v, nullptr, 8));
      }
    }
    if (auto g = f.get("group")) {
      if (auto v = c_.name(*g)) control.group = *v;
    }
    control.enabled = !control.socket.empty();
  }

  void read_admin(const Item& item) {
    if (!c_.expect_map(item)) return;
    Fields f(c_, item, {"address", "dashboard_actions", "token_file"});
    if (auto a = f.require("address")) {
      if (auto v = c_.address(*a, true)) {
        config_.admin.address = *v;
        config_.admin.enabled = true;
      }
    }
    Admin& admin = config_.admin;
    if (auto d = f.get("dashboard_actions")) {
      if (auto v = c_.boolean(*d)) admin.dashboard_actions = *v;
    }
    if (auto t = f.get("token_file")) {
      if (auto v = c_.string(*t)) {
        if (v->empty()) {
          c_.fail(*t, "expected a file path, got \"\"");
        } else {
          admin.token_file = v->front() == '/' || base_dir_.empty() ? *v : base_dir_ + "/" + *v;
          // Read now: a token that cannot be read or is too weak is a config error, not a 403
          // found out later. Read again at each use, so a rotated token needs no reload.
          if (auto token = read_token_file(admin.token_file); !token.ok())
            c_.fail(*t, token.error().message);
        }
      }
    }
    if (admin.dashboard_actions && admin.token_file.empty()) {
      if (auto d = f.get("dashboard_actions"))
        c_.fail(*d, "true needs token_file too: the bearer token a browser must "
                    "send for an action");
    }
  }

  void read_access_log(const Item& item) {
    if (!c_.expect_map(item)) return;
    AccessLog& log = config_.access_log;
    log.enabled = true;
    log.path = "stdout";
    Fields f(c_, item, {"path", "format"});
    if (auto p = f.get("path")) {
      if (auto v = c_.string(*p)) {
        if (v->empty()) {
          c_.fail(*p, "must be \"stdout\", \"stderr\" or a file path, got \"\"");
        } else {
          log.path = *v;
        }
      }
    }
    if (auto fm = f.get("format")) {
      if (auto v = c_.string(*fm)) {
        if (*v != "json") {
          c_.fail(*fm, "unsupported format " + quote(*v) + " (only \"json\" is supported)");
        } else {
          log.format = *v;
        }
      }
    }
  }

  static std::string at_line(const Item& item) { return "line " + std::to_string(item.pos.line); }

  void check_references() {
    // Listeners: unique names and addresses. Port 0 asks the kernel for a fresh port, so any
    // number of listeners may share it.
    std::map<std::string, const Item*> listener_names;
    std::map<std::pair<std::string, uint16_t>, size_t> listener_addresses;
    for (size_t i = 0; i < config_.listeners.size(); ++i) {
      const Listener& l = config_.listeners[i];
      const ListenerMarks& m = listener_marks_[i];
      if (m.name) {
        auto [it, inserted] = listener_names.emplace(l.name, &*m.name);
        if (!inserted) {
          c_.fail(*m.name, "duplicate listener name " + quote(l.name) + " (first defined at " +
                               at_line(*it->second) + ")");
        }
      }
      if (m.address && l.address.port != 0) {
        auto [it, inserted] =
            listener_addresses.emplace(std::pair(l.address.host, l.address.port), i);
        if (!inserted) {
          const ListenerMarks& first = listener_marks_[it->second];
          const std::string label =
              first.name ? "listener " + quote(config_.listeners[it->second].name) : first.path;
          c_.fail(*m.address, "address " + l.address.text() + " is already used by " + label +
                                  " (" + at_line(*first.address) + ")");
        }
      }
    }

    std::map<std::string, size_t> services;
    for (size_t i = 0; i < config_.services.size(); ++i) {
      const ServiceMarks& m = service_marks_[i];
      if (!m.valid) continue;
      const std::string id = config_.services[i].id();
      auto [it, inserted] = services.emplace(id, i);
      if (!inserted) {
        c_.fail(m.pos, m.path,
                "duplicate service " + quote(id) + " (first defined at line " +
                    std::to_string(service_marks_[it->second].pos.line) + ")");
      }
    }

    std::map<std::string, const Item*> route_names;
    // (listener, match_key of an alternative) -> (route index, alternative index)
    std::map<std::pair<std::string, std::string>, std::pair<size_t, size_t>> matches;
    for (size_t i = 0; i < config_.routes.size(); ++i) {
      const Route& r = config_.routes[i];
      const RouteMarks& m = route_marks_[i];
      if (m.name) {
        auto [it, inserted] = route_names.emplace(r.name, &*m.name);
        if (!inserted) {
          c_.fail(*m.name, "duplicate route name " + quote(r.name) + " (first defined at " +
                               at_line(*it->second) + ")");
        }
      }
      if (m.listener && all_listeners_named_ && !listener_names.contains(r.listener))
        c_.fail(*m.listener, "listener " + quote(r.listener) + " is not defined");
      std::set<std::string> seen;
      for (size_t b = 0; b < r.backends.size(); ++b) {
        const BackendMarks& bm = m.backends[b];
        if (!bm.service) continue;
        const std::string& id = r.backends[b].service;
        if (!seen.insert(id).second) {
          c_.fail(*bm.service, "service " + quote(id) + " is listed twice in this route");
          continue;
        }
        if (all_services_named_ && !services.contains(id))
          c_.fail(*bm.service, "service " + quote(id) + " is not defined");
      }
      // A rollout moves traffic between two of the route's own backends. When a backend is
      // malformed, its own error is the one to fix first.
      for (const std::optional<Item>* mark : {&m.rollout_stable, &m.rollout_canary}) {
        if (!*mark || !m.backends_ok) continue;
        const std::string id = (*mark)->node.Scalar();
        if (std::none_of(r.backends.begin(), r.backends.end(),
                         [&](const Backend& b) { return b.service == id; }))
          c_.fail(**mark, "service " + quote(id) + " is not a backend of " + route_label(i));
      }
      check_mirror(i);
      if (m.listener && m.match_ok) check_same_match(i, matches);
    }
  }

  // An alternative equal to one of an earlier route on the same listener would never be chosen
  // (precedence keeps config order on ties): refused, at the alternative.
  void check_same_match(
      size_t i, std::map<std::pair<std::string, std::string>, std::pair<size_t, size_t>>& matches) {
    const Route& r = config_.routes[i];
    const Item& at = route_marks_[i].match_at;
    for (size_t a = 0; a < r.matches.size(); ++a) {
      auto [it, inserted] =
          matches.emplace(std::pair(r.listener, match_key(r.matches[a])), std::pair(i, a));
      if (inserted || it->second.first == i) continue;
      const auto [other, other_a] = it->second;
      const bool listed = at.node.IsSequence();
      const Item place = listed ? c_.elements(at)[a] : at;
      std::string other_label = route_label(other);
      if (config_.routes[other].matches.size() > 1 ||
          route_marks_[other].match_at.node.IsSequence())
        other_label += " (its match[" + std::to_string(other_a) + "])";
      c_.fail(place, std::string(listed ? "this alternative of " : "") + route_label(i) +
                         " has the same match (host, path, method, headers, query) as " +
                         other_label + " on listener " + quote(r.listener) +
                         ": it would never be chosen");
    }
  }

  // A route's mirror goes to a defined service other than the one that already answers every
  // request; a rollout judging divergence has the canary's answers to compare.
  void check_mirror(size_t i) {
    const Route& r = config_.routes[i];
    const RouteMarks& m = route_marks_[i];
    const Mirror& mirror = r.filters.mirror;
    if (m.mirror && mirror.enabled && !mirror.service.empty() && m.mirror->node.IsMap()) {
      const YAML::Node node = m.mirror->node["service"];
      const Item at{node, pos_of(node, m.mirror->pos), join(m.mirror->path, "service")};
      const auto target = std::find_if(config_.services.begin(), config_.services.end(),
                                       [&](const Service& s) { return s.id() == mirror.service; });
      if (all_services_named_ && target == config_.services.end())
        c_.fail(at, "service " + quote(mirror.service) + " is not defined");
      else if (target != config_.services.end() && target->tls.enabled)
        // The mirror thread's client speaks plain HTTP only: refused here rather than every
        // copy dropped at run time.
        c_.fail(at, "service " + quote(mirror.service) +
                        " is reached over TLS; weir mirrors only to plain-HTTP services");
      else if (m.backends_ok && r.backends.size() == 1 && r.backends[0].service == mirror.service)
        c_.fail(at, "service " + quote(mirror.service) +
                        " is the route's only backend: it would get every request twice; mirror "
                        "to another service (a canary, a new version)");
    }
    const RolloutAnalysis& a = r.rollout.analysis;
    if (m.max_divergence && a.max_divergence >= 0) {
      const bool set_mirror =
          std::any_of(r.rollout.steps.begin(), r.rollout.steps.end(), [](const RolloutStep& st) {
            return st.kind == RolloutStep::Kind::set_mirror && st.mirror_percent > 0;
          });
      const bool mirror_to_canary = mirror.enabled && mirror.percent > 0 &&
                                    mirror.service == r.rollout.canary && mirror.compare.enabled;
      if (!set_mirror && !mirror_to_canary)
        c_.fail(*m.max_divergence,
                "has no answers to judge: no step mirrors requests to the canary (add a "
                "`set_mirror: {percent: 10%}` step, or a route mirror to the canary with compare)");
    }
  }

  // "route \"name\"", or its key path when it has no usable name.
  std::string route_label(size_t i) const {
    if (route_marks_[i].name) return "route " + quote(config_.routes[i].name);
    return route_marks_[i].path;
  }

  Checker c_;
  std::string base_dir_; // the config file's directory: where relative TLS file paths start
  Config config_;
  // False when a listener (service) has no usable name: a route naming one that seems undefined
  // may be naming that one, and its own error already says what to fix.
  bool all_listeners_named_ = false;
  bool all_services_named_ = false;
  std::vector<ListenerMarks> listener_marks_;
  std::vector<ServiceMarks> service_marks_;
  std::vector<RouteMarks> route_marks_;
};

} // namespace

std::string ConfigError::format() const {
  std::string out = file.empty() ? "<config>" : file;
  if (line > 0) out += ":" + std::to_string(line) + ":" + std::to_string(column);
  out += ": ";
  if (!key_path.empty()) out += key_path + ": ";
  out += message;
  return out;
}

std::string format_errors(const std::vector<ConfigError>& errors) {
  std::string out;
  for (const ConfigError& e : errors) {
    out += e.format();
    out += '\n';
  }
  return out;
}

const char* hook_type_name(RolloutHook::Type t) {
  switch (t) {
  case RolloutHook::Type::pre_rollout:
    return "pre_rollout";
  case RolloutHook::Type::rollout:
    return "rollout";
  case RolloutHook::Type::confirm_rollout:
    return "confirm_rollout";
  case RolloutHook::Type::confirm_promotion:
    return "confirm_promotion";
  case RolloutHook::Type::post_rollout:
    return "post_rollout";
  case RolloutHook::Type::rollback:
    return "rollback";
  }
  return "pre_rollout";
}

LoadResult load_string(std::string_view yaml, const std::string& file_name) {
  return Loader(file_name).load(yaml, "");
}

LoadResult load_file(const std::string& path) {
  const auto cannot_read = [&](int err) {
    return LoadResult(std::vector<ConfigError>{
        ConfigError{path, 0, 0, "", "cannot read file: " + std::generic_category().message(err)}});
  };
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return cannot_read(errno);
  std::string text;
  char buf[65536];
  while (true) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      return cannot_read(err);
    }
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return Loader(path).load(text, path);
}

} // namespace weir::config
