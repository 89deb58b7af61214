#include "process.h"

#include "wait.h"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <fstream>
#include <gtest/gtest.h>
#include <iterator>
#include <poll.h>
#include <sstream>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace weir::test {

std::unique_ptr<Process> Process::start(std::vector<std::string> argv) {
  if (argv.empty()) return nullptr;
  std::unique_ptr<Process> p(new Process());
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return nullptr;
  if (::pipe2(p->wake_fd_, O_CLOEXEC) != 0) {
    ::close(out[0]);
    ::close(out[1]);
    return nullptr;
  }
  // Everything the child needs is prepared before fork: only async-signal-safe calls after it.
  std::vector<char*> args;
  for (auto& a : argv)
    args.push_back(a.data());
  args.push_back(nullptr);
  int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  pid_t parent = ::getpid();

  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(out[0]);
    ::close(out[1]);
    if (devnull >= 0) ::close(devnull);
    return nullptr;
  }
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    if (devnull >= 0) ::dup2(devnull, 0);
    ::dup2(out[1], 1);
    ::dup2(out[1], 2);
    // Signal dispositions set to "ignore" by the test survive exec; give the child defaults.
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    ::sigaction(SIGPIPE, &dfl, nullptr);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execv(args[0], args.data());
    const char msg[] = "Process::start: execv failed\n";
    ssize_t ignored = ::write(2, msg, sizeof msg - 1);
    (void)ignored;
    ::_exit(127);
  }
  ::close(out[1]);
  if (devnull >= 0) ::close(devnull);
  p->pid_ = pid;
  p->out_fd_ = out[0];
  p->reader_ = std::thread([raw = p.get()] { raw->read_loop(); });
  return p;
}

Process::~Process() {
  if (pid_ > 0 && !exit_status_) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
  if (wake_fd_[1] >= 0) {
    char c = 0;
    ssize_t ignored = ::write(wake_fd_[1], &c, 1);
    (void)ignored;
  }
  if (reader_.joinable()) reader_.join();
  for (int fd : {out_fd_, wake_fd_[0], wake_fd_[1]})
    if (fd >= 0) ::close(fd);
}

void Process::read_loop() {
  char buf[16384];
  for (;;) {
    pollfd fds[2] = {{out_fd_, POLLIN, 0}, {wake_fd_[0], POLLIN, 0}};
    int n = ::poll(fds, 2, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[1].revents) break;
    if (fds[0].revents) {
      ssize_t r = ::read(out_fd_, buf, sizeof buf);
      if (r < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (r <= 0) break;
      std::lock_guard lock(mutex_);
      output_.append(buf, static_cast<size_t>(r));
      changed_.notify_all();
    }
  }
  std::lock_guard lock(mutex_);
  ended_ = true;
  changed_.notify_all();
}

std::optional<std::string> Process::wait_for_line(std::string_view substring,
                                                  std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::unique_lock lock(mutex_);
  size_t line_start = 0; // lines before this offset have been searched
  for (;;) {
    for (;;) {
      size_t nl = output_.find('\n', line_start);
      if (nl == std::string::npos) break;
      std::string_view line(output_.data() + line_start, nl - line_start);
      if (line.find(substring) != std::string_view::npos) return std::string(line);
      line_start = nl + 1;
    }
    if (ended_) {
      std::string_view rest(output_.data() + line_start, output_.size() - line_start);
      if (!rest.empty() && rest.find(substring) != std::string_view::npos) return std::string(rest);
      return std::nullopt;
    }
    if (changed_.wait_until(lock, deadline) == std::cv_status::timeout) {
      // One last look at what arrived with the timeout.
      size_t nl;
      while ((nl = output_.find('\n', line_start)) != std::string::npos) {
        std::string_view line(output_.data() + line_start, nl - line_start);
        if (line.find(substring) != std::string_view::npos) return std::string(line);
        line_start = nl + 1;
      }
      return std::nullopt;
    }
  }
}

std::string Process::output() const {
  std::lock_guard lock(mutex_);
  return output_;
}

std::string Process::output_tail(size_t max_bytes) const {
  std::lock_guard lock(mutex_);
  if (output_.size() <= max_bytes) return output_;
  size_t from = output_.size() - max_bytes;
  size_t nl = output_.find('\n', from);
  if (nl != std::string::npos && nl + 1 < output_.size()) from = nl + 1;
  return "[...]\n" + output_.substr(from);
}

bool Process::output_ended() const {
  std::lock_guard lock(mutex_);
  return ended_;
}

void Process::signal(int sig) {
  if (pid_ > 0 && !exit_status_) ::kill(pid_, sig);
}

namespace {

// True when every thread of `pid` is in a stopped state ('T', or 't' under a tracer), from the
// state field of /proc/PID/task/TID/stat (the first field after the command's closing ')').
bool all_threads_stopped(pid_t pid) {
  const std::string task_dir = "/proc/" + std::to_string(pid) + "/task";
  DIR* d = ::opendir(task_dir.c_str());
  if (!d) return false;
  bool stopped = true, any = false;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    std::ifstream in(task_dir + "/" + e->d_name + "/stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const size_t paren = stat.rfind(')');
    if (paren == std::string::npos || paren + 2 >= stat.size()) continue; // the thread just ended
    any = true;
    const char state = stat[paren + 2];
    if (state != 'T' && state != 't') stopped = false;
  }
  ::closedir(d);
  return any && stopped;
}

} // namespace

bool Process::freeze(std::chrono::milliseconds timeout) {
  if (pid_ <= 0 || exit_status_) return false;
  ::kill(pid_, SIGSTOP);
  return wait_until([this] { return all_threads_stopped(pid_); }, timeout, 1ms);
}

bool Process::try_reap() {
  if (exit_status_) return true;
  int status = 0;
  pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r != pid_) return false;
  if (WIFEXITED(status))
    exit_status_ = WEXITSTATUS(status);
  else if (WIFSIGNALED(status))
    exit_status_ = 128 + WTERMSIG(status);
  else
    return false;
  // What the child wrote before it exited may still sit in the pipe, unread by the reader
  // thread: whoever sees the exit must see all of the output too. The pipe ends with the child
  // (unless it left a descendant holding it, hence the bound).
  std::unique_lock lock(mutex_);
  changed_.wait_for(lock, 2s, [this] { return ended_; });
  return true;
}

