// weirctl as an operator runs it: the real binary against a real weir's control socket, with
// stdout and stderr apart, exit statuses, a pipe and a terminal (a pseudo-terminal) for `watch`.
#include "support/client.h"
#include "support/load.h"
#include "support/process.h"
#include "support/run.h"
#include "support/upstream.h"
#include "support/wait.h"
#include "support/weir.h"
#include "weir/base/json.h"

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <map>
#include <optional>
#include <poll.h>
#include <regex>
#include <sstream>
#include <string>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <thread>
#include <unistd.h>
#include <vector>

#ifndef WEIRCTL_BIN
#error "WEIRCTL_BIN must be defined (tests/integration/meson.build does it)"
#endif

namespace weir::test {
namespace {

using namespace std::chrono_literals;

// Runs WEIRCTL_BIN with `args`, stdout and stderr captured apart, until it exits or the timeout.
// A WEIR_SOCKET of the caller must not leak into tests (opt.env may set one).
RunResult run_weirctl(const std::vector<std::string>& args, RunOptions opt = {}) {
  std::vector<std::string> argv = {WEIRCTL_BIN};
  argv.insert(argv.end(), args.begin(), args.end());
  opt.unset.push_back("WEIR_SOCKET");
  RunResult result = run_command(argv, opt);
  if (!result.exited)
    ADD_FAILURE() << "weirctl still running after the timeout; stdout:\n"
                  << result.out << "\nstderr:\n"
                  << result.err;
  return result;
}

std::string describe(const RunResult& r) {
  return "exit " + std::to_string(r.code) + "\nstdout:\n" + r.out + "\nstderr:\n" + r.err;
}

// The sum of the req=N fields of one plain `watch` line; nullopt when the line has none.
std::optional<uint64_t> requests_in(const std::string& line) {
  static const std::regex req(R"( req=(\d+))");
  uint64_t total = 0;
  bool any = false;
  for (auto it = std::sregex_iterator(line.begin(), line.end(), req); it != std::sregex_iterator();
       ++it) {
    total += std::stoull((*it)[1].str());
    any = true;
  }
  if (!any) return std::nullopt;
  return total;
}

// Keep-alive GETs in a background thread until destroyed: traffic for `watch` to show.
class Traffic {
public:
  explicit Traffic(uint16_t port) {
    thread_ = std::thread([this, port] {
      while (!stop_) {
        auto client = RawClient::connect(port);
        if (!client) return;
        const std::string request = build_request("GET", "/", {}, {});
        while (!stop_) {
          if (!client->send(request)) break;
          auto r = client->read_response(5s);
          if (!r || r->status == 0) break;
          ++sent_;
          std::this_thread::sleep_for(2ms); // steady, not flat out: the cores are shared
        }
      }
    });
  }
  ~Traffic() { stop(); }
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  uint64_t sent() const { return sent_; }

private:
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> sent_{0};
  std::thread thread_;
};

// A child on a pseudo-terminal (so isatty() is true for it), its output read from the master.
class PtyProcess {
public:
  static std::unique_ptr<PtyProcess> start(std::vector<std::string> args, unsigned short cols,
                                           unsigned short rows) {
    int master = ::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master < 0 || ::grantpt(master) != 0 || ::unlockpt(master) != 0) {
      ADD_FAILURE() << "pseudo-terminal: " << std::strerror(errno);
      if (master >= 0) ::close(master);
      return nullptr;
    }
    std::string slave_name = ::ptsname(master);
    winsize ws{};
    ws.ws_col = cols;
    ws.ws_row = rows;
    std::vector<char*> argv;
    for (auto& a : args)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid = ::fork();
    if (pid == 0) {
      ::setsid();
      int slave = ::open(slave_name.c_str(), O_RDWR);
      if (slave < 0) ::_exit(126);
      ::ioctl(slave, TIOCSCTTY, 0);
      ::ioctl(slave, TIOCSWINSZ, &ws);
      ::dup2(slave, STDIN_FILENO);
      ::dup2(slave, STDOUT_FILENO);
      ::dup2(slave, STDERR_FILENO);
      if (slave > STDERR_FILENO) ::close(slave);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    if (pid < 0) {
      ADD_FAILURE() << "fork: " << std::strerror(errno);
      ::close(master);
      return nullptr;
    }
    auto p = std::unique_ptr<PtyProcess>(new PtyProcess);
    p->master_ = master;
    p->pid_ = pid;
    return p;
  }

