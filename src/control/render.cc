#include "weir/control/render.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>

namespace weir::control::render {

namespace {

// A JSON number as text: integers without a fraction, anything else as JSON writes it.
std::string number(const json::Value& v) {
  if (!v.is_number()) return v.is_null() ? "-" : json::Writer().value(v).take();
  double d = v.as_number();
  if (std::isfinite(d) && std::floor(d) == d && std::fabs(d) < 9.0e15) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(d));
    return buf;
  }
  return json::Writer().value(d).take();
}

std::string fixed(double d, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, d);
  return buf;
}

// A string member, or "-" when missing or empty: a table cell is never blank by accident.
std::string text_or_dash(const json::Value& obj, std::string_view key) {
  std::string s = obj.get_string(key);
  return s.empty() ? "-" : s;
}

void pretty_to(std::string& out, const json::Value& v, size_t indent) {
  auto newline = [&](size_t level) {
    out.push_back('\n');
    out.append(level * 2, ' ');
  };
  if (v.is_object()) {
    const auto& members = v.as_object();
    if (members.empty()) {
      out += "{}";
      return;
    }
    out.push_back('{');
    for (size_t i = 0; i < members.size(); ++i) {
      if (i) out.push_back(',');
      newline(indent + 1);
      json::escape_to(out, members[i].first);
      out += ": ";
      pretty_to(out, members[i].second, indent + 1);
    }
    newline(indent);
    out.push_back('}');
  } else if (v.is_array()) {
    const auto& items = v.as_array();
    if (items.empty()) {
      out += "[]";
      return;
    }
    out.push_back('[');
    for (size_t i = 0; i < items.size(); ++i) {
      if (i) out.push_back(',');
      newline(indent + 1);
      pretty_to(out, items[i], indent + 1);
    }
    newline(indent);
    out.push_back(']');
  } else {
    out += json::Writer().value(v).take();
  }
}

const json::Value::Array& array_or_empty(const json::Value& v) {
  static const json::Value::Array kEmpty;
  return v.is_array() ? v.as_array() : kEmpty;
}

std::string match_text(const json::Value& route) {
  const json::Value& m = route["match"];
  std::string text = m.get_string("host", "*");
  if (text.empty()) text.push_back('*');
  text += m.get_string("path_prefix", "/");
  return text;
}

// rps, error rate and latency mean nothing over a window without requests: "-" then.
struct WatchCells {
  std::string rps, err, p50, p99;
};

WatchCells watch_cells(const json::Value& b) {
  double rps = b.get_number("rps");
  if (rps <= 0) return {"0.0", "-", "-", "-"};
  return {fixed(rps, 1), fixed(b.get_number("error_rate") * 100, 2) + "%",
          millis(b.get_number("p50_ms")), millis(b.get_number("p99_ms"))};
}

} // namespace

std::string TextTable::str() const {
  size_t columns = header.size();
  for (const auto& r : rows)
    columns = std::max(columns, r.size());
  std::vector<size_t> widths(columns, 0);
  auto measure = [&](const std::vector<std::string>& row) {
    for (size_t c = 0; c < row.size(); ++c)
      widths[c] = std::max(widths[c], display_width(row[c]));
  };
  measure(header);
  for (const auto& r : rows)
    measure(r);
  std::string out;
  auto emit = [&](const std::vector<std::string>& row) {
    std::string line;
    for (size_t c = 0; c < columns; ++c) {
      const std::string empty;
      const std::string& cell = c < row.size() ? row[c] : empty;
      size_t pad = widths[c] - display_width(cell);
      if (c) line += "  ";
      bool right = c < right_aligned.size() && right_aligned[c];
      if (right) line.append(pad, ' ');
      line += cell;
      if (!right) line.append(pad, ' ');
    }
    while (!line.empty() && line.back() == ' ')
      line.pop_back();
    out += line;
    out.push_back('\n');
  };
  if (!header.empty()) emit(header);
  for (const auto& r : rows)
    emit(r);
  return out;
}

size_t display_width(std::string_view utf8) {
  size_t n = 0;
  for (char c : utf8)
    if ((static_cast<unsigned char>(c) & 0xc0) != 0x80) ++n;
  return n;
}

