#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

// Plain, validated configuration. Built only by config::Loader; immutable once published.
namespace weir::config {

using Duration = std::chrono::milliseconds;

// A numeric IPv4/IPv6 address and port, e.g. 127.0.0.1:9001 or [::1]:9001.
struct Address {
  std::string host; // numeric, without brackets
  uint16_t port = 0;
  std::string text() const; // "host:port" (IPv6 in brackets)
  bool operator==(const Address&) const = default;
};

struct Listener {
  std::string name;
  Address address;
};

struct Service {
  std::string ns;   // namespace, e.g. app-v1
  std::string name; // e.g. app
  std::vector<Address> endpoints;
  // Idle keep-alive connections kept per worker and endpoint.
  uint32_t max_idle_connections = 64;
  std::string id() const { return ns + "/" + name; }
};

struct Backend {
  std::string service; // "namespace/name" of a Service
  uint32_t weight = 1;
};

struct Timeouts {
  Duration connect{1000};  // upstream connect → 503
  Duration request{30000}; // upstream response head, and each later read of it → 504
  Duration idle{60000};    // client keep-alive idle
};

struct Match {
  std::string host;              // "" any, "example.com" exact, "*.example.com" wildcard
  std::string path_prefix = "/"; // longest prefix wins
};

struct Route {
  std::string name;
  std::string listener;
  Match match;
  std::vector<Backend> backends;
  Timeouts timeouts;
};

struct Limits {
  uint32_t max_request_head_bytes = 16384;  // request line + headers → 431
  uint32_t max_request_line_bytes = 8192;   // → 414
  uint32_t max_headers = 100;               // → 431
  uint32_t max_response_head_bytes = 16384; // upstream response head → 502
  Duration client_header_timeout{10000};    // whole request head must arrive within → 408
  bool operator==(const Limits&) const = default;
};

struct AccessLog {
  bool enabled = false;
  std::string path; // "stdout", "stderr" or a file path
  std::string format = "json";
};

// The Unix domain control socket (weirctl). Absent: no control socket.
struct Control {
  bool enabled = false;
  std::string socket;   // path of the socket file
  uint32_t mode = 0600; // file mode of the socket
  std::string group;    // group owning the socket ("" keeps the process's group)
};

// The admin HTTP listener (/metrics, /healthz, /ready, /stats.json). Absent: off.
struct Admin {
  bool enabled = false;
  Address address;
};

struct Config {
  std::string source_path; // the file it was loaded from ("" when from a string)
  unsigned workers = 0;    // resolved: "auto" becomes the number of CPUs
  std::vector<Listener> listeners;
  std::vector<Service> services;
  std::vector<Route> routes;
  Limits limits;
  AccessLog access_log;
  Duration drain_timeout{30000}; // SIGTERM: in-flight requests get this long to finish
  Control control;
  Admin admin;
  std::string state_dir; // live state (weight overrides, drains) survives restarts here; "" off
};

} // namespace weir::config
