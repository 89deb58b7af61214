// The weir command line as a user meets it: flags, exit codes, and where the messages go
// (stdout for answers, stderr for errors).
#include "support/wait.h"
#include "support/weir.h"

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <gtest/gtest.h>
#include <poll.h>
#include <regex>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace weir::test {
namespace {

using namespace std::chrono_literals;

struct RunResult {
  bool exited = false; // false: still running at the deadline (then killed)
  int code = -1;       // exit code, or 128 + signal
  std::string out;
  std::string err;
};

// Runs WEIR_BIN with `args`, stdout and stderr captured apart, until it exits or `timeout`.
RunResult run_weir(const std::vector<std::string>& args, std::chrono::milliseconds timeout = 10s) {
  RunResult result;
  int out[2], err[2];
  if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) {
    ADD_FAILURE() << "pipe: " << std::strerror(errno);
    return result;
  }
  std::vector<std::string> argv_s = {WEIR_BIN};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out[1], STDOUT_FILENO);
    ::dup2(err[1], STDERR_FILENO);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(out[1]);
  ::close(err[1]);
  if (pid < 0) {
    ADD_FAILURE() << "fork: " << std::strerror(errno);
    ::close(out[0]);
    ::close(err[0]);
    return result;
  }
  auto deadline = std::chrono::steady_clock::now() + timeout;
  pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  int open = 2;
  while (open > 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left <= 0ms) break;
    if (::poll(fds, 2, static_cast<int>(left.count())) < 0 && errno != EINTR) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char buf[4096];
      ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        sinks[i]->append(buf, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open;
      }
    }
  }
  int status = 0;
  bool reaped = wait_until(
      [&] { return ::waitpid(pid, &status, WNOHANG) == pid; },
      std::chrono::duration_cast<std::chrono::milliseconds>(std::max(
          deadline - std::chrono::steady_clock::now(), std::chrono::steady_clock::duration(0))) +
          1000ms);
  if (!reaped) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
  }
  result.exited = reaped;
  result.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  for (auto& f : fds)
    if (f.fd >= 0) ::close(f.fd);
  return result;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    lines.push_back(line);
  return lines;
}

std::string write_temp(const std::string& name, const std::string& contents) {
  std::string path = temp_dir() + "/" + name;
  std::ofstream(path, std::ios::binary) << contents;
  return path;
}

// Three mistakes at known places: an undefined service, a limit out of range, a duration
// without a unit.
constexpr const char* kInvalidConfig = R"(listeners:
  - { name: public, address: 127.0.0.1:0 }
services:
  - { namespace: app-v1, name: app, endpoints: [127.0.0.1:9001] }
routes:
  - { name: r, listener: public, backends: [{ service: app-v9/app }] }
limits:
  max_headers: 0
drain_timeout: 5
)";

TEST(CliTest, Version) {
  RunResult r = run_weir({"--version"});
  ASSERT_TRUE(r.exited);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(std::regex_search(r.out, std::regex("^weir [0-9]+\\.[0-9]+"))) << r.out;
  EXPECT_EQ(r.err, "");
}

TEST(CliTest, Help) {
  RunResult r = run_weir({"--help"});
  ASSERT_TRUE(r.exited);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("usage: weir"), std::string::npos) << r.out;
  for (const char* flag : {"--config", "--check-config", "--version", "--help"})
    EXPECT_NE(r.out.find(flag), std::string::npos) << "help does not mention " << flag;
  EXPECT_EQ(r.err, "");
}

TEST(CliTest, CheckConfigAcceptsTheReferenceConfig) {
  std::string path = WEIR_SOURCE_DIR "/conf/weir.yaml";
  RunResult r = run_weir({"--check-config", path});
  ASSERT_TRUE(r.exited);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(r.out, path + ": ok\n");
}

TEST(CliTest, CheckConfigReportsEveryErrorWithItsPlace) {
  std::string path = write_temp("cli-invalid.yaml", kInvalidConfig);
  RunResult r = run_weir({"--check-config", path});
  ASSERT_TRUE(r.exited);
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.out, "");
  std::vector<std::string> lines = lines_of(r.err);
  ASSERT_EQ(lines.size(), 3u) << r.err;
  // FILE:LINE:COL: key.path: message
  std::regex shape("^(.+):([0-9]+):([0-9]+): ([A-Za-z_][A-Za-z0-9_]*(\\[[0-9]+\\])?"
                   "(\\.[A-Za-z_][A-Za-z0-9_]*(\\[[0-9]+\\])?)*): (.+)$");
  for (const std::string& line : lines) {
    std::smatch m;
    ASSERT_TRUE(std::regex_match(line, m, shape))
        << "not FILE:LINE:COL: key.path: message: " << line;
    EXPECT_EQ(m[1].str(), path);
  }
  EXPECT_EQ(lines[0].rfind(path + ":6:56: routes[0].backends[0].service: ", 0), 0u) << lines[0];
  EXPECT_NE(lines[0].find("app-v9/app"), std::string::npos) << lines[0];
  EXPECT_EQ(lines[1].rfind(path + ":8:16: limits.max_headers: ", 0), 0u) << lines[1];
  EXPECT_EQ(lines[2].rfind(path + ":9:16: drain_timeout: ", 0), 0u) << lines[2];
}

TEST(CliTest, CheckConfigMissingFile) {
  std::string path = temp_dir() + "/does-not-exist.yaml";
  RunResult r = run_weir({"--check-config", path});
  ASSERT_TRUE(r.exited);
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find(path), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("No such file or directory"), std::string::npos) << r.err;
  EXPECT_EQ(lines_of(r.err).size(), 1u) << r.err;
}

TEST(CliTest, UnknownFlagExits2WithUsage) {
  RunResult r = run_weir({"--frobnicate"});
  ASSERT_TRUE(r.exited);
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("--frobnicate"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("usage: weir"), std::string::npos) << r.err;
}

TEST(CliTest, NoArgumentsExits2) {
  RunResult r = run_weir({});
  ASSERT_TRUE(r.exited);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("usage: weir"), std::string::npos) << r.err;
}

TEST(CliTest, ConfigFlagMissingItsValueExits2) {
  RunResult r = run_weir({"--config"});
  ASSERT_TRUE(r.exited);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("usage: weir"), std::string::npos) << r.err;
}

TEST(CliTest, RunWithInvalidConfigExits1WithoutListening) {
  std::string path = write_temp("cli-invalid-run.yaml", kInvalidConfig);
  RunResult r = run_weir({"--config", path}, 5s);
  ASSERT_TRUE(r.exited) << "weir kept running with an invalid config; stdout:\n" << r.out;
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.out.find("listening"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("ready"), std::string::npos) << r.out;
  EXPECT_EQ(lines_of(r.err).size(), 3u) << r.err;
  EXPECT_NE(r.err.find(path + ":8:16: limits.max_headers: "), std::string::npos) << r.err;
}

TEST(CliTest, RunWithMissingConfigExits1) {
  std::string path = temp_dir() + "/missing-run.yaml";
  RunResult r = run_weir({"--config", path}, 5s);
  ASSERT_TRUE(r.exited) << "weir kept running without a config file";
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.out.find("listening"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find(path), std::string::npos) << r.err;
}

} // namespace
} // namespace weir::test
