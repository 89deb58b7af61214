// How weir ends and how it tells a supervisor: shutdown_delay (on SIGTERM /ready answers 503 at
// once while weir serves on, so a load balancer polling readiness stops sending before the
// drain), and the sd_notify messages a Type=notify systemd unit reads, seen on a datagram socket
// the test owns as $NOTIFY_SOCKET (MAINPID from the new process of an upgrade included). Also which
// binary runs: its build id, in `weir --version` and the control socket's `show version`.
#include "rollout_helpers.h"
#include "support/client.h"
#include "support/load.h"
#include "support/run.h"
#include "support/upgrade_chain.h"
#include "support/upstream.h"
#include "support/wait.h"
#include "support/weir.h"

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <gtest/gtest.h>
#include <poll.h>
#include <regex>
#include <string>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace weir::test {
namespace {

using namespace std::chrono_literals;
using rollout::contains;
using rollout::control;

std::string config(const std::string& upstream, const std::string& extra) {
  return "workers: 2\n"
         "listeners:\n  - { name: public, address: 127.0.0.1:0 }\n"
         "services:\n  - { namespace: a, name: app, endpoints: [" +
         upstream +
         "] }\n"
         "routes:\n  - { name: r, listener: public, backends: [{ service: a/app }] }\n"
         "admin: { address: 127.0.0.1:0 }\n" +
         extra;
}

TEST(ShutdownDelay, ReadyTurns503AtOnceWhileWeirServesOnThenItDrainsAndExits) {
  DemoUpstream up = DemoUpstream::start("app");
  Weir weir = Weir::start(config(up.address(), "shutdown_delay: 2s\ndrain_timeout: 2s\n"));
  const uint16_t admin = weir.admin_port();
  ASSERT_EQ(http_request(admin, "GET", "/ready").status, 200);
  LoadGen load(weir.port(), 4, 400);
  ASSERT_TRUE(wait_until([&] { return load.responses() > 50; }, 5s)) << load.report();

  const auto signalled = std::chrono::steady_clock::now();
  weir.proc->signal(SIGTERM);
  ASSERT_TRUE(
      wait_until([&] { return http_request(admin, "GET", "/ready").status == 503; }, 1s, 1ms));
  EXPECT_LT(std::chrono::steady_clock::now() - signalled, 100ms);
  // Still serving: the load goes on being answered during the delay.
  const uint64_t at_signal = load.responses();
  ASSERT_TRUE(wait_until([&] { return load.responses() > at_signal + 200; }, 1500ms))
      << load.report();
  EXPECT_EQ(http_request(weir.port(), "GET", "/").status, 200);
  EXPECT_TRUE(weir.proc->running());
  load.stop(); // the load balancer has seen /ready and sends no more
  EXPECT_EQ(load.failures(), 0u) << load.report();
  // Then the drain, and a clean exit no sooner than the delay.
  auto code = weir.proc->wait_exit(10s);
  ASSERT_TRUE(code);
  EXPECT_EQ(*code, 0);
  EXPECT_GE(std::chrono::steady_clock::now() - signalled, 2s);
  EXPECT_TRUE(contains(weir.proc->output(), "shutdown_delay over, draining"))
      << weir.proc->output();
}

TEST(ShutdownDelay, ASecondSignalDrainsAtOnce) {
  DemoUpstream up = DemoUpstream::start("app");
  Weir weir = Weir::start(config(up.address(), "shutdown_delay: 30s\ndrain_timeout: 1s\n"));
  const auto signalled = std::chrono::steady_clock::now();
  weir.proc->signal(SIGTERM);
  ASSERT_TRUE(wait_until(
      [&] { return http_request(weir.admin_port(), "GET", "/ready").status == 503; }, 2s));
  weir.proc->signal(SIGTERM);
  auto code = weir.proc->wait_exit(10s);
  ASSERT_TRUE(code);
  EXPECT_EQ(*code, 0);
  EXPECT_LT(std::chrono::steady_clock::now() - signalled, 10s);
}

// A datagram socket at a fresh path: what systemd listens on as NOTIFY_SOCKET.
class NotifySocket {
public:
  NotifySocket() : path_(temp_path("notify", ".sock")) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, path_.c_str(), sizeof a.sun_path - 1);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  }
  ~NotifySocket() { ::close(fd_); }
  const std::string& path() const { return path_; }
  // The next datagram, or "" after `timeout`.
  std::string next(std::chrono::milliseconds timeout = 10s) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return {};
    char buf[4096];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
  }

private:
  std::string path_;
  int fd_ = -1;
};

// NOTIFY_SOCKET for the weirs started in this scope.
struct ScopedNotifyEnv {
  explicit ScopedNotifyEnv(const std::string& path) { ::setenv("NOTIFY_SOCKET", path.c_str(), 1); }
  ~ScopedNotifyEnv() { ::unsetenv("NOTIFY_SOCKET"); }
};

