#pragma once

#include "weir/base/clock.h"
#include "weir/control/weight_history.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace weir::control {

class CommandTable;
class Controller;

// The live rollout dashboard of the admin listener: one page (its assets compiled in:
// dashboard_assets.h), the state it polls once a second, and the operator's actions.
//
//   GET /, /dashboard          the page
//   GET /dashboard/<asset>     its script and style sheet
//   GET /dashboard/state.json  routes, services, probes (the replies of `show routes`, `show
//                              services`, `show probes`), each plan's `rollout status` and
//                              `rollout history`, and per route 5 minutes of requests/s, error
//                              rate, p99 and weight per backend, one point a second
//   POST /dashboard/action     promote, pause, resume, abort, set weight: only with
//                              admin.dashboard_actions and `Authorization: Bearer <token_file's
//                              token>`, else 403
//
// The data are the control socket's: state.json is made of the replies of the same commands,
// and an action is the command line the control socket would run (CommandTable::dispatch),
// with the dashboard and the browser's address as the origin its events record. So the page
// shows what `weirctl` shows, and nothing can be done from it that the socket would refuse.
//
// Cost: state.json is composed at most once per kReuse whatever the number of open pages (each
// page polls once a second), and the charts are computed from the aggregator's history when
// asked; only the weight history (a few bytes per weight change) is kept for the dashboard.
// Control thread only.
class Dashboard {
public:
  static constexpr auto kReuse = std::chrono::milliseconds(500);
  // What a request to the dashboard needs of it.
  struct Request {
    std::string_view method;
    std::string_view path;          // without the query
    std::string_view authorization; // the Authorization header's value ("" when absent)
    std::string_view body;
    std::string peer; // the browser's address, "127.0.0.1:52310"
  };
  struct Response {
    int status = 200;
    std::string_view content_type;
    std::string body;
  };
  using Respond = std::function<void(Response)>;

  Dashboard(boost::asio::io_context& io, Controller& controller, const CommandTable& commands);
  ~Dashboard();
  Dashboard(const Dashboard&) = delete;
  Dashboard& operator=(const Dashboard&) = delete;

  // Starts the once-a-second weight history.
  void start();
  void stop();
  // Whether `path` is the dashboard's to answer.
  static bool serves(std::string_view path);
  // Answers `request` (now or once the commands it asks have replied); `respond` runs exactly
  // once, on the control thread, unless the dashboard is destroyed first.
  void handle(const Request& request, Respond respond);
  // The headers every dashboard answer carries: a strict content security policy (the page's
  // own script and style only, nothing from elsewhere, never framed), no sniffing, no referrer.
  static std::string_view security_headers();

  // --- the parts, public for the unit tests ---
  // What `authorization` (an Authorization header's value) may do: off (actions are off),
  // refused (no bearer token, or not the token), unreadable (admin.token_file cannot be read
  // now: nobody may act, but a page keeps the token it has), granted.
  enum class Access { off, refused, unreadable, granted };
  Access access(std::string_view authorization) const;
  // The command line of an action's JSON body ({"action":"promote","route":"r"}, ...), or an
  // error (first) for a body that is not one.
  static std::pair<std::string, std::string> action_command(std::string_view body);
  const WeightHistory& weights() const { return weights_; }

private:
  struct Composition;
  void answer_state(Access access, Respond respond);
  // The token of admin.token_file, read again only when the file changed (stat: device, inode,
  // size, modification time); "" with the reason in token_problem_ when it cannot be read.
  const std::string& token() const;
  void note_refusal(const std::string& peer);
  void compose();
  void act(const Request& request, Respond respond);
  void record_weights();

  boost::asio::io_context& io_;
  Controller& controller_;
  const CommandTable& commands_;
  boost::asio::steady_timer timer_;
  WeightHistory weights_;
  // The last state.json composed (without its per-request "actions"), and when.
  std::string state_;
  Clock::Steady::time_point state_at_{};
  // Requests that wait for the composition under way (nullptr: none under way).
  std::shared_ptr<std::vector<std::pair<Access, Respond>>> waiting_;
  mutable std::string token_, token_problem_, token_logged_;
  mutable std::string token_key_; // what stat() said of the file when token_ was read
  // Refused actions, logged at most once per 10 s (a guesser must not flood the log).
  uint64_t refusals_ = 0;
  Clock::Steady::time_point refusals_logged_{};
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

} // namespace weir::control