std::string truncate_to_width(std::string_view utf8, size_t width) {
  size_t columns = 0;
  for (size_t i = 0; i < utf8.size(); ++i) {
    if ((static_cast<unsigned char>(utf8[i]) & 0xc0) == 0x80) continue;
    if (columns == width) return std::string(utf8.substr(0, i));
    ++columns;
  }
  return std::string(utf8);
}

std::string percent(double fraction) {
  if (!std::isfinite(fraction)) return "-";
  double p = fraction * 100;
  if (p > 0 && p < 0.05) return "<0.1%";
  if (p < 100 && p >= 99.95) return ">99.9%";
  double rounded = std::round(p * 10) / 10;
  if (std::floor(rounded) == rounded) return fixed(rounded, 0) + "%";
  return fixed(rounded, 1) + "%";
}

std::string millis(double ms) {
  if (!std::isfinite(ms) || ms < 0) return "-";
  if (ms < 10) return fixed(ms, 2) + "ms";
  if (ms < 100) return fixed(ms, 1) + "ms";
  if (ms < 1000) return fixed(ms, 0) + "ms";
  return fixed(ms / 1000, 2) + "s";
}

std::string bar(double fraction, size_t cells) {
  if (!std::isfinite(fraction)) fraction = 0;
  fraction = std::clamp(fraction, 0.0, 1.0);
  auto full = static_cast<size_t>(std::lround(fraction * static_cast<double>(cells)));
  // A backend that gets anything shows at least a sliver, one that misses some never a full bar.
  if (full == 0 && fraction > 0) full = 1;
  if (full == cells && fraction < 1 && cells > 0) full = cells - 1;
  std::string out;
  for (size_t i = 0; i < cells; ++i)
    out += i < full ? "\u2588" : "\u2591";
  return out;
}

std::string pretty_json(const json::Value& value) {
  std::string out;
  pretty_to(out, value, 0);
  out.push_back('\n');
  return out;
}

std::string routes(const json::Value& list) {
  TextTable t;
  t.header = {"ROUTE", "MATCH", "BACKEND", "WEIGHT ", "CONFIGURED", "SHARE"};
  t.right_aligned = {false, false, false, true, true, true};
  bool any_operator = false, any_rollout = false, any_note = false;
  for (const json::Value& route : array_or_empty(list)) {
    std::string name = text_or_dash(route, "name");
    std::string match = match_text(route);
    // Who set the live weights: "*" an operator's `set weight`, "+" the route's rollout.
    bool by_rollout = route.get_string("weights_from") == "rollout";
    const auto& backends = array_or_empty(route["backends"]);
    if (backends.empty()) t.rows.push_back({name, match, "-", "-", "-", "-"});
    for (const json::Value& b : backends) {
      bool overridden = b.get_bool("override");
      (by_rollout ? any_rollout : any_operator) |= overridden;
      // The mark hangs past the digits so the weights stay aligned on their last one.
      std::string weight = number(b["weight"]) + (!overridden ? " " : by_rollout ? "+" : "*");
      std::vector<std::string> row = {name,
                                      match,
                                      text_or_dash(b, "service"),
                                      weight,
                                      number(b["configured_weight"]),
                                      percent(b.get_number("share"))};
      if (b.get_number("effective_weight", b.get_number("weight")) == 0 &&
          b.get_number("weight") > 0) {
        row.push_back("no endpoint available");
        any_note = true;
      }
      t.rows.push_back(std::move(row));
    }
  }
  if (t.rows.empty()) return "no routes\n";
  if (any_note) t.header.push_back("NOTE");
  std::string out = t.str();
  if (any_operator) out += "* set by an operator (\"weirctl clear weight ROUTE\" drops it)\n";
  if (any_rollout) out += "+ set by the route's rollout\n";
  return out;
}

