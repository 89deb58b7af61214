#include "prometheus.h"

#include "client.h"
#include "wait.h"
#include "weir.h"

#include <csignal>
#include <cstdio>
#include <dirent.h>
#include <fstream>
#include <gtest/gtest.h>
#include <sstream>
#include <stdexcept>
#include <unistd.h>

namespace weir::test {

namespace {

std::string seconds(std::chrono::milliseconds d) {
  return std::to_string(d.count()) + "ms";
}

std::string encode(const std::string& s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

} // namespace

bool Prometheus::available() {
  return ::access(kBinary, X_OK) == 0;
}

Prometheus Prometheus::start(const std::map<std::string, std::vector<std::string>>& jobs,
                             std::chrono::milliseconds scrape_interval) {
  Prometheus p;
  // Targets come from one file per job (file_sd), which Prometheus watches: set_targets() adds a
  // target that exists only after Prometheus (a weir whose config names Prometheus' address).
  std::string config = "global:\n  scrape_interval: " + seconds(scrape_interval) +
                       "\n  scrape_timeout: " + seconds(scrape_interval) +
                       "\n  evaluation_interval: " + seconds(scrape_interval) +
                       "\nscrape_configs:\n";
  for (const auto& [job, targets] : jobs) {
    const std::string file = temp_path("prometheus-targets", ".json");
    p.target_files[job] = file;
    if (!p.set_targets(job, targets)) throw std::runtime_error("prometheus targets");
    config +=
        "  - job_name: \"" + job + "\"\n    file_sd_configs:\n      - files: [\"" + file + "\"]\n";
  }
  const std::string config_path = temp_path("prometheus", ".yml");
  const std::string storage = temp_path("prometheus-data");
  if (!write_file(config_path, config)) {
    ADD_FAILURE() << "cannot write " << config_path;
    throw std::runtime_error("prometheus config");
  }
  p.proc =
      Process::start({kBinary, "--config.file=" + config_path, "--storage.tsdb.path=" + storage,
                      "--web.listen-address=127.0.0.1:0", "--log.level=warn"});
  if (!p.proc) {
    ADD_FAILURE() << "cannot start " << kBinary;
    throw std::runtime_error("prometheus did not start");
  }
  const bool ready = wait_until(
      [&] {
        if (!p.proc->running()) return true;
        if (p.port == 0) {
          auto ports = listening_ports(p.proc->pid());
          if (ports.empty()) return false;
          p.port = ports.front();
        }
        return http_request(p.port, "GET", "/-/ready").status == 200;
      },
      15s, 20ms);
  if (ready && p.proc->running()) return p;
  const std::string output = p.proc->output_tail(4000);
  ADD_FAILURE() << "prometheus did not become ready:\n" << output;
  throw std::runtime_error("prometheus did not start");
}

bool Prometheus::set_targets(const std::string& job, const std::vector<std::string>& targets) {
  auto it = target_files.find(job);
  if (it == target_files.end()) {
    ADD_FAILURE() << "prometheus: no job " << job;
    return false;
  }
  std::string json = "[{\"targets\": [";
  for (size_t i = 0; i < targets.size(); ++i)
    json += (i ? ", \"" : "\"") + targets[i] + "\"";
  json += "]}]\n";
  // Written aside and renamed: Prometheus never reads half a file.
  const std::string tmp = it->second + ".tmp";
  if (!write_file(tmp, json) || ::rename(tmp.c_str(), it->second.c_str()) != 0) {
    ADD_FAILURE() << "cannot write " << it->second;
    return false;
  }
  return true;
}

bool Prometheus::stop() {
  if (!proc) return true;
  const bool ok = proc->stop_cleanly("prometheus", 15s, SIGTERM);
  proc.reset();
  return ok;
}

std::string Prometheus::address() const {
  return "http://127.0.0.1:" + std::to_string(port);
}

std::string Prometheus::query(const std::string& promql) const {
  HttpResponse r = http_request(port, "GET", "/api/v1/query?query=" + encode(promql));
  return r.status == 200 ? r.body : "";
}

} // namespace weir::test
