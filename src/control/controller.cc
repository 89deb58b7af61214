#include "weir/control/controller.h"

#include "weir/base/log.h"
#include "weir/config/address.h"
#include "weir/config/loader.h"

#include <boost/asio/post.hpp>
#include <cstdio>
#include <cstdlib>

namespace weir::control {

namespace asio = boost::asio;

namespace {

const config::Route* find_route(const config::Config& c, const std::string& name) {
  for (const auto& r : c.routes)
    if (r.name == name) return &r;
  return nullptr;
}

const config::Service* find_service(const config::Config& c, const std::string& id) {
  for (const auto& s : c.services)
    if (s.id() == id) return &s;
  return nullptr;
}

bool same_backends(const config::Route& a, const config::Route& b) {
  if (a.backends.size() != b.backends.size()) return false;
  for (size_t i = 0; i < a.backends.size(); ++i)
    if (a.backends[i].service != b.backends[i].service ||
        a.backends[i].weight != b.backends[i].weight ||
        a.backends[i].filters != b.backends[i].filters)
      return false;
  return true;
}

} // namespace

LiveState prune(const LiveState& live, const config::Config& config) {
  LiveState out;
  out.extra = live.extra;
  for (auto [from, to] : {std::pair{&live.weight_overrides, &out.weight_overrides},
                          {&live.rollout_weights, &out.rollout_weights}})
    for (const auto& [route, weights] : *from) {
      const config::Route* r = find_route(config, route);
      if (!r) continue;
      for (const auto& [service, weight] : weights)
        for (const auto& b : r->backends)
          if (b.service == service) (*to)[route][service] = weight;
    }
  for (const auto& [service, endpoints] : live.drained) {
    const config::Service* s = find_service(config, service);
    if (!s) continue;
    for (const auto& e : endpoints)
      for (const auto& a : s->endpoints)
        if (a.text() == e) out.drained[service].insert(e);
  }
  return out;
}

Controller::Controller(asio::io_context& io, std::string config_path,
                       std::shared_ptr<const config::Config> config, Clock& clock)
    : io_(io), clock_(clock), config_path_(std::move(config_path)), file_config_(config),
      config_(std::move(config)), metrics_timer_(io),
      checker_(io, [this](const std::string&, const std::string&,
                          const health::EndpointStatus&) { republish(); }),
      prober_(io, [this](const std::string&, bool) {}), ejection_timer_(io),
      ticket_keys_(std::make_shared<tls::TicketKeys>()), tls_timer_(io), ticket_timer_(io),
      discovery_(
          io,
          [this](const std::string& service, const discovery::Found& found) {
            set_discovered(service, found);
          },
          [](const char* name) -> const char* { return std::getenv(name); }) {}

runtime::Snapshot::Overrides Controller::overrides(const config::Config& config,
                                                   const LiveState& live) const {
  // A route's rollout weights, with the operator's overrides on top (they win while present).
  auto weights = live.rollout_weights;
  for (const auto& [route, backends] : live.weight_overrides)
    for (const auto& [service, weight] : backends)
      weights[route][service] = weight;
  runtime::Snapshot::Overrides o{
      std::move(weights), live.drained, {}, fast_abort_.epochs(), fast_abort_routes_};
  for (const auto& svc : config.services)
    for (const auto& ep : svc.endpoints) {
      if (ejections_.ejected(svc.id(), ep.text()) || !checker_.available(svc.id(), ep.text()))
        o.down[svc.id()].insert(ep.text());
    }
  apply_discovery(config, o);
  o.mirrors = rollout_mirrors_;
  o.header_routes = rollout_header_routes_;
  return o;
}

void Controller::republish() {
  if (!started_) return;
  auto published = publish(config_, live_, [] {});
  if (!published.ok()) log::error("could not publish health change: " + published.error().message);
}

void Controller::on_outlier(const std::string& service, const std::string& endpoint) {
  const config::Service* s = find_service(*config_, service);
  if (!s || !s->outlier_detection.enabled) return;
  Ejections::Outcome out = ejections_.eject(*s, endpoint, clock_.now());
  if (!out.refused.empty()) {
    log::warn("outlier: " + service + " " + endpoint + " not ejected: " + out.refused);
    return;
  }
  if (!out.ejected) return; // out already
  log::info("outlier: " + service + " " + endpoint + " ejected for " +
            std::to_string(out.duration.count()) + "ms (ejection " +
            std::to_string(ejections_.find(service, endpoint)->count) + ")");
  schedule_ejection_end();
  republish();
}

void Controller::on_fast_abort_report(const runtime::FastAbortReport& report) {
  if (!report.error)
    return fast_abort_.success(report.route, report.service, report.worker, report.epoch);
  // The threshold in force now: a reload that changed it applies to the next error.
  int i = snapshot_->route_index(report.route);
  uint32_t threshold = i < 0 ? 0 : snapshot_->routes[static_cast<size_t>(i)].fast_abort_errors;
  auto trip = fast_abort_.error(report.route, report.service, report.worker, report.epoch,
                                threshold, clock_.now());
  if (trip && fast_abort_handler_) fast_abort_handler_(*trip);
}

void Controller::reset_fast_abort(const std::string& route) {
  fast_abort_.reset(route);
  fast_abort_routes_.insert(route);
  republish();
}

void Controller::stop_fast_abort(const std::string& route) {
  if (fast_abort_routes_.erase(route)) republish();
}

void Controller::schedule_ejection_end() {
  std::optional<Ejections::TimePoint> next = ejections_.next_end();
  if (!next) {
    ejection_timer_.cancel();
    return;
  }
  // Relative to the injected clock: the timer only wakes end_ejections(), which decides by it.
  auto left = *next - clock_.now();
  ejection_timer_.expires_after(std::max(left, Clock::Steady::duration::zero()));
  ejection_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) end_ejections();
  });
}