  ~PtyProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (master_ >= 0) ::close(master_);
  }

  // Reads what the child wrote until `done(output)` holds or the timeout passes.
  bool read_until(const std::function<bool(const std::string&)>& done,
                  std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done(output_)) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left <= 0ms || eof_) return done(output_);
      pollfd p{master_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char buf[4096];
      ssize_t n = ::read(master_, buf, sizeof buf);
      if (n > 0)
        output_.append(buf, static_cast<size_t>(n));
      else if (n == 0 || errno != EINTR)
        eof_ = true; // EIO once the child and its terminal are gone
    }
    return true;
  }

  // Reads until the child has closed the terminal, then reaps it: its exit code (128 + signal),
  // or nullopt if it is still running after `timeout`.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout) {
    read_until([this](const std::string&) { return eof_; }, timeout);
    auto deadline = std::chrono::steady_clock::now() + timeout;
    int status = 0;
    for (;;) {
      pid_t done = ::waitpid(pid_, &status, WNOHANG);
      if (done == pid_) break;
      if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
      std::this_thread::sleep_for(5ms);
    }
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

  pid_t pid() const { return pid_; }
  const std::string& output() const { return output_; }

private:
  PtyProcess() = default;
  int master_ = -1;
  pid_t pid_ = -1;
  std::string output_;
  bool eof_ = false;
};

size_t count_of(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1))
    ++n;
  return n;
}

class Weirctl : public ::testing::Test {
protected:
  void SetUp() override {
    v1_ = DemoUpstream::start("v1");
    v2_ = DemoUpstream::start("v2");
    socket_ = temp_path("weirctl", ".sock");
    weir_ = Weir::start("workers: 2\n"
                        "drain_timeout: 2s\n"
                        "control:\n  socket: " +
                        socket_ +
                        "\n"
                        "listeners:\n  - name: public\n    address: 127.0.0.1:0\n"
                        "services:\n"
                        "  - namespace: app-v1\n    name: app\n    endpoints: [" +
                        v1_.address() +
                        "]\n"
                        "  - namespace: app-v2\n    name: app\n    endpoints: [" +
                        v2_.address() +
                        "]\n"
                        "routes:\n  - name: web\n    listener: public\n    backends:\n"
                        "      - service: app-v1/app\n        weight: 90\n"
                        "      - service: app-v2/app\n        weight: 10\n");
  }

  RunResult ctl(std::vector<std::string> args, RunOptions opt = {}) {
    args.insert(args.begin(), {"--socket", socket_});
    return run_weirctl(args, opt);
  }

  DemoUpstream v1_;
  DemoUpstream v2_;
  std::string socket_;
  Weir weir_;
};

TEST_F(Weirctl, ShowRoutesPrintsATable) {
  RunResult r = ctl({"show", "routes"});
  ASSERT_EQ(r.code, 0) << describe(r);
  EXPECT_EQ(r.err, "");
  auto lines = nonempty_lines_of(r.out);
  ASSERT_EQ(lines.size(), 3u) << r.out;
  EXPECT_TRUE(
      std::regex_match(lines[0], std::regex(R"(ROUTE +MATCH +BACKEND +WEIGHT +CONFIGURED +SHARE)")))
      << lines[0];
  EXPECT_TRUE(std::regex_match(lines[1], std::regex(R"(web +\*/ +app-v1/app +90 +90 +90%)")))
      << lines[1];
  EXPECT_TRUE(std::regex_match(lines[2], std::regex(R"(web +\*/ +app-v2/app +10 +10 +10%)")))
      << lines[2];
}

TEST_F(Weirctl, ShowServicesPrintsATable) {
  RunResult r = ctl({"show", "services"});
  ASSERT_EQ(r.code, 0) << describe(r);
  auto lines = nonempty_lines_of(r.out);
  ASSERT_EQ(lines.size(), 3u) << r.out;
  EXPECT_TRUE(
      std::regex_match(lines[0], std::regex(R"(SERVICE +ENDPOINT +HEALTH +DRAINED +ACTIVE)")))
      << lines[0];
  EXPECT_NE(lines[1].find("app-v1/app"), std::string::npos) << lines[1];
  EXPECT_NE(lines[1].find(v1_.address()), std::string::npos) << lines[1];
  EXPECT_TRUE(std::regex_search(lines[1], std::regex(R"( no +\d+$)"))) << lines[1];
}