std::string services(const json::Value& list) {
  TextTable t;
  t.header = {"SERVICE", "ENDPOINT", "HEALTH", "DRAINED", "ACTIVE"};
  t.right_aligned = {false, false, false, false, true};
  for (const json::Value& s : array_or_empty(list)) {
    std::string name = text_or_dash(s, "service");
    const auto& endpoints = array_or_empty(s["endpoints"]);
    if (endpoints.empty()) t.rows.push_back({name, "-", "-", "-", "-"});
    for (const json::Value& e : endpoints)
      t.rows.push_back({name, text_or_dash(e, "address"), text_or_dash(e, "health"),
                        e.get_bool("drained") ? "yes" : "no", number(e["active"])});
  }
  if (t.rows.empty()) return "no services\n";
  // Where discovered endpoints come from, and how that goes.
  std::string sources;
  for (const json::Value& s : array_or_empty(list))
    for (const json::Value& d : array_or_empty(s["discovery"])) {
      sources += text_or_dash(s, "service") + ": " + text_or_dash(d, "source") + ": " +
                 (d.get_bool("answered") ? number(d["endpoints"]) + " endpoint(s)"
                                         : std::string("no answer yet")) +
                 ", " + number(d["updates"]) + " update(s), " + number(d["failures"]) +
                 " failure(s)";
      if (const json::Value* e = d.find("last_error"); e && e->is_string())
        sources += ", last error: " + e->as_string();
      if (const json::Value* p = d.find("problem"); p && p->is_string())
        sources += ", problem: " + p->as_string();
      sources += "\n";
    }
  // WebSocket and other Upgrade tunnels, for the services that hold any.
  std::string tunnels;
  for (const json::Value& s : array_or_empty(list))
    if (const json::Value* n = s.find("tunnels"); n && n->is_number() && n->as_number() > 0)
      tunnels += text_or_dash(s, "service") + ": " + number(*n) + " open\n";
  // Versions a promotion replaced: safe to delete yet, or what is pending.
  std::string cleanups;
  for (const json::Value& s : array_or_empty(list))
    if (const json::Value* c = s.find("cleanup"); c && c->is_object())
      cleanups += cleanup(text_or_dash(s, "service"), *c);
  return t.str() + (tunnels.empty() ? "" : "\ntunnels:\n" + tunnels) +
         (cleanups.empty() ? "" : "\ncleanup:\n" + cleanups) +
         (sources.empty() ? "" : "\ndiscovery:\n" + sources);
}

std::string certificates(const json::Value& list) {
  TextTable t;
  t.header = {"LISTENER", "NAMES", "ISSUER", "EXPIRES", "DAYS LEFT"};
  t.right_aligned = {false, false, false, false, true};
  for (const json::Value& c : array_or_empty(list)) {
    std::string names;
    for (const json::Value& n : array_or_empty(c["names"])) {
      if (!names.empty()) names += ",";
      names += n.is_string() ? n.as_string() : "?";
    }
    std::string expires = "-";
    if (const json::Value* v = c.find("not_after"); v && v->is_number()) {
      const std::time_t when = static_cast<std::time_t>(v->as_number());
      struct tm tm {};
      char text[32];
      if (gmtime_r(&when, &tm) && std::strftime(text, sizeof text, "%Y-%m-%d", &tm)) expires = text;
    }
    t.rows.push_back({text_or_dash(c, "listener"), names.empty() ? "-" : names,
                      text_or_dash(c, "issuer"), expires, number(c["days_left"])});
  }
  if (t.rows.empty()) return "no TLS listeners\n";
  return t.str();
}

std::string help(const json::Value& commands) {
  TextTable t;
  for (const json::Value& c : array_or_empty(commands)) {
    std::string usage = c.get_string("usage");
    if (usage.empty()) usage = c.get_string("name");
    t.rows.push_back({"  " + usage, c.get_string("help")});
  }
  return "Commands (run as: weirctl COMMAND ...):\n" + t.str();
}

std::string changes(const json::Value& changes) {
  if (!changes.is_object()) return pretty_json(changes);
  TextTable t;
  for (const auto& [key, value] : changes.as_object()) {
    std::string cell;
    if (value.is_array()) {
      for (const json::Value& item : value.as_array()) {
        if (!cell.empty()) cell += ", ";
        cell += item.is_string() ? item.as_string() : json::Writer().value(item).take();
      }
    } else {
      cell = json::Writer().value(value).take();
    }
    if (cell.empty()) continue;
    std::string label = key;
    std::replace(label.begin(), label.end(), '_', ' ');
    if (key == "need_restart") label = "need a restart";
    t.rows.push_back({"  " + label + ":", cell});
  }
  if (t.rows.empty()) return "reloaded: no changes\n";
  std::string out = "reloaded:\n" + t.str();
  bool restart = false;
  for (const auto& r : t.rows)
    restart = restart || r[0] == "  need a restart:";
  if (restart) out += "(the settings that need a restart keep their old values until then)\n";
  return out;
}

