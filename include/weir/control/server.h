#pragma once

#include "weir/base/result.h"
#include "weir/config/config.h"
#include "weir/control/command_table.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <chrono>
#include <memory>
#include <string>

namespace weir::control {

// The Unix domain control socket: one command per line in, one JSON object per line out.
// Runs on the control thread, never on a worker, so a slow or hostile client cannot touch the
// data plane. Lines are limited to 64 KiB; a client idle for `idle_timeout` is closed.
class Server {
public:
  static constexpr size_t kMaxLine = 64 * 1024;

  Server(boost::asio::io_context& io, const CommandTable& commands,
         std::chrono::milliseconds idle_timeout = std::chrono::seconds(60));
  ~Server();

  // Creates the socket file with the configured mode and group. A stale file left by a dead
  // process is replaced; one a running weir still answers on is an error.
  Result<bool> open(const config::Control& control);
  // Takes `fd`, a socket already listening at control.socket that the weir this one upgrades
  // handed over (owned from here), without accepting from it until start_accepting(): until
  // then the old weir answers what arrives.
  Result<bool> adopt(const config::Control& control, int fd);
  void start_accepting() { accept(); }
  // Stops accepting and removes the socket file.
  void close();
  // Stops accepting and leaves the file: the new weir of an upgrade listens on it.
  void close_keeping_file();
  // The listening socket (-1 when not listening), for an upgrade's handover.
  int native_handle();
  const std::string& path() const { return path_; }

private:
  class Session;
  void accept();

  boost::asio::io_context& io_;
  const CommandTable& commands_;
  std::chrono::milliseconds idle_timeout_;
  boost::asio::local::stream_protocol::acceptor acceptor_;
  std::string path_;
};

} // namespace weir::control