TEST_F(Weirctl, JsonPrintsTheRawReply) {
  RunResult r = ctl({"--json", "show", "routes"});
  ASSERT_EQ(r.code, 0) << describe(r);
  auto lines = nonempty_lines_of(r.out);
  ASSERT_EQ(lines.size(), 1u) << r.out;
  auto parsed = json::parse(lines[0]);
  ASSERT_TRUE(parsed.value) << parsed.error << ": " << lines[0];
  EXPECT_TRUE(parsed.value->get_bool("ok"));
  ASSERT_TRUE((*parsed.value)["routes"].is_array());
  ASSERT_EQ((*parsed.value)["routes"].as_array().size(), 1u);
  EXPECT_EQ((*parsed.value)["routes"].as_array()[0].get_string("name"), "web");
}

TEST_F(Weirctl, HelpListsTheServersCommands) {
  RunResult r = ctl({"help"});
  ASSERT_EQ(r.code, 0) << describe(r);
  EXPECT_NE(r.out.find("set weight ROUTE NS/SVC=W"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("watch ROUTE [INTERVAL]"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("clear weight ROUTE"), std::string::npos) << r.out;
}

TEST_F(Weirctl, SetWeightIsFollowedByTheNextRequests) {
  RunResult r = ctl({"set", "weight", "web", "app-v1/app=0", "app-v2/app=5"});
  ASSERT_EQ(r.code, 0) << describe(r);
  // The reply shows the route as it now is, the override marked.
  EXPECT_TRUE(std::regex_search(r.out, std::regex(R"(app-v1/app +0\* +90 +0%)"))) << r.out;
  EXPECT_TRUE(std::regex_search(r.out, std::regex(R"(app-v2/app +5\* +10 +100%)"))) << r.out;
  EXPECT_NE(r.out.find("set by an operator"), std::string::npos) << r.out;
  // weir replies only once every worker uses the new weights.
  auto counts = served_by(weir_.port(), 40);
  EXPECT_EQ(counts["v2"], 40) << "v1: " << counts["v1"];

  r = ctl({"set", "weight", "web", "app-v1/app=1", "app-v2/app=0"});
  ASSERT_EQ(r.code, 0) << describe(r);
  counts = served_by(weir_.port(), 40);
  EXPECT_EQ(counts["v1"], 40) << "v2: " << counts["v2"];

  r = ctl({"clear", "weight", "web"});
  ASSERT_EQ(r.code, 0) << describe(r);
  EXPECT_FALSE(std::regex_search(r.out, std::regex(R"(\d\*)"))) << r.out;
  EXPECT_EQ(r.out.find("set by an operator"), std::string::npos) << r.out;
  EXPECT_TRUE(std::regex_search(r.out, std::regex(R"(app-v1/app +90 +90 +90%)"))) << r.out;
}

TEST_F(Weirctl, RefusedCommandExitsOneWithTheMessageOnStderr) {
  RunResult r = ctl({"set", "weight", "nosuch", "app-v1/app=1"});
  EXPECT_EQ(r.code, 1) << describe(r);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "weirctl: unknown route \"nosuch\"\n");

  r = ctl({"show", "bogus"});
  EXPECT_EQ(r.code, 1) << describe(r);
  EXPECT_NE(r.err.find("weirctl: unknown command \"show bogus\"; did you mean one of: show routes"),
            std::string::npos)
      << r.err;

  // With --json the reply still goes to stdout, and the status still says it failed.
  r = ctl({"--json", "drain", "app-v1/app", "127.0.0.1:1"});
  EXPECT_EQ(r.code, 1) << describe(r);
  auto parsed = json::parse(nonempty_lines_of(r.out).empty() ? "" : nonempty_lines_of(r.out)[0]);
  ASSERT_TRUE(parsed.value) << r.out;
  EXPECT_FALSE(parsed.value->get_bool("ok", true));
  EXPECT_NE(r.err.find("has no endpoint"), std::string::npos) << r.err;
}

TEST_F(Weirctl, SocketFromTheEnvironment) {
  RunOptions opt;
  opt.env = {"WEIR_SOCKET=" + socket_};
  RunResult r = run_weirctl({"show", "routes"}, opt);
  EXPECT_EQ(r.code, 0) << describe(r);
  EXPECT_NE(r.out.find("app-v2/app"), std::string::npos) << r.out;
}

TEST_F(Weirctl, PermissionDeniedSaysSo) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to run weirctl as another user";
  RunOptions opt;
  opt.as_nobody = true;
  RunResult r = ctl({"show", "routes"}, opt);
  if (r.code == 126 || r.code == 127) GTEST_SKIP() << "cannot run weirctl as nobody";
  EXPECT_EQ(r.code, 2) << describe(r);
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("weirctl: cannot connect to " + socket_ + ": Permission denied"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("is weir running? use --socket"), std::string::npos) << r.err;
}

