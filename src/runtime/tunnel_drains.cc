#include "weir/runtime/tunnel_drains.h"

#include "weir/runtime/client_connection.h"
#include "weir/runtime/worker.h"

#include <algorithm>

namespace weir::runtime {

TunnelDrains::TunnelDrains(Worker& worker) : worker_(worker), timer_(worker.io()) {}

void TunnelDrains::start(const metrics::BackendCells* key, std::vector<ClientConnection*> tunnels,
                         DrainSchedule schedule) {
  stop(key);
  Drain d;
  d.id = next_id_++;
  if (next_id_ == 0) next_id_ = 1;
  d.key = key;
  d.tunnels = std::move(tunnels);
  d.schedule = schedule;
  for (size_t i = 0; i < d.tunnels.size(); ++i)
    d.tunnels[i]->enter_tunnel_drain(d.id, static_cast<uint32_t>(i));
  drains_.push_back(std::move(d));
  run(); // a zero delay and window close the first ones now, not a timer turn later
}

void TunnelDrains::stop(const metrics::BackendCells* key) {
  auto it =
      std::find_if(drains_.begin(), drains_.end(), [key](const Drain& d) { return d.key == key; });
  if (it == drains_.end()) return;
  for (size_t i = it->next; i < it->tunnels.size(); ++i)
    if (it->tunnels[i]) it->tunnels[i]->enter_tunnel_drain(0, 0);
  drains_.erase(it);
  arm();
}

void TunnelDrains::clear() {
  for (Drain& d : drains_)
    for (size_t i = d.next; i < d.tunnels.size(); ++i)
      if (d.tunnels[i]) d.tunnels[i]->enter_tunnel_drain(0, 0);
  drains_.clear();
  timer_.cancel();
}

void TunnelDrains::forget(uint32_t drain, uint32_t slot) {
  for (Drain& d : drains_)
    if (d.id == drain && slot < d.tunnels.size()) d.tunnels[slot] = nullptr;
}

void TunnelDrains::run() {
  const auto now = worker_.tick();
  // Indices, not iterators: a tunnel that drains may close at once (not a WebSocket), and its
  // close calls forget(), which only writes a slot.
  for (size_t i = 0; i < drains_.size(); ++i) {
    const size_t due = drains_[i].schedule.due(now);
    while (drains_[i].next < due) {
      ClientConnection* c = std::exchange(drains_[i].tunnels[drains_[i].next], nullptr);
      ++drains_[i].next;
      if (!c) continue;
      c->enter_tunnel_drain(0, 0);
      c->drain_tunnel();
    }
  }
  std::erase_if(drains_, [](const Drain& d) { return d.next >= d.tunnels.size(); });
  arm();
}

void TunnelDrains::arm() {
  if (drains_.empty()) {
    timer_.cancel();
    return;
  }
  auto next = DrainSchedule::Clock::time_point::max();
  for (const Drain& d : drains_)
    next = std::min(next, d.schedule.at(d.next));
  // A completion already queued for an earlier time comes with no error and runs early:
  // run() asks the schedules what is due, so that closes nothing before its time.
  timer_.expires_at(next);
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) run();
  });
}

} // namespace weir::runtime