std::string probe_table(const json::Value& services) {
  TextTable t;
  t.header = {"SERVICE", "READY", "PROBE", "LAST", "PASS", "FAIL", "STREAK", "LATENCY", "REASON"};
  t.right_aligned = {false, false, false, false, true, true, true, true, false};
  for (const json::Value& s : array_or_empty(services)) {
    std::string ready = s.get_bool("ready") ? "yes" : "no";
    if (array_or_empty(s["probes"]).empty())
      t.rows.push_back({s.get_string("service"), ready, "-", "-", "-", "-", "-", "-", ""});
    for (const json::Value& p : array_or_empty(s["probes"]))
      t.rows.push_back({s.get_string("service"), ready, p.get_string("name"), p.get_string("last"),
                        number(p["passes"]), number(p["failures"]),
                        number(p["consecutive_passes"]) + "/" + number(p["ready_after"]),
                        millis(p.get_number("latency_ms")), p.get_string("last_failure")});
  }
  return t.str();
}

std::string reply(const json::Value& r) {
  if (!r.is_object()) return pretty_json(r);
  if (const json::Value* c = r.find("commands"); c && c->is_array()) return help(*c);
  if (const json::Value* v = r.find("routes"); v && v->is_array()) return routes(*v);
  if (const json::Value* v = r.find("certificates"); v && v->is_array()) return certificates(*v);
  if (const json::Value* u = r.find("upgrade"); u && u->is_object())
    return "upgraded in " + number((*u)["took_ms"]) + " ms: pid " + number((*u)["old_pid"]) +
           " -> " + number((*u)["new_pid"]) + ", weir " + u->get_string("old_version") + " -> " +
           u->get_string("new_version") + ", build " + u->get_string("old_build") + " -> " +
           u->get_string("new_build") + "\nthe old process drains and exits\n";
  if (const json::Value* v = r.find("build_id"); v && v->is_string())
    return "weir " + r.get_string("version") + " (build " + v->as_string() + "), pid " +
           number(r["pid"]) + "\n";
  if (const json::Value* v = r.find("services"); v && v->is_array()) {
    bool probes = !v->as_array().empty() && v->as_array().front().find("probes");
    return probes ? probe_table(*v) : services(*v);
  }
  if (const json::Value* v = r.find("route"); v && v->is_object()) {
    std::string out = routes(json::Value(json::Value::Array{*v}));
    if (const json::Value* c = r.find("changes")) out += changes(*c);
    return out;
  }
  if (const json::Value* v = r.find("changes")) return changes(*v);
  if (const json::Value* v = r.find("config")) return pretty_json(*v);
  if (const json::Value* v = r.find("rollout"); v && v->is_object()) return rollout(*v);
  if (const json::Value* d = r.find("drill"); d && d->is_object()) return drill(*d);
  if (const json::Value* v = r.find("fleet"); v && v->is_object()) return fleet(*v);
  if (const json::Value* v = r.find("events"); v && v->is_array()) return rollout_history(*v);
  if (r.as_object().size() == 1 && r.find("ok")) return "ok\n";
  return pretty_json(r);
}

std::string watch_frame(const json::Value& update) {
  std::string out = "route " + update.get_string("route") + "   " + update.get_string("time");
  if (const json::Value* w = update.find("window_s"); w && w->is_number())
    out += "   window " + number(*w) + "s";
  out += "\n";
  if (const json::Value* e = update.find("error"); e && e->is_string())
    return out + e->as_string() + "\n";
  TextTable t;
  t.header = {"SERVICE", "WEIGHT", "SHARE", "REQ/S", "ERR %", "P50", "P99", "REQUESTS"};
  t.right_aligned = {false, true, false, true, true, true, true, true};
  for (const json::Value& b : array_or_empty(update["backends"])) {
    double share = b.get_number("share");
    WatchCells cells = watch_cells(b);
    t.rows.push_back({text_or_dash(b, "service"), number(b["weight"]),
                      bar(share) + " " + percent(share), cells.rps, cells.err, cells.p50, cells.p99,
                      number(b["requests"])});
  }
  if (t.rows.empty()) return out + "no backends\n";
  return out + t.str();
}

