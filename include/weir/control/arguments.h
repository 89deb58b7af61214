#pragma once

#include "weir/base/result.h"
#include "weir/config/config.h"

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace weir::control {

// Checks of command-line and control-command arguments, so that weir, weirctl and every control
// command refuse a bad argument the same way and say what is wrong with it. Pure functions;
// any thread.

// A duration argument as the config writes durations: "5s", "500ms", "2m", "1h". A bare number
// is refused with the unit it lacks (`--timeout: "5" needs a unit, e.g. 5s`), anything else
// with what was expected. `name` starts the message ("--timeout", "watch INTERVAL").
Result<config::Duration> parse_duration_argument(std::string_view name, std::string_view text);

// `unknown route "NAME"`: the one wording for a route the running config does not have.
std::string unknown_route(std::string_view route);
// `unknown service "NS/SVC"`, likewise.
std::string unknown_service(std::string_view service);

// Whether a name stands for something that exists (a route, a service), by the placeholder that
// a command's usage gives it ("ROUTE", "NS/SVC"); the message for one that does not.
struct NameCheck {
  std::function<bool(std::string_view)> known;
  std::function<std::string(std::string_view)> unknown;
};
using NameChecks = std::map<std::string, NameCheck, std::less<>>;

// What is wrong with `args` for the command `name` whose usage is `usage` (the command table's
// text, e.g. "ROUTE NS/SVC=W [NS/SVC=W ...] [--force]"), or "" when nothing is:
//   "set weight: missing NS/SVC=W (usage: set weight ROUTE NS/SVC=W [NS/SVC=W ...] [--force])"
//   "show routes: unexpected argument \"x\" (usage: show routes)"
//   "rollout promote: unknown flag \"--fast\" (usage: rollout promote ROUTE [--full])"
//   "unknown route \"nosuch\"" (the placeholder has a NameCheck and the name is not known)
// Words in brackets are optional, "..." repeats the bracketed words, and a word that starts with
// "--" is a flag that may stand anywhere after the command name.
std::string check_arguments(std::string_view name, std::string_view usage,
                            const std::vector<std::string>& args, const NameChecks& checks = {});

} // namespace weir::control
