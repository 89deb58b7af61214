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
#include <sys/socket.h>
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
  int in[2] = {-1, -1};
  if (opt.input && ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in) != 0) {
    ADD_FAILURE() << "socketpair: " << std::strerror(errno);
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
    if (in[1] >= 0) ::dup2(in[1], STDIN_FILENO);
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
  if (in[1] >= 0) ::close(in[1]);
  int input_fd = in[0];
  if (pid < 0) {
    ADD_FAILURE() << "fork: " << std::strerror(errno);
    ::close(out[0]);
    ::close(err[0]);
    if (input_fd >= 0) ::close(input_fd);
    return result;
  }
  const std::string no_input;
  const std::string& input = opt.input ? *opt.input : no_input;
  size_t written = 0;
  auto deadline = std::chrono::steady_clock::now() + opt.timeout;
  pollfd fds[3] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}, {-1, POLLOUT, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  int open = 2;
  while (open > 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left <= 0ms) break;
    const bool writing = input_fd >= 0 && written < input.size();
    fds[2].fd = writing ? input_fd : -1;
    // While stdin is open, wake up now and then to ask close_input again.
    const long wait = input_fd >= 0 ? std::min<long>(left.count(), 20) : left.count();
    if (::poll(fds, 3, static_cast<int>(wait)) < 0 && errno != EINTR) break;
    if (writing && (fds[2].revents & (POLLOUT | POLLERR | POLLHUP))) {
      ssize_t n = ::send(input_fd, input.data() + written, input.size() - written,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) {
        written += static_cast<size_t>(n);
      } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
        written = input.size(); // the child stopped reading: nothing more to give it
      }
    }
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
    if (input_fd >= 0 && written == input.size() &&
        (!opt.close_input || opt.close_input(result.out, result.err))) {
      ::close(input_fd);
      input_fd = -1;
    }
  }
  if (input_fd >= 0) ::close(input_fd);
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
  for (int i = 0; i < 2; ++i)
    if (fds[i].fd >= 0) ::close(fds[i].fd);
  return result;
}

} // namespace weir::test
