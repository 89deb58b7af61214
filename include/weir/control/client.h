#pragma once

#include "weir/base/result.h"

#include <chrono>
#include <string>
#include <string_view>

namespace weir::control {

// A blocking client of the control socket, for weirctl and tests: one connection, one command
// line out, reply lines back. Every wait has a deadline, so a hung weir cannot hang the caller.
// Plain POSIX sockets, no io_context. Single-threaded: one thread uses a Client at a time.
class Client {
public:
  // A reply line longer than this is not one weir wrote; reading stops with an error.
  static constexpr size_t kMaxReplyLine = 64 << 20;

  enum class Status {
    line,        // a complete line arrived
    closed,      // the server closed the connection (a partial last line is dropped)
    timeout,     // nothing complete within the timeout
    interrupted, // the wake fd became readable
    error,       // I/O error or an over-long line; see error()
  };

  // Connects to the Unix socket at `path`. The error message is the system's reason alone
  // ("No such file or directory", "Permission denied"), so callers can phrase the advice.
  static Result<Client> connect(const std::string& path, std::chrono::milliseconds timeout);

  Client(Client&& other) noexcept;
  Client& operator=(Client&& other) noexcept;
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;
  ~Client();

  // Writes `line` and a '\n'. The line must not contain '\n'.
  Result<bool> send_line(std::string_view line, std::chrono::milliseconds timeout);

  // The next line (without its '\n'). A negative timeout waits without limit. When `wake_fd`
  // is not -1 and becomes readable the wait ends with Status::interrupted (the self-pipe a
  // signal handler writes to), leaving the fd's bytes unread.
  Status read_line(std::string& line, std::chrono::milliseconds timeout, int wake_fd = -1);

  // One command and its one reply line. Timeouts and a close before the reply are errors.
  Result<std::string> call(std::string_view line, std::chrono::milliseconds timeout);

  // The reason of the last Status::error or failed send_line.
  const std::string& error() const { return error_; }
  int fd() const { return fd_; }

private:
  explicit Client(int fd) : fd_(fd) {}
  void close();

  int fd_ = -1;
  std::string buffer_; // bytes received past the last returned line
  size_t scanned_ = 0; // prefix of buffer_ known to hold no '\n'
  std::string error_;
};

} // namespace weir::control
