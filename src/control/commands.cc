// The control socket's command table: every command weirctl and operators can send.
#include "weir/base/build_id.h"
#include "weir/base/clock.h"
#include "weir/config/duration.h"
#include "weir/control/arguments.h"
#include "weir/control/controller.h"

#include <boost/asio/steady_timer.hpp>
#include <charconv>
#include <chrono>
#include <ctime>
#include <unistd.h>

namespace weir::control {

namespace {

// Whether `flag` is among `raw`; the other arguments go to `rest`.
bool take_flag(const Args& raw, std::string_view flag, Args& rest) {
  bool found = false;
  for (const auto& a : raw) {
    if (a == flag)
      found = true;
    else
      rest.push_back(a);
  }
  return found;
}

bool parse_weight(std::string_view text, uint32_t& out) {
  if (text.empty() || text.size() > 7) return false;
  auto r = std::from_chars(text.data(), text.data() + text.size(), out);
  return r.ec == std::errc() && r.ptr == text.data() + text.size() && out <= 1000000;
}

void write_route(json::Writer& w, const runtime::Snapshot& snap, const config::Route& route,
                 size_t index, const char* weights_from) {
  const runtime::Snapshot::Route& r = snap.routes[index];
  uint64_t sum = 0;
  for (const auto& b : r.backends)
    sum += b.effective_weight;
  w.begin_object();
  w.key("name").value(route.name).key("listener").value(route.listener);
  w.key("match").begin_object();
  w.key("host").value(route.matches[0].host.empty() ? "*" : route.matches[0].host);
  w.key("path_prefix").value(route.matches[0].path.value).end_object();
  w.key("weights_from").value(weights_from);
  w.key("backends").begin_array();
  for (const auto& b : r.backends) {
    w.begin_object();
    w.key("service").value(snap.services[b.service].id);
    w.key("configured_weight").value(b.configured_weight);
    w.key("weight").value(b.weight);
    w.key("override").value(b.overridden);
    w.key("effective_weight").value(b.effective_weight);
    w.key("share").value(sum ? static_cast<double>(b.effective_weight) / static_cast<double>(sum)
                             : 0.0);
    w.end_object();
  }
  w.end_array().end_object();
}

// Open connections from every worker to each endpoint, by "service|endpoint".
std::map<std::string, uint64_t> active_by_endpoint(Controller& c) {
  std::map<std::string, uint64_t> active;
  for (const auto& w : c.workers().workers())
    w->metrics().visit(nullptr,
                       [&](const metrics::EndpointKey& key, const metrics::EndpointCells& e) {
                         active[key.service + "|" + key.endpoint] += e.active.get();
                       });
  return active;
}

Controller::Done reply_with(std::shared_ptr<Responder> r,
                            std::function<void(json::Writer&)> fill = nullptr) {
  return [r, fill](Result<std::string> result) {
    if (!result.ok()) return r->reply(error_reply(result.error().message));
    r->reply(ok_reply([&](json::Writer& w) {
      if (!result.value().empty()) w.key("changes").raw(result.value());
      if (fill) fill(w);
    }));
  };
}

} // namespace

// One `watch` stream: a line per interval until the client goes away.
class Controller::Watch : public std::enable_shared_from_this<Watch> {
public:
  Watch(Controller& c, std::shared_ptr<Responder> r, std::string route,
        std::chrono::milliseconds interval)
      : c_(c), r_(std::move(r)), route_(std::move(route)), interval_(interval), timer_(c.io_) {}

  void tick() {
    if (!r_->open()) return;
    r_->stream(line());
    timer_.expires_after(interval_);
    timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (!ec) self->tick();
    });
  }