TEST_F(Weirctl, WatchThroughAPipePrintsOneLinePerUpdateUntilWeirStops) {
  Traffic traffic(weir_.port());
  auto watch = Process::start({WEIRCTL_BIN, "--socket", socket_, "watch", "web", "200ms"});
  ASSERT_TRUE(watch);
  // The request counts are merged once a second; wait for them to have grown twice.
  std::vector<uint64_t> totals;
  bool grew = wait_until(
      [&] {
        totals.clear();
        for (const auto& line : nonempty_lines_of(watch->output()))
          if (auto n = requests_in(line)) totals.push_back(*n);
        size_t increases = 0;
        for (size_t i = 1; i < totals.size(); ++i)
          increases += totals[i] > totals[i - 1];
        return increases >= 2;
      },
      20s);
  EXPECT_TRUE(grew) << "traffic sent: " << traffic.sent() << "\n" << watch->output();
  for (size_t i = 1; i < totals.size(); ++i)
    EXPECT_LE(totals[i - 1], totals[i]) << "counts never go down:\n" << watch->output();
  traffic.stop();

  std::string out = watch->output();
  EXPECT_EQ(out.find('\x1b'), std::string::npos) << "no terminal escapes on a pipe";
  for (const auto& line : nonempty_lines_of(out)) {
    if (line.rfind("weirctl:", 0) == 0) continue;
    EXPECT_TRUE(std::regex_search(line, std::regex(R"(^\d{4}-\d\d-\d\dT\S+Z web  app-v1/app )")))
        << line;
    EXPECT_NE(line.find(" | app-v2/app weight=10 share=10% req="), std::string::npos) << line;
  }

  weir_.proc->signal(SIGTERM);
  EXPECT_EQ(weir_.proc->wait_exit(15s), 0) << weir_.proc->output();
  EXPECT_EQ(watch->wait_exit(10s), 0) << "weirctl ends when weir closes the socket:\n"
                                      << watch->output();
}

TEST_F(Weirctl, WatchJsonPassesLinesThroughAndStopsOnSigint) {
  auto watch =
      Process::start({WEIRCTL_BIN, "--socket", socket_, "--json", "watch", "web", "100ms"});
  ASSERT_TRUE(watch);
  ASSERT_TRUE(wait_until([&] { return nonempty_lines_of(watch->output()).size() >= 3; }, 10s))
      << watch->output();
  for (const auto& line : nonempty_lines_of(watch->output())) {
    auto parsed = json::parse(line);
    ASSERT_TRUE(parsed.value) << parsed.error << ": " << line;
    EXPECT_TRUE(parsed.value->get_bool("ok")) << line;
    EXPECT_EQ(parsed.value->get_string("route"), "web") << line;
    EXPECT_TRUE((*parsed.value)["backends"].is_array()) << line;
  }
  watch->signal(SIGINT);
  EXPECT_EQ(watch->wait_exit(10s), 0) << watch->output();
}

TEST_F(Weirctl, WatchOfAnUnknownRouteFails) {
  RunResult r = ctl({"watch", "nosuch"});
  EXPECT_EQ(r.code, 1) << describe(r);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "weirctl: unknown route \"nosuch\"\n");
}

