#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

// The messages of etcd v3's JSON gateway (etcd 3.4: POST /v3/kv/range and friends), as
// EtcdStore sends and reads them: keys and values travel base64-encoded, and int64 fields
// (revisions, lease IDs, TTLs) as JSON strings, since a double cannot hold a lease ID.
// Pure functions; any thread.
namespace weir::cluster::etcd {

std::string base64_encode(std::string_view bytes);
// nullopt when `text` is not standard base64 (padding required, as etcd writes it).
std::optional<std::string> base64_decode(std::string_view text);

// The range_end that makes a range cover every key starting with `prefix`: the prefix with its
// last byte incremented (trailing 0xff bytes dropped first); "\0" (every key) when nothing is
// left, as etcd defines it.
std::string prefix_end(std::string_view prefix);

// --- request bodies ---
std::string range_body(std::string_view key, std::string_view range_end);
// lease 0: none (a durable key).
std::string put_body(std::string_view key, std::string_view value, int64_t lease);
std::string delete_body(std::string_view key);
// Takes `key` with `value` bound to `lease` only if the key does not exist (create_revision 0);
// otherwise reads it, so the answer names the holder.
std::string create_if_absent_body(std::string_view key, std::string_view value, int64_t lease);
std::string lease_grant_body(int64_t ttl_seconds);
// For /v3/lease/keepalive and /v3/lease/revoke.
std::string lease_id_body(int64_t id);
// A watch of [key, range_end) from `start_revision` (the first revision to report).
std::string watch_create_body(std::string_view key, std::string_view range_end,
                              int64_t start_revision);

// --- answers ---
struct KeyValue {
  std::string key;
  std::string value;
  int64_t create_revision = 0;
  int64_t mod_revision = 0;
  int64_t lease = 0;
};

// What every answer shares. `error` is "" for a success; otherwise why not, from the gateway's
// {"error", "code"} (code: the gRPC status, 5 NotFound for an unknown lease) or from a body that
// is not what was asked for.
struct Answer {
  std::string error;
  int code = 0;
  int64_t revision = 0; // header.revision: the store's revision when it answered
};

struct RangeAnswer : Answer {
  std::vector<KeyValue> kvs;
};
// /v3/kv/range; also the failure branch of create_if_absent (kvs from its request_range).
RangeAnswer parse_range(std::string_view body);

// /v3/kv/put and /v3/kv/deleterange: only the header matters.
Answer parse_write(std::string_view body);

struct CreateAnswer : Answer {
  bool created = false;
  std::vector<KeyValue> holder; // when not created: the key as it is (empty if it vanished)
};
CreateAnswer parse_create_if_absent(std::string_view body);

struct LeaseAnswer : Answer {
  int64_t id = 0;
  int64_t ttl = 0; // seconds left; 0 or less from a keepalive: the lease is gone
};
// /v3/lease/grant and /v3/lease/keepalive (whose one message comes wrapped in "result").
LeaseAnswer parse_lease(std::string_view body);

struct WatchEvent {
  bool deleted = false;
  KeyValue kv; // a deletion carries only key and mod_revision
};
struct WatchMessage : Answer {
  bool created = false;
  bool canceled = false; // the server ended the watch (compacted: compact_revision > 0)
  int64_t compact_revision = 0;
  std::string cancel_reason;
  std::vector<WatchEvent> events;
};
// One line of the /v3/watch stream ({"result": {...}}, or {"error": {...}} when it breaks).
WatchMessage parse_watch_message(std::string_view line);

// Cuts a byte stream into lines, the pieces split anywhere (mid-line, mid-character).
class LineSplitter {
public:
  // Appends `piece`; returns the lines it completed, without their newline (or "\r" before it),
  // empty lines skipped.
  std::vector<std::string> feed(std::string_view piece);
  // Bytes of a line not complete yet.
  size_t pending() const { return partial_.size(); }
  void clear() { partial_.clear(); }

private:
  std::string partial_;
};

} // namespace weir::cluster::etcd
