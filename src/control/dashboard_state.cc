// What the dashboard polls: /dashboard/state.json, made of the control commands' own replies
// (so the page shows what `weirctl` shows), each plan's status, and the charts' series.
#include "weir/base/json.h"
#include "weir/control/command_table.h"
#include "weir/control/controller.h"
#include "weir/control/dashboard.h"

#include <map>

namespace weir::control {

// The replies a state.json waits for; the last one in composes it.
struct Dashboard::Composition {
  std::string routes, services, probes;
  std::map<std::string, std::string> history; // route with a plan → `rollout history` reply
  size_t pending = 0;
};

namespace {

// Collects one command's reply line into its slot of a composition.
class PartResponder final : public Responder {
public:
  PartResponder(std::string& slot, std::function<void()> arrived)
      : slot_(slot), arrived_(std::move(arrived)) {}
  void reply(std::string line) override {
    if (!arrived_) return;
    slot_ = std::move(line);
    auto arrived = std::move(arrived_);
    arrived_ = nullptr;
    arrived();
  }
  void stream(std::string) override {}
  bool open() const override { return static_cast<bool>(arrived_); }
  std::string peer() const override { return "dashboard"; }

private:
  std::string& slot_;
  std::function<void()> arrived_;
};

int64_t ms_since_epoch(Clock::Wall::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

} // namespace

void Dashboard::record_weights() {
  const auto& snap = controller_.snapshot();
  if (!snap) return;
  const int64_t now_ms = ms_since_epoch(controller_.clock().wall_now());
  std::vector<std::string> names;
  for (const auto& r : snap->routes) {
    WeightHistory::Weights weights;
    for (const auto& b : r.backends)
      weights.emplace_back(snap->services[b.service].id, b.weight);
    weights_.record(r.name, weights, now_ms);
    names.push_back(r.name);
  }
  weights_.keep_only(names);
}

void Dashboard::answer_state(Access access, Respond respond) {
  const auto now = controller_.clock().now();
  if (!state_.empty() && now - state_at_ < kReuse && !waiting_) {
    json::Writer w;
    w.begin_object().key("actions").begin_object();
    w.key("enabled").value(controller_.config().admin.dashboard_actions);
    w.key("authorized").value(access == Access::granted);
    // Not the page's token's fault: it keeps it, and tries again on the next poll.
    if (access == Access::unreadable)
      w.key("problem").value("weir cannot read its token file now (its log says why)");
    w.end_object();
    std::string body = w.take(); // {"actions":{…} — the state's own fields follow
    body.push_back(',');
    body.append(state_, 1, std::string::npos);
    body.push_back('\n');
    return respond({200, "application/json", std::move(body)});
  }
  const bool under_way = static_cast<bool>(waiting_);
  if (!under_way) waiting_ = std::make_shared<std::vector<std::pair<Access, Respond>>>();
  waiting_->emplace_back(access, std::move(respond));
  if (!under_way) compose();
}

void Dashboard::compose() {
  auto c = std::make_shared<Composition>();
  const auto& config = controller_.config();
  for (const auto& r : config.routes)
    if (r.rollout.enabled) c->history[r.name];
  c->pending = 3 + c->history.size();
  std::weak_ptr<bool> alive = alive_;
  auto arrived = [this, c, alive] {
    if (alive.expired() || --c->pending > 0) return;
    // Every reply is in: the state, then every waiting request answered from it.
    record_weights();
    json::Writer w;
    w.begin_object();
    w.key("time_ms").value(ms_since_epoch(controller_.clock().wall_now()));
    w.key("version").value(WEIR_VERSION);
    w.key("routes").raw(c->routes);
    w.key("services").raw(c->services);
    w.key("probes").raw(c->probes);
    w.key("rollouts").begin_object();
    for (const auto& [route, history] : c->history) {
      std::string status = controller_.rollout_status(route);
      if (status.empty()) continue; // its plan went away meanwhile (a reload)
      w.key(route).begin_object();
      w.key("status").begin_object().key("ok").value(true).key("rollout").raw(status).end_object();
      w.key("history").raw(history);
      w.end_object();
    }
    w.end_object();
    w.key("series").begin_object();
    if (const auto& snap = controller_.snapshot()) {
      const auto steady_now = controller_.clock().now();
      const int64_t wall_now_ms = ms_since_epoch(controller_.clock().wall_now());
      for (const auto& r : snap->routes) {
        std::vector<std::string> services;
        for (const auto& b : r.backends)
          services.push_back(snap->services[b.service].id);
        w.key(r.name);
        write_series(w, r.name, services, controller_.aggregator(), weights_, steady_now,
                     wall_now_ms);
      }
    }
    w.end_object();
    w.end_object();
    state_ = w.take();
    state_at_ = controller_.clock().now();
    auto waiting = std::move(waiting_);
    waiting_.reset();
    for (auto& [access, respond] : *waiting)
      answer_state(access, std::move(respond));
  };
  // The same commands as on the control socket, so the page shows what `weirctl` shows.
  commands_.dispatch("show routes", std::make_shared<PartResponder>(c->routes, arrived));
  commands_.dispatch("show services", std::make_shared<PartResponder>(c->services, arrived));
  commands_.dispatch("show probes", std::make_shared<PartResponder>(c->probes, arrived));
  for (auto& [route, history] : c->history)
    commands_.dispatch("rollout history " + route,
                       std::make_shared<PartResponder>(history, arrived));
}

} // namespace weir::control
