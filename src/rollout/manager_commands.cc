// The `rollout …` control commands (kubectl argo rollouts' verbs where they fit).
#include "manager_state.h"
#include "weir/base/json.h"

namespace weir::rollout {

// While a command's handler runs, the events it records carry who sent it (its peer).
class Manager::OriginScope {
public:
  OriginScope(Manager& m, const control::Responder& who) : m_(m), before_(m.origin_) {
    m_.origin_ = who.peer();
  }
  ~OriginScope() { m_.origin_ = before_; }
  OriginScope(const OriginScope&) = delete;
  OriginScope& operator=(const OriginScope&) = delete;

private:
  Manager& m_;
  std::string before_;
};

void Manager::register_commands(control::CommandTable& table) {
  using control::Args;
  using control::Responder;
  // A command's reply waits until every worker uses the weights it set (as `set weight`'s
  // does), and then tells the status.
  auto reply_status = [this](const std::shared_ptr<Responder>& r, const std::string& route) {
    std::weak_ptr<bool> alive = alive_;
    host_.after_applied([this, alive, r, route] {
      if (alive.expired()) return;
      r->reply(
          control::ok_reply([&](json::Writer& w) { w.key("rollout").raw(status_json(route)); }));
    });
  };
  // CommandTable::dispatch has checked every command's arguments against its usage line (a
  // ROUTE is there, nothing unexpected, flags anywhere) before a handler runs.
  auto simple = [this, reply_status](std::string name, std::string help,
                                     std::function<std::string(const std::string&)> op) {
    return control::Command{
        "rollout " + name, "ROUTE", std::move(help),
        [this, op, reply_status](const Args& args, std::shared_ptr<Responder> r) {
          OriginScope origin(*this, *r);
          std::string err = op(args[0]);
          if (!err.empty()) return r->reply(control::error_reply(err));
          reply_status(r, args[0]);
        }};
  };
  // The same with one flag ("ROUTE [--full]"), which may stand before or after the route.
  auto with_flag = [this, reply_status](std::string name, std::string flag, std::string help,
                                        std::function<std::string(const std::string&, bool)> op) {
    return control::Command{
        "rollout " + name, "ROUTE [" + flag + "]", std::move(help),
        [this, flag, op, reply_status](const Args& args, std::shared_ptr<Responder> r) {
          bool set = false;
          std::string route;
          for (const auto& a : args) {
            if (a == flag)
              set = true;
            else
              route = a;
          }
          OriginScope origin(*this, *r);
          std::string err = op(route, set);
          if (!err.empty()) return r->reply(control::error_reply(err));
          reply_status(r, route);
        }};
  };
  // start and restart answer once the pre_rollout hooks have (at once without any).
  auto reply_when_done = [reply_status](std::shared_ptr<Responder> r, std::string route) {
    return [r, route, reply_status](std::string err) {
      if (!err.empty()) return r->reply(control::error_reply(err));
      reply_status(r, route);
    };
  };
  table.add({"rollout start", "ROUTE [CANARY]",
             "start the route's rollout plan (after a promotion from the promoted version, after "
             "an abort or undo with the same versions); waits for pre_rollout hooks",
             [this, reply_when_done](const Args& args, std::shared_ptr<Responder> r) {
               OriginScope origin(*this, *r);
               std::string err =
                   begin(args[0], args.size() == 2 ? args[1] : "", reply_when_done(r, args[0]));
               if (!err.empty()) r->reply(control::error_reply(err));
             }});
  table.add({"rollout restart", "ROUTE",
             "run a progressing, paused or aborted rollout again from its first step, with the "
             "same stable and canary",
             [this, reply_when_done](const Args& args, std::shared_ptr<Responder> r) {
               OriginScope origin(*this, *r);
               std::string err = restart(args[0], reply_when_done(r, args[0]));
               if (!err.empty()) r->reply(control::error_reply(err));
             }});
  table.add(simple("pause", "pause a progressing rollout (timers stop, weights stay)",
                   [this](const std::string& route) { return pause(route); }));
  table.add(simple("resume", "resume a paused rollout (the plan takes the weights back)",
                   [this](const std::string& route) { return resume(route); }));
  table.add(
      with_flag("promote", "--full",
                "pass a manual gate or skip the current timed step; --full promotes to 100 % "
                "now (passing a confirm_promotion gate)",
                [this](const std::string& route, bool full) { return promote(route, full); }));
  table.add(
      simple("abort", "roll back now: canary weight 0 on every worker",
             [this](const std::string& route) { return abort(route, "aborted by operator"); }));
  table.add(with_flag("undo", "--force",
                      "after a promotion, give the route back to the version it replaced, at "
                      "once; --force after the plan's rollback window, a failed drill, or once "
                      "it was reported safe to delete",
                      [this](const std::string& route, bool force) { return undo(route, force); }));
  table.add({"rollout drill", "ROUTE [--requests N]",
             "after a promotion, check the version `rollout undo` would return to: its probes "
             "and up to N mirrored live GETs (default 20) compared with the live version; "
             "replies \"rollback ready\" or what failed",
             [this](const Args& args, std::shared_ptr<Responder> r) {
               std::string route;
               uint32_t requests = 20;
               for (size_t i = 0; i < args.size(); ++i) {
                 if (args[i] != "--requests") {
                   route = args[i];
                   continue;
                 }
                 const std::string n = i + 1 < args.size() ? args[++i] : "";
                 if (n.empty() || n.size() > 4 ||
                     n.find_first_not_of("0123456789") != std::string::npos || std::stoul(n) == 0)
                   return r->reply(control::error_reply(
                       "--requests: expected a whole number from 1 to 9999, got \"" + n + "\""));
                 requests = static_cast<uint32_t>(std::stoul(n));
               }
               OriginScope origin(*this, *r);
               std::string err = drill(route, requests, [r](std::string error, std::string report) {
                 if (!r->open()) return;
                 if (!error.empty()) return r->reply(control::error_reply(error));
                 r->reply(control::ok_reply([&](json::Writer& w) { w.key("drill").raw(report); }));
               });
               if (!err.empty()) r->reply(control::error_reply(err));
             }});
  table.add({"rollout status", "ROUTE",
             "state, the split traffic gets, steps with the current one marked, last analysis",
             [this, reply_status](const Args& args, std::shared_ptr<Responder> r) {
               if (!plan(args[0])) return r->reply(control::error_reply(no_plan(args[0])));
               reply_status(r, args[0]);
             }});
  table.add({"rollout history", "ROUTE", "every transition and analysis verdict, oldest first",
             [this](const Args& args, std::shared_ptr<Responder> r) {
               if (!plan(args[0])) return r->reply(control::error_reply(no_plan(args[0])));
               r->reply(control::ok_reply(
                   [&](json::Writer& w) { w.key("events").raw(history_json(args[0])); }));
             }});
}

} // namespace weir::rollout
