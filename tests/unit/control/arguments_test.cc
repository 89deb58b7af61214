// Argument checks shared by weir, weirctl and the control commands (control/arguments.h):
// durations with their unit, and what a command's usage line says about its arguments.
#include "weir/control/arguments.h"
#include "weir/control/command_table.h"

#include <gtest/gtest.h>
#include <memory>
#include <string>
#include <vector>

namespace weir::control {
namespace {

using namespace std::chrono_literals;
using Args = std::vector<std::string>;

std::string duration_error(std::string_view name, std::string_view text) {
  auto d = parse_duration_argument(name, text);
  return d ? "" : d.error().message;
}

TEST(DurationArgument, TakesTheConfigsUnits) {
  EXPECT_EQ(*parse_duration_argument("--timeout", "5s"), 5s);
  EXPECT_EQ(*parse_duration_argument("--timeout", "500ms"), 500ms);
  EXPECT_EQ(*parse_duration_argument("--timeout", "2m"), 2min);
  EXPECT_EQ(*parse_duration_argument("--timeout", "1h"), 1h);
}

TEST(DurationArgument, ABareNumberNeedsAUnit) {
  EXPECT_EQ(duration_error("--timeout", "5"), "--timeout: \"5\" needs a unit, e.g. 5s");
  EXPECT_EQ(duration_error("watch INTERVAL", "250"),
            "watch INTERVAL: \"250\" needs a unit, e.g. 250s");
}

TEST(DurationArgument, OtherTextSaysWhatWasExpected) {
  EXPECT_EQ(duration_error("--timeout", "soon"),
            "--timeout: expected a duration such as 5s, 500ms or 2m, got \"soon\"");
  EXPECT_EQ(duration_error("--timeout", "5 s"),
            "--timeout: expected a duration such as 5s, 500ms or 2m, got \"5 s\"");
  EXPECT_EQ(duration_error("--timeout", "-5s"),
            "--timeout: expected a duration such as 5s, 500ms or 2m, got \"-5s\"");
  EXPECT_EQ(duration_error("--timeout", ""), "--timeout: the duration is empty");
  // A long argument is cut in the message.
  std::string message = duration_error("--timeout", std::string(1000, 'x'));
  EXPECT_LT(message.size(), 200u) << message;
}

TEST(UnknownNames, OneWording) {
  EXPECT_EQ(unknown_route("nosuch"), "unknown route \"nosuch\"");
  EXPECT_EQ(unknown_service("a/b"), "unknown service \"a/b\"");
}

const char* kSetWeight = "ROUTE NS/SVC=W [NS/SVC=W ...] [--force]";

TEST(CheckArguments, AMissingArgumentIsNamed) {
  EXPECT_EQ(check_arguments("set weight", kSetWeight, {}),
            "set weight: missing ROUTE (usage: set weight ROUTE NS/SVC=W [NS/SVC=W ...] "
            "[--force])");
  EXPECT_EQ(check_arguments("set weight", kSetWeight, {"web"}),
            "set weight: missing NS/SVC=W (usage: set weight ROUTE NS/SVC=W [NS/SVC=W ...] "
            "[--force])");
  // A flag is not an argument: the route is still the one missing.
  EXPECT_EQ(check_arguments("set weight", kSetWeight, {"--force"})
                .rfind("set weight: missing ROUTE (", 0),
            0u);
  EXPECT_EQ(check_arguments("drain", "NS/SVC ENDPOINT", {"app-v1/app"}),
            "drain: missing ENDPOINT (usage: drain NS/SVC ENDPOINT)");
  EXPECT_EQ(check_arguments("rollout status", "ROUTE", {}),
            "rollout status: missing ROUTE (usage: rollout status ROUTE)");
}

TEST(CheckArguments, RepeatedAndOptionalArgumentsAndFlagsAnywhere) {
  EXPECT_EQ(check_arguments("set weight", kSetWeight, {"web", "a/b=1"}), "");
  EXPECT_EQ(check_arguments("set weight", kSetWeight, {"web", "a/b=1", "c/d=2", "e/f=3"}), "");
  EXPECT_EQ(check_arguments("set weight", kSetWeight, {"--force", "web", "a/b=1"}), "");
  EXPECT_EQ(check_arguments("set weight", kSetWeight, {"web", "a/b=1", "--force", "c/d=2"}), "");
  EXPECT_EQ(check_arguments("watch", "ROUTE [INTERVAL]", {"web"}), "");
  EXPECT_EQ(check_arguments("watch", "ROUTE [INTERVAL]", {"web", "2s"}), "");
  EXPECT_EQ(check_arguments("show probes", "[NS/SVC]", {}), "");
  EXPECT_EQ(check_arguments("help", "", {}), "");
}

TEST(CheckArguments, AnExtraArgumentIsNamed) {
  EXPECT_EQ(check_arguments("show routes", "", {"--json"}),
            "show routes: unknown flag \"--json\" (usage: show routes)");
  EXPECT_EQ(check_arguments("show routes", "", {"web"}),
            "show routes: unexpected argument \"web\" (usage: show routes)");
  EXPECT_EQ(check_arguments("watch", "ROUTE [INTERVAL]", {"web", "2s", "x"}),
            "watch: unexpected argument \"x\" (usage: watch ROUTE [INTERVAL])");
}

TEST(CheckArguments, AnUnknownFlagIsNamed) {
  EXPECT_EQ(check_arguments("rollout promote", "ROUTE [--full]", {"web", "--fast"}),
            "rollout promote: unknown flag \"--fast\" (usage: rollout promote ROUTE [--full])");
  EXPECT_EQ(check_arguments("rollout promote", "ROUTE [--full]", {"web", "--full"}), "");
  EXPECT_EQ(check_arguments("set weight", kSetWeight, {"web", "a/b=1", "--forse"})
                .rfind("set weight: unknown flag \"--forse\"", 0),
            0u);
}

TEST(CheckArguments, AFlagWithAValueTakesTheNextWord) {
  const char* usage = "ROUTE [--reason TEXT]";
  EXPECT_EQ(check_arguments("rollout abort", usage, {"web", "--reason", "slow"}), "");
  EXPECT_EQ(check_arguments("rollout abort", usage, {"web", "--reason"}),
            "rollout abort: --reason needs a value (usage: rollout abort ROUTE [--reason TEXT])");
}

TEST(CheckArguments, AlternativesAreChecked) {
  const char* usage = "NS/SVC ENDPOINT up|down|auto";
  EXPECT_EQ(check_arguments("set health", usage, {"a/b", "127.0.0.1:1", "down"}), "");
  EXPECT_EQ(check_arguments("set health", usage, {"a/b", "127.0.0.1:1", "sideways"}),
            "set health: expected up|down|auto, got \"sideways\" (usage: set health NS/SVC "
            "ENDPOINT up|down|auto)");
}

TEST(CheckArguments, UnknownNamesAreRefusedByTheirPlaceholder) {
  NameChecks checks;
  checks["ROUTE"] = {[](std::string_view r) { return r == "web"; },
                     [](std::string_view r) { return unknown_route(r); }};
  checks["NS/SVC"] = {[](std::string_view s) { return s == "app-v1/app"; },
                      [](std::string_view s) { return unknown_service(s); }};
  EXPECT_EQ(check_arguments("rollout status", "ROUTE", {"nosuch"}, checks),
            "unknown route \"nosuch\"");
  EXPECT_EQ(check_arguments("rollout status", "ROUTE", {"web"}, checks), "");
  EXPECT_EQ(check_arguments("set weight", kSetWeight, {"nosuch", "app-v1/app=1"}, checks),
            "unknown route \"nosuch\"");
  EXPECT_EQ(check_arguments("show probes", "[NS/SVC]", {"x/y"}, checks), "unknown service \"x/y\"");
  EXPECT_EQ(check_arguments("drain", "NS/SVC ENDPOINT", {"app-v1/app", "1.2.3.4:5"}, checks), "");
}

// The command table runs these checks before any handler.
class Recorder : public Responder {
public:
  void reply(std::string json_line) override { replies.push_back(std::move(json_line)); }
  void stream(std::string) override {}
  bool open() const override { return true; }
  std::vector<std::string> replies;
};

TEST(CheckArguments, TheCommandTableRefusesBeforeTheHandlerRuns) {
  CommandTable table;
  int calls = 0;
  table.add({"rollout status", "ROUTE", "", [&](const Args&, std::shared_ptr<Responder> r) {
               ++calls;
               r->reply(ok_reply());
             }});
  table.set_name_check("ROUTE", {[](std::string_view r) { return r == "web"; },
                                 [](std::string_view r) { return unknown_route(r); }});
  auto error_of = [&](std::string_view line) {
    auto r = std::make_shared<Recorder>();
    table.dispatch(line, r);
    EXPECT_EQ(r->replies.size(), 1u);
    auto parsed = json::parse(r->replies.empty() ? "" : r->replies[0]);
    return parsed.value ? parsed.value->get_string("error") : "not JSON";
  };
  EXPECT_EQ(error_of("rollout status nosuch"), "unknown route \"nosuch\"");
  EXPECT_EQ(error_of("rollout status"),
            "rollout status: missing ROUTE (usage: rollout status ROUTE)");
  EXPECT_EQ(calls, 0);
  EXPECT_EQ(error_of("rollout status web"), "");
  EXPECT_EQ(calls, 1);
}

} // namespace
} // namespace weir::control
