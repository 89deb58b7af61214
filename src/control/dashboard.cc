// The dashboard's HTTP side: its assets, who may act, and an action as a control command.
// dashboard_state.cc composes what the page polls.
#include "weir/control/dashboard.h"

#include "weir/base/json.h"
#include "weir/base/log.h"
#include "weir/base/token_file.h"
#include "weir/control/command_table.h"
#include "weir/control/controller.h"
#include "weir/control/dashboard_assets.h"
#include "weir/http/head.h"

#include <sys/stat.h>

namespace weir::control {

namespace {

constexpr std::string_view kJson = "application/json";
constexpr std::string_view kText = "text/plain; charset=utf-8";
constexpr std::string_view kActionPath = "/dashboard/action";
constexpr std::string_view kStatePath = "/dashboard/state.json";

Dashboard::Response error(int status, std::string_view message) {
  return {status, kJson, error_reply(message)};
}

// A route or service name as one word of a command line: what a config allows in a name, and
// never a space or a flag, so a body cannot add arguments of its own to the command.
bool plain_word(std::string_view s) {
  if (s.empty() || s.size() > 256 || s.front() == '-') return false;
  for (char c : s)
    if (c <= ' ' || c > '~' || c == '=') return false; // '=' ends a service in `set weight`
  return true;
}

// A key given twice is ambiguous (which one a proxy in front read is anyone's guess): refused.
bool unique_keys(const json::Value::Object& o) {
  for (size_t i = 0; i < o.size(); ++i)
    for (size_t j = i + 1; j < o.size(); ++j)
      if (o[i].first == o[j].first) return false;
  return true;
}

// An action's reply channel: the command's one reply line becomes the HTTP answer.
class ActionResponder final : public Responder {
public:
  ActionResponder(std::string command, std::string peer, std::weak_ptr<bool> alive,
                  Dashboard::Respond respond, std::function<void()> changed)
      : command_(std::move(command)), peer_(std::move(peer)), alive_(std::move(alive)),
        respond_(std::move(respond)), changed_(std::move(changed)) {}
  void reply(std::string line) override {
    if (!respond_ || alive_.expired()) return;
    const bool ok = line.starts_with("{\"ok\":true");
    // Said once the command answered: whether it went through, not only that it was asked.
    log::info("dashboard: " + command_ + " (from " + peer_ +
              "): " + (ok ? std::string("done") : "refused: " + line));
    if (ok) changed_();
    auto respond = std::move(respond_);
    respond_ = nullptr;
    respond({ok ? 200 : 409, kJson, std::move(line)});
  }
  void stream(std::string) override {} // no action streams
  bool open() const override { return static_cast<bool>(respond_); }
  std::string peer() const override { return peer_; }

private:
  std::string command_;
  std::string peer_;
  std::weak_ptr<bool> alive_;
  Dashboard::Respond respond_;
  std::function<void()> changed_;
};

} // namespace

Dashboard::Dashboard(boost::asio::io_context& io, Controller& controller,
                     const CommandTable& commands)
    : io_(io), controller_(controller), commands_(commands), timer_(io) {}

Dashboard::~Dashboard() {
  stop();
}

void Dashboard::start() {
  record_weights();
  timer_.expires_after(std::chrono::seconds(1));
  timer_.async_wait(
      [this, alive = std::weak_ptr<bool>(alive_)](const boost::system::error_code& ec) {
        if (!ec && !alive.expired()) start();
      });
}

void Dashboard::stop() {
  timer_.cancel();
}

bool Dashboard::serves(std::string_view path) {
  return path == "/" || path == "/dashboard" || path.starts_with("/dashboard/");
}

std::string_view Dashboard::security_headers() {
  return "Content-Security-Policy: default-src 'none'; script-src 'self'; style-src 'self'; "
         "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; "
         "frame-ancestors 'none'\r\n"
         "X-Content-Type-Options: nosniff\r\n"
         "X-Frame-Options: DENY\r\n"
         "Referrer-Policy: no-referrer\r\n";
}

void Dashboard::handle(const Request& request, Respond respond) {
  const bool read = request.method == "GET" || request.method == "HEAD";
  if (request.path == kActionPath) {
    if (request.method != "POST")
      return respond({405, kText, "POST an action: {\"action\":\"promote\",\"route\":\"...\"}\n"});
    return act(request, std::move(respond));
  }
  if (!read) return respond({405, kText, "only GET and HEAD here\n"});
  if (request.path == kStatePath)
    return answer_state(access(request.authorization), std::move(respond));
  for (const DashboardAsset& a : dashboard_assets())
    if (a.path == request.path) return respond({200, a.content_type, std::string(a.body)});
  respond({404, kText, "not found; the dashboard is at /\n"});
}

const std::string& Dashboard::token() const {
  const std::string& path = controller_.config().admin.token_file;
  struct stat st {};
  std::string key;
  // stat() does not open the file: a FIFO put in its place cannot block the control thread.
  if (::stat(path.c_str(), &st) == 0)
    key = path + "|" + std::to_string(st.st_dev) + "|" + std::to_string(st.st_ino) + "|" +
          std::to_string(st.st_size) + "|" + std::to_string(st.st_mtim.tv_sec) + "." +
          std::to_string(st.st_mtim.tv_nsec);
  if (key.empty() || key != token_key_) {
    token_key_ = key;
    auto read = read_token_file(path);
    token_ = read.ok() ? *read : std::string();
    token_problem_ = read.ok() ? std::string() : read.error().message;
  }
  // Said once per problem, not once per request that meets it.
  if (token_problem_ != token_logged_) {
    if (!token_problem_.empty())
      log::warn("dashboard: " + token_problem_ + "; every action is refused until it is fixed");
    token_logged_ = token_problem_;
  }
  return token_;
}

Dashboard::Access Dashboard::access(std::string_view authorization) const {
  if (!controller_.config().admin.dashboard_actions) return Access::off;
  constexpr std::string_view kScheme = "Bearer ";
  if (authorization.size() <= kScheme.size() ||
      !http::iequals(authorization.substr(0, kScheme.size()), kScheme))
    return Access::refused;
  std::string_view given = authorization.substr(kScheme.size());
  while (!given.empty() && given.front() == ' ')
    given.remove_prefix(1);
  const std::string& expected = token();
  if (expected.empty()) return Access::unreadable;
  return same_token(given, expected) ? Access::granted : Access::refused;
}

void Dashboard::note_refusal(const std::string& peer) {
  ++refusals_;
  const auto now = controller_.clock().now();
  if (now - refusals_logged_ < std::chrono::seconds(10)) return;
  log::warn("dashboard: " + std::to_string(refusals_) +
            " action(s) refused for a missing or wrong bearer token (the last from " + peer + ")");
  refusals_ = 0;
  refusals_logged_ = now;
}

std::pair<std::string, std::string> Dashboard::action_command(std::string_view body) {
  auto parsed = json::parse(body);
  if (!parsed.value || !parsed.value->is_object())
    return {"expected a JSON object such as {\"action\":\"promote\",\"route\":\"web\"}", ""};
  const json::Value& v = *parsed.value;
  if (!unique_keys(v.as_object())) return {"a key is given twice", ""};
  const std::string action = v.get_string("action");
  const std::string route = v.get_string("route");
  if (!plain_word(route)) return {"\"route\" must name a route", ""};
  const json::Value* force = v.find("force");
  if (force && !force->is_bool()) return {"\"force\" must be true or false", ""};
  const bool forced = force && force->as_bool();
  if (action == "promote" || action == "pause" || action == "resume" || action == "abort") {
    if (forced) return {"\"force\" belongs to set_weight only", ""};
    std::string line = "rollout " + action + " " + route;
    if (const json::Value* full = v.find("full"); action == "promote" && full) {
      if (!full->is_bool()) return {"\"full\" must be true or false", ""};
      if (full->as_bool()) line += " --full";
    }
    return {"", line};
  }
  if (action == "set_weight") {
    const json::Value* weights = v.find("weights");
    if (!weights || !weights->is_object() || weights->as_object().empty())
      return {"\"weights\" must be an object of service: weight", ""};
    if (!unique_keys(weights->as_object())) return {"a service is given twice", ""};
    std::string line = "set weight " + route;
    for (const auto& [service, weight] : weights->as_object()) {
      if (!plain_word(service)) return {"\"weights\" must name services", ""};
      if (!weight.is_number() || weight.as_number() < 0 || weight.as_number() > 1e6 ||
          weight.as_number() != static_cast<double>(static_cast<int64_t>(weight.as_number())))
        return {"the weight of " + service + " must be a whole number from 0 to 1000000", ""};
      line += " " + service + "=" + std::to_string(static_cast<int64_t>(weight.as_number()));
    }
    if (forced) line += " --force";
    return {"", line};
  }
  return {"\"action\" must be promote, pause, resume, abort or set_weight", ""};
}

void Dashboard::act(const Request& request, Respond respond) {
  if (!controller_.config().admin.dashboard_actions)
    return respond(error(403, "the dashboard is read-only: actions need admin.dashboard_actions "
                              "and admin.token_file"));
  switch (access(request.authorization)) {
  case Access::granted:
    break;
  case Access::unreadable:
    return respond(error(403, "the token file cannot be read now (see weir's log)"));
  default:
    note_refusal(request.peer);
    return respond(error(403, "missing or wrong bearer token (admin.token_file)"));
  }
  auto [problem, line] = action_command(request.body);
  if (!problem.empty()) return respond(error(400, problem));
  // An action's effect shows on the next poll, not up to kReuse later.
  auto changed = [this, alive = std::weak_ptr<bool>(alive_)] {
    if (!alive.expired()) state_at_ = {};
  };
  commands_.dispatch(line, std::make_shared<ActionResponder>(line, "dashboard " + request.peer,
                                                             alive_, std::move(respond), changed));
}

} // namespace weir::control
