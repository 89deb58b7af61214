// The differential conformance cases (tests/conformance/cases) against a real weir: the
// weir-conformance runner plays client and upstream, weir sits between them. Each case states
// what weir must answer, whether it closes and what reaches the upstream; this test fails with
// the names of the cases weir does not meet and the runner's line for each.
#include "support/process.h"
#include "support/weir.h"

#include <arpa/inet.h>
#include <csignal>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <optional>
#include <sstream>
#include <string>
#include <sys/socket.h>
#include <unistd.h>

#ifndef CONFORMANCE_BIN
#error "CONFORMANCE_BIN must be defined (tests/integration/meson.build does it)"
#endif
#ifndef CONFORMANCE_CASES_DIR
#error "CONFORMANCE_CASES_DIR must be defined (tests/integration/meson.build does it)"
#endif

namespace weir::test {
namespace {

using namespace std::chrono_literals;

// weir needs the upstream's address in its config before the runner listens there, so the port
// is taken from the kernel and released for the runner (which binds with SO_REUSEADDR).
uint16_t free_loopback_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  uint16_t port = 0;
  if (fd >= 0 && ::bind(fd, reinterpret_cast<sockaddr*>(&addr), len) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
    port = ntohs(addr.sin_port);
  if (fd >= 0) ::close(fd);
  return port;
}

TEST(ConformanceTest, EveryCaseAsExpected) {
  uint16_t upstream_port = free_loopback_port();
  ASSERT_NE(upstream_port, 0);
  // One worker, so one upstream pool: a connection left dirty by one case is the one the next
  // request would get. Default limits (16 KiB head, 8 KiB request line), as the cases assume.
  Weir weir = Weir::start(R"(workers: 1
listeners:
  - name: public
    address: 127.0.0.1:0
services:
  - namespace: conformance
    name: app
    endpoints: [127.0.0.1:)" +
                          std::to_string(upstream_port) +
                          R"(]
routes:
  - name: conformance-route
    listener: public
    backends: [{ service: conformance/app }]
    timeouts: { connect: 2s, request: 5s, idle: 10s }
drain_timeout: 1s
)");
  auto runner = Process::start({CONFORMANCE_BIN, "--proxy-port", std::to_string(weir.port()),
                                "--upstream-port", std::to_string(upstream_port), "--cases",
                                CONFORMANCE_CASES_DIR, "--timeout-ms", "5000"});
  ASSERT_TRUE(runner) << "cannot start " << CONFORMANCE_BIN;
  // A case costs milliseconds; only an answer that never comes makes the runner wait (5 s each,
  // generous for a sanitizer build on a busy machine).
  std::optional<int> exit_code = runner->wait_exit(600s);
  if (!exit_code) runner->signal(SIGKILL);
  std::string output = runner->output();
  ASSERT_TRUE(exit_code.has_value()) << "the runner did not finish; output:\n" << output;

  std::string summary, failed_names, failures;
  std::istringstream lines(output);
  for (std::string line; std::getline(lines, line);) {
    if (line.find(" passed, ") != std::string::npos) summary = line;
    if (line.rfind("failed:", 0) == 0) failed_names = line;
    if (line.rfind("FAIL ", 0) == 0) failures += line + "\n";
  }
  EXPECT_EQ(*exit_code, 0) << summary << "\n"
                           << failed_names << "\n\n"
                           << failures << "\n(run " << CONFORMANCE_BIN
                           << " --verbose --filter NAME against a weir for the bytes)";
  EXPECT_NE(summary, "") << "no summary line; runner output:\n" << output;
  EXPECT_TRUE(weir.proc->running()) << "weir died; output:\n" << weir.proc->output();
}

} // namespace
} // namespace weir::test
