#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

// Steady HTTP traffic against a weir listener, counted per backend.
namespace weir::test {

using namespace std::chrono_literals;

// Keep-alive GET / from a pool of threads at a paced total rate, counting every status and
// every socket error. Responses are grouped by epoch: a request counts in the epoch that was
// current when it was sent, so after new_epoch() returns, the new epoch holds only requests sent
// after the caller's last change was acknowledged.
class LoadGen {
public:
  LoadGen(uint16_t port, int threads, double target_rps, std::string path = "/");
  LoadGen(const LoadGen&) = delete;
  LoadGen& operator=(const LoadGen&) = delete;
  ~LoadGen() { stop(); }

  void stop();

  int new_epoch() { return epoch_.fetch_add(1, std::memory_order_acq_rel) + 1; }

  // x-served-by of the 2xx responses to requests sent in `epoch`.
  std::map<std::string, uint64_t> served_by(int epoch) const;
  uint64_t count(int epoch) const;
  // Waits (up to `timeout`) for `n` responses in `epoch`; false if they did not come.
  bool wait_for(int epoch, uint64_t n, std::chrono::milliseconds timeout = 20s) const;

  uint64_t responses() const;
  uint64_t failures() const;
  // Status counts, socket errors and the first few failures, for messages.
  std::string report() const;
  // Responses per second from construction to stop() (or now).
  double rate() const;
  // The longest a complete response took, from its request's send to its last byte.
  std::chrono::milliseconds slowest() const;

private:
  struct Worker {
    std::thread thread;
    mutable std::mutex mutex;
    std::map<int, std::map<std::string, uint64_t>> by_epoch;
    std::map<int, uint64_t> statuses;
    uint64_t responses = 0;
    uint64_t failures = 0;
    uint64_t socket_errors = 0;
    std::chrono::steady_clock::duration slowest{};
    std::vector<std::string> notes; // the first failures
  };

  void run(Worker& w, std::chrono::duration<double> interval);

  uint16_t port_;
  std::string path_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::atomic<bool> stop_{false};
  std::atomic<int> epoch_{0};
  std::chrono::steady_clock::time_point started_;
  std::chrono::steady_clock::time_point stopped_;
};

// x-served-by of `n` keep-alive GETs on one connection; ADD_FAILURE (and the counts so far) if
// it cannot connect or a response is not a 200.
std::map<std::string, int> served_by(uint16_t port, int n);

} // namespace weir::test