std::optional<int> Process::wait_exit(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return std::nullopt;
  wait_until([this] { return try_reap(); }, timeout, 2ms);
  return exit_status_;
}

bool Process::running() {
  return pid_ > 0 && !try_reap();
}

bool Process::stop_cleanly(const std::string& what, std::chrono::milliseconds timeout, int sig) {
  if (pid_ <= 0 || reaped()) return true;
  bool exited_before = try_reap();
  if (!exited_before) ::kill(pid_, sig);
  auto code = wait_exit(timeout);
  if (code == 0) return true;
  // A sanitizer report is at the end of the output; a leak report can run to many kilobytes.
  constexpr size_t kTail = 16384;
  if (!code) {
    ADD_FAILURE() << what << " (pid " << pid_ << ") did not exit within " << timeout.count()
                  << " ms of signal " << sig << "; it gets SIGKILL. Output (tail):\n"
                  << output_tail(kTail);
  } else {
    ADD_FAILURE() << what << " (pid " << pid_ << ") "
                  << (exited_before ? "had exited by itself" : "was stopped") << " with status "
                  << *code << ", not 0"
                  << (*code > 128 ? " (signal " + std::to_string(*code - 128) + ")" : "")
                  << ". Output (tail):\n"
                  << output_tail(kTail);
  }
  return false;
}

long Process::rss_kib() const {
  if (pid_ <= 0 || exit_status_) return -1;
  std::ifstream in("/proc/" + std::to_string(pid_) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      try {
        return std::stol(line.substr(6));
      } catch (...) {
        return -1;
      }
    }
  }
  return -1;
}

std::vector<uint16_t> listening_ports(pid_t pid) {
  std::vector<std::string> inodes;
  const std::string fd_dir = "/proc/" + std::to_string(pid) + "/fd";
  if (DIR* d = ::opendir(fd_dir.c_str())) {
    while (dirent* e = ::readdir(d)) {
      char target[128];
      const std::string link = fd_dir + "/" + e->d_name;
      const ssize_t n = ::readlink(link.c_str(), target, sizeof target - 1);
      if (n <= 0) continue;
      const std::string t(target, static_cast<size_t>(n));
      if (t.rfind("socket:[", 0) == 0) inodes.push_back(t.substr(8, t.size() - 9));
    }
    ::closedir(d);
  }
  std::vector<uint16_t> ports;
  for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream in(table);
    std::string line;
    std::getline(in, line); // header
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      std::string sl, local, remote, state, queues, timer, retr, uid, timeout, inode;
      fields >> sl >> local >> remote >> state >> queues >> timer >> retr >> uid >> timeout >>
          inode;
      if (state != "0A") continue; // LISTEN
      for (const auto& i : inodes)
        if (i == inode)
          ports.push_back(
              static_cast<uint16_t>(std::stoul(local.substr(local.rfind(':') + 1), nullptr, 16)));
    }
  }
  return ports;
}

} // namespace weir::test