std::string watch_line(const json::Value& update) {
  std::string out = update.get_string("time") + " " + update.get_string("route");
  if (const json::Value* e = update.find("error"); e && e->is_string())
    return out + ": " + e->as_string() + "\n";
  bool first = true;
  for (const json::Value& b : array_or_empty(update["backends"])) {
    WatchCells cells = watch_cells(b);
    out += first ? "  " : " | ";
    first = false;
    out += text_or_dash(b, "service") + " weight=" + number(b["weight"]) +
           " share=" + percent(b.get_number("share")) + " req=" + number(b["requests"]) +
           " rps=" + cells.rps + " err=" + cells.err + " p50=" + cells.p50 + " p99=" + cells.p99;
  }
  return out + "\n";
}

std::string rollout(const json::Value& r) {
  std::string out = "route " + r.get_string("route") + "   phase " + r.get_string("phase") +
                    "   stable " + r.get_string("stable") + "   canary " + r.get_string("canary") +
                    "   canary weight " + number(r["canary_weight"]) + "%";
  const bool blue_green = r.get_string("strategy") == "blue_green";
  if (blue_green) out += "   blue/green";
  // The weight is what traffic gets; say so when it is not the plan's.
  std::string from = r.get_string("weights_from");
  if (from == "operator")
    out += " (set by an operator; the plan's: " + number(r["plan_weight"]) + "%)";
  else if (from == "config")
    out += " (from the config file)";
  out += "\n";
  // In a fleet: held while nobody can run the rollout, else who runs it.
  if (const json::Value* h = r.find("held"); h && h->is_string())
    out += "held: " + h->as_string() + "\n";
  else if (const json::Value* f = r.find("fleet"); f && f->is_string())
    out += "fleet: " + f->as_string() + "\n";
  if (r.get_bool("starting"))
    out += "starting: waiting for the pre_rollout hooks (`rollout abort` calls the start off)\n";
  if (const json::Value* w = r.find("waiting_for"))
    out += "waiting at the " + w->as_string() + " hooks\n";
  if (const json::Value* o = r.find("observed"); o && o->is_object()) {
    double total = o->get_number("canary_requests") + o->get_number("stable_requests");
    if (total > 0)
      out += "served in the last " + number((*o)["seconds"]) + "s: canary " +
             percent(o->get_number("canary_share")) + " of " + number(json::Value(total)) +
             " requests\n";
  }
  if (const json::Value* t = r.find("top_up"); t && t->is_object() && t->get_bool("running")) {
    char rate[32];
    std::snprintf(rate, sizeof rate, "%g", t->get_number("rate"));
    out += "top-up: " + std::string(rate) + " synthetic requests/s to both versions\n";
  }
  if (const json::Value* m = r.find("mirror"); m && m->is_object())
    out += "mirror: " + number((*m)["percent"]) + "% of the requests copied to " +
           m->get_string("service") + "\n";
  for (const json::Value& h : array_or_empty(r["header_routes"])) {
    std::string what;
    for (const json::Value& c : array_or_empty(h["headers"]))
      what +=
          (what.empty() ? "" : " and ") + c.get_string("name") +
          (c.get_string("value") == "(secret)"           ? ": (the secret)"
           : c.get_string("type") == "RegularExpression" ? " ~ \"" + c.get_string("value") + "\""
                                                         : ": \"" + c.get_string("value") + "\"");
    out += "header route " + h.get_string("name") + ": requests with " + what + " go to " +
           r.get_string("canary") + "\n";
  }
  double remaining_ms = r.get_number("step_remaining_ms", -1);
  size_t i = 0;
  for (const json::Value& s : array_or_empty(r["steps"])) {
    ++i;
    std::string marker = s.get_bool("current") ? "\u25b6 " : s.get_bool("done") ? "\u2713 " : "  ";
    std::string what;
    if (const json::Value* w = s.find("set_weight")) {
      what = "set_weight " + number(*w) + "%";
    } else if (const json::Value* p = s.find("pause_ms")) {
      what = p->as_number() == 0 ? blue_green ? "pause (manual gate: rollout promote switches)"
                                              : "pause (manual gate: rollout promote)"
                                 : "pause " + millis(p->as_number());
    } else if (const json::Value* a = s.find("analysis_ms")) {
      what = "analysis " + millis(a->as_number());
    } else if (const json::Value* m = s.find("set_mirror")) {
      what = "set_mirror " + number(*m) + "%";
    } else if (const json::Value* h = s.find("set_header_route")) {
      what = "set_header_route " + h->as_string();
    }
    if (s.get_bool("current") && remaining_ms >= 0)
      what += "   (" + millis(remaining_ms) + " left)";
    out += "  " + marker + std::to_string(i) + ". " + what + "\n";
  }
  if (const json::Value* a = r.find("last_analysis"); a && a->is_object()) {
    out +=
        "last analysis: " + a->get_string("outcome") + " \u2014 " + a->get_string("reason") + "\n";
    // At canary weight 0 only the mirrored answers are judged: no table of empty windows.
    const bool builtin_judged = (*a)["builtin"].get_string("outcome") != "not judged";
    TextTable t;
    t.header = {"", "REQUESTS", "ERR %", "P99", "REQ/S"};
    t.right_aligned = {false, true, true, true, true, true};
    // Top-up requests are counted in the verdict and shown apart.
    const json::Value& synthetic = (*a)["synthetic"];
    bool any_synthetic = false;
    for (const char* side : {"stable", "canary"})
      any_synthetic = any_synthetic || synthetic[side].get_number("requests") > 0;
    if (any_synthetic) t.header.push_back("SYNTHETIC");
    for (const char* side : {"stable", "canary"}) {
      const json::Value& w = (*a)[side];
      char rps[32];
      std::snprintf(rps, sizeof rps, "%.1f", w.get_number("rps"));
      t.rows.push_back({side, number(w["requests"]), percent(w.get_number("error_rate")),
                        millis(w.get_number("p99_ms")), rps});
      if (any_synthetic) t.rows.back().push_back(number(synthetic[side]["requests"]));
    }
    if (builtin_judged) out += t.str();
    for (const json::Value& m : array_or_empty((*a)["metrics"])) {
      std::string value = m.find("value") ? number(m["value"]) : "error: " + m.get_string("error");
      out += "metric " + m.get_string("name") + " = " + value + "   (" + m.get_string("condition") +
             ": " + m.get_string("outcome") + ")\n";
    }
    if (const json::Value* d = a->find("divergence");
        d && d->is_object() && d->get_string("reason") != a->get_string("reason"))
      out +=
          "divergence: " + d->get_string("outcome") + " \u2014 " + d->get_string("reason") + "\n";
    for (const json::Value& h : array_or_empty((*a)["hooks"]))
      out += h.get_string("type") + " hook " + h.get_string("name") + ": " +
             (h.get_number("status") ? "HTTP " + number(h["status"]) : std::string("no answer")) +
             "\n";
  }
  if (const json::Value* d = r.find("divergence"); d && d->is_object()) {
    // The shadow comparison since the rollout started, and what differed last.
    out += "divergence since the start: " + percent(std::max(0.0, d->get_number("divergence"))) +
           " (" + number((*d)["diverged"]) + " of " + number((*d)["compared"]) +
           " compared answers differ, noise " + percent(d->get_number("noise")) + " of " +
           number((*d)["noise_compared"]) + ")";
    if (d->get_number("max_divergence", -1) >= 0)
      out += ", max " + percent(d->get_number("max_divergence"));
    out += "\n";
    const json::Value::Array& recent = array_or_empty((*d)["recent"]);
    if (!recent.empty()) {
      out += "last diverging requests:\n";
      TextTable t;
      t.header = {"TIME", "METHOD", "PATH", "DIFFERS"};
      for (const json::Value& e : recent)
        t.rows.push_back({text_or_dash(e, "time"), text_or_dash(e, "method"),
                          text_or_dash(e, "path"), text_or_dash(e, "what")});
      out += t.str();
    }
  }
  out += cutover(r);
  std::string message = r.get_string("message");
  if (!message.empty()) out += message + "\n";
  return out;
}

std::string rollout_history(const json::Value& events) {
  std::string out;
  for (const json::Value& e : array_or_empty(events))
    out +=
        e.get_string("time") + "  " + e.get_string("type") + "  " + e.get_string("message") + "\n";
  return out.empty() ? "no events\n" : out;
}

} // namespace weir::control::render
