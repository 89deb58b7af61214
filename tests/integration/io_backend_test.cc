// The data plane's I/O backend as a user picks it: `io: epoll`, `io: io_uring` and `io: auto`
// (io_uring where the kernel has it), the WEIR_IO override of auto, the error when the choice
// cannot be honoured, and a reload that changes it (needs a restart). The rest of the suite runs
// on both backends: `./dev test` runs the integration tests once with auto and once more with
// WEIR_IO=epoll.
#include "rollout_helpers.h"
#include "support/client.h"
#include "support/upstream.h"
#include "support/weir.h"
#include "weir/net/ring.h"

#include <chrono>
#include <cstdlib>
#include <gtest/gtest.h>
#include <string>

namespace weir::test {
namespace {

using namespace std::chrono_literals;
using rollout::contains;
using rollout::control;
using rollout::Reply;

std::string config(const std::string& upstream, const std::string& io_line,
                   const std::string& extra = "") {
  return "workers: 1\n" + io_line +
         "listeners:\n  - { name: public, address: 127.0.0.1:0 }\n"
         "services:\n  - { namespace: a, name: app, endpoints: [" +
         upstream +
         "] }\n"
         "routes:\n  - { name: r, listener: public, backends: [{ service: a/app }] }\n"
         "drain_timeout: 1s\n" +
         extra;
}

// WEIR_IO set for the weirs started in this scope (and unset after: the suite's own setting,
// if any, comes back).
class ScopedIoEnv {
public:
  explicit ScopedIoEnv(const char* value) {
    if (const char* v = std::getenv("WEIR_IO")) saved_ = v, had_ = true;
    ::setenv("WEIR_IO", value, 1);
  }
  ~ScopedIoEnv() {
    if (had_)
      ::setenv("WEIR_IO", saved_.c_str(), 1);
    else
      ::unsetenv("WEIR_IO");
  }

private:
  std::string saved_;
  bool had_ = false;
};

// Requests that touch every path of a transport: a small GET, a 1 MiB response, a body sent up.
void exercise(uint16_t port) {
  for (int i = 0; i < 20; ++i)
    ASSERT_EQ(http_request(port, "GET", "/").status, 200);
  auto big = http_request(port, "GET", "/?bytes=1048576");
  ASSERT_EQ(big.status, 200);
  EXPECT_EQ(big.body.size(), 1048576u);
  std::string sent(200000, 'p');
  auto post = http_request(port, "POST", "/echo", {}, sent);
  EXPECT_EQ(post.status, 200);
  EXPECT_EQ(post.body, sent);
}

TEST(IoBackend, EpollIsUsedWhenAskedFor) {
  DemoUpstream up = DemoUpstream::start("app");
  Weir weir = Weir::start(config(up.address(), "io: epoll\n"));
  EXPECT_TRUE(contains(weir.proc->output(), "ready, io epoll")) << weir.proc->output();
  exercise(weir.port());
}

TEST(IoBackend, IoUringIsUsedWhenAskedForAndAutoTakesItWhereTheKernelHasIt) {
  std::string why;
  if (!net::Ring::available(&why)) GTEST_SKIP() << "io_uring not available here: " << why;
  DemoUpstream up = DemoUpstream::start("app");
  {
    Weir weir = Weir::start(config(up.address(), "io: io_uring\n"));
    EXPECT_TRUE(contains(weir.proc->output(), "ready, io io_uring")) << weir.proc->output();
    exercise(weir.port());
  }
  ScopedIoEnv env("auto");
  Weir weir = Weir::start(config(up.address(), ""));
  EXPECT_TRUE(contains(weir.proc->output(), "ready, io io_uring")) << weir.proc->output();
}

TEST(IoBackend, TheEnvironmentOverridesAutoButNotAnExplicitChoice) {
  DemoUpstream up = DemoUpstream::start("app");
  ScopedIoEnv env("epoll");
  {
    Weir weir = Weir::start(config(up.address(), ""));
    EXPECT_TRUE(contains(weir.proc->output(), "ready, io epoll")) << weir.proc->output();
  }
  if (net::Ring::available()) {
    Weir weir = Weir::start(config(up.address(), "io: io_uring\n"));
    EXPECT_TRUE(contains(weir.proc->output(), "ready, io io_uring")) << weir.proc->output();
  }
}

TEST(IoBackend, ABadOverrideStopsWeirWithAClearError) {
  DemoUpstream up = DemoUpstream::start("app");
  std::string path = temp_path("weir", ".yaml");
  ASSERT_TRUE(write_file(path, config(up.address(), "")));
  ScopedIoEnv env("kqueue");
  auto proc = Process::start({WEIR_BIN, "--config", path});
  ASSERT_TRUE(proc);
  auto code = proc->wait_exit(10s);
  ASSERT_TRUE(code);
  EXPECT_NE(*code, 0);
  EXPECT_TRUE(contains(proc->output(), "WEIR_IO=kqueue: expected auto, epoll or io_uring"))
      << proc->output();
  // --check-config says so too, rather than "ok" for a weir that would not start.
  auto check = Process::start({WEIR_BIN, "--check-config", path});
  ASSERT_TRUE(check);
  auto check_code = check->wait_exit(10s);
  ASSERT_TRUE(check_code);
  EXPECT_EQ(*check_code, 1);
  EXPECT_TRUE(contains(check->output(), "WEIR_IO=kqueue")) << check->output();
}

TEST(IoBackend, WorkersThatCannotBeSetUpStopWeirWithAClearErrorNotAnAbort) {
  // 128 workers under a limit of 200 descriptors: their event loops alone need more.
  DemoUpstream up = DemoUpstream::start("app");
  for (const char* io : {"io: epoll\n", "io: auto\n"}) {
    std::string path = temp_path("weir", ".yaml");
    std::string yaml = config(up.address(), io);
    yaml.replace(yaml.find("workers: 1"), 10, "workers: 128");
    ASSERT_TRUE(write_file(path, yaml));
    auto proc = Process::start(
        {"/bin/sh", "-c", "ulimit -n 200 && exec " + std::string(WEIR_BIN) + " --config " + path});
    ASSERT_TRUE(proc);
    auto code = proc->wait_exit(20s);
    ASSERT_TRUE(code);
    EXPECT_EQ(*code, 1) << io << proc->output();
    EXPECT_TRUE(contains(proc->output(), "Too many open files")) << io << proc->output();
  }
}

TEST(IoBackend, AReloadThatChangesTheBackendSaysItNeedsARestartAndKeepsServing) {
  DemoUpstream up = DemoUpstream::start("app");
  std::string socket = temp_path("ctl", ".sock");
  std::string control_line = "control:\n  socket: " + socket + "\n";
  Weir weir = Weir::start(config(up.address(), "io: epoll\n", control_line));
  ASSERT_TRUE(write_file(weir.config_path, config(up.address(), "io: auto\n", control_line)));
  Reply reloaded = control(socket, "reload");
  ASSERT_TRUE(reloaded.ok()) << reloaded.raw;
  EXPECT_TRUE(contains(reloaded.raw, "\"need_restart\":[\"io\"]")) << reloaded.raw;
  EXPECT_EQ(http_request(weir.port(), "GET", "/").status, 200);
}

} // namespace
} // namespace weir::test
