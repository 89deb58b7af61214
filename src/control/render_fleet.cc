// `weirctl fleet`: who is in the fleet, who leads, and what each replica serves.
#include "weir/control/render.h"

#include <cstdio>

namespace weir::control::render {

namespace {

std::string rate(double rps) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", rps);
  return buf;
}

std::string age(double ms) {
  char buf[32];
  if (ms < 1000)
    std::snprintf(buf, sizeof buf, "%.0fms", ms);
  else
    std::snprintf(buf, sizeof buf, "%.1fs", ms / 1000);
  return buf;
}

} // namespace

std::string fleet(const json::Value& f) {
  if (!f.get_bool("enabled")) return "not in a fleet (no `cluster` in the config)\n";
  const json::Value& store = f["store"];
  std::string out =
      "fleet " + f.get_string("name") + "   replica " + f.get_string("replica") + "   leader " +
      (f.get_string("leader").empty() ? std::string("(none)") : f.get_string("leader")) +
      "\nstore " + store.get_string("kind") + " at " + store.get_string("where") + ": " +
      (store.get_bool("reachable") ? "reachable" : "UNREACHABLE");
  if (!store.get_string("error").empty()) out += " (" + store.get_string("error") + ")";
  out += "\n";
  if (!f.get_string("rollouts_held").empty())
    out += "rollouts here: " + f.get_string("rollouts_held") + "\n";
  TextTable t;
  t.header = {"REPLICA", "LEADER", "VERSION", "HEARTBEAT", "ROUTE", "BACKEND", "REQ/S"};
  t.right_aligned = {false, false, false, true, false, false, true};
  for (const json::Value& r :
       f["replicas"].is_array() ? f["replicas"].as_array() : json::Value::Array{}) {
    std::string name = r.get_string("name") + (r.get_bool("self") ? " (this)" : "");
    std::vector<std::string> first = {name, r.get_bool("leader") ? "yes" : "",
                                      r.get_string("version"),
                                      age(r.get_number("heartbeat_age_ms")) + " ago"};
    const json::Value& routes = r["routes"];
    if (!routes.is_array() || routes.as_array().empty()) {
      first.insert(first.end(), {"-", "-", "-"});
      t.rows.push_back(first);
      continue;
    }
    bool head = true;
    for (const json::Value& b : routes.as_array()) {
      std::vector<std::string> row = head ? first : std::vector<std::string>{"", "", "", ""};
      row.insert(row.end(),
                 {b.get_string("route"), b.get_string("service"), rate(b.get_number("rps"))});
      t.rows.push_back(std::move(row));
      head = false;
    }
  }
  return out + t.str();
}

} // namespace weir::control::render
