#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

// Running a command to completion with its stdout and stderr captured apart.
namespace weir::test {

using namespace std::chrono_literals;

struct RunResult {
  bool exited = false; // false: still running at the deadline (then killed), or not started
  int code = -1;       // exit code, or 128 + signal; -1 when it did not exit by itself
  std::string out;
  std::string err;
};

struct RunOptions {
  std::vector<std::string> env;   // NAME=VALUE entries, replacing inherited ones of the same name
  std::vector<std::string> unset; // names dropped from the inherited environment
  bool as_nobody = false;         // run as uid/gid 65534 (needs root); exit code 126 if it cannot
  std::chrono::milliseconds timeout = 15s;
  // Standard input: nullopt inherits the test's. Else `input` is written first, then stdin is
  // closed once close_input says so (asked after every read and every 20 ms; unset: at once).
  // Some clients (openssl s_client) read stdin only after their handshake and quit at its end,
  // so when the end comes decides what they still read. stdin is a socket: writing to a child
  // that exited is EPIPE, not a SIGPIPE for the test.
  std::optional<std::string> input;
  std::function<bool(const std::string& out, const std::string& err)> close_input;
};

// Runs argv (argv[0] is the path of the binary: no PATH lookup) with stdout and stderr captured
// apart, until it exits or opt.timeout passes (plus a second to be reaped); then it gets SIGKILL
// and the result has exited == false. A failed exec exits 127. ADD_FAILURE if pipe or fork fail.
RunResult run_command(const std::vector<std::string>& argv, const RunOptions& opt = {});

} // namespace weir::test