void Controller::end_ejections() {
  auto back = ejections_.expire(clock_.now());
  for (const auto& [service, endpoint] : back)
    log::info("outlier: " + service + " " + endpoint + " back after ejection");
  if (!back.empty()) republish();
  schedule_ejection_end();
}

void Controller::set_extra(const std::string& key, std::string json) {
  live_.extra[key] = std::move(json);
  std::string saved = persist();
  if (!saved.empty()) log::error("state file not written: " + saved);
  live_changed(LiveChange::Kind::extra, key);
}

void Controller::set_health(const std::string& service, const std::string& endpoint,
                            health::Override override_state, Done done) {
  if (!checker_.set_override(service, endpoint, override_state, *config_))
    return done(Error{ErrorSource::config,
                      "unknown endpoint \"" + endpoint + "\" of service \"" + service + "\""});
  if (health_listener_) health_listener_(service, endpoint, override_state);
  done(std::string());
}

Result<bool> Controller::start(Inherited* inherited) {
  taking_over_ = inherited != nullptr;
  if (inherited) {
    live_ = prune(inherited->live, *config_);
  } else if (!config_->state_dir.empty()) {
    std::string error;
    auto loaded = load_state(config_->state_dir, &error);
    if (loaded) {
      live_ = prune(*loaded, *config_);
    } else {
      // load_state() has moved a corrupt file aside already.
      log::error("state file unreadable, starting without live overrides: " + error);
    }
  }
  std::string error;
  // The old process's ticket keys: what its clients hold resumes here. Its rotation clock
  // starts over (a key lives at most one period longer).
  if (inherited && !inherited->ticket_keys.empty() &&
      !ticket_keys_->import_keys(inherited->ticket_keys))
    log::warn("upgrade: the session ticket keys handed over are unreadable; new ones are used");
  tls_stamps_ = stamp_files(tls::Contexts::files_of(*config_)); // before: see check_tls_files
  auto contexts = tls::Contexts::build(*config_, ticket_keys_, std::time(nullptr));
  if (!contexts.ok()) return contexts.error();
  tls_ = std::move(*contexts);
  checker_.set_tls(&tls_); // health checks and probes speak TLS to TLS services
  prober_.set_tls(&tls_);
  if (inherited) {
    // What the old process had found is in force from the start: its endpoints, and what its
    // health checks said of them (seeded below).
    // Only for services this config discovers the same way: what was found for other sources
    // (the new config changed them) is not this process's to use.
    for (const auto& [id, found] : inherited->discovered) {
      const config::Service* s = find_service(*file_config_, id);
      if (s && s->discovered() && discovery::source_key(*s, *file_config_) == found.source)
        discovered_[id] = found;
    }
    config_ = with_discovered(*file_config_);
  }
  checker_.configure(*config_);
  prober_.configure(*config_);
  if (inherited) {
    for (const auto& f : inherited->checks)
      checker_.seed(f);
    for (const auto& o : inherited->health)
      checker_.set_override(o.service, o.endpoint, o.state, *config_); // unknown ones: gone
  }
  snapshot_ =
      runtime::Snapshot::build(config_, overrides(*config_, live_), ++generation_, &error, &tls_);
  if (!snapshot_) return Error{ErrorSource::config, error};
  std::vector<runtime::ListenerSockets> sockets;
  if (inherited) sockets = std::move(inherited->sockets);
  auto started = workers_.start(
      snapshot_,
      [this](const std::string& svc, const std::string& ep) {
        asio::post(io_, [this, svc, ep] { on_outlier(svc, ep); });
      },
      [this](runtime::FastAbortReport report) {
        asio::post(io_, [this, report = std::move(report)] { on_fast_abort_report(report); });
      },
      std::move(sockets), inherited != nullptr);
  if (!started.ok()) return started;
  started_ = true;
  discovery_.configure(*file_config_, inherited ? inherited->discovered
                                                : std::map<std::string, discovery::Found>{});
  configure_gateway();
  sample_metrics();
  schedule_tls_check();
  schedule_ticket_rotation();
  return true;
}

