#include "run.h"

#include "wait.h"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <string_view>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace weir::test {

namespace {

// The name part of a NAME=VALUE entry.
std::string_view env_name(std::string_view entry) {
  return entry.substr(0, entry.find('='));
}

// The caller's environment without opt.unset and the names opt.env sets, then opt.env.
std::vector<std::string> child_environment(const RunOptions& opt) {
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) {
    std::string_view name = env_name(*e);
    bool dropped = std::find(opt.unset.begin(), opt.unset.end(), name) != opt.unset.end() ||
                   std::any_of(opt.env.begin(), opt.env.end(),
                               [&](const std::string& set) { return env_name(set) == name; });
    if (!dropped) env.push_back(*e);
  }
  env.insert(env.end(), opt.env.begin(), opt.env.end());
  return env;
}

} // namespace

RunResult run_command(const std::vector<std::string>& argv, const RunOptions& opt) {
  RunResult result;
  if (argv.empty()) {
    ADD_FAILURE() << "run_command: no argv";
    return result;
  }
  int out[2], err[2];
  if (::pipe2(out, O_CLOEXEC) != 0) {
    ADD_FAILURE() << "pipe: " << std::strerror(errno);
    return result;
  }
  if (::pipe2(err, O_CLOEXEC) != 0) {
    ADD_FAILURE() << "pipe: " << std::strerror(errno);
    ::close(out[0]);
    ::close(out[1]);
    return result;
  }
  // Everything the child needs is built before fork(): the parent has threads, so the child may
  // only make async-signal-safe calls.
  std::vector<std::string> argv_s = argv;
  std::vector<char*> argv_p;
  for (auto& a : argv_s)
    argv_p.push_back(a.data());
  argv_p.push_back(nullptr);
  std::vector<std::string> env_s = child_environment(opt);
  std::vector<char*> envp;
  for (auto& e : env_s)
    envp.push_back(e.data());
  envp.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out[1], STDOUT_FILENO);
    ::dup2(err[1], STDERR_FILENO);
    if (opt.as_nobody &&
        (::setgroups(0, nullptr) != 0 || ::setgid(65534) != 0 || ::setuid(65534) != 0))
      ::_exit(126);
    ::execve(argv_p[0], argv_p.data(), envp.data());
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
  auto deadline = std::chrono::steady_clock::now() + opt.timeout;
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
  // Reaped before the pipes close, so a child still writing is not killed by SIGPIPE.
  int status = 0;
  bool reaped = wait_until(
      [&] { return ::waitpid(pid, &status, WNOHANG) == pid; },
      std::chrono::duration_cast<std::chrono::milliseconds>(std::max(
          deadline - std::chrono::steady_clock::now(), std::chrono::steady_clock::duration(0))) +
          1000ms);
  if (!reaped) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
  } else {
    result.exited = true;
    result.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  for (auto& f : fds)
    if (f.fd >= 0) ::close(f.fd);
  return result;
}

} // namespace weir::test
