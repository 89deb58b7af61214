// `rollout status` after a promotion, `rollout drill` and `show services`: the rollback window,
// rollback drills, and whether the replaced version is safe to delete yet.
#include "weir/control/render.h"

namespace weir::control::render {

namespace {
std::string seconds(double ms) {
  return millis(ms);
}
} // namespace

std::string cleanup(const std::string& service, const json::Value& c) {
  if (c.get_bool("safe_to_delete"))
    return service + ": safe to delete (since " + c.get_string("safe_since") +
           "): no request, connection, tunnel or sticky client for the grace period\n";
  std::string out = service + ": not safe to delete yet";
  if (const json::Value* in = c.find("safe_in_ms"); in && in->is_number())
    out += " (nothing uses it: safe in " + seconds(in->as_number()) + ")";
  out += "\n";
  for (const json::Value& p :
       c["pending"].is_array() ? c["pending"].as_array() : json::Value::Array{})
    out += "  pending " + p.get_string("condition") + ": " + p.get_string("detail") + " (since " +
           p.get_string("since") + ")\n";
  return out;
}

std::string drill(const json::Value& d) {
  std::string out = d.get_bool("ready") ? "rollback ready: " + d.get_string("target") +
                                              " answers as " + d.get_string("live") + " does"
                                        : "rollback not ready: " + d.get_string("reason");
  out +=
      "\n  probes: " + std::to_string(static_cast<long>(d["synthetic"].get_number("same_class"))) +
      " of " + std::to_string(static_cast<long>(d["synthetic"].get_number("sent"))) +
      " answered in the same status class; mirrored live GETs: " +
      std::to_string(static_cast<long>(d["mirrored"].get_number("diverged"))) + " of " +
      std::to_string(static_cast<long>(d["mirrored"].get_number("compared"))) + " differed\n";
  if (const json::Value* n = d.find("note"); n && n->is_string())
    out += "  " + n->as_string() + "\n";
  return out;
}

std::string cutover(const json::Value& r) {
  std::string out;
  if (const json::Value* w = r.find("rollback_window"); w && w->is_object()) {
    if (w->get_bool("open"))
      out += "rollback window: open until " + w->get_string("until") + " (" +
             seconds(w->get_number("remaining_ms")) + " left): `rollout undo` returns to " +
             w->get_string("undo_to") + "\n";
    else
      out += "rollback window: closed (`rollout undo` needs --force)\n";
  }
  if (const json::Value* d = r.find("last_drill"); d && d->is_object())
    out += "last drill (" + d->get_string("time") + "): " + drill(*d);
  if (r.get_bool("drill_running")) out += "a rollback drill is running\n";
  if (const json::Value* c = r.find("cleanup"); c && c->is_object())
    out += "cleanup: " + cleanup(c->get_string("version"), *c);
  return out;
}

} // namespace weir::control::render
