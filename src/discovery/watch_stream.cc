#include "weir/discovery/watch_stream.h"

#include "weir/discovery/source.h"
#include "weir/net/url.h"

namespace weir::discovery {

namespace {

// Kubernetes sends resourceVersion as a string; a number is taken too.
std::string text_of(const json::Value* v) {
  if (!v) return "";
  if (v->is_string()) return v->as_string();
  // A number that no uint64 holds (negative, huge, NaN) is no version at all.
  if (v->is_number() && v->as_number() >= 0 && v->as_number() < 1.8e19)
    return std::to_string(static_cast<uint64_t>(v->as_number()));
  return "";
}

} // namespace

std::string resource_version_of(const json::Value& object) {
  return text_of(object["metadata"].find("resourceVersion"));
}

RawWatchEvent parse_raw_watch_event(std::string_view line) {
  RawWatchEvent e;
  auto parsed = json::parse(line);
  if (!parsed.value || !parsed.value->is_object()) {
    e.message = "a watch line is not a JSON object: " + parsed.error;
    return e;
  }
  const std::string type = parsed.value->get_string("type");
  const json::Value& object = (*parsed.value)["object"];
  if (type == "ERROR") {
    const double code = object.get_number("code");
    e.code = code >= 100 && code <= 999 ? static_cast<int>(code) : 0;
    e.message = printable(object.get_string("message", "watch error"));
    return e;
  }
  if (type == "BOOKMARK") {
    e.type = WatchType::bookmark;
    e.resource_version = resource_version_of(object);
    return e;
  }
  if (type == "ADDED")
    e.type = WatchType::added;
  else if (type == "MODIFIED")
    e.type = WatchType::modified;
  else if (type == "DELETED")
    e.type = WatchType::deleted;
  else {
    e.message = "unknown watch event type \"" + printable(type) + "\"";
    return e;
  }
  e.resource_version = resource_version_of(object);
  e.object = object;
  return e;
}

RawList parse_raw_list(std::string_view body) {
  RawList out;
  auto parsed = json::parse(body);
  if (!parsed.value || !parsed.value->is_object())
    return {{}, "", "the list is not a JSON object: " + parsed.error};
  const json::Value& v = *parsed.value;
  if (v.get_string("kind") == "Status")
    return {{}, "", "the API server answered " + printable(v.get_string("message"))};
  out.resource_version = resource_version_of(v);
  const json::Value* items = v.find("items");
  if (!items || (!items->is_array() && !items->is_null()))
    return {{}, "", "the list has no items array"};
  if (items->is_array()) out.items = items->as_array();
  return out;
}

std::string collection_target(const std::string& collection, const std::string& label_selector,
                              bool watch, const std::string& resource_version,
                              int timeout_seconds) {
  std::string t = collection;
  char separator = '?';
  auto param = [&](const std::string& name, const std::string& value) {
    t += separator + name + "=" + value;
    separator = '&';
  };
  if (!label_selector.empty()) param("labelSelector", net::percent_encode(label_selector));
  if (watch) {
    param("watch", "1");
    param("allowWatchBookmarks", "true");
    if (!resource_version.empty()) param("resourceVersion", net::percent_encode(resource_version));
    if (timeout_seconds > 0) param("timeoutSeconds", std::to_string(timeout_seconds));
  }
  return t;
}

} // namespace weir::discovery
