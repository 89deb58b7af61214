#pragma once

#include "weir/http/head.h"
#include "weir/runtime/snapshot.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace weir::runtime {

// Which backend (version) of a route takes a request: a pure function of the route, the request
// head and whether the peer is a trusted proxy. The weighted split and the random bucket are the
// worker's (they hold state), so the decision says when to use them instead of using them.
// Any thread; no allocation.
struct BackendChoice {
  enum class Kind : uint8_t {
    split,      // the worker's weighted split picks (no rollout affinity or override applies)
    fixed,      // `backend` is the answer (an override, or the client's bucket cookie)
    new_bucket, // the client has no valid bucket: draw one, then bucket_backend(), set cookie
  };
  Kind kind = Kind::split;
  int backend = -1;
  // An override forced the version: the request is kept out of the rollout's figures.
  bool forced = false;
};

BackendChoice choose_backend(const Snapshot& snap, const Snapshot::Route& route,
                             const http::Head& head, bool peer_trusted);

// The sticky version of bucket 0..9999: buckets below the canary's share go to the canary, so
// as its share grows clients move from stable to canary only, never back.
int bucket_backend(const Snapshot::Route& route, uint32_t bucket);

// The client's bucket from the affinity cookie: 0..9999 written in at most 4 digits, else none.
std::optional<uint32_t> parse_bucket(std::string_view cookie);

// "Set-Cookie: NAME=BUCKET; Max-Age=...; ...\r\n" for a newly drawn bucket, appended to `out`.
void append_bucket_cookie(const Snapshot::Route& route, uint32_t bucket, std::string& out);

// The value of cookie `name` in the request's Cookie headers, or "".
std::string_view cookie_value(const http::Head& head, std::string_view name);

// Compares in time independent of where the first difference is, so a secret cannot be guessed
// byte by byte from response times.
bool same_secret(std::string_view given, std::string_view secret);

} // namespace weir::runtime
