#pragma once

#include "process.h"

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace weir::test {

// Debian's real Prometheus server (/usr/bin/prometheus) on a free loopback port, scraping the
// given targets every `scrape_interval` into a fresh storage directory under temp_dir(): the
// external metrics provider of rollout tests. Stopped with SIGTERM (and checked for a clean exit)
// by stop() or the destructor.
struct Prometheus {
  static constexpr const char* kBinary = "/usr/bin/prometheus";

  std::unique_ptr<Process> proc;
  uint16_t port = 0;
  std::map<std::string, std::string> target_files; // job → its file_sd file

  Prometheus() = default;
  Prometheus(Prometheus&&) = default;
  ~Prometheus() { stop(); }

  // True when the binary is installed (tests GTEST_SKIP otherwise, naming ./dev deps).
  static bool available();

  // jobs: job name → "host:port" targets (scraped at /metrics; may be empty, see set_targets).
  // Prometheus syncs its targets 5 s after it starts, so the first scrape comes then. Waits (up to
  // 15 s) until
  // /-/ready answers 200. On failure: ADD_FAILURE with Prometheus' output, then throws.
  static Prometheus start(const std::map<std::string, std::vector<std::string>>& jobs,
                          std::chrono::milliseconds scrape_interval = std::chrono::seconds(1));

  // Replaces a job's targets (Prometheus notices within a moment, and scrapes them after its
  // next target sync, up to 5 s later). False (and a failure) for an unknown job.
  bool set_targets(const std::string& job, const std::vector<std::string>& targets);

  bool stop();
  std::string address() const; // "http://127.0.0.1:PORT"

  // One instant query through the HTTP API, as raw JSON ("" if no answer): for waiting until
  // a target has been scraped.
  std::string query(const std::string& promql) const;
};

} // namespace weir::test
