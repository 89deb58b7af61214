#include "weir/cluster/etcd_wire.h"

#include "weir/base/json.h"

#include <array>
#include <charconv>

namespace weir::cluster::etcd {
namespace {

constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr std::array<int8_t, 256> decode_table() {
  std::array<int8_t, 256> t{};
  for (auto& v : t)
    v = -1;
  for (size_t i = 0; i < kAlphabet.size(); ++i)
    t[static_cast<uint8_t>(kAlphabet[i])] = int8_t(i);
  return t;
}
constexpr auto kDecode = decode_table();

// An int64 field: the gateway writes them as strings; a plain number is taken too.
int64_t int64_of(const json::Value& v) {
  if (v.is_number()) return static_cast<int64_t>(v.as_number());
  if (!v.is_string()) return 0;
  const std::string& s = v.as_string();
  int64_t n = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec != std::errc() || end != s.data() + s.size()) return 0;
  return n;
}

// A bytes field; a missing one is empty (proto3 leaves empty values out). False if not base64.
bool bytes_of(const json::Value& object, std::string_view name, std::string& out) {
  const json::Value* v = object.find(name);
  out.clear();
  if (!v) return true;
  if (!v->is_string()) return false;
  auto decoded = base64_decode(v->as_string());
  if (!decoded) return false;
  out = std::move(*decoded);
  return true;
}

bool key_value_of(const json::Value& v, KeyValue& kv) {
  if (!v.is_object()) return false;
  if (!bytes_of(v, "key", kv.key) || !bytes_of(v, "value", kv.value)) return false;
  kv.create_revision = int64_of(v["create_revision"]);
  kv.mod_revision = int64_of(v["mod_revision"]);
  kv.lease = int64_of(v["lease"]);
  return true;
}

bool key_values_of(const json::Value& array, std::vector<KeyValue>& out, std::string& error) {
  if (array.is_null()) return true;
  if (!array.is_array()) return error = "kvs is not an array", false;
  for (const json::Value& item : array.as_array()) {
    KeyValue kv;
    if (!key_value_of(item, kv)) return error = "a key or value that is not base64", false;
    out.push_back(std::move(kv));
  }
  return true;
}

// Parses `body` and fills what every answer has. Unary errors come as {"error": "text",
// "code": N}; a stream's as {"error": {"grpc_code": N, "message": "text"}}.
std::optional<json::Value> parse_answer(std::string_view body, Answer& a) {
  json::ParseResult parsed = json::parse(body);
  if (!parsed.value) {
    a.error = "not JSON (" + parsed.error + ")";
    return std::nullopt;
  }
  const json::Value& v = *parsed.value;
  if (!v.is_object()) {
    a.error = "not a JSON object";
    return std::nullopt;
  }
  if (const json::Value* e = v.find("error")) {
    if (e->is_object()) {
      a.error = e->get_string("message", "an error without a message");
      a.code = static_cast<int>(e->get_number("grpc_code"));
    } else {
      a.error = e->is_string() ? e->as_string() : "an error without a message";
      a.code = static_cast<int>(v.get_number("code"));
    }
    if (a.error.empty()) a.error = "an error without a message";
    return std::nullopt;
  }
  return std::move(parsed.value);
}

void write_key(json::Writer& w, std::string_view name, std::string_view bytes) {
  w.key(name).value(base64_encode(bytes));
}

std::string key_body(std::string_view key) {
  json::Writer w;
  w.begin_object();
  write_key(w, "key", key);
  return w.end_object().take();
}

} // namespace

