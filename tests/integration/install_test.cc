// README.md's "## Install" section as a user runs it: its first sh block (meson install, then
// weir --check-config on the installed config and systemd-analyze verify on the installed unit)
// is run as written by bash, in a DESTDIR under the test's temporary directory and from a
// directory whose `build` is this test's build dir. The second block (systemctl) needs a running
// systemd and is not run.
#include "support/run.h"
#include "support/weir.h"

#include <filesystem>
#include <gtest/gtest.h>
#include <sstream>
#include <string>
#include <vector>

namespace weir::test {
namespace {

namespace fs = std::filesystem;

constexpr const char* kUnit = "/usr/local/lib/systemd/system/weir.service";

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

// The README's Install section, from its heading to the next "## " heading.
std::string install_section() {
  std::string readme = read_file(std::string(WEIR_SOURCE_DIR) + "/README.md");
  size_t begin = readme.find("\n## Install\n");
  if (begin == std::string::npos) return "";
  size_t end = readme.find("\n## ", begin + 1);
  return readme.substr(begin, end == std::string::npos ? std::string::npos : end - begin);
}

// The body of the n-th (0-based) ```sh block of `section`; "" if there are fewer.
std::string sh_block(const std::string& section, int n) {
  std::string block;
  bool inside = false;
  for (const std::string& line : lines_of(section)) {
    if (!inside && line == "```sh") {
      inside = true;
    } else if (inside && line == "```") {
      if (n-- == 0) return block;
      inside = false;
      block.clear();
    } else if (inside) {
      block += line + "\n";
    }
  }
  return "";
}

// The lines of `block` that contain `command`: one of the block's checks, to run alone against
// a file broken on purpose (running the whole block would install a good one again).
std::string lines_with(const std::string& block, const std::string& command) {
  std::string out;
  for (const std::string& line : lines_of(block))
    if (line.find(command) != std::string::npos) out += line + "\n";
  return out;
}

// A staged install: `root` is the DESTDIR, `work` the directory the block runs in, whose
// `build` points at the build dir that holds WEIR_BIN (build/ or build-asan/).
struct Stage {
  std::string root;
  std::string work;

  Stage() {
    std::string dir = temp_path("install");
    root = dir + "/root";
    work = dir + "/work";
    fs::create_directories(work);
    fs::create_directory_symlink(fs::path(WEIR_BIN).parent_path(), work + "/build");
  }

  // Runs `script` with bash -e (so any failing command fails it), as the README's reader would
  // but with DESTDIR set; the result carries both output streams for the failure message.
  RunResult run(const std::string& script, const std::string& name) const {
    std::string path = fs::path(work).parent_path().string() + "/" + name + ".sh";
    if (!write_file(path, script)) ADD_FAILURE() << "cannot write " << path;
    RunOptions opt;
    opt.env = {"DESTDIR=" + root};
    opt.timeout = 60s;
    return run_command({"/usr/bin/env", "-C", work, "/bin/bash", "-e", "-o", "pipefail", path},
                       opt);
  }

  std::string file(const std::string& path) const { return read_file(root + path); }
};

std::string describe(const RunResult& r) {
  return "exit " + std::to_string(r.code) + "\nstdout:\n" + r.out + "\nstderr:\n" + r.err;
}

// The value of `key=` in a unit file; "" if absent.
std::string unit_value(const std::string& unit, const std::string& key) {
  for (const std::string& line : lines_of(unit))
    if (starts_with(line, key + "=")) return line.substr(key.size() + 1);
  return "";
}

// control.socket of a config laid out as conf/weir.yaml is (a block mapping under "control:").
std::string control_socket(const std::string& yaml) {
  bool in_control = false;
  for (const std::string& line : lines_of(yaml)) {
    if (starts_with(line, "control:"))
      in_control = true;
    else if (in_control && starts_with(line, "  socket: "))
      return line.substr(10);
    else if (in_control && !line.empty() && line[0] != ' ' && line[0] != '#')
      in_control = false;
  }
  return "";
}

class InstallTest : public ::testing::Test {
protected:
  void SetUp() override {
    section_ = install_section();
    ASSERT_FALSE(section_.empty()) << "README.md has no \"## Install\" section";
    block_ = sh_block(section_, 0);
    ASSERT_NE(block_.find("meson install"), std::string::npos) << block_;
    ASSERT_NE(block_.find("--check-config"), std::string::npos) << block_;
    ASSERT_NE(block_.find("systemd-analyze verify"), std::string::npos) << block_;
    // The systemctl steps belong in the second block: nothing here may touch the real system.
    ASSERT_EQ(block_.find("systemctl"), std::string::npos) << block_;
    // The block names the default paths; a build dir set up otherwise cannot pass it.
    std::string built_unit = fs::path(WEIR_BIN).parent_path().string() + "/weir.service";
    ASSERT_EQ(unit_value(read_file(built_unit), "ExecStart"),
              "/usr/local/bin/weir --config /etc/weir/weir.yaml")
        << built_unit << ": README's block assumes meson's default prefix (/usr/local) and "
        << "weir's default sysconfdir (/etc); meson configure DIR -Dprefix=/usr/local "
        << "-Dsysconfdir=/etc";
  }