private:
  std::string line() {
    const runtime::Snapshot& snap = *c_.snapshot_;
    int index = snap.route_index(route_);
    json::Writer w;
    w.begin_object().key("ok").value(true).key("route").value(route_);
    w.key("time").value(utc_now());
    if (index < 0) {
      w.key("error").value("route removed by a reload").end_object();
      return w.take();
    }
    const auto& rs = snap.routes[static_cast<size_t>(index)];
    uint64_t sum = 0;
    for (const auto& b : rs.backends)
      sum += b.effective_weight;
    auto window = std::chrono::duration_cast<std::chrono::seconds>(interval_);
    if (window < std::chrono::seconds(1)) window = std::chrono::seconds(1);
    w.key("window_s").value(static_cast<int64_t>(window.count()));
    w.key("backends").begin_array();
    for (const auto& b : rs.backends) {
      const std::string& id = snap.services[b.service].id;
      metrics::BackendKey key{route_, id};
      auto stats = c_.aggregator_.window(key, window);
      const auto* totals = c_.aggregator_.latest(key);
      w.begin_object().key("service").value(id);
      w.key("weight").value(b.weight);
      w.key("share").value(sum ? static_cast<double>(b.effective_weight) / static_cast<double>(sum)
                               : 0.0);
      w.key("requests").value(totals ? totals->requests : uint64_t{0});
      w.key("errors").value(totals ? totals->upstream_errors : uint64_t{0});
      w.key("rps").value(stats ? stats->rps : 0.0);
      w.key("error_rate").value(stats ? stats->error_rate : 0.0);
      w.key("p50_ms").value(stats ? stats->p50_ms : 0.0);
      w.key("p90_ms").value(stats ? stats->p90_ms : 0.0);
      w.key("p99_ms").value(stats ? stats->p99_ms : 0.0);
      w.end_object();
    }
    w.end_array();
    // A route with a rollout: its state and every event since the last line.
    if (c_.rollout_feed_) {
      std::string feed = c_.rollout_feed_(route_, rollout_cursor_);
      if (!feed.empty()) w.key("rollout").raw(feed);
    }
    w.end_object();
    return w.take();
  }

  Controller& c_;
  std::shared_ptr<Responder> r_;
  std::string route_;
  std::chrono::milliseconds interval_;
  boost::asio::steady_timer timer_;
  uint64_t rollout_cursor_ = 0; // events already streamed
};

std::string Controller::ask_weight_guard(const std::string& route, bool force, std::string command,
                                         const Responder& who) const {
  if (!weight_guard_) return "";
  if (std::string peer = who.peer(); !peer.empty()) command += " (by " + peer + ")";
  return weight_guard_(route, force, command);
}

