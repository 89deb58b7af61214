#pragma once

#include "weir/metrics/cells.h"

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace weir::runtime {

// Writes access log lines on its own thread. Workers never touch the file: each fills an
// AccessLogBuffer and hands the whole buffer over a few times a second (or when it is large),
// so the only lock is taken per batch, not per request.
class AccessLog {
public:
  // path: "stdout", "stderr" or a file opened for appending. Empty error on success.
  // max_queue_bytes: what may wait for the writer; a slow disk or a blocked stdout never makes
  // the process grow without bound.
  AccessLog(const std::string& path, std::string* error, uint64_t max_queue_bytes = 16 << 20);
  ~AccessLog();
  AccessLog(const AccessLog&) = delete;
  AccessLog& operator=(const AccessLog&) = delete;

  // Any thread: takes the bytes (the string is left empty with its capacity kept). False when
  // the queue is full: nothing is taken, the caller drops the batch.
  bool submit(std::string& batch);
  // Any thread (a reload changed limits.max_access_log_queue_bytes).
  void set_max_queue_bytes(uint64_t n) { max_queue_bytes_.store(n, std::memory_order_relaxed); }

private:
  void run();

  std::FILE* file_ = nullptr;
  bool owns_file_ = false;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::string> queue_;
  // Written-out buffers, emptied with their capacity kept, for submit() to hand back to a worker.
  static constexpr size_t kMaxSpare = 16;
  std::vector<std::string> spare_;
  uint64_t queued_bytes_ = 0;
  std::atomic<uint64_t> max_queue_bytes_;
  bool stop_ = false;
  std::thread thread_;
};

// Per-worker line buffer. Worker thread only.
class AccessLogBuffer {
public:
  explicit AccessLogBuffer(AccessLog* log = nullptr, metrics::Counter* dropped = nullptr)
      : log_(log), dropped_(dropped) {}
  bool enabled() const { return log_ != nullptr; }
  std::string& line_buffer() { return buffer_; }
  // Hands the buffer to the writer thread when it is big enough (or `force`).
  void flush(bool force);

private:
  AccessLog* log_;
  metrics::Counter* dropped_; // lines dropped because the queue was full
  std::string buffer_;
};

} // namespace weir::runtime
