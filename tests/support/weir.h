#pragma once

#include "process.h"

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace weir::test {

// A running weir proxy (WEIR_BIN) started from a YAML config. It ends as in production, with
// SIGTERM, and must exit 0: that is when LeakSanitizer looks, and a report (or a hang, or a crash)
// fails the test that started this weir. Only tests about kill -9 kill it, and they collect the
// exit themselves (wait_exit), which tells stop() to leave it alone.
struct Weir {
  std::unique_ptr<Process> proc;
  std::string config_path;
  std::map<std::string, uint16_t> ports; // listener name -> bound port
  // How long stop() waits after SIGTERM: weir first drains what is in flight (drain_timeout),
  // and a sanitized build takes a while longer to exit.
  std::chrono::milliseconds stop_timeout = std::chrono::seconds(20);

  Weir() = default;
  Weir(Weir&&) = default;
  Weir& operator=(Weir&& other); // stops the weir this one held first
  ~Weir() { stop(); }

  // SIGTERM and a clean exit (status 0 within stop_timeout); otherwise ADD_FAILURE with the tail
  // of weir's output, and false. True at once when there is nothing to stop or the test has
  // collected the exit already.
  bool stop();

  // The bound port of a listener; ADD_FAILURE and 0 if there is no such listener.
  uint16_t port(const std::string& listener = "public") const;
  // The admin listener's bound port (from weir's "weir: admin ADDRESS" line, waited for up to
  // 2 s); ADD_FAILURE and 0 without one.
  uint16_t admin_port() const;

  // Writes config_yaml to a new file under temp_dir(), runs WEIR_BIN --config FILE, waits (10 s)
  // for "ready" and reads the "weir: listening NAME ADDR" lines. On failure: ADD_FAILURE with
  // the output, then throws.
  static Weir start(const std::string& config_yaml);
};

// A directory under /tmp unique to this test process, created on first use, removed at exit
// (kept when WEIR_TEST_KEEP_TMP is set).
std::string temp_dir();

// A fresh path "temp_dir()/PREFIX-N.SUFFIX" that does not exist yet.
std::string temp_path(const std::string& prefix, const std::string& suffix = "");

// Writes a whole file; false on error.
bool write_file(const std::string& path, std::string_view contents);
// Reads a whole file; "" if it cannot be read.
std::string read_file(const std::string& path);
// The lines of `text`, without their newlines (nor a "\r" before one).
std::vector<std::string> lines_of(const std::string& text);
// The same without the empty ones.
std::vector<std::string> nonempty_lines_of(const std::string& text);

} // namespace weir::test
