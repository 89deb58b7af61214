#pragma once

#include "weir/base/result.h"
#include "weir/config/config.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <unordered_set>

namespace weir::control {

class Controller;
class Dashboard;

// The admin HTTP listener: GET /metrics (Prometheus text format), /healthz, /ready,
// /stats.json (the 1 s, 10 s, 1 min and 5 min windows per route and backend, with each backend
// compared to the route's baseline) and the dashboard (/, /dashboard/…: control/dashboard.h). It
// runs on the control thread's io_context, never on a worker, so scrapes and slow or hostile admin
// clients cannot delay a proxied request.
//
// HTTP/1.1 with keep-alive and pipelining, parsed by http::Parser with the config's request
// limits (malformed → 400, head too large → 431, request line too long → 414, ...). Each
// request (from the first byte awaited to the last byte of its response written) must finish
// within limits.admin_idle_timeout, or the connection is closed; request bodies are read and
// dropped up to kMaxBody (beyond: 413). At most limits.max_admin_connections connections are
// open at once; at the limit the one idle longest makes room for a newcomer.
// Control thread only.
class AdminServer {
public:
  static constexpr uint64_t kMaxBody = 64 * 1024;
  static constexpr uint64_t kMaxActionBody = 16 * 1024; // a dashboard action's JSON

  AdminServer(boost::asio::io_context& io, Controller& controller);
  ~AdminServer();
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // Binds and listens on admin.address (port 0: the kernel picks one).
  Result<bool> open(const config::Admin& admin, const config::Limits& limits);
  // Takes `fd`, a socket already listening at admin.address that the weir this one upgrades
  // handed over (owned from here), without accepting from it until start_accepting().
  Result<bool> adopt(const config::Admin& admin, const config::Limits& limits, int fd);
  void start_accepting() { accept(); }
  // The dashboard at / and /dashboard/… (control/dashboard.h); without one they are 404.
  void set_dashboard(Dashboard* dashboard) { dashboard_ = dashboard; }
  // The listening socket (-1 when not listening), for an upgrade's handover.
  int native_handle();
  // Stops accepting and closes every admin connection.
  void close();
  // Stops accepting; the connections open go on, each closed after its next response (an
  // upgrade's old weir: the new one accepts from now on, and a prober's next connection
  // reaches it).
  void stop_accepting();
  // After stop_accepting(): closes the connections idle for `idle_for` (a prober that still
  // uses its connection asks again within moments, and is answered with Connection: close);
  // how many are left open.
  size_t close_idle(std::chrono::steady_clock::duration idle_for);
  // "host:port" as bound: the real port when the config said 0.
  std::string address() const;

  // 200 once the config is loaded, the workers run on their bound listeners, and discovery
  // answered for every service that has it.
  bool ready() const;
  // Why not ready ("" when it is, or when nothing more can be said).
  std::string not_ready_reason() const;
  // SIGTERM came: /ready answers 503 from now on, whatever else holds.
  void set_shutting_down() { shutting_down_ = true; }
  // The bodies of /metrics and /stats.json, appended to `out`.
  void write_metrics(std::string& out) const;
  void write_stats(std::string& out) const;

private:
  bool shutting_down_ = false;
  class Session;
  friend class Session;
  void accept();
  // Room for one more session: true when there is (after closing the longest-idle one).
  bool make_room();

  boost::asio::io_context& io_;
  Controller& controller_;
  Dashboard* dashboard_ = nullptr;
  std::chrono::milliseconds idle_timeout_{10000}; // limits.admin_idle_timeout
  config::Limits limits_;
  bool winding_down_ = false; // stop_accepting(): every response closes its connection
  boost::asio::ip::tcp::acceptor acceptor_;
  std::unordered_set<Session*> sessions_;
};

} // namespace weir::control
