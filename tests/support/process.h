#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <thread>
#include <vector>

namespace weir::test {

using namespace std::chrono_literals;

// A child process with stdout and stderr captured (interleaved, as written) by a reader thread.
// The child gets SIGKILL if the test process dies, and on destruction if still running: owners
// that want a clean exit checked (Weir, DemoUpstream) stop it with stop_cleanly() before that.
// Thread contract: output()/wait_for_line() may be called from any thread; start, signal,
// wait_exit and the destructor from the thread that owns the object.
class Process {
public:
  // argv[0] is the path of the binary (no PATH lookup). Returns nullptr if it cannot be started.
  static std::unique_ptr<Process> start(std::vector<std::string> argv);

  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  ~Process();

  pid_t pid() const { return pid_; }

  // The first line (without its newline) of all output so far or arriving within `timeout` that
  // contains `substring`. nullopt on timeout, or as soon as output ends (the child closed it)
  // without such a line. A final line without a newline counts once output has ended.
  std::optional<std::string> wait_for_line(std::string_view substring,
                                           std::chrono::milliseconds timeout);
  // Everything captured so far.
  std::string output() const;
  // The last `max_bytes` of the output (from the start of a line when one begins in them).
  std::string output_tail(size_t max_bytes) const;
  // True once the child has closed its stdout/stderr (usually: it exited).
  bool output_ended() const;

  // kill(pid, sig); does nothing once the child has been reaped.
  void signal(int sig);
  // SIGSTOP, then waits (up to `timeout`) until every thread of the child has stopped; false if
  // one has not. kill() returns once the signal is queued: the one thread it wakes stops the
  // others only when it gets a CPU, and on a busy machine (test processes side by side) another
  // thread can serve a request before that. SIGCONT (signal) resumes it.
  bool freeze(std::chrono::milliseconds timeout = 5s);
  // Exit code, or 128 + signal number if it died of a signal; nullopt if still running after
  // `timeout`. Once reaped, returns the same value again at once. When it returns a value, the
  // output the child wrote is all in output() (or 2 s have passed waiting for it).
  std::optional<int> wait_exit(std::chrono::milliseconds timeout);
  bool running();
  // True once the exit status has been collected (by wait_exit, running or stop_cleanly): the
  // exit has been seen by whoever asked.
  bool reaped() const { return exit_status_.has_value(); }

  // Stops the child as an operator would: `sig` (SIGTERM), then up to `timeout` for the exit.
  // Unless it exits with status 0 in time: ADD_FAILURE naming `what`, with the exit status and
  // the tail of the output (where a sanitizer's report lands), and false; a child still running
  // then is left to the destructor's SIGKILL. Does nothing and returns true if the exit was
  // already collected: the test looked at it itself (a kill -9 test, say).
  bool stop_cleanly(const std::string& what, std::chrono::milliseconds timeout, int sig);

  // Resident set size (VmRSS of /proc/PID/status) in KiB; -1 if unavailable.
  long rss_kib() const;

private:
  Process() = default;
  void read_loop();
  bool try_reap();

  pid_t pid_ = -1;
  int out_fd_ = -1;           // read end of the child's stdout+stderr pipe
  int wake_fd_[2] = {-1, -1}; // self-pipe that stops the reader thread
  std::thread reader_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::string output_;
  bool ended_ = false;
  std::optional<int> exit_status_;
};

// Ports a process listens on (TCP, IPv4 and IPv6), from its socket inodes in /proc: for a
// server (Prometheus) that binds port 0 as asked but does not say which port it got.
std::vector<uint16_t> listening_ports(pid_t pid);

} // namespace weir::test
