// The command lines of weir and weirctl (control/command_line.h): weirctl's flags anywhere,
// durations with a unit, and errors that say which flag or argument is wrong or missing.
#include "weir/control/command_line.h"

#include <gtest/gtest.h>
#include <string>
#include <vector>

namespace weir::control {
namespace {

using namespace std::chrono_literals;
using Words = std::vector<std::string>;
using CtlAction = WeirctlArgs::Action;
using WeirAction = WeirArgs::Action;

const std::string kSocket = "/run/weir/weir.sock";

WeirctlArgs ctl(const Words& args) {
  return parse_weirctl_args(args, kSocket);
}

TEST(WeirctlArgs, FlagsBeforeTheCommand) {
  WeirctlArgs a = ctl({"--json", "--socket", "/tmp/s", "--timeout", "2s", "show", "routes"});
  ASSERT_EQ(a.action, CtlAction::run) << a.error;
  EXPECT_TRUE(a.json);
  EXPECT_EQ(a.socket, "/tmp/s");
  EXPECT_EQ(a.timeout, 2s);
  EXPECT_EQ(a.words, Words({"show", "routes"}));
}

TEST(WeirctlArgs, FlagsAfterTheCommandAndBetweenItsArguments) {
  WeirctlArgs a = ctl({"show", "routes", "--json"});
  ASSERT_EQ(a.action, CtlAction::run) << a.error;
  EXPECT_TRUE(a.json);
  EXPECT_EQ(a.words, Words({"show", "routes"}));

  a = ctl({"watch", "--timeout=500ms", "web", "2s", "-s", "/tmp/s"});
  ASSERT_EQ(a.action, CtlAction::run) << a.error;
  EXPECT_EQ(a.timeout, 500ms);
  EXPECT_EQ(a.socket, "/tmp/s");
  EXPECT_EQ(a.words, Words({"watch", "web", "2s"}));
}

TEST(WeirctlArgs, TheCommandsOwnFlagsGoToWeirAfterItsWords) {
  WeirctlArgs a = ctl({"--force", "set", "weight", "web", "a/b=1", "--json"});
  ASSERT_EQ(a.action, CtlAction::run) << a.error;
  EXPECT_TRUE(a.json);
  EXPECT_EQ(a.words, Words({"set", "weight", "web", "a/b=1", "--force"}));
  // After the command's name a flag stays in place, next to a value it may take.
  a = ctl({"rollout", "abort", "web", "--reason", "slow", "--json"});
  ASSERT_EQ(a.action, CtlAction::run) << a.error;
  EXPECT_EQ(a.words, Words({"rollout", "abort", "web", "--reason", "slow"}));
  // weir names a flag the command does not have; weirctl does not guess.
  a = ctl({"show", "routes", "--bogus"});
  ASSERT_EQ(a.action, CtlAction::run) << a.error;
  EXPECT_EQ(a.words, Words({"show", "routes", "--bogus"}));
}

TEST(WeirctlArgs, DoubleDashEndsTheFlags) {
  WeirctlArgs a = ctl({"--json", "--", "show", "--json", "--timeout"});
  ASSERT_EQ(a.action, CtlAction::run) << a.error;
  EXPECT_TRUE(a.json);
  EXPECT_EQ(a.words, Words({"show", "--json", "--timeout"}));
}

TEST(WeirctlArgs, DefaultsAndTheSocketFromTheCaller) {
  WeirctlArgs a = parse_weirctl_args({"help"}, "/env/sock");
  ASSERT_EQ(a.action, CtlAction::run);
  EXPECT_EQ(a.socket, "/env/sock");
  EXPECT_FALSE(a.json);
  EXPECT_EQ(a.timeout, 10s);
}

TEST(WeirctlArgs, TimeoutNeedsAUnit) {
  WeirctlArgs a = ctl({"--timeout", "5", "show", "routes"});
  EXPECT_EQ(a.action, CtlAction::usage_error);
  EXPECT_EQ(a.error, "--timeout: \"5\" needs a unit, e.g. 5s");
  a = ctl({"show", "routes", "--timeout=5"});
  EXPECT_EQ(a.error, "--timeout: \"5\" needs a unit, e.g. 5s");
  a = ctl({"--timeout", "soon", "help"});
  EXPECT_EQ(a.error, "--timeout: expected a duration such as 5s, 500ms or 2m, got \"soon\"");
  a = ctl({"--timeout", "0s", "help"});
  EXPECT_EQ(a.error, "--timeout: must be more than 0 and at most 24h, got \"0s\"");
  // A huge one is refused, not overflowed into a deadline in the past.
  for (const char* huge : {"25h", "2562048h", "99999999999h"}) {
    a = ctl({"--timeout", huge, "help"});
    EXPECT_EQ(a.action, CtlAction::usage_error) << huge;
  }
  for (const char* ok : {"5s", "500ms", "2m", "24h"}) {
    a = ctl({"help", "--timeout", ok});
    EXPECT_EQ(a.action, CtlAction::run) << ok << ": " << a.error;
  }
}

TEST(WeirctlArgs, MissingValuesAndCommandsAreNamed) {
  EXPECT_EQ(ctl({"show", "routes", "--socket"}).error, "--socket needs a PATH");
  EXPECT_EQ(ctl({"-s"}).error, "-s needs a PATH");
  EXPECT_EQ(ctl({"--socket=", "help"}).error, "--socket: the path is empty");
  EXPECT_EQ(ctl({"help", "--timeout"}).error, "--timeout needs a DURATION, e.g. 5s");
  EXPECT_EQ(ctl({}).error, "no command given (\"weirctl help\" lists them)");
  EXPECT_EQ(ctl({"--json"}).error, "no command given (\"weirctl help\" lists them)");
  EXPECT_EQ(ctl({"--bogus"}).error, "unknown option --bogus and no command given");
  EXPECT_EQ(ctl({"-x", "show", "routes"}).error, "unknown option -x");
  EXPECT_EQ(ctl({"--json=yes", "help"}).error, "--json takes no value");
  EXPECT_EQ(ctl({"set", "weight", "web", "a/b=1\nreload"}).error,
            "arguments cannot contain line breaks");
}

TEST(WeirctlArgs, HelpAndVersionAnywhere) {
  EXPECT_EQ(ctl({"--help"}).action, CtlAction::help);
  EXPECT_EQ(ctl({"show", "routes", "-h"}).action, CtlAction::help);
  EXPECT_EQ(ctl({"show", "--version"}).action, CtlAction::version);
}

WeirArgs weir_args(const Words& args) {
  return parse_weir_args(args);
}

TEST(WeirArgs, ConfigAndCheckConfig) {
  WeirArgs a = weir_args({"--config", "/etc/weir.yaml"});
  EXPECT_EQ(a.action, WeirAction::run);
  EXPECT_EQ(a.config_path, "/etc/weir.yaml");
  a = weir_args({"-c", "w.yaml"});
  EXPECT_EQ(a.action, WeirAction::run);
  EXPECT_EQ(a.config_path, "w.yaml");
  a = weir_args({"--config=w.yaml"});
  EXPECT_EQ(a.config_path, "w.yaml");
  a = weir_args({"--check-config", "w.yaml"});
  EXPECT_EQ(a.action, WeirAction::check);
  EXPECT_EQ(a.config_path, "w.yaml");
  a = weir_args({"--check-config=w.yaml"});
  EXPECT_EQ(a.action, WeirAction::check);
  EXPECT_EQ(weir_args({"--help"}).action, WeirAction::help);
  EXPECT_EQ(weir_args({"--version"}).action, WeirAction::version);
}

TEST(WeirArgs, AMissingFilePathIsNamed) {
  EXPECT_EQ(weir_args({"--config"}).error, "--config needs a file path");
  EXPECT_EQ(weir_args({"--config="}).error, "--config needs a file path");
  EXPECT_EQ(weir_args({"--check-config"}).error, "--check-config needs a file path");
  EXPECT_EQ(weir_args({"-c"}).error, "-c needs a file path");
  // The next flag is not a file name.
  EXPECT_EQ(weir_args({"--config", "--version"}).error, "--config needs a file path");
  EXPECT_EQ(weir_args({}).error, "--config FILE is required");
}

TEST(WeirArgs, UnknownAndExtraArgumentsAreNamed) {
  EXPECT_EQ(weir_args({"--frobnicate"}).error, "unknown flag '--frobnicate'");
  EXPECT_EQ(weir_args({"--config", "a.yaml", "b.yaml"}).error,
            "unexpected argument 'b.yaml' (the config file goes after --config)");
  EXPECT_EQ(weir_args({"--config", "a.yaml", "--check-config", "b.yaml"}).error,
            "--check-config: the config file is given twice (use one --config or "
            "--check-config)");
  for (const Words& w : {Words{"--frobnicate"}, Words{"--config"}, Words{}})
    EXPECT_EQ(weir_args(w).action, WeirAction::usage_error);
}

TEST(WeirArgs, UpgradeFdGoesWithConfig) {
  WeirArgs a = weir_args({"--config", "w.yaml", "--upgrade-fd", "3"});
  EXPECT_EQ(a.action, WeirAction::run);
  EXPECT_EQ(a.upgrade_fd, 3);
  EXPECT_EQ(weir_args({"--upgrade-fd=7", "-c", "w.yaml"}).upgrade_fd, 7);
  EXPECT_EQ(weir_args({"--config", "w.yaml"}).upgrade_fd, -1);
  EXPECT_EQ(weir_args({"-c", "w.yaml", "--upgrade-fd", "x"}).error,
            "--upgrade-fd: expected a descriptor number, got 'x'");
  EXPECT_EQ(weir_args({"-c", "w.yaml", "--upgrade-fd", "-1"}).action, WeirAction::usage_error);
  EXPECT_EQ(weir_args({"-c", "w.yaml", "--upgrade-fd"}).error,
            "--upgrade-fd needs a descriptor number");
  EXPECT_EQ(weir_args({"--check-config", "w.yaml", "--upgrade-fd", "3"}).error,
            "--upgrade-fd goes with --config");
}

TEST(WeirctlArgs, TimeoutGivenIsKnown) {
  EXPECT_FALSE(parse_weirctl_args({"upgrade"}, "/s").timeout_given);
  EXPECT_TRUE(parse_weirctl_args({"upgrade", "--timeout", "5s"}, "/s").timeout_given);
}

} // namespace
} // namespace weir::control