std::string base64_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const uint32_t n = uint32_t(uint8_t(bytes[i])) << 16 | uint32_t(uint8_t(bytes[i + 1])) << 8 |
                       uint8_t(bytes[i + 2]);
    for (int shift : {18, 12, 6, 0})
      out.push_back(kAlphabet[(n >> shift) & 63]);
  }
  const size_t rest = bytes.size() - i;
  if (rest > 0) {
    uint32_t n = uint32_t(uint8_t(bytes[i])) << 16;
    if (rest == 2) n |= uint32_t(uint8_t(bytes[i + 1])) << 8;
    out.push_back(kAlphabet[(n >> 18) & 63]);
    out.push_back(kAlphabet[(n >> 12) & 63]);
    out.push_back(rest == 2 ? kAlphabet[(n >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (size_t i = 0; i < text.size(); i += 4) {
    const bool last = i + 4 == text.size();
    int pad = 0;
    uint32_t n = 0;
    for (size_t j = 0; j < 4; ++j) {
      const char c = text[i + j];
      if (c == '=') {
        // Padding only at the end of the last group, and at most two.
        if (!last || j < 2) return std::nullopt;
        ++pad;
        n <<= 6;
        continue;
      }
      if (pad > 0) return std::nullopt; // a digit after padding
      const int8_t d = kDecode[static_cast<uint8_t>(c)];
      if (d < 0) return std::nullopt;
      n = n << 6 | uint32_t(d);
    }
    out.push_back(static_cast<char>(n >> 16));
    if (pad < 2) out.push_back(static_cast<char>((n >> 8) & 0xff));
    if (pad < 1) out.push_back(static_cast<char>(n & 0xff));
  }
  return out;
}

std::string prefix_end(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    auto& last = reinterpret_cast<unsigned char&>(end.back());
    if (last < 0xff) {
      ++last;
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');
}

std::string range_body(std::string_view key, std::string_view range_end) {
  json::Writer w;
  w.begin_object();
  write_key(w, "key", key);
  write_key(w, "range_end", range_end);
  return w.end_object().take();
}

std::string put_body(std::string_view key, std::string_view value, int64_t lease) {
  json::Writer w;
  w.begin_object();
  write_key(w, "key", key);
  write_key(w, "value", value);
  if (lease != 0) w.key("lease").value(std::to_string(lease));
  return w.end_object().take();
}

std::string delete_body(std::string_view key) {
  return key_body(key);
}

std::string create_if_absent_body(std::string_view key, std::string_view value, int64_t lease) {
  json::Writer w;
  w.begin_object().key("compare").begin_array().begin_object();
  write_key(w, "key", key);
  w.key("target").value("CREATE").key("result").value("EQUAL");
  w.key("create_revision").value("0");
  w.end_object().end_array();
  w.key("success").begin_array().begin_object().key("request_put").raw(put_body(key, value, lease));
  w.end_object().end_array();
  w.key("failure").begin_array().begin_object().key("request_range").raw(key_body(key));
  w.end_object().end_array();
  return w.end_object().take();
}

std::string lease_grant_body(int64_t ttl_seconds) {
  json::Writer w;
  return w.begin_object().key("TTL").value(std::to_string(ttl_seconds)).end_object().take();
}

std::string lease_id_body(int64_t id) {
  json::Writer w;
  return w.begin_object().key("ID").value(std::to_string(id)).end_object().take();
}

std::string watch_create_body(std::string_view key, std::string_view range_end,
                              int64_t start_revision) {
  json::Writer w;
  w.begin_object().key("create_request").begin_object();
  write_key(w, "key", key);
  write_key(w, "range_end", range_end);
  w.key("start_revision").value(std::to_string(start_revision));
  return w.end_object().end_object().take();
}

RangeAnswer parse_range(std::string_view body) {
  RangeAnswer a;
  auto v = parse_answer(body, a);
  if (!v) return a;
  a.revision = int64_of((*v)["header"]["revision"]);
  key_values_of((*v)["kvs"], a.kvs, a.error);
  return a;
}

Answer parse_write(std::string_view body) {
  Answer a;
  auto v = parse_answer(body, a);
  if (!v) return a;
  a.revision = int64_of((*v)["header"]["revision"]);
  if (a.revision <= 0) a.error = "an answer without a revision";
  return a;
}

CreateAnswer parse_create_if_absent(std::string_view body) {
  CreateAnswer a;
  auto v = parse_answer(body, a);
  if (!v) return a;
  a.revision = int64_of((*v)["header"]["revision"]);
  a.created = v->get_bool("succeeded");
  if (a.created) return a;
  const json::Value& responses = (*v)["responses"];
  if (!responses.is_array() || responses.as_array().empty()) return a;
  key_values_of(responses.as_array()[0]["response_range"]["kvs"], a.holder, a.error);
  return a;
}

LeaseAnswer parse_lease(std::string_view body) {
  LeaseAnswer a;
  auto v = parse_answer(body, a);
  if (!v) return a;
  const json::Value& m = v->find("result") ? (*v)["result"] : *v;
  a.revision = int64_of(m["header"]["revision"]);
  a.id = int64_of(m["ID"]);
  a.ttl = int64_of(m["TTL"]);
  if (const json::Value* e = m.find("error"); e && e->is_string() && !e->as_string().empty())
    a.error = e->as_string(); // a grant refused in the message itself
  return a;
}

WatchMessage parse_watch_message(std::string_view line) {
  WatchMessage m;
  auto v = parse_answer(line, m);
  if (!v) return m;
  const json::Value& r = (*v)["result"];
  if (!r.is_object()) {
    m.error = "a watch message without a result";
    return m;
  }
  m.revision = int64_of(r["header"]["revision"]);
  m.created = r.get_bool("created");
  m.canceled = r.get_bool("canceled");
  m.compact_revision = int64_of(r["compact_revision"]);
  m.cancel_reason = r.get_string("cancel_reason");
  const json::Value& events = r["events"];
  if (events.is_null()) return m;
  if (!events.is_array()) {
    m.error = "events is not an array";
    return m;
  }
  for (const json::Value& e : events.as_array()) {
    WatchEvent event;
    event.deleted = e.get_string("type") == "DELETE";
    if (!key_value_of(e["kv"], event.kv)) {
      m.error = "an event whose key or value is not base64";
      return m;
    }
    m.events.push_back(std::move(event));
  }
  return m;
}

std::vector<std::string> LineSplitter::feed(std::string_view piece) {
  std::vector<std::string> lines;
  size_t start = 0;
  for (;;) {
    const size_t nl = piece.find('\n', start);
    if (nl == std::string_view::npos) break;
    partial_.append(piece.substr(start, nl - start));
    start = nl + 1;
    if (!partial_.empty() && partial_.back() == '\r') partial_.pop_back();
    if (!partial_.empty()) lines.push_back(std::move(partial_));
    partial_.clear();
  }
  partial_.append(piece.substr(start));
  return lines;
}

} // namespace weir::cluster::etcd
