#pragma once

#include "weir.h"
#include "weir/base/json.h"

#include <chrono>
#include <string>
#include <sys/types.h>
#include <vector>

// A weir upgraded again and again by `upgrade` on its control socket (weirctl upgrade). Each new
// process is a child of the one it replaced; the test process makes itself a subreaper
// (PR_SET_CHILD_SUBREAPER), so when an old weir exits its successor becomes the test's child and
// can be reaped here and checked for a clean exit like any Weir.
namespace weir::test {

// A copy of WEIR_BIN at a fresh path whose GNU build id differs from the original's in its last
// byte (`mark`): the same code as another build, so an upgrade to it shows a new build id.
std::string weir_binary_with_build_mark(unsigned char mark);

// The build id in `weir --version` of `binary` ("" if it cannot be read).
std::string build_id_of(const std::string& binary);

class UpgradeChain {
public:
  // `first` must have a control socket at `socket`.
  UpgradeChain(Weir first, std::string socket);
  ~UpgradeChain() { stop(); }
  UpgradeChain(const UpgradeChain&) = delete;
  UpgradeChain& operator=(const UpgradeChain&) = delete;

  struct Reply {
    json::Value value; // the whole reply line; value["upgrade"] on success
    std::string raw;
    bool ok() const { return value.get_bool("ok"); }
  };
  // `upgrade ARGS` on the control socket; on success the chain follows the new pid.
  Reply upgrade(const std::string& args = "", std::chrono::milliseconds timeout = 60s);

  Weir& first() { return first_; }
  pid_t pid() const { return current_; }
  // Every pid the chain ran, the current one last.
  const std::vector<pid_t>& pids() const { return pids_; }
  // True once process `pid` of the chain has exited (reaped by this chain, status kept).
  bool exited(pid_t pid);
  // Exit status of a reaped pid (as Process::wait_exit: 128 + signal when killed), or -1.
  int exit_code(pid_t pid) const;
  // SIGTERM to the current process; waits for every process of the chain to exit with status
  // 0 (ADD_FAILURE otherwise, with the output's tail); false if one did not.
  bool stop();
  // The test killed `pid` itself (its exit status is not checked), and `successor` serves now.
  void killed(pid_t pid, pid_t successor) {
    killed_.push_back(pid);
    current_ = successor;
    pids_.push_back(successor);
  }

private:
  bool reap(pid_t pid, std::chrono::milliseconds timeout);
  Weir first_;
  std::string socket_;
  pid_t current_;
  std::vector<pid_t> pids_;
  std::vector<std::pair<pid_t, int>> exits_;
  bool stopped_ = false;
  std::vector<pid_t> killed_;
};

} // namespace weir::test