TEST_F(Weirctl, WatchOnATerminalRedrawsInPlace) {
  Traffic traffic(weir_.port());
  auto watch =
      PtyProcess::start({WEIRCTL_BIN, "--socket", socket_, "watch", "web", "200ms"}, 120, 40);
  ASSERT_TRUE(watch);
  // From the second frame on, each one starts by moving the cursor up over the last one
  // (5 lines: header, column titles, two backends, the hint) and clearing below.
  const std::string redraw = "\x1b[5A\r\x1b[J";
  bool redrawn =
      watch->read_until([&](const std::string& out) { return count_of(out, redraw) >= 2; }, 15s);
  EXPECT_TRUE(redrawn) << watch->output();
  const std::string& out = watch->output();
  EXPECT_NE(out.find("\x1b[?25l"), std::string::npos) << "cursor hidden while drawing";
  EXPECT_NE(out.find("route web"), std::string::npos) << out;
  EXPECT_TRUE(std::regex_search(out, std::regex("SERVICE +WEIGHT +SHARE +REQ/S +ERR % +P50 +P99")))
      << out;
  // The bar: 9 of 10 cells full for 90%.
  EXPECT_NE(out.find("\u2588\u2588\u2588\u2588\u2588\u2588\u2588\u2588\u2588\u2591 90%"),
            std::string::npos)
      << out;

  ::kill(watch->pid(), SIGINT);
  EXPECT_EQ(watch->wait_exit(10s), 0) << watch->output();
  EXPECT_NE(watch->output().rfind("\x1b[?25h"), std::string::npos) << "cursor shown again";
}

// --- one way for every flag, duration and name (issue #10) ------------------------------------

TEST_F(Weirctl, FlagsWorkAfterTheCommandAndItsArguments) {
  // --json after the command (it used to go to weir as an argument of `show routes`).
  RunResult r = run_weirctl({"show", "routes", "--json", "--socket", socket_});
  ASSERT_EQ(r.code, 0) << describe(r);
  auto lines = nonempty_lines_of(r.out);
  ASSERT_EQ(lines.size(), 1u) << r.out;
  auto parsed = json::parse(lines[0]);
  ASSERT_TRUE(parsed.value) << parsed.error << ": " << lines[0];
  EXPECT_TRUE(parsed.value->get_bool("ok"));
  // Between the command's arguments, with the timeout's unit.
  r = run_weirctl({"set", "weight", "--socket", socket_, "web", "--timeout", "5s", "app-v1/app=1",
                   "app-v2/app=0"});
  ASSERT_EQ(r.code, 0) << describe(r);
  EXPECT_TRUE(std::regex_search(r.out, std::regex(R"(app-v1/app +1\* +90 +100%)"))) << r.out;
  // "--" ends weirctl's flags: what follows goes to weir as it is.
  r = ctl({"--", "show", "routes", "--json"});
  EXPECT_EQ(r.code, 1) << describe(r);
  EXPECT_EQ(r.err, "weirctl: show routes: unknown flag \"--json\" (usage: show routes)\n");
}

TEST_F(Weirctl, DurationsNeedTheirUnit) {
  RunResult r = ctl({"--timeout", "5", "show", "routes"});
  EXPECT_EQ(r.code, 2) << describe(r);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(nonempty_lines_of(r.err).at(0), "weirctl: --timeout: \"5\" needs a unit, e.g. 5s")
      << r.err;
  r = ctl({"--timeout", "5s", "show", "routes"});
  EXPECT_EQ(r.code, 0) << describe(r);
  r = ctl({"show", "routes", "--timeout=500ms"});
  EXPECT_EQ(r.code, 0) << describe(r);
  // The watch interval too (a bare number used to be read as seconds).
  RunOptions opt;
  opt.timeout = 10s;
  r = ctl({"watch", "web", "5"}, opt);
  EXPECT_EQ(r.code, 1) << describe(r);
  EXPECT_EQ(r.err, "weirctl: watch INTERVAL: \"5\" needs a unit, e.g. 5s\n");
}

TEST_F(Weirctl, AnUnknownRouteIsNamedByEveryCommandThatTakesOne) {
  for (std::vector<std::string> command : std::vector<std::vector<std::string>>{
           {"set", "weight", "nosuch", "app-v1/app=1"},
           {"clear", "weight", "nosuch"},
           {"watch", "nosuch", "1s"},
           {"rollout", "status", "nosuch"},
           {"rollout", "history", "nosuch"},
           {"rollout", "start", "nosuch"},
           {"rollout", "pause", "nosuch"},
           {"rollout", "resume", "nosuch"},
           {"rollout", "promote", "nosuch"},
           {"rollout", "abort", "nosuch"},
       }) {
    RunResult r = ctl(command);
    EXPECT_EQ(r.code, 1) << describe(r);
    EXPECT_EQ(r.err, "weirctl: unknown route \"nosuch\"\n") << command[0] << " " << command[1];
  }
  // A route without a plan still says so.
  RunResult r = ctl({"rollout", "status", "web"});
  EXPECT_EQ(r.code, 1) << describe(r);
  EXPECT_NE(r.err.find("has no rollout plan"), std::string::npos) << r.err;
}

