#pragma once

#include "process.h"

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace weir::test {

// A real etcd cluster for tests: Debian's etcd-server (3.4) with 1 or 3 members on loopback
// ports, each with its own data directory under temp_dir(), raft timings cut to 50 ms heartbeat
// and 250 ms election timeout so that a lost member is replaced in well under a second. Members
// can be killed, and the whole cluster stopped and started again with its data.
// Thread contract: endpoints() and healthy() may be called from any thread; the others only from
// the thread that owns the object.
class Etcd {
public:
  // Starts `members` members (1 or 3) and waits (20 s) until every one answers /health. On
  // failure: ADD_FAILURE with the members' output, and nullptr.
  static std::unique_ptr<Etcd> start(size_t members = 1);

  Etcd(const Etcd&) = delete;
  Etcd& operator=(const Etcd&) = delete;
  ~Etcd(); // SIGKILL of every member still running

  size_t size() const { return members_.size(); }
  // "http://127.0.0.1:PORT" of each member's client URL, in member order.
  std::vector<std::string> endpoints() const;
  std::string endpoint(size_t i) const;

  // GET /health of member i answered {"health":"true"} within `timeout` (it has a leader).
  bool healthy(size_t i, std::chrono::milliseconds timeout = std::chrono::milliseconds(500)) const;

  // SIGKILL of member i, exit collected: its ports refuse from now on.
  void kill(size_t i);
  // SIGTERM to every running member, then SIGKILL for any still running after 5 s. Data kept.
  void stop_all();
  // Starts every member that is not running, on the same ports with the same data, and waits
  // (20 s) until every member answers /health. On failure: ADD_FAILURE with output, and false.
  bool start_all();

  // Every member's output (the tail of each), for a failing test's message.
  std::string output() const;

private:
  struct Member {
    std::string name;
    uint16_t client_port = 0;
    uint16_t peer_port = 0;
    std::string data_dir;
    std::unique_ptr<Process> proc;
  };
  Etcd() = default;
  bool launch(size_t i);
  bool wait_healthy(std::chrono::milliseconds timeout);

  std::string token_;
  std::vector<Member> members_;
};

} // namespace weir::test
