#pragma once

#include "process.h"

#include <cstdint>
#include <map>
#include <memory>
#include <string>

namespace weir::test {

// A running weir proxy (WEIR_BIN) started from a YAML config.
struct Weir {
  std::unique_ptr<Process> proc;
  std::string config_path;
  std::map<std::string, uint16_t> ports; // listener name -> bound port

  // The bound port of a listener; ADD_FAILURE and 0 if there is no such listener.
  uint16_t port(const std::string& listener = "public") const;

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

} // namespace weir::test
