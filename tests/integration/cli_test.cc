// The weir command line as a user meets it: flags, exit codes, and where the messages go
// (stdout for answers, stderr for errors).
#include "support/run.h"
#include "support/weir.h"

#include <chrono>
#include <fstream>
#include <gtest/gtest.h>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

namespace weir::test {
namespace {

using namespace std::chrono_literals;

// Runs WEIR_BIN with `args`, stdout and stderr captured apart, until it exits or `timeout`.
RunResult run_weir(const std::vector<std::string>& args, std::chrono::milliseconds timeout = 10s) {
  std::vector<std::string> argv = {WEIR_BIN};
  argv.insert(argv.end(), args.begin(), args.end());
  RunOptions opt;
  opt.timeout = timeout;
  return run_command(argv, opt);
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

TEST(CliTest, ConfigFlagWithoutAFileSaysTheFileIsMissing) {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"--config"}, {"--config="}, {"--config", "--version"}}) {
    RunResult r = run_weir(args);
    ASSERT_TRUE(r.exited);
    EXPECT_EQ(r.code, 2);
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(lines_of(r.err).at(0), "weir: --config needs a file path") << r.err;
  }
  RunResult r = run_weir({"--check-config"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(lines_of(r.err).at(0), "weir: --check-config needs a file path") << r.err;
  r = run_weir({"--frobnicate"});
  EXPECT_EQ(lines_of(r.err).at(0), "weir: unknown flag '--frobnicate'") << r.err;
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
