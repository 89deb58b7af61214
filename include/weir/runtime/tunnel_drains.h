#pragma once

#include "weir/runtime/drain_schedule.h"

#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <vector>

namespace weir::metrics {
struct BackendCells;
}

namespace weir::runtime {

class ClientConnection;
class Worker;

// A worker's drains of tunnels (rollout::Host::drain_tunnels, `tunnels drain`), at most one per
// route × service: the tunnels open when it was asked, in the order they close, and the
// DrainSchedule they close on. Its timer wakes at the next slot due and has each tunnel due
// drain itself (ClientConnection::drain_tunnel); a tunnel that ends before its slot leaves the
// slot empty (forget). Tunnels opened later are in none. Worker thread only.
class TunnelDrains {
public:
  explicit TunnelDrains(Worker& worker);
  TunnelDrains(const TunnelDrains&) = delete;
  TunnelDrains& operator=(const TunnelDrains&) = delete;

  // Drains `tunnels` (those of the route × service whose cells are `key`), in this order, on
  // `schedule` (made for as many). Replaces a drain of the same key: its tunnels not reached
  // yet are this one's again if they were picked again.
  void start(const metrics::BackendCells* key, std::vector<ClientConnection*> tunnels,
             DrainSchedule schedule);
  // Cancels the closes of `key` not made yet (those under way go on).
  void stop(const metrics::BackendCells* key);
  // Cancels every drain (the worker stops).
  void clear();
  // The tunnel in `slot` of drain `drain` ended before its turn.
  void forget(uint32_t drain, uint32_t slot);
  size_t active() const { return drains_.size(); }

private:
  struct Drain {
    uint32_t id = 0;
    const metrics::BackendCells* key = nullptr;
    std::vector<ClientConnection*> tunnels; // by slot; null once gone or drained
    DrainSchedule schedule;
    size_t next = 0; // slots handled
  };
  void run();
  void arm();

  Worker& worker_;
  boost::asio::steady_timer timer_;
  std::vector<Drain> drains_;
  uint32_t next_id_ = 1; // 0: a connection in no drain
};

} // namespace weir::runtime