TEST_F(Weirctl, AMissingArgumentOrAnUnknownFlagIsNamed) {
  RunResult r = ctl({"set", "weight"});
  EXPECT_EQ(r.code, 1) << describe(r);
  EXPECT_EQ(
      nonempty_lines_of(r.err).at(0).rfind("weirctl: set weight: missing ROUTE (usage: set weight "
                                           "ROUTE NS/SVC=W",
                                           0),
      0u)
      << r.err;
  r = ctl({"set", "weight", "web"});
  EXPECT_EQ(
      nonempty_lines_of(r.err).at(0).rfind("weirctl: set weight: missing NS/SVC=W (usage: ", 0), 0u)
      << r.err;
  r = ctl({"drain", "app-v1/app"});
  EXPECT_EQ(r.err, "weirctl: drain: missing ENDPOINT (usage: drain NS/SVC ENDPOINT)\n");
  r = ctl({"rollout", "status"});
  EXPECT_EQ(r.err, "weirctl: rollout status: missing ROUTE (usage: rollout status ROUTE)\n");
  r = ctl({"show", "routes", "--bogus"});
  EXPECT_EQ(r.code, 1) << describe(r);
  EXPECT_EQ(r.err, "weirctl: show routes: unknown flag \"--bogus\" (usage: show routes)\n");
  r = ctl({"show", "probes", "nosuch/svc"});
  EXPECT_EQ(r.err, "weirctl: unknown service \"nosuch/svc\"\n");
}

// --- without a weir ---------------------------------------------------------------------------

TEST(WeirctlAlone, NoSocketExitsTwoWithAHint) {
  std::string missing = temp_path("missing", ".sock");
  RunResult r = run_weirctl({"--socket", missing, "show", "routes"});
  EXPECT_EQ(r.code, 2) << describe(r);
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("weirctl: cannot connect to " + missing + ": No such file or directory"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("is weir running? use --socket"), std::string::npos) << r.err;

  // The default socket comes from WEIR_SOCKET when it is set.
  RunOptions opt;
  opt.env = {"WEIR_SOCKET=" + missing};
  r = run_weirctl({"show", "routes"}, opt);
  EXPECT_EQ(r.code, 2) << describe(r);
  EXPECT_NE(r.err.find("cannot connect to " + missing + ":"), std::string::npos) << r.err;
}

TEST(WeirctlAlone, UsageErrorsExitTwo) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {}, {"-x", "show", "routes"}, {"--socket"}, {"--timeout", "soon", "help"}}) {
    RunResult r = run_weirctl(args);
    EXPECT_EQ(r.code, 2) << describe(r);
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(r.err.rfind("weirctl: ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find("usage: weirctl"), std::string::npos) << r.err;
  }
}

TEST(WeirctlAlone, HelpListsTheOptions) {
  RunResult r = run_weirctl({"--help"});
  EXPECT_EQ(r.code, 0) << describe(r);
  EXPECT_EQ(r.err, "");
  for (const char* word : {"--socket PATH", "--json", "--timeout DURATION", "WEIR_SOCKET",
                           "/run/weir/weir.sock", "\"weirctl help\""})
    EXPECT_NE(r.out.find(word), std::string::npos) << word << " in:\n" << r.out;
}

TEST(WeirctlAlone, TimeoutWhenTheServerDoesNotAnswer) {
  // A listening socket nobody accepts on: the connect succeeds (the backlog takes it), the reply
  // never comes.
  std::string path = temp_path("silent", ".sock");
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0) << std::strerror(errno);
  ASSERT_EQ(::listen(fd, 8), 0);
  auto started = std::chrono::steady_clock::now();
  RunResult r = run_weirctl({"--socket", path, "--timeout", "300ms", "show", "routes"});
  auto took = std::chrono::steady_clock::now() - started;
  ::close(fd);
  EXPECT_EQ(r.code, 1) << describe(r);
  EXPECT_EQ(r.err, "weirctl: no reply within 300ms\n");
  EXPECT_LT(took, 5s);
}

} // namespace
} // namespace weir::test
