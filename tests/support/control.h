#pragma once

#include "weir/base/json.h"

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

// A raw client for weir's control socket (one command line out, one JSON line back) and helpers
// for reading its replies.
namespace weir::test {

using namespace std::chrono_literals;

// One control socket connection: a command line out, one JSON line back.
class ControlClient {
public:
  // nullptr if connect() fails; *err gets its errno.
  static std::unique_ptr<ControlClient> connect(const std::string& path, int* err = nullptr);
  ControlClient(const ControlClient&) = delete;
  ControlClient& operator=(const ControlClient&) = delete;
  ~ControlClient();

  bool send(std::string_view bytes);

  // The next line without its newline; nullopt on timeout or when the peer closed first.
  std::optional<std::string> read_line(std::chrono::milliseconds timeout = 10s);

  // Sends `line` + "\n" and parses the reply line; a null Value when there is none or it is
  // not JSON (last_line() has the raw text).
  json::Value command(std::string_view line, std::chrono::milliseconds timeout = 10s);

  // True once the peer closes (EOF or ECONNRESET) within `timeout`; data read meanwhile is kept.
  bool closed_by_peer(std::chrono::milliseconds timeout);

  const std::string& last_line() const { return last_; }
  int fd() const { return fd_; }

private:
  explicit ControlClient(int fd) : fd_(fd) {}

  // Appends what arrives before `deadline`; false on timeout, EOF or error.
  bool fill(std::chrono::steady_clock::time_point deadline);

  int fd_;
  std::string buf_;
  std::string last_;
  bool eof_ = false;
};

// ControlClient::connect with an EXPECT failure (naming the errno) when it cannot connect.
std::unique_ptr<ControlClient> connect_control(const std::string& socket);

// A backend's field in a `show routes` (or `set weight`) reply, by service; a null Value if the
// route has no such backend.
const json::Value& backend_field(const json::Value& route, const std::string& service,
                                 const std::string& field);

} // namespace weir::test
