#include "weir/cluster/kubernetes_objects.h"

#include "weir/discovery/watch_stream.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>

namespace weir::cluster::kubernetes {

namespace {

constexpr char kHex[] = "0123456789abcdef";

bool plain_key_byte(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.';
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1; // upper case is never written, so never read: one spelling per key
}

// A count from JSON that fits an int (a Lease's seconds and transitions), else 0.
int whole_number(const json::Value& v) {
  if (!v.is_number()) return 0;
  const double n = v.as_number();
  return n >= 0 && n <= 1e9 ? static_cast<int>(n) : 0;
}

void write_labels(json::Writer& w, std::string_view cluster) {
  w.key("labels").begin_object().key(kClusterLabel).value(cluster).end_object();
}

void write_string_map(json::Writer& w, const std::map<std::string, std::string>& entries,
                      bool encode_keys) {
  w.begin_object();
  for (const auto& [key, value] : entries)
    w.key(encode_keys ? encode_data_key(key) : key).value(value);
  w.end_object();
}

} // namespace

std::string leader_lease_name(std::string_view cluster) {
  return "weir-" + std::string(cluster) + "-leader";
}

std::string state_config_map_name(std::string_view cluster) {
  return "weir-" + std::string(cluster) + "-state";
}

std::string replica_lease_name(std::string_view cluster, std::string_view replica) {
  return "weir-" + std::string(cluster) + "-replica-" + std::string(replica);
}

std::optional<std::string> replica_of(std::string_view cluster, std::string_view lease_name) {
  const std::string prefix = replica_lease_name(cluster, "");
  if (!lease_name.starts_with(prefix) || lease_name.size() == prefix.size()) return std::nullopt;
  return std::string(lease_name.substr(prefix.size()));
}

std::string encode_data_key(std::string_view key) {
  if (key.empty()) return "_";
  std::string out;
  out.reserve(key.size());
  for (size_t i = 0; i < key.size(); ++i) {
    const char c = key[i];
    if (plain_key_byte(c) && !(i == 0 && c == '.')) {
      out += c;
    } else {
      const auto byte = static_cast<unsigned char>(c);
      out += '_';
      out += kHex[byte >> 4];
      out += kHex[byte & 0xf];
    }
  }
  return out;
}

std::optional<std::string> decode_data_key(std::string_view data_key) {
  if (data_key == "_") return std::string();
  if (data_key.empty() || data_key.front() == '.') return std::nullopt;
  std::string out;
  for (size_t i = 0; i < data_key.size(); ++i) {
    const char c = data_key[i];
    if (plain_key_byte(c)) {
      out += c;
      continue;
    }
    if (c != '_' || i + 2 >= data_key.size()) return std::nullopt;
    const int high = hex_value(data_key[i + 1]);
    const int low = hex_value(data_key[i + 2]);
    if (high < 0 || low < 0) return std::nullopt;
    const char decoded = static_cast<char>(high * 16 + low);
    // Only what encode_data_key() escapes: one spelling per key, so two data keys never decode
    // to the same store key.
    if (plain_key_byte(decoded) && !(out.empty() && decoded == '.')) return std::nullopt;
    out += decoded;
    i += 2;
  }
  return out;
}

std::string micro_time(std::chrono::system_clock::time_point t) {
  const auto micros =
      std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
  const std::time_t seconds = static_cast<std::time_t>(micros / 1000000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[40];
  const size_t n = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
  std::snprintf(text + n, sizeof text - n, ".%06dZ", static_cast<int>(micros % 1000000));
  return text;
}

int lease_duration_seconds(std::chrono::milliseconds ttl) {
  return std::max<int>(1, static_cast<int>((ttl.count() + 999) / 1000));
}

std::optional<Lease> parse_lease(const json::Value& object, std::string& error) {
  Lease lease;
  const json::Value& meta = object["metadata"];
  lease.name = meta.get_string("name");
  if (lease.name.empty()) return std::nullopt;
  lease.resource_version = discovery::resource_version_of(object);
  const json::Value& spec = object["spec"];
  lease.holder = spec.get_string("holderIdentity");
  lease.duration_seconds = whole_number(spec["leaseDurationSeconds"]);
  lease.acquire_time = spec.get_string("acquireTime");
  lease.renew_time = spec.get_string("renewTime");
  lease.transitions = whole_number(spec["leaseTransitions"]);
  lease.ttl = std::chrono::seconds(lease.duration_seconds);
  const json::Value& annotations = meta["annotations"];
  if (const std::string ttl = annotations.get_string(kTtlAnnotation); !ttl.empty()) {
    char* end = nullptr;
    const long long ms = std::strtoll(ttl.c_str(), &end, 10);
    if (end && *end == '\0' && ms > 0 && ms <= 86400000) lease.ttl = std::chrono::milliseconds(ms);
  }
  if (const json::Value* entries = annotations.find(kEntriesAnnotation)) {
    auto parsed = entries->is_string() ? json::parse(entries->as_string()) : json::ParseResult{};
    if (!parsed.value || !parsed.value->is_object()) {
      error = "the annotation " + std::string(kEntriesAnnotation) + " is not a JSON object";
      return lease;
    }
    for (const auto& [key, value] : parsed.value->as_object()) {
      if (!value.is_string()) {
        error = "the entry " + key + " in " + kEntriesAnnotation + " is not a string";
        lease.entries.clear();
        return lease;
      }
      lease.entries[key] = value.as_string();
    }
  }
  return lease;
}

std::string lease_json(const Lease& lease, std::string_view ns, std::string_view cluster) {
  json::Writer w;
  w.begin_object().key("apiVersion").value("coordination.k8s.io/v1").key("kind").value("Lease");
  w.key("metadata").begin_object().key("name").value(lease.name).key("namespace").value(ns);
  if (!lease.resource_version.empty()) w.key("resourceVersion").value(lease.resource_version);
  write_labels(w, cluster);
  w.key("annotations").begin_object();
  w.key(kTtlAnnotation).value(std::to_string(lease.ttl.count()));
  if (!lease.entries.empty()) {
    json::Writer entries;
    write_string_map(entries, lease.entries, false);
    w.key(kEntriesAnnotation).value(entries.str());
  }
  w.end_object().end_object();
  w.key("spec").begin_object().key("holderIdentity").value(lease.holder);
  w.key("leaseDurationSeconds").value(lease.duration_seconds);
  if (!lease.acquire_time.empty()) w.key("acquireTime").value(lease.acquire_time);
  if (!lease.renew_time.empty()) w.key("renewTime").value(lease.renew_time);
  w.key("leaseTransitions").value(lease.transitions);
  w.end_object().end_object();
  return w.take();
}

std::optional<ConfigMap> parse_config_map(const json::Value& object) {
  ConfigMap out;
  out.name = object["metadata"].get_string("name");
  if (out.name.empty()) return std::nullopt;
  out.resource_version = discovery::resource_version_of(object);
  const json::Value& data = object["data"];
  if (data.is_object())
    for (const auto& [key, value] : data.as_object())
      if (auto decoded = decode_data_key(key); decoded && value.is_string())
        out.data[*decoded] = value.as_string();
  out.object = object;
  return out;
}

std::string new_config_map_json(std::string_view name, std::string_view ns,
                                std::string_view cluster,
                                const std::map<std::string, std::string>& data) {
  json::Writer w;
  w.begin_object().key("apiVersion").value("v1").key("kind").value("ConfigMap");
  w.key("metadata").begin_object().key("name").value(name).key("namespace").value(ns);
  write_labels(w, cluster);
  w.end_object().key("data");
  write_string_map(w, data, true);
  w.end_object();
  return w.take();
}

std::string replaced_config_map_json(const ConfigMap& present,
                                     const std::map<std::string, std::string>& data) {
  json::Writer w;
  w.begin_object();
  bool wrote_data = false;
  auto write_data = [&] {
    w.key("data").begin_object();
    for (const auto& [key, value] : data)
      w.key(encode_data_key(key)).value(value);
    // Keys of other writers (not in the store's spelling) are theirs: kept.
    const json::Value& before = present.object["data"];
    if (before.is_object())
      for (const auto& [key, value] : before.as_object())
        if (!decode_data_key(key)) w.key(key).value(value);
    w.end_object();
    wrote_data = true;
  };
  if (present.object.is_object())
    for (const auto& [key, value] : present.object.as_object()) {
      if (key == "data")
        write_data();
      else
        w.key(key).value(value);
    }
  if (!wrote_data) write_data();
  w.end_object();
  return w.take();
}

bool older_version(std::string_view a, std::string_view b) {
  auto number = [](std::string_view s) -> std::optional<uint64_t> {
    if (s.empty() || s.size() > 19) return std::nullopt;
    uint64_t n = 0;
    for (char c : s) {
      if (c < '0' || c > '9') return std::nullopt;
      n = n * 10 + static_cast<uint64_t>(c - '0');
    }
    return n;
  };
  const auto x = number(a);
  const auto y = number(b);
  return x && y && *x < *y;
}

} // namespace weir::cluster::kubernetes
