#pragma once

#include <condition_variable>
#include <cstdio>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

namespace weir::runtime {

// Writes access log lines on its own thread. Workers never touch the file: each fills an
// AccessLogBuffer and hands the whole buffer over a few times a second (or when it is large),
// so the only lock is taken per batch, not per request.
class AccessLog {
public:
  // path: "stdout", "stderr" or a file opened for appending. Empty error on success.
  AccessLog(const std::string& path, std::string* error);
  ~AccessLog();
  AccessLog(const AccessLog&) = delete;
  AccessLog& operator=(const AccessLog&) = delete;

  // Any thread: takes the bytes (the string is left empty with its capacity swapped in).
  void submit(std::string& batch);

private:
  void run();

  std::FILE* file_ = nullptr;
  bool owns_file_ = false;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::string> queue_;
  bool stop_ = false;
  std::thread thread_;
};

// Per-worker line buffer. Worker thread only.
class AccessLogBuffer {
public:
  explicit AccessLogBuffer(AccessLog* log = nullptr) : log_(log) {}
  bool enabled() const { return log_ != nullptr; }
  std::string& line_buffer() { return buffer_; }
  // Hands the buffer to the writer thread when it is big enough (or `force`).
  void flush(bool force);

private:
  AccessLog* log_;
  std::string buffer_;
};

} // namespace weir::runtime
