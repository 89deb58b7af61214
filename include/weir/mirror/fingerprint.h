#pragma once

#include "weir/config/config.h"
#include "weir/mirror/sender.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

// Shadow comparison as pure functions: an answer reduced to what `compare` looks at, and what
// differs between two such. Mirror thread (tests: any thread); nothing here is on a client's path.
namespace weir::mirror {

// 64-bit FNV-1a.
uint64_t fnv1a(std::string_view bytes, uint64_t seed = 0xcbf29ce484222325ULL);

struct Fingerprint {
  int status_class = 0; // 1..5; 0: no answer
  std::vector<std::string> headers;
  enum class Body : uint8_t {
    none,      // not compared (body: none)
    hash,      // `hash` of the raw bytes (body: hash), or of the JSON minus ignore_json_fields
    fields,    // `fields`: the json_fields' values, each as canonical JSON or "(absent)"
    not_json,  // json_fields or ignore_json_fields, but the body is no JSON: `hash` of the bytes
    too_large, // longer than kMaxComparedBody: cannot be compared
  } body = Body::none;
  uint64_t hash = 0;
  std::vector<std::string> fields;
};

Fingerprint fingerprint(const config::Compare& compare, const Answer& answer);

// "" when `client` and `other` agree on everything `compare` looks at, else what differed, e.g.
// "status 2xx vs 5xx", "header content-type", "body", "json field price" (several joined by
// ", "). `comparable` is false when a body was too large to compare (nothing is said then).
struct Difference {
  bool comparable = true;
  std::string what;
};
Difference differences(const config::Compare& compare, const Fingerprint& client,
                       const Fingerprint& other);

// JSON with every object's keys sorted and no insignificant white space; `ignored` dotted paths
// removed first. False when `text` is no JSON.
bool canonical_json(std::string_view text, const std::vector<std::string>& ignored,
                    std::string& out);

} // namespace weir::mirror