void Controller::finish_takeover(const Inherited& latest) {
  // The old process may have changed its state since it handed it over (it served and took
  // commands until this one was ready): its last word wins. Endpoints it found first, so the
  // checks it made of them are seeded below.
  discovery_.refresh_inherited(latest.discovered);
  for (const auto& o : checker_.overrides()) {
    bool kept = false;
    for (const auto& l : latest.health)
      kept = kept || (l.service == o.service && l.endpoint == o.endpoint);
    if (!kept) checker_.set_override(o.service, o.endpoint, health::Override::automatic, *config_);
  }
  for (const auto& f : latest.checks)
    checker_.seed(f);
  for (const auto& o : latest.health)
    checker_.set_override(o.service, o.endpoint, o.state, *config_);
  // Published before the workers accept (each worker takes its posts in order), and written to
  // the state file, which is this process's from now on.
  taking_over_ = false;
  auto published = publish(config_, prune(latest.live, *config_), [] {});
  if (!published.ok())
    log::error("upgrade: the old process's last state: " + published.error().message);
  workers_.release_accepting();
}

std::string Controller::handover_state() const {
  json::Writer w;
  w.begin_object().key("live").raw(to_json(live_)).key("health").begin_array();
  for (const auto& o : checker_.overrides())
    w.begin_object()
        .key("service")
        .value(o.service)
        .key("endpoint")
        .value(o.endpoint)
        .key("state")
        .value(health::override_name(o.state))
        .end_object();
  w.end_array().key("checks").begin_array();
  for (const auto& f : checker_.findings())
    w.begin_object()
        .key("service")
        .value(f.service)
        .key("endpoint")
        .value(f.endpoint)
        .key("state")
        .value(health::state_name(f.state))
        .key("successes")
        .value(f.successes)
        .key("failures")
        .value(f.failures)
        .end_object();
  w.end_array();
  w.key("ticket_keys").value(ticket_keys_->export_keys());
  w.key("discovered").begin_object();
  for (const auto& [service, found] : discovered_) {
    w.key(service).begin_object().key("source").value(found.source).key("endpoints").begin_array();
    for (const auto& a : found.endpoints)
      w.value(a.text());
    w.end_array().key("terminating").begin_array();
    for (const auto& t : found.terminating)
      w.value(t);
    w.end_array().end_object();
  }
  w.end_object();
  return w.end_object().take();
}

