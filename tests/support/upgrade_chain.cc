#include "upgrade_chain.h"

#include "control.h"
#include "run.h"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <fstream>
#include <gtest/gtest.h>
#include <iterator>
#include <regex>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>

namespace weir::test {

namespace {

unsigned char hex_value(char c) {
  return static_cast<unsigned char>(c <= '9' ? c - '0' : c - 'a' + 10);
}

} // namespace

std::string build_id_of(const std::string& binary) {
  RunResult v = run_command({binary, "--version"});
  std::smatch m;
  if (!std::regex_search(v.out, m, std::regex("\\(build ([0-9a-f]+)\\)"))) return "";
  return m[1];
}

std::string weir_binary_with_build_mark(unsigned char mark) {
  const std::string id = build_id_of(WEIR_BIN);
  if (id.size() < 2 || id.size() % 2 != 0) {
    ADD_FAILURE() << "no build id in " << WEIR_BIN << " --version";
    return "";
  }
  std::string bytes;
  for (size_t i = 0; i < id.size(); i += 2)
    bytes.push_back(static_cast<char>(hex_value(id[i]) << 4 | hex_value(id[i + 1])));
  std::ifstream in(WEIR_BIN, std::ios::binary);
  std::string image((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // The note is where the build id's bytes are (a copy elsewhere would be patched alike).
  size_t found = 0;
  for (size_t at = image.find(bytes); at != std::string::npos; at = image.find(bytes, at + 1)) {
    image[at + bytes.size() - 1] = static_cast<char>(mark);
    ++found;
  }
  if (found == 0) {
    ADD_FAILURE() << "the build id's bytes are not in " << WEIR_BIN;
    return "";
  }
  const std::string path = temp_path("weir-build", "");
  if (!write_file(path, image) || ::chmod(path.c_str(), 0755) != 0) {
    ADD_FAILURE() << "cannot write " << path;
    return "";
  }
  return path;
}

UpgradeChain::UpgradeChain(Weir first, std::string socket)
    : first_(std::move(first)), socket_(std::move(socket)), current_(first_.proc->pid()) {
  // Orphans of this process's descendants come here, not to init: an old weir's successor.
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  pids_.push_back(current_);
}

UpgradeChain::Reply UpgradeChain::upgrade(const std::string& args,
                                          std::chrono::milliseconds timeout) {
  Reply reply;
  auto c = connect_control(socket_);
  if (!c) return reply;
  reply.value = c->command("upgrade" + (args.empty() ? "" : " " + args), timeout);
  reply.raw = c->last_line();
  if (reply.ok()) {
    current_ = static_cast<pid_t>(reply.value["upgrade"].get_number("new_pid"));
    pids_.push_back(current_);
  }
  return reply;
}

bool UpgradeChain::reap(pid_t pid, std::chrono::milliseconds timeout) {
  for (const auto& [p, code] : exits_)
    if (p == pid) return true;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  if (pid == first_.proc->pid()) {
    // Not wait_exit alone: it also waits for the output to end, which its successors hold.
    while (first_.proc->running()) {
      if (std::chrono::steady_clock::now() >= deadline) return false;
      std::this_thread::sleep_for(5ms);
    }
    exits_.push_back({pid, first_.proc->wait_exit(0ms).value_or(-1)});
    return true;
  }
  for (;;) {
    int status = 0;
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      exits_.push_back({pid, code});
      return true;
    }
    if (r < 0 && errno == ECHILD && ::kill(pid, 0) != 0 && errno == ESRCH) {
      // Gone, and reaped by someone else (its parent, before it exited itself): no status.
      exits_.push_back({pid, -1});
      return true;
    }
    // Not our child yet (its parent, an older weir, still drains): wait on.
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(5ms); // polling a pid: there is no fd to wait on
  }
}

bool UpgradeChain::exited(pid_t pid) {
  return reap(pid, 0ms);
}

int UpgradeChain::exit_code(pid_t pid) const {
  for (const auto& [p, code] : exits_)
    if (p == pid) return code;
  return -1;
}

bool UpgradeChain::stop() {
  if (stopped_) return true;
  stopped_ = true;
  ::kill(current_, SIGTERM);
  bool clean = true;
  // The newest last: each older one may still drain, and its successor is its child until then.
  for (pid_t pid : pids_) {
    if (!reap(pid, first_.stop_timeout + 20s)) {
      ADD_FAILURE() << "weir pid " << pid << " of the upgrade chain did not exit\n"
                    << first_.proc->output_tail(3000);
      ::kill(pid, SIGKILL);
      clean = false;
      continue;
    }
    if (exit_code(pid) != 0 && std::find(killed_.begin(), killed_.end(), pid) == killed_.end()) {
      ADD_FAILURE() << "weir pid " << pid << " of the upgrade chain exited with " << exit_code(pid)
                    << "\n"
                    << first_.proc->output_tail(3000);
      clean = false;
    }
  }
  return clean;
}

} // namespace weir::test
