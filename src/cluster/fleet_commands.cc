// Rollout commands in a fleet: the leader runs them; any other replica hands them to it through
// the store (commands/ID) and relays its answer (replies/ID) to the operator.
#include "weir/base/json.h"
#include "weir/base/log.h"
#include "weir/cluster/fleet.h"
#include "weir/control/controller.h"
#include "weir/rollout/manager.h"

#include <algorithm>

namespace weir::cluster {

namespace asio = boost::asio;

namespace {

constexpr auto kLeaderAnswers = std::chrono::seconds(10);

// The commands that change a rollout: what only the leader may do.
constexpr const char* kLeaderCommands[] = {"rollout start",  "rollout restart", "rollout pause",
                                           "rollout resume", "rollout promote", "rollout abort",
                                           "rollout undo"};

// The answer the leader gives a command a follower sent: written to the store for the follower,
// which removes it once read; the leader removes what nobody read after a while (Fleet::reply).
class StoreResponder final : public control::Responder {
public:
  StoreResponder(std::function<void(std::string)> reply, std::string from,
                 std::weak_ptr<bool> alive)
      : reply_(std::move(reply)), from_(std::move(from)), alive_(std::move(alive)) {}
  void reply(std::string json_line) override {
    if (!alive_.expired()) reply_(std::move(json_line));
  }
  void stream(std::string) override {}
  bool open() const override { return !alive_.expired(); }
  std::string peer() const override { return "fleet replica " + from_; }

private:
  std::function<void(std::string)> reply_;
  std::string from_;
  std::weak_ptr<bool> alive_;
};

// The route a rollout command names: its first word that is no flag.
std::string route_of(const std::vector<std::string>& words) {
  for (size_t i = 2; i < words.size(); ++i)
    if (!words[i].starts_with("--")) return words[i];
  return "";
}

} // namespace

void Fleet::route_commands() {
  for (const char* name : kLeaderCommands) {
    std::string command = name;
    commands_.wrap(name, [this, command](control::Handler inner) -> control::Handler {
      return [this, command, inner = std::move(inner)](const control::Args& args,
                                                       std::shared_ptr<control::Responder> r) {
        if (!store_ || rollouts_.role() == rollout::Manager::Role::lead) return inner(args, r);
        std::string line = command;
        for (const auto& a : args)
          line += " " + a;
        forward(line, r);
      };
    });
  }
  auto show = [this](const control::Args&, std::shared_ptr<control::Responder> r) {
    r->reply(control::ok_reply([this](json::Writer& w) {
      w.key("fleet");
      write_status(w);
    }));
  };
  commands_.add({"show fleet", "",
                 "the fleet's replicas: leader, versions, last heartbeat, requests/s per route "
                 "and backend",
                 show});
  commands_.add({"fleet", "", "the same as `show fleet`", show});
}

void Fleet::forward(const std::string& line, std::shared_ptr<control::Responder> r) {
  const StoreStatus& st = store_->status();
  if (!st.reachable)
    return r->reply(control::error_reply(
        "the fleet's store is unreachable (" + st.error +
        "): rollout commands go to the leader through it; try again when it answers"));
  if (st.leader_name.empty())
    return r->reply(control::error_reply("the fleet has no leader yet; try again in a moment"));
  std::string id = cluster_.replica + "-" + started_ + "-" + std::to_string(++next_command_);
  json::Writer w;
  w.begin_object().key("from").value(cluster_.replica).key("line").value(line);
  w.key("peer").value(r->peer()).end_object();
  store_->put("commands/" + id, w.take());
  auto p = std::make_unique<Pending>(io_);
  p->responder = std::move(r);
  p->timer.expires_after(kLeaderAnswers);
  std::weak_ptr<bool> alive = alive_;
  std::string leader = st.leader_name;
  p->timer.async_wait([this, alive, id, leader](const boost::system::error_code& ec) {
    if (ec || alive.expired()) return;
    auto it = pending_.find(id);
    if (it == pending_.end()) return;
    it->second->responder->reply(
        control::error_reply("the fleet's leader (" + leader +
                             ") did not answer within 10s; the command may still "
                             "run: see `weirctl rollout status`"));
    pending_.erase(it);
    store_->remove("commands/" + id);
  });
  pending_[id] = std::move(p);
}

void Fleet::to_leader(const std::string& route, const std::string& op, const std::string& why) {
  if (!store_) return;
  std::string id = cluster_.replica + "-" + started_ + "-" + std::to_string(++next_command_);
  // The canary it is about: a late delivery (after a partition) must not abort a later rollout.
  auto status = json::parse(rollouts_.status_json(route));
  std::string canary = status.value ? status.value->get_string("canary") : std::string();
  json::Writer w;
  w.begin_object().key("from").value(cluster_.replica).key("op").value(op);
  w.key("route").value(route).key("canary").value(canary).key("why").value(why).end_object();
  store_->put("commands/" + id, w.take());
}

void Fleet::run_waiting_commands() {
  std::vector<std::pair<std::string, std::string>> waiting;
  for (const auto& [key, value] : store_->data())
    if (key.starts_with("commands/")) waiting.emplace_back(key.substr(9), value);
  for (const auto& [id, value] : waiting)
    run_command(id, value);
}

void Fleet::run_command(const std::string& id, const std::string& value) {
  // The same entry seen twice (its event, then run_waiting_commands): once.
  if (std::find(ops_run_.begin(), ops_run_.end(), id) != ops_run_.end()) return;
  ops_run_.push_back(id);
  if (ops_run_.size() > 256) ops_run_.pop_front();
  store_->remove("commands/" + id);
  auto parsed = json::parse(value);
  if (!parsed.value || !parsed.value->is_object()) {
    log::warn("fleet: command " + id + " unreadable: " + parsed.error);
    return;
  }
  const json::Value& v = *parsed.value;
  std::string from = v.get_string("from");
  if (std::string op = v.get_string("op"); !op.empty()) {
    std::string route = v.get_string("route");
    auto status = json::parse(rollouts_.status_json(route));
    std::string phase = status.value ? status.value->get_string("phase") : std::string();
    if (!status.value || status.value->get_string("canary") != v.get_string("canary") ||
        (phase != "Progressing" && phase != "Paused")) {
      log::info("fleet: " + op + " from " + from + " on " + route +
                " is about a rollout that has ended: nothing to do");
      return;
    }
    std::string why = v.get_string("why") + " (replica " + from + ")";
    std::string err;
    if (op == "abort")
      err = rollouts_.abort(route, why);
    else if (op == "pause")
      err = rollouts_.guard_weights(route, true, why);
    if (!err.empty()) log::info("fleet: " + op + " from " + from + " on " + route + ": " + err);
    return;
  }
  std::string line = v.get_string("line");
  std::vector<std::string> words = control::split_words(line);
  std::string route = route_of(words);
  auto reply = [this, id](std::string json_line) {
    store_->put("replies/" + id, std::move(json_line));
    replies_out_.push_back({id, std::chrono::steady_clock::now()});
  };
  // A leader before this one may have run it and saved the state it produced: not again (the
  // operator hears the state as it is).
  if (!route.empty() && rollouts_.command_ran(route, id)) {
    log::info("fleet: `" + line + "` from replica " + from + " ran before; not again");
    return reply(control::ok_reply(
        [&](json::Writer& w) { w.key("rollout").raw(rollouts_.status_json(route)); }));
  }
  if (!route.empty()) rollouts_.note_command(route, id);
  log::info("fleet: running `" + line + "` for replica " + from);
  commands_.dispatch(line, std::make_shared<StoreResponder>(reply, from, alive_));
}

void Fleet::on_reply(const std::string& id, const std::string& value) {
  auto it = pending_.find(id);
  if (it == pending_.end()) return;
  it->second->timer.cancel();
  it->second->responder->reply(value);
  pending_.erase(it);
  store_->remove("replies/" + id);
}

} // namespace weir::cluster