std::string Controller::parse_handover_state(std::string_view text, Inherited& into) {
  auto parsed = json::parse(text);
  if (!parsed.value || !parsed.value->is_object()) return "state: not a JSON object";
  const json::Value* live = parsed.value->find("live");
  if (!live) return "state: no \"live\"";
  json::Writer w;
  w.value(*live);
  std::string error;
  auto state = from_json(w.str(), &error);
  if (!state) return "state: " + error;
  into.live = std::move(*state);
  if (const json::Value* health = parsed.value->find("health"); health && health->is_array())
    for (const auto& o : health->as_array()) {
      const std::string s = o.get_string("state");
      if (s != "up" && s != "down") continue;
      into.health.push_back({o.get_string("service"), o.get_string("endpoint"),
                             s == "up" ? health::Override::up : health::Override::down});
    }
  if (const json::Value* checks = parsed.value->find("checks"); checks && checks->is_array())
    for (const auto& c : checks->as_array()) {
      const std::string s = c.get_string("state");
      if (s != "up" && s != "down") continue;
      into.checks.push_back({c.get_string("service"), c.get_string("endpoint"),
                             s == "up" ? health::State::up : health::State::down,
                             static_cast<uint32_t>(c.get_number("successes")),
                             static_cast<uint32_t>(c.get_number("failures"))});
    }
  into.ticket_keys = parsed.value->get_string("ticket_keys");
  if (const json::Value* d = parsed.value->find("discovered"); d && d->is_object())
    for (const auto& [service, f] : d->as_object()) {
      discovery::Found found;
      found.source = f.get_string("source");
      if (const json::Value* e = f.find("endpoints"); e && e->is_array())
        for (const auto& a : e->as_array())
          if (auto parsed_address =
                  config::parse_address(a.is_string() ? a.as_string() : "", false))
            found.endpoints.push_back(*parsed_address);
      if (const json::Value* t = f.find("terminating"); t && t->is_array())
        for (const auto& a : t->as_array())
          if (a.is_string()) found.terminating.insert(a.as_string());
      into.discovered[service] = std::move(found);
    }
  return "";
}

void Controller::stop() {
  gateway_.reset();
  discovery_.stop();
  metrics_timer_.cancel();
  ejection_timer_.cancel();
  tls_timer_.cancel();
  ticket_timer_.cancel();
}

void Controller::sample_metrics() {
  std::vector<const metrics::Registry*> registries;
  for (const auto& w : workers_.workers())
    registries.push_back(&w->metrics());
  auto now = clock_.now();
  aggregator_.sample(registries, now);
  synthetic_aggregator_.sample({&synthetic_metrics_}, now);
  metrics_timer_.expires_after(std::chrono::seconds(1));
  metrics_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) sample_metrics();
  });
}

Result<bool> Controller::publish(std::shared_ptr<const config::Config> config, LiveState live,
                                 std::function<void()> applied, const tls::Contexts* tls) {
  std::string error;
  // Health and ejections are the control thread's current view; they are not saved.
  auto snapshot = runtime::Snapshot::build(config, overrides(*config, live), generation_ + 1,
                                           &error, tls ? tls : &tls_);
  if (!snapshot) return Error{ErrorSource::config, error};
  auto published = workers_.publish(snapshot, [this, applied = std::move(applied)] {
    asio::post(io_, applied); // the last worker acknowledged; continue on the control thread
  });
  if (!published.ok()) return published;
  ++generation_;
  if (tls) tls_ = *tls;
  config_ = std::move(config);
  live_ = std::move(live);
  snapshot_ = std::move(snapshot);
  std::string saved = persist();
  if (!saved.empty()) log::error("state file not written: " + saved);
  live_changed(LiveChange::Kind::republished, "");
  return true;
}

std::string Controller::persist() {
  // Before an upgrade's commit the file is the old process's; after a handover, the new one's.
  if (config_->state_dir.empty() || handed_off_ || taking_over_) return {};
  return save_state(config_->state_dir, live_);
}

