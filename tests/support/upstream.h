#pragma once

#include "process.h"

#include <cstdint>
#include <memory>
#include <netinet/in.h>
#include <string>
#include <vector>

namespace weir::test {

// A running weir-demo-upstream on 127.0.0.1 with a kernel-chosen port. Stopped with SIGTERM,
// which it handles, and checked for a clean exit like weir (Weir::stop); a test that kills it
// itself collects the exit (wait_exit) and is left alone.
struct DemoUpstream {
  std::unique_ptr<Process> proc;
  uint16_t port = 0;

  DemoUpstream() = default;
  DemoUpstream(DemoUpstream&&) = default;
  DemoUpstream& operator=(DemoUpstream&& other); // stops the upstream this one held first
  ~DemoUpstream() { stop(); }

  // SIGTERM and exit status 0 within 10 s, else ADD_FAILURE with its output's tail and false.
  bool stop();

  // Starts DEMO_UPSTREAM_BIN --listen 127.0.0.1:0 --name NAME EXTRA... and waits (10 s) for its
  // "listening on" line. On failure: ADD_FAILURE with the output, then throws.
  static DemoUpstream start(const std::string& name, std::vector<std::string> extra_args = {});
  std::string address() const; // "127.0.0.1:PORT"

  // What one started with --count-header H counted (GET /counts): requests with H, without it;
  // -1 each when it did not answer.
  struct Counts {
    long with = -1;
    long without = -1;
  };
  Counts counts() const;
};

// The port at the end of "...HOST:PORT" (or "[v6]:PORT"); 0 if there is none.
uint16_t port_at_end(std::string_view line);

// A listening socket on 127.0.0.1 with a kernel-chosen port (in `port`), for the raw fake
// upstreams tests write themselves. -1 (errno set) if it cannot be had.
int listen_loopback(uint16_t& port, int backlog = 64);

// 127.0.0.1:port as the socket calls take it.
sockaddr_in loopback_address(uint16_t port);

// A loopback port nothing listens on (bound once by the kernel's choice, then released), so
// connections to it are refused; 0 if none could be had. For a port a server will bind next
// (nginx, a listener address). As a port that must stay refused, ClosedPort: another test
// process beside this one may bind a port released here.
uint16_t unused_port();

// A loopback port held closed for the object's lifetime: a socket bound to a kernel-chosen port
// that never listens, so the kernel refuses connections to it (RST), and no other process can
// bind the port meanwhile (the socket has no SO_REUSEADDR). port() is 0 if none could be had.
// Thread contract: none needed; one owner.
class ClosedPort {
public:
  ClosedPort();
  ClosedPort(const ClosedPort&) = delete;
  ClosedPort& operator=(const ClosedPort&) = delete;
  ~ClosedPort();

  uint16_t port() const { return port_; }
  std::string address() const; // "127.0.0.1:PORT"

private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

} // namespace weir::test
