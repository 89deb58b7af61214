#include "weir.h"

#include "upstream.h"

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <mutex>
#include <sstream>
#include <stdexcept>

#ifndef WEIR_BIN
#error "WEIR_BIN must be defined (tests/integration/meson.build does it)"
#endif

namespace weir::test {

namespace {

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/weir-test-XXXXXX";
    if (char* made = ::mkdtemp(tmpl)) path = made;
  }
  ~TempDir() {
    if (path.empty() || std::getenv("WEIR_TEST_KEEP_TMP")) return;
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

} // namespace

std::string temp_dir() {
  static TempDir dir;
  if (dir.path.empty()) throw std::runtime_error("cannot create a temporary directory in /tmp");
  return dir.path;
}

std::string temp_path(const std::string& prefix, const std::string& suffix) {
  static std::atomic<unsigned> counter{0};
  return temp_dir() + "/" + prefix + "-" + std::to_string(++counter) + suffix;
}

bool write_file(const std::string& path, std::string_view contents) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
  out.close();
  return static_cast<bool>(out);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(line);
  }
  return lines;
}

std::vector<std::string> nonempty_lines_of(const std::string& text) {
  std::vector<std::string> out;
  for (std::string& line : lines_of(text))
    if (!line.empty()) out.push_back(std::move(line));
  return out;
}

uint16_t Weir::admin_port() const {
  auto line = proc ? proc->wait_for_line("weir: admin ", std::chrono::seconds(2)) : std::nullopt;
  if (!line) {
    ADD_FAILURE() << "no 'weir: admin' line:\n" << (proc ? proc->output() : std::string());
    return 0;
  }
  return port_at_end(*line);
}

uint16_t Weir::port(const std::string& listener) const {
  auto it = ports.find(listener);
  if (it == ports.end()) {
    ADD_FAILURE() << "weir has no listener named '" << listener << "'";
    return 0;
  }
  return it->second;
}

Weir& Weir::operator=(Weir&& other) {
  if (this != &other) {
    stop();
    proc = std::move(other.proc);
    config_path = std::move(other.config_path);
    ports = std::move(other.ports);
    stop_timeout = other.stop_timeout;
  }
  return *this;
}

bool Weir::stop() {
  if (!proc) return true;
  return proc->stop_cleanly("weir --config " + config_path, stop_timeout, SIGTERM);
}

Weir Weir::start(const std::string& config_yaml) {
  Weir w;
  w.config_path = temp_path("weir", ".yaml");
  if (!write_file(w.config_path, config_yaml)) {
    ADD_FAILURE() << "cannot write " << w.config_path;
    throw std::runtime_error("cannot write weir config");
  }
  w.proc = Process::start({WEIR_BIN, "--config", w.config_path});
  if (!w.proc) {
    ADD_FAILURE() << "cannot start " << WEIR_BIN;
    throw std::runtime_error("cannot start weir");
  }
  if (!w.proc->wait_for_line("ready", std::chrono::seconds(10))) {
    ADD_FAILURE() << "weir did not print 'ready' within 10 s; config:\n"
                  << config_yaml << "\noutput:\n"
                  << w.proc->output();
    w.proc.reset(); // reported above; the destructor's SIGKILL ends a weir that hangs
    throw std::runtime_error("weir did not start");
  }
  std::istringstream lines(w.proc->output());
  std::string line;
  const std::string marker = "weir: listening ";
  while (std::getline(lines, line)) {
    size_t at = line.find(marker);
    if (at == std::string::npos) continue;
    std::string rest = line.substr(at + marker.size());
    size_t space = rest.find(' ');
    if (space == std::string::npos) continue;
    w.ports[rest.substr(0, space)] = port_at_end(rest.substr(space + 1));
  }
  return w;
}

} // namespace weir::test
