#pragma once

#include "weir/net/url.h"

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace weir::net {

// One request of weir's own outgoing HTTP client.
struct HttpRequest {
  std::string method = "GET";
  Url url;
  // Extra headers; Host, Content-Length and Connection are written by the client.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // The whole exchange (resolve, connect, TLS handshake, request, response) must end within it.
  std::chrono::milliseconds timeout{5000};
  // https: PEM file of the CAs to trust instead of the system store ("" = the system store).
  std::string ca_file;
  // A longer body ends the exchange with an error: a gate or a metric never needs megabytes.
  size_t max_body_bytes = 1024 * 1024;
  // Set: the body is streamed instead of kept (a Kubernetes watch): each piece as it arrives,
  // after `on_head` with the status; false from either ends the exchange ("stopped").
  // max_body_bytes does not apply.
  std::function<bool(int status)> on_head;
  std::function<bool(std::string_view piece)> on_body;
};

struct HttpResponse {
  int status = 0; // 0 when no complete response arrived
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  bool timed_out = false;
  // Why there is no complete response ("" when there is one): "resolve: ...", "connect: ...",
  // "tls: ...", "timed out after 2s", "bad response: ...", ...
  std::string error;
};

// An asynchronous one-shot HTTP/1.1 exchange over a fresh connection (Connection: close), with
// optional TLS that verifies the peer's chain and name (SNI for host names) — the client of rollout
// hooks and external metrics. Responses are parsed by http::Parser (Content-Length, chunked,
// until close; 1xx skipped). Host names are resolved with Asio's resolver, which runs getaddrinfo
// on a thread of its own, so nothing here blocks the io_context. `done` runs exactly once, on
// the io_context's thread, never inside fetch(); no exception leaves a handler.
// Control thread only (not the workers: DNS and TLS handshakes are slow).
class HttpClient {
public:
  using Done = std::function<void(HttpResponse)>;
  // Ends the exchange at once if it is still going, without calling its `done` (the caller is
  // going away). Harmless after the end. Control thread only.
  using Abort = std::function<void()>;
  static Abort fetch(boost::asio::io_context& io, HttpRequest request, Done done);
};

} // namespace weir::net
