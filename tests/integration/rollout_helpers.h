#pragma once
// What the rollout integration tests share: control-socket helpers (status, history, phases)
// and config builders for a route over two demo versions with a rollout plan.
#include "support/control.h"
#include "support/upstream.h"
#include "support/wait.h"
#include "weir/base/json.h"

#include <chrono>
#include <string>
#include <vector>

namespace weir::test::rollout {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

inline long ms_since(Clock::time_point t) {
  return static_cast<long>(
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count());
}

inline bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// ---------------------------------------------------------------------------------------------
// Control socket

// One command on a fresh connection to the control socket: the parsed reply and its raw line.
struct Reply {
  json::Value value;
  std::string raw;
  bool ok() const { return value.get_bool("ok"); }
  std::string error() const { return value.get_string("error"); }
};

inline Reply control(const std::string& socket, const std::string& command) {
  Reply reply;
  auto c = connect_control(socket);
  if (!c) return reply;
  reply.value = c->command(command);
  reply.raw = c->last_line();
  return reply;
}

// The "rollout" object of `rollout status ROUTE` (a null Value when the command failed).
inline json::Value status(const std::string& socket, const std::string& route = "r") {
  return control(socket, "rollout status " + route).value["rollout"];
}

inline std::string status_raw(const std::string& socket, const std::string& route = "r") {
  return control(socket, "rollout status " + route).raw;
}

// The "events" array of `rollout history ROUTE`.
inline json::Value::Array history(const std::string& socket, const std::string& route = "r") {
  return control(socket, "rollout history " + route).value["events"].as_array();
}

inline std::string history_raw(const std::string& socket, const std::string& route = "r") {
  return control(socket, "rollout history " + route).raw;
}

inline size_t count_events(const json::Value::Array& events, const std::string& type) {
  size_t n = 0;
  for (const auto& e : events)
    n += e.get_string("type") == type ? 1 : 0;
  return n;
}

inline bool wait_phase(const std::string& socket, const std::string& phase,
                       std::chrono::milliseconds timeout, const std::string& route = "r") {
  return wait_until([&] { return status(socket, route).get_string("phase") == phase; }, timeout,
                    10ms);
}

// Paused at the manual gate that is step `step` (0-based).
inline bool wait_gate(const std::string& socket, size_t step, std::chrono::milliseconds timeout,
                      const std::string& route = "r") {
  return wait_until(
      [&] {
        json::Value s = status(socket, route);
        return s.get_string("phase") == "Paused" &&
               static_cast<size_t>(s.get_number("step", -1)) == step;
      },
      timeout, 10ms);
}

// A backend's live weight in `show routes`.
// Returns once every worker uses the newest snapshot: `undrain` of an endpoint that is not
// drained changes nothing but, like every change, replies only after all workers applied it, and
// each worker applies snapshots in order. A rollout command replies before that.
inline bool workers_caught_up(const std::string& socket, const std::string& service,
                              const std::string& endpoint) {
  return control(socket, "undrain " + service + " " + endpoint).ok();
}

inline double live_weight(const std::string& socket, const std::string& route,
                          const std::string& service) {
  Reply routes = control(socket, "show routes");
  for (const auto& r : routes.value["routes"].as_array())
    if (r.get_string("name") == route) return backend_field(r, service, "weight").as_number();
  return -1;
}

// ---------------------------------------------------------------------------------------------
// Configs

inline std::string address_of(uint16_t port) {
  return "127.0.0.1:" + std::to_string(port);
}

inline std::string header(const std::string& socket, int workers,
                          const std::string& state_dir = "") {
  std::string y = "workers: " + std::to_string(workers) + "\ncontrol:\n  socket: " + socket + "\n";
  if (!state_dir.empty()) y += "state_dir: " + state_dir + "\n";
  return y + "listeners:\n  - name: public\n    address: 127.0.0.1:0\n";
}

inline std::string service(const std::string& id, const std::string& address,
                           const std::string& extra = "") {
  std::string ns = id.substr(0, id.find('/'));
  std::string name = id.substr(id.find('/') + 1);
  return "  - namespace: " + ns + "\n    name: " + name + "\n    endpoints: [" + address + "]\n" +
         extra;
}

// Outlier ejection off: only the rollout decides who gets traffic.
inline const char* kNoOutliers = "    outlier_detection: { enabled: false }\n";

inline const char* kAnalysis = "{ interval: 1s, min_requests: 50, max_error_rate: 1%, "
                               "max_error_rate_increase: 0.5%, max_p99_latency: 500ms, "
                               "max_p99_increase: 50%, failure_limit: 2, inconclusive_limit: 3 }";

struct Plan {
  std::vector<std::string> steps; // one step each: "set_weight: 10", "pause: {}", ...
  std::string analysis = kAnalysis;
  std::string extra; // further rollout keys, each a line indented by six spaces
  std::string stable = "app-v1/app";
  std::string canary = "app-v2/app";
};

inline std::string rollout_yaml(const Plan& p) {
  std::string y = "    rollout:\n      stable: " + p.stable + "\n      canary: " + p.canary +
                  "\n      steps:\n";
  for (const auto& s : p.steps)
    y += "        - " + s + "\n";
  return y + "      analysis: " + p.analysis + "\n" + p.extra;
}

// A route over app-v1/app (configured weight 100) and app-v2/app (0) with a rollout plan.
inline std::string route(const std::string& name, const std::string& prefix, const Plan& plan,
                         const std::string& extra = "",
                         const std::vector<std::string>& more_backends = {}) {
  std::string y = "  - name: " + name +
                  "\n    listener: public\n    match: { path_prefix: " + prefix +
                  " }\n    backends:\n      - { service: app-v1/app, weight: 100 }\n" +
                  "      - { service: app-v2/app, weight: 0 }\n";
  for (const auto& b : more_backends)
    y += "      - { service: " + b + ", weight: 0 }\n";
  return y + extra + rollout_yaml(plan);
}

// The usual two-version setup: one route "r" on "/".
inline std::string two_versions(const std::string& socket, int workers, const DemoUpstream& v1,
                                const DemoUpstream& v2, const Plan& plan,
                                const std::string& route_extra = "",
                                const std::string& state_dir = "") {
  return header(socket, workers, state_dir) + "services:\n" +
         service("app-v1/app", v1.address(), kNoOutliers) +
         service("app-v2/app", v2.address(), kNoOutliers) + "routes:\n" +
         route("r", "/", plan, route_extra);
}

} // namespace weir::test::rollout