// A weir with a control socket over one upstream, run under a systemd stand-in.
class SystemdNotify : public ::testing::Test {
protected:
  Weir start_weir() {
    return Weir::start(config(up.address(), "control: { socket: " + socket + " }\n"));
  }
  DemoUpstream up = DemoUpstream::start("app");
  NotifySocket systemd;
  ScopedNotifyEnv env{systemd.path()};
  const std::string socket = temp_path("control", ".sock");
};

TEST_F(SystemdNotify, ReadyAtStartReloadingThenReadyAroundAReloadStoppingOnSigterm) {
  Weir weir = start_weir();
  std::string m = systemd.next();
  EXPECT_TRUE(contains(m, "READY=1\n")) << m;
  // A reload through the control socket, then one by SIGHUP; a refused one too.
  ASSERT_TRUE(control(socket, "reload").ok());
  m = systemd.next();
  EXPECT_TRUE(contains(m, "RELOADING=1\n")) << m;
  EXPECT_TRUE(contains(m, "MONOTONIC_USEC=")) << m;
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  const size_t at = m.find("MONOTONIC_USEC=");
  if (at != std::string::npos) {
    const long long usec = std::stoll(m.substr(at + 15));
    const long long mine = static_cast<long long>(now.tv_sec) * 1000000 + now.tv_nsec / 1000;
    EXPECT_LE(usec, mine);
    EXPECT_GT(usec, mine - 10000000); // within the last 10 s: CLOCK_MONOTONIC, not wall time
  }
  EXPECT_TRUE(contains(systemd.next(), "READY=1\n"));
  weir.proc->signal(SIGHUP);
  EXPECT_TRUE(contains(systemd.next(), "RELOADING=1\n"));
  EXPECT_TRUE(contains(systemd.next(), "READY=1\n"));
  ASSERT_TRUE(write_file(weir.config_path, "listeners: [\n"));
  EXPECT_FALSE(control(socket, "reload").ok());
  EXPECT_TRUE(contains(systemd.next(), "RELOADING=1\n"));
  EXPECT_TRUE(contains(systemd.next(), "READY=1\n")); // refused: the old config serves on
  weir.proc->signal(SIGTERM);
  EXPECT_TRUE(contains(systemd.next(), "STOPPING=1\n"));
  auto code = weir.proc->wait_exit(10s);
  ASSERT_TRUE(code);
  EXPECT_EQ(*code, 0);
}

TEST_F(SystemdNotify, TheNewProcessOfAnUpgradeNamesItselfMainPidAndTheOldOneFallsSilent) {
  Weir first = start_weir();
  EXPECT_TRUE(contains(systemd.next(), "READY=1\n"));
  UpgradeChain chain(std::move(first), socket);
  const pid_t old_pid = chain.pid();
  auto reply = chain.upgrade();
  ASSERT_TRUE(reply.ok()) << reply.raw;
  // One datagram: systemd follows the new pid from the moment it hears it serves.
  std::string m = systemd.next();
  EXPECT_TRUE(contains(m, "MAINPID=" + std::to_string(chain.pid()) + "\n")) << m;
  EXPECT_TRUE(contains(m, "READY=1\n")) << m;
  // The old one drains and exits without a word: STOPPING=1 from it would read as the service
  // stopping.
  ASSERT_TRUE(wait_until([&] { return chain.exited(old_pid); }, 10s));
  EXPECT_EQ(systemd.next(0ms), "");
  // The new one is the service now: a reload and a stop are its to report.
  ASSERT_TRUE(control(socket, "reload").ok());
  EXPECT_TRUE(contains(systemd.next(), "RELOADING=1\n"));
  EXPECT_TRUE(contains(systemd.next(), "READY=1\n"));
  EXPECT_TRUE(chain.stop());
  EXPECT_TRUE(contains(systemd.next(), "STOPPING=1\n"));
}

TEST_F(SystemdNotify, WithoutNotifySocketNothingIsSentAndNothingBreaks) {
  ::unsetenv("NOTIFY_SOCKET");
  Weir weir = Weir::start(config(up.address(), ""));
  EXPECT_EQ(http_request(weir.port(), "GET", "/").status, 200);
  EXPECT_FALSE(contains(weir.proc->output(), "cannot notify systemd"));
}

TEST(Version, TheBinarysBuildIdIsInDashDashVersionAndShowVersion) {
  RunResult v = run_command({WEIR_BIN, "--version"});
  ASSERT_EQ(v.code, 0) << v.err;
  std::smatch m;
  ASSERT_TRUE(
      std::regex_search(v.out, m, std::regex("^weir [0-9.]+ \\(build ([0-9a-f]{40})\\)\n$")))
      << v.out;
  const std::string id = m[1];
  DemoUpstream up = DemoUpstream::start("app");
  const std::string socket = temp_path("control", ".sock");
  Weir weir = Weir::start(config(up.address(), "control: { socket: " + socket + " }\n"));
  auto shown = control(socket, "show version");
  ASSERT_TRUE(shown.ok()) << shown.raw;
  EXPECT_EQ(shown.value.get_string("build_id"), id);
  EXPECT_EQ(shown.value.get_number("pid"), static_cast<double>(weir.proc->pid()));
}

} // namespace
} // namespace weir::test