std::string
Controller::weights_error(const std::string& route,
                          const std::vector<std::pair<std::string, uint32_t>>& weights) const {
  const config::Route* r = find_route(*config_, route);
  if (!r) return "unknown route \"" + route + "\"";
  for (const auto& [service, weight] : weights) {
    bool found = false;
    for (const auto& b : r->backends)
      found = found || b.service == service;
    if (!found) return "route \"" + route + "\" has no backend \"" + service + "\"";
  }
  return "";
}

void Controller::set_weights(const std::string& route,
                             const std::vector<std::pair<std::string, uint32_t>>& weights,
                             Done done) {
  if (std::string e = weights_error(route, weights); !e.empty())
    return done(Error{ErrorSource::config, e});
  LiveState next = live_;
  for (const auto& [service, weight] : weights)
    next.weight_overrides[route][service] = weight;
  auto published = publish(config_, std::move(next), [done] { done(std::string()); });
  if (!published.ok()) return done(published.error());
  live_changed(LiveChange::Kind::weights, route);
}

void Controller::set_rollout_weights(const std::string& route,
                                     const std::vector<std::pair<std::string, uint32_t>>& weights,
                                     Done done) {
  const config::Route* r = find_route(*config_, route);
  if (!r) return done(Error{ErrorSource::config, "unknown route \"" + route + "\""});
  LiveState next = live_;
  for (const auto& [service, weight] : weights) {
    bool found = false;
    for (const auto& b : r->backends)
      found = found || b.service == service;
    if (!found)
      return done(
          Error{ErrorSource::config, "route \"" + route + "\" has no backend \"" + service + "\""});
    next.rollout_weights[route][service] = weight;
  }
  auto published = publish(config_, std::move(next), [done] { done(std::string()); });
  if (!published.ok()) return done(published.error());
  live_changed(LiveChange::Kind::rollout_weights, route);
}

void Controller::clear_rollout_weights(const std::string& route, Done done) {
  LiveState next = live_;
  if (!next.rollout_weights.erase(route)) return done(std::string());
  auto published = publish(config_, std::move(next), [done] { done(std::string()); });
  if (!published.ok()) return done(published.error());
  live_changed(LiveChange::Kind::rollout_weights, route);
}

void Controller::set_rollout_mirror(const std::string& route, const std::string& service,
                                    double percent, bool safe_methods_only) {
  runtime::Snapshot::Overrides::Mirror m{service, percent, safe_methods_only};
  auto [it, added] = rollout_mirrors_.try_emplace(route, m);
  if (!added && it->second == m) return;
  it->second = m;
  republish();
}

void Controller::clear_rollout_mirror(const std::string& route) {
  if (rollout_mirrors_.erase(route)) republish();
}

void Controller::set_rollout_header_routes(const std::string& route,
                                           runtime::Snapshot::Overrides::HeaderRoutes routes) {
  if (routes.routes.empty()) {
    if (rollout_header_routes_.erase(route)) republish();
    return;
  }
  auto [it, added] = rollout_header_routes_.try_emplace(route, routes);
  if (!added && it->second == routes) return;
  it->second = std::move(routes);
  republish();
}

const char* Controller::weights_owner(const std::string& route) const {
  if (auto it = live_.weight_overrides.find(route);
      it != live_.weight_overrides.end() && !it->second.empty())
    return "operator";
  if (auto it = live_.rollout_weights.find(route);
      it != live_.rollout_weights.end() && !it->second.empty())
    return "rollout";
  return "config";
}

void Controller::clear_weights(const std::string& route, Done done) {
  if (!find_route(*config_, route))
    return done(Error{ErrorSource::config, "unknown route \"" + route + "\""});
  LiveState next = live_;
  next.weight_overrides.erase(route);
  auto published = publish(config_, std::move(next), [done] { done(std::string()); });
  if (!published.ok()) return done(published.error());
  live_changed(LiveChange::Kind::weights, route);
}

