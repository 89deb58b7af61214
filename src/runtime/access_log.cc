#include "weir/runtime/access_log.h"

#include <cerrno>
#include <cstring>

namespace weir::runtime {

AccessLog::AccessLog(const std::string& path, std::string* error, uint64_t max_queue_bytes)
    : max_queue_bytes_(max_queue_bytes) {
  if (path == "stdout") {
    file_ = stdout;
  } else if (path == "stderr") {
    file_ = stderr;
  } else {
    file_ = std::fopen(path.c_str(), "a");
    if (!file_) {
      if (error) *error = "cannot open access log " + path + ": " + std::strerror(errno);
      return;
    }
    owns_file_ = true;
  }
  thread_ = std::thread([this] { run(); });
}

AccessLog::~AccessLog() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
  if (owns_file_) std::fclose(file_);
}

bool AccessLog::submit(std::string& batch) {
  if (batch.empty()) return true;
  {
    std::lock_guard lock(mutex_);
    if (queued_bytes_ + batch.size() > max_queue_bytes_.load(std::memory_order_relaxed))
      return false;
    // The caller keeps filling a buffer the writer has emptied before (no allocation once a
    // few batches have gone round); only while none is back does it get a fresh one.
    std::string taken;
    if (!spare_.empty()) {
      taken.swap(spare_.back());
      spare_.pop_back();
    } else {
      taken.reserve(batch.capacity());
    }
    taken.swap(batch);
    queued_bytes_ += taken.size();
    queue_.push_back(std::move(taken));
  }
  wake_.notify_one();
  return true;
}

void AccessLog::run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [this] { return stop_ || !queue_.empty(); });
    while (!queue_.empty()) {
      std::string batch = std::move(queue_.front());
      queue_.pop_front();
      queued_bytes_ -= batch.size();
      lock.unlock();
      std::fwrite(batch.data(), 1, batch.size(), file_);
      std::fflush(file_);
      batch.clear();
      lock.lock();
      if (spare_.size() < kMaxSpare) spare_.push_back(std::move(batch));
    }
    if (stop_) return;
  }
}

void AccessLogBuffer::flush(bool force) {
  if (!log_ || buffer_.empty()) return;
  if (!force && buffer_.size() < 64 * 1024) return;
  if (log_->submit(buffer_)) return;
  size_t lines = 0;
  for (char c : buffer_)
    lines += c == '\n';
  if (dropped_) dropped_->add(lines);
  buffer_.clear();
}

} // namespace weir::runtime