void Controller::register_commands(CommandTable& table) {
  // Every command that takes a route or a service refuses an unknown one the same way, before
  // its handler runs (the rollout commands too).
  table.set_name_check("ROUTE", {[this](std::string_view route) {
                                   return snapshot_ && snapshot_->route_index(route) >= 0;
                                 },
                                 [](std::string_view route) { return unknown_route(route); }});
  table.set_name_check("NS/SVC",
                       {[this](std::string_view service) {
                          return snapshot_ && snapshot_->service_index(service) >= 0;
                        },
                        [](std::string_view service) { return unknown_service(service); }});
  table.add({"help", "", "list every command with its usage",
             [&table](const Args&, std::shared_ptr<Responder> r) {
               r->reply(ok_reply([&](json::Writer& w) {
                 w.key("commands").begin_array();
                 for (const auto& c : table.commands())
                   w.begin_object()
                       .key("name")
                       .value(c.name)
                       .key("usage")
                       .value(c.usage.empty() ? c.name : c.name + " " + c.usage)
                       .key("help")
                       .value(c.help)
                       .end_object();
                 w.end_array();
               }));
             }});

  table.add({"show routes", "", "routes with match, configured and live weights and shares",
             [this](const Args& args, std::shared_ptr<Responder> r) {
               if (!args.empty()) return r->reply(error_reply("usage: show routes"));
               r->reply(ok_reply([&](json::Writer& w) {
                 w.key("routes").begin_array();
                 for (size_t i = 0; i < config_->routes.size(); ++i)
                   write_route(w, *snapshot_, config_->routes[i], i,
                               weights_owner(config_->routes[i].name));
                 w.end_array();
               }));
             }});

  table.add({"show version", "",
             "the running weir: version, build id (changes with the binary), pid",
             [](const Args& args, std::shared_ptr<Responder> r) {
               if (!args.empty()) return r->reply(error_reply("usage: show version"));
               r->reply(ok_reply([&](json::Writer& w) {
                 w.key("version").value(WEIR_VERSION);
                 w.key("build_id").value(build_id());
                 w.key("pid").value(static_cast<int64_t>(::getpid()));
               }));
             }});

  table.add(
      {"show certs", "", "certificates served by TLS listeners: names, issuer, days left",
       [this](const Args& args, std::shared_ptr<Responder> r) {
         if (!args.empty()) return r->reply(error_reply("usage: show certs"));
         const int64_t now = static_cast<int64_t>(std::time(nullptr));
         r->reply(ok_reply([&](json::Writer& w) {
           w.key("certificates").begin_array();
           for (const auto& [listener, ctx] : tls_.listeners) {
             for (const tls::CertificateInfo& c : ctx->certificates()) {
               w.begin_object();
               w.key("listener").value(listener);
               w.key("names").begin_array();
               for (const std::string& n : c.names)
                 w.value(n);
               w.end_array();
               w.key("subject").value(c.subject);
               w.key("issuer").value(c.issuer);
               w.key("not_before").value(c.not_before);
               w.key("not_after").value(c.not_after);
               // Whole days left, rounded down (0 on its last day, negative once expired).
               const int64_t left = c.not_after - now;
               w.key("days_left").value(left >= 0 ? left / 86400 : -((-left + 86399) / 86400));
               w.key("cert").value(c.cert_file);
               w.key("key").value(c.key_file);
               w.end_object();
             }
           }
           w.end_array();
         }));
       }});

  table.add({"show services", "",
             "services with endpoints, drain state, active requests and open tunnels",
             [this](const Args& args, std::shared_ptr<Responder> r) {
               if (!args.empty()) return r->reply(error_reply("usage: show services"));
               auto active = active_by_endpoint(*this);
               r->reply(ok_reply([&](json::Writer& w) {
                 w.key("services").begin_array();
                 for (const auto& s : snapshot_->services) {
                   w.begin_object().key("service").value(s.id).key("endpoints").begin_array();
                   for (const auto& e : s.endpoints) {
                     w.begin_object();
                     w.key("address").value(e.key);
                     const health::EndpointStatus* hs = checker_.status(s.id, e.key);
                     const config::Service* cs = nullptr;
                     for (const auto& c : config_->services)
                       if (c.id() == s.id) cs = &c;
                     bool checked = cs && cs->health_check.enabled;
                     w.key("health").value(!hs ? "unchecked"
                                           : hs->override_state != health::Override::automatic
                                               ? (hs->override_state == health::Override::up
                                                      ? "up (override)"
                                                      : "down (override)")
                                           : !checked ? "unchecked"
                                                      : health::state_name(hs->state));
                     if (hs && !hs->last_error.empty()) w.key("last_error").value(hs->last_error);
                     w.key("drained").value(e.drained);
                     const Ejection* ej = ejection(s.id, e.key);
                     w.key("ejected").value(ej && ej->active);
                     if (ej) w.key("ejections").value(ej->count);
                     w.key("available").value(!e.drained && !e.down);
                     w.key("active").value(active[s.id + "|" + e.key]);
                     w.end_object();
                   }
                   w.end_array();
                   w.key("ready").value(prober_.ready(s.id));
                   w.key("endpoints_available").value(static_cast<uint64_t>(s.available.size()));
                   w.key("tunnels").value(tunnels_open(s.id));
                   w.key("upstream_connections").value(upstream_connections_open(s.id));
                   // A version a promotion replaced: safe to delete yet, and what is pending.
                   if (std::string cleanup = cleanup_status(s.id); !cleanup.empty())
                     w.key("cleanup").raw(cleanup);
                   if (auto sources = discovery_.status(s.id); !sources.empty()) {
                     w.key("discovery").begin_array();
                     for (const auto& d : sources) {
                       w.begin_object().key("kind").value(d.kind).key("source").value(d.what);
                       w.key("answered").value(d.answered);
                       w.key("endpoints").value(static_cast<uint64_t>(d.endpoints));
                       w.key("updates").value(d.updates).key("failures").value(d.failures);
                       if (!d.last_error.empty()) w.key("last_error").value(d.last_error);
                       if (!d.problem.empty()) w.key("problem").value(d.problem);
                       w.end_object();
                     }
                     w.end_array();
                   }

                   w.end_object();
                 }
                 w.end_array();
               }));
             }});

  table.add(
      {"set weight", "ROUTE NS/SVC=W [NS/SVC=W ...] [--force]",
       "set live weights of a route's backends, on every worker at once (a service that "
       "is not ready gets no share unless --force)",
       [this](const Args& raw_args, std::shared_ptr<Responder> r) {
         Args args;
         bool force = take_flag(raw_args, "--force", args);
         if (args.size() < 2)
           return r->reply(
               error_reply("usage: set weight ROUTE NS/SVC=W [NS/SVC=W ...] [--force]"));
         std::vector<std::pair<std::string, uint32_t>> weights;
         for (size_t i = 1; i < args.size(); ++i) {
           size_t eq = args[i].find('=');
           uint32_t weight = 0;
           if (eq == std::string::npos || eq == 0 ||
               !parse_weight(std::string_view(args[i]).substr(eq + 1), weight))
             return r->reply(error_reply("bad weight \"" + args[i].substr(0, 200) +
                                         "\": expected NS/SVC=W with W from 0 to 1000000"));
           std::string service = args[i].substr(0, eq);
           for (const auto& seen : weights)
             if (seen.first == service) {
               std::string twice = "backend given twice (one weight each): ";
               twice.append(service, 0, 200);
               return r->reply(error_reply(twice));
             }
           weights.emplace_back(std::move(service), weight);
         }
         if (!force) {
           // A version must prove itself (synthetic probes) before it gets traffic.
           for (const auto& [service, weight] : weights) {
             if (weight == 0 || prober_.ready(service)) continue;
             std::string why;
             for (const auto& p : prober_.status(service))
               if (!p.ready())
                 why += (why.empty() ? "" : "; ") + p.name + ": " +
                        (p.ran ? (p.last_passed ? "passed " + std::to_string(p.consecutive_passes) +
                                                      " of " + std::to_string(p.ready_after)
                                                : p.last_failure)
                               : "not run yet");
             return r->reply(error_reply("service \"" + service + "\" is not ready (" + why +
                                         "); use --force to override"));
           }
         }
         std::string route = args[0];
         // A bad argument is refused before the guard: it must not pause a rollout.
         if (std::string e = weights_error(route, weights); !e.empty())
           return r->reply(error_reply(e));
         std::string command = "set weight";
         for (const auto& a : raw_args)
           command += " " + a;
         if (std::string refused = ask_weight_guard(route, force, command, *r); !refused.empty())
           return r->reply(error_reply(refused));
         set_weights(route, weights, reply_with(r, [this, route](json::Writer& w) {
                       int i = snapshot_->route_index(route);
                       if (i < 0) return;
                       w.key("route");
                       write_route(w, *snapshot_, config_->routes[static_cast<size_t>(i)],
                                   static_cast<size_t>(i), weights_owner(route));
                     }));
       }});

  table.add({"clear weight", "ROUTE [--force]",
             "drop the operator's weights of a route: back to its rollout's weights, else the "
             "config file's (--force during a rollout: pauses it)",
             [this](const Args& raw_args, std::shared_ptr<Responder> r) {
               Args args;
               bool force = take_flag(raw_args, "--force", args);
               if (args.size() != 1)
                 return r->reply(error_reply("usage: clear weight ROUTE [--force]"));
               std::string route = args[0];
               if (std::string refused = ask_weight_guard(
                       route, force, "clear weight " + route + (force ? " --force" : ""), *r);
                   !refused.empty())
                 return r->reply(error_reply(refused));
               clear_weights(route, reply_with(r, [this, route](json::Writer& w) {
                               int i = snapshot_->route_index(route);
                               if (i < 0) return;
                               w.key("route");
                               write_route(w, *snapshot_, config_->routes[static_cast<size_t>(i)],
                                           static_cast<size_t>(i), weights_owner(route));
                             }));
             }});

  for (bool drain : {true, false}) {
    std::string name = drain ? "drain" : "undrain";
    table.add({name, "NS/SVC ENDPOINT",
               drain ? "stop sending new requests to an endpoint; in-flight ones finish"
                     : "let a drained endpoint take requests again",
               [this, drain, name](const Args& args, std::shared_ptr<Responder> r) {
                 if (args.size() != 2)
                   return r->reply(error_reply("usage: " + name + " NS/SVC ENDPOINT"));
                 set_drained(args[0], args[1], drain, reply_with(r));
               }});
  }

  table.add({"set health", "NS/SVC ENDPOINT up|down|auto",
             "override an endpoint's health (auto: back to the health checks)",
             [this](const Args& args, std::shared_ptr<Responder> r) {
               if (args.size() != 3 || (args[2] != "up" && args[2] != "down" && args[2] != "auto"))
                 return r->reply(error_reply("usage: set health NS/SVC ENDPOINT up|down|auto"));
               health::Override o = args[2] == "up"     ? health::Override::up
                                    : args[2] == "down" ? health::Override::down
                                                        : health::Override::automatic;
               set_health(args[0], args[1], o, reply_with(r));
             }});

  table.add({"show probes", "[NS/SVC]",
             "synthetic probes per service: last result, passes, failures, latency, reason",
             [this](const Args& args, std::shared_ptr<Responder> r) {
               if (args.size() > 1) return r->reply(error_reply("usage: show probes [NS/SVC]"));
               if (args.size() == 1 && snapshot_->service_index(args[0]) < 0)
                 return r->reply(error_reply("unknown service \"" + args[0] + "\""));
               r->reply(ok_reply([&](json::Writer& w) {
                 w.key("services").begin_array();
                 for (const auto& svc : config_->services) {
                   if (args.size() == 1 && svc.id() != args[0]) continue;
                   w.begin_object().key("service").value(svc.id());
                   w.key("ready").value(prober_.ready(svc.id()));
                   w.key("probes").begin_array();
                   for (const auto& p : prober_.status(svc.id())) {
                     w.begin_object().key("name").value(p.name);
                     w.key("ran").value(p.ran);
                     w.key("last").value(!p.ran ? "none" : p.last_passed ? "pass" : "fail");
                     w.key("passes").value(p.passes).key("failures").value(p.failures);
                     w.key("consecutive_passes").value(p.consecutive_passes);
                     w.key("ready_after").value(p.ready_after);
                     w.key("ready").value(p.ready());
                     w.key("latency_ms").value(p.last_latency_ms);
                     w.key("endpoint").value(p.last_endpoint);
                     w.key("last_failure").value(p.last_failure);
                     w.end_object();
                   }
                   w.end_array().end_object();
                 }
                 w.end_array();
               }));
             }});

  table.add({"reload", "", "re-read the config file; an invalid file changes nothing",
             [this](const Args& args, std::shared_ptr<Responder> r) {
               if (!args.empty()) return r->reply(error_reply("usage: reload"));
               reload(reply_with(r));
             }});

  table.add({"show config", "", "the effective config, live overrides marked",
             [this](const Args& args, std::shared_ptr<Responder> r) {
               if (!args.empty()) return r->reply(error_reply("usage: show config"));
               const config::Config& c = *config_;
               r->reply(ok_reply([&](json::Writer& w) {
                 w.key("config").begin_object();
                 w.key("file").value(config_path_);
                 w.key("workers").value(c.workers);
                 w.key("listeners").begin_array();
                 for (const auto& b : workers_.bound())
                   w.value(b);
                 w.end_array();
                 w.key("services").begin_array();
                 for (const auto& s : snapshot_->services) {
                   w.begin_object().key("service").value(s.id).key("endpoints").begin_array();
                   for (const auto& e : s.endpoints) {
                     w.begin_object().key("address").value(e.key);
                     if (e.drained) w.key("drained").value(true).key("live_override").value(true);
                     w.end_object();
                   }
                   w.end_array().end_object();
                 }
                 w.end_array();
                 w.key("routes").begin_array();
                 for (size_t i = 0; i < c.routes.size(); ++i) {
                   const auto& route = c.routes[i];
                   w.begin_object().key("name").value(route.name);
                   w.key("listener").value(route.listener);
                   w.key("match").begin_object().key("host").value(route.matches[0].host);
                   w.key("path_prefix").value(route.matches[0].path.value).end_object();
                   w.key("timeouts").begin_object();
                   w.key("connect").value(config::format_duration(route.timeouts.connect));
                   w.key("request").value(config::format_duration(route.timeouts.request));
                   w.key("idle").value(config::format_duration(route.timeouts.idle));
                   w.end_object();
                   w.key("backends").begin_array();
                   for (const auto& b : snapshot_->routes[i].backends) {
                     w.begin_object().key("service").value(snapshot_->services[b.service].id);
                     w.key("weight").value(b.weight);
                     if (b.overridden)
                       w.key("configured_weight")
                           .value(b.configured_weight)
                           .key("live_override")
                           .value(true);
                     w.end_object();
                   }
                   w.end_array().end_object();
                 }
                 w.end_array();
                 w.key("drain_timeout").value(config::format_duration(c.drain_timeout));
                 w.key("state_dir").value(c.state_dir);
                 w.key("generation").value(snapshot_->generation);
                 w.end_object();
               }));
             }});

  register_tunnel_commands(table);

  table.add({"watch", "ROUTE [INTERVAL]",
             "stream one line per interval (default 1s) with each backend's weight, traffic, "
             "errors and latency",
             [this](const Args& args, std::shared_ptr<Responder> r) {
               if (args.empty() || args.size() > 2)
                 return r->reply(error_reply("usage: watch ROUTE [INTERVAL]"));
               if (snapshot_->route_index(args[0]) < 0)
                 return r->reply(error_reply(unknown_route(args[0])));
               std::chrono::milliseconds interval(1000);
               if (args.size() == 2) {
                 auto d = parse_duration_argument("watch INTERVAL", args[1]);
                 if (!d) return r->reply(error_reply(d.error().message));
                 if (*d < std::chrono::milliseconds(100) || *d > std::chrono::hours(1))
                   return r->reply(error_reply("watch INTERVAL: must be between 100ms and 1h, "
                                               "got " +
                                               config::format_duration(*d)));
                 interval = *d;
               }
               std::make_shared<Watch>(*this, r, args[0], interval)->tick();
             }});
}

} // namespace weir::control