void Controller::set_drained(const std::string& service, const std::string& endpoint, bool drained,
                             Done done) {
  const config::Service* s = find_service(*config_, service);
  if (!s) return done(Error{ErrorSource::config, "unknown service \"" + service + "\""});
  bool found = false;
  for (const auto& a : s->endpoints)
    found = found || a.text() == endpoint;
  if (!found)
    return done(Error{ErrorSource::config,
                      "service \"" + service + "\" has no endpoint \"" + endpoint + "\""});
  LiveState next = live_;
  if (drained) {
    next.drained[service].insert(endpoint);
  } else {
    next.drained[service].erase(endpoint);
    if (next.drained[service].empty()) next.drained.erase(service);
  }
  auto published = publish(config_, std::move(next), [done] { done(std::string()); });
  if (!published.ok()) return done(published.error());
  live_changed(LiveChange::Kind::drained, service);
}

void Controller::reload(Done done) {
  if (reload_refusal_) {
    if (std::string why = reload_refusal_(); !why.empty()) {
      ++reloads_failed_;
      log::error("reload refused: " + why);
      return done(Error{ErrorSource::config, why});
    }
  }
  if (notifier_ && notifier_->enabled()) {
    notifier_->reloading();
    done = [this, reply = std::move(done)](Result<std::string> r) {
      notifier_->ready();
      reply(std::move(r));
    };
  }
  auto loaded = config::load_file(config_path_);
  if (auto* errors = std::get_if<std::vector<config::ConfigError>>(&loaded)) {
    ++reloads_failed_;
    std::string text = config::format_errors(*errors);
    if (!text.empty() && text.back() == '\n') text.pop_back();
    log::error("reload refused, running config kept:\n" + text);
    return done(Error{ErrorSource::config, text});
  }
  auto next_file =
      std::make_shared<const config::Config>(std::move(std::get<config::Config>(loaded)));
  // What discovery found stays in force for the services whose sources the file keeps.
  auto next = with_discovered(*next_file);
  // Certificate and key files are read again on every reload, changed or not: a reload is how
  // an operator says "the files are new". A file that went bad since it was checked refuses
  // the reload like a bad config.
  std::vector<std::string> next_stamps = stamp_files(tls::Contexts::files_of(*next));
  auto contexts = tls::Contexts::build(*next, ticket_keys_, std::time(nullptr));
  if (!contexts.ok()) {
    ++reloads_failed_;
    log::error("reload refused, running config kept: " + contexts.error().message);
    return done(contexts.error());
  }
  auto next_tls = std::make_shared<tls::Contexts>(std::move(*contexts));
  const config::Config& old = *file_config_;
  json::Writer w;
  w.begin_object();
  auto names = [&](const char* key, const std::vector<std::string>& list) {
    w.key(key).begin_array();
    for (const auto& n : list)
      w.value(n);
    w.end_array();
  };
  std::vector<std::string> added, removed, changed, kept_overrides, dropped_overrides;
  for (const auto& r : next->routes) {
    const config::Route* before = find_route(old, r.name);
    if (!before)
      added.push_back(r.name);
    else if (!same_backends(*before, r) || before->listener != r.listener ||
             before->matches != r.matches || before->filters != r.filters ||
             before->timeouts.connect != r.timeouts.connect ||
             before->timeouts.request != r.timeouts.request ||
             before->timeouts.backend_request != r.timeouts.backend_request ||
             before->timeouts.idle != r.timeouts.idle || before->retries != r.retries ||
             before->rollout != r.rollout)
      changed.push_back(r.name);
  }
  for (const auto& r : old.routes)
    if (!find_route(*next, r.name)) removed.push_back(r.name);
  // Live weights stay unless the file changed that route's backends: then the file wins.
  LiveState live = live_;
  for (auto it = live.weight_overrides.begin(); it != live.weight_overrides.end();) {
    const config::Route* before = find_route(old, it->first);
    const config::Route* after = find_route(*next, it->first);
    if (before && after && same_backends(*before, *after)) {
      kept_overrides.push_back(it->first);
      ++it;
    } else {
      dropped_overrides.push_back(it->first);
      it = live.weight_overrides.erase(it);
    }
  }
  // A rollout's weights stay while the services they name are backends of the route (prune):
  // the plan still owns the route, whatever else the file changed (the manager hears of the
  // reload and ends a rollout whose plan is gone).
  live = prune(live, *next);
  std::vector<std::string> services_added, services_removed, listeners_added, listeners_removed;
  for (const auto& s : next_file->services)
    if (!find_service(old, s.id())) services_added.push_back(s.id());
  for (const auto& s : old.services)
    if (!find_service(*next_file, s.id())) services_removed.push_back(s.id());
  // What else a reload applies now, so a reply to a file that changed only these does not read
  // "no changes".
  std::vector<std::string> services_changed, settings_changed;
  if (next_file->resolver != old.resolver) settings_changed.push_back("resolver");
  if (next_file->kubernetes != old.kubernetes) settings_changed.push_back("kubernetes");
  for (const auto& s : next_file->services)
    if (const config::Service* before = find_service(old, s.id()); before && !(*before == s))
      services_changed.push_back(s.id());
  if (next->limits != old.limits) settings_changed.push_back("limits");
  if (next->drain_timeout != old.drain_timeout) settings_changed.push_back("drain_timeout");
  if (next->trusted_proxies != old.trusted_proxies) settings_changed.push_back("trusted_proxies");
  if (next_stamps != tls_stamps_) settings_changed.push_back("certificates");
  for (const auto& l : next->listeners) {
    bool existed = false;
    for (const auto& o : old.listeners)
      existed = existed || o.address == l.address;
    if (!existed) listeners_added.push_back(l.name + " " + l.address.text());
  }
  for (const auto& o : old.listeners) {
    bool stays = false;
    for (const auto& l : next->listeners)
      stays = stays || o.address == l.address;
    if (!stays) listeners_removed.push_back(o.name + " " + o.address.text());
  }
  names("routes_added", added);
  names("routes_removed", removed);
  names("routes_changed", changed);
  names("services_added", services_added);
  names("services_removed", services_removed);
  names("services_changed", services_changed);
  names("settings_changed", settings_changed);
  names("listeners_added", listeners_added);
  names("listeners_removed", listeners_removed);
  names("overrides_kept", kept_overrides);
  names("overrides_dropped", dropped_overrides);
  std::vector<std::string> restart_only;
  if (next->workers != old.workers) restart_only.push_back("workers");
  if (next->io != old.io) restart_only.push_back("io");
  if (next->control.socket != old.control.socket || next->control.mode != old.control.mode ||
      next->control.group != old.control.group)
    restart_only.push_back("control");
  if (next->access_log.path != old.access_log.path ||
      next->access_log.enabled != old.access_log.enabled)
    restart_only.push_back("access_log");
  if (next->admin.address != old.admin.address || next->admin.enabled != old.admin.enabled)
    restart_only.push_back("admin");
  if (next->cluster != old.cluster) restart_only.push_back("cluster");
  names("need_restart", restart_only);
  w.end_object();
  std::string fields = w.take();
  auto published = publish(
      next, std::move(live),
      [this, done, fields] {
        checker_.configure(*config_);
        prober_.configure(*config_);
        if (reload_listener_) reload_listener_();
        ++reloads_ok_;
        log::info("config reloaded from " + config_path_);
        // tls_reload_interval may have changed: the file watch starts over with the new one.
        tls_timer_.cancel();
        schedule_tls_check();
        done(fields);
      },
      next_tls.get());
  if (published.ok()) {
    tls_stamps_ = std::move(next_stamps);
    file_config_ = std::move(next_file);
    config::Config base = *file_config_; // with the cluster's services, found the same way
    with_gateway(base);
    discovery_.configure(base); // starts, keeps or stops sources
    forget_undiscovered();
    configure_gateway();
  }
  if (!published.ok()) {
    ++reloads_failed_;
    log::error("reload refused: " + published.error().message);
    done(published.error());
  }
}

} // namespace weir::control