  std::string section_;
  std::string block_;
};

TEST_F(InstallTest, ReadmeBlockInstallsAServiceThatVerifies) {
  Stage stage;
  RunResult r = stage.run(block_, "readme");
  ASSERT_TRUE(r.exited) << "timed out\n" << describe(r);
  ASSERT_EQ(r.code, 0) << describe(r);

  for (const char* bin : {"weir", "weirctl", "weir-demo-upstream"})
    EXPECT_TRUE(fs::exists(stage.root + "/usr/local/bin/" + bin)) << bin;
  std::string unit = stage.file(kUnit);
  ASSERT_FALSE(unit.empty()) << "no unit at " << kUnit;
  EXPECT_EQ(unit.find('@'), std::string::npos) << "a placeholder left unsubstituted:\n" << unit;

  // ExecStart= names the installed binary and the installed config.
  std::istringstream exec_start(unit_value(unit, "ExecStart"));
  std::string binary, flag, config;
  exec_start >> binary >> flag >> config;
  EXPECT_TRUE(fs::exists(stage.root + binary)) << binary;
  EXPECT_EQ(flag, "--config");
  std::string yaml = stage.file(config);
  ASSERT_FALSE(yaml.empty()) << "no config at " << config;
  EXPECT_EQ(yaml, read_file(std::string(WEIR_SOURCE_DIR) + "/conf/weir.yaml"));
  EXPECT_EQ(stage.file(config + ".default"), yaml);

  // `systemctl reload` talks to the socket the installed config opens.
  std::string socket = control_socket(yaml);
  ASSERT_FALSE(socket.empty()) << "no control.socket in " << config;
  std::string bindir = fs::path(binary).parent_path().string();
  EXPECT_EQ(unit_value(unit, "ExecReload"), bindir + "/weirctl --socket " + socket + " reload");
  EXPECT_EQ(fs::path(socket).parent_path().string(),
            "/run/" + unit_value(unit, "RuntimeDirectory"));
  // The new process of `weirctl upgrade` names itself the main process.
  EXPECT_EQ(unit_value(unit, "NotifyAccess"), "all");

  EXPECT_NE(section_.find("weirctl upgrade"), std::string::npos)
      << "the Install section should name the upgrade path";
  EXPECT_NE(sh_block(section_, 1).find("systemctl enable"), std::string::npos);
}

TEST_F(InstallTest, ReinstallKeepsAnEditedConfig) {
  Stage stage;
  RunResult r = stage.run(block_, "first");
  ASSERT_EQ(r.code, 0) << describe(r);
  std::string edited = stage.file("/etc/weir/weir.yaml") + "# edited by the operator\n";
  ASSERT_TRUE(write_file(stage.root + "/etc/weir/weir.yaml", edited));

  r = stage.run(block_, "again");
  ASSERT_EQ(r.code, 0) << describe(r);
  EXPECT_EQ(stage.file("/etc/weir/weir.yaml"), edited);
  EXPECT_EQ(stage.file("/etc/weir/weir.yaml.default"),
            read_file(std::string(WEIR_SOURCE_DIR) + "/conf/weir.yaml"));
}

// The block's checks are worth running only if they fail on a broken install.
TEST_F(InstallTest, ReadmeChecksCatchABrokenUnitAndConfig) {
  Stage stage;
  RunResult r = stage.run(block_, "readme");
  ASSERT_EQ(r.code, 0) << describe(r);
  std::string verify = lines_with(block_, "systemd-analyze verify");
  std::string check = lines_with(block_, "--check-config");
  ASSERT_FALSE(verify.empty()) << block_;
  ASSERT_FALSE(check.empty()) << block_;

  const std::string good = stage.file(kUnit);
  struct Breakage {
    const char* what;
    std::string from, to;
  };
  for (const Breakage& b : {
           Breakage{"a missing binary", "ExecStart=/usr/local/bin/weir ",
                    "ExecStart=/usr/local/bin/weir-missing "},
           Breakage{"a misspelt key", "NotifyAccess=", "NotifyAcess="},
           Breakage{"a bad value", "Type=notify", "Type=notfy"},
       }) {
    SCOPED_TRACE(b.what);
    std::string broken = good;
    size_t at = broken.find(b.from);
    ASSERT_NE(at, std::string::npos) << b.from;
    broken.replace(at, b.from.size(), b.to);
    ASSERT_TRUE(write_file(stage.root + kUnit, broken));
    r = stage.run(verify, "verify");
    ASSERT_TRUE(r.exited) << describe(r);
    EXPECT_NE(r.code, 0) << "systemd-analyze verify passed a unit with " << b.what << "\n"
                         << describe(r);
  }
  ASSERT_TRUE(write_file(stage.root + kUnit, good));
  r = stage.run(verify, "verify");
  EXPECT_EQ(r.code, 0) << describe(r);

  ASSERT_TRUE(write_file(stage.root + "/etc/weir/weir.yaml", "listeners: 5\n"));
  r = stage.run(check, "check");
  ASSERT_TRUE(r.exited) << describe(r);
  EXPECT_NE(r.code, 0) << "weir --check-config passed a broken config\n" << describe(r);
}

} // namespace
} // namespace weir::test
