#include "cutover_reader.h"

namespace weir::config::yaml {

void read_cutover(Checker& c, const Fields& f, Rollout& rollout) {
  if (auto w = f.get("rollback_window")) {
    if (auto v = c.duration(*w, false)) rollout.rollback_window = *v;
  }
  if (auto t = f.get("tunnels")) {
    if (c.expect_map(*t)) {
      Fields ft(c, *t, {"drain_over", "abort_grace"});
      if (auto d = ft.get("drain_over")) {
        if (auto v = c.duration(*d, false)) rollout.tunnels_drain_over = *v;
      }
      if (auto g = ft.get("abort_grace")) {
        if (auto v = c.duration(*g, false)) rollout.tunnels_abort_grace = *v;
      }
    }
  }
  if (auto cl = f.get("cleanup")) {
    if (c.expect_map(*cl)) {
      Fields fc(c, *cl, {"grace_period"});
      if (auto g = fc.require("grace_period")) {
        if (auto v = c.duration(*g, false)) rollout.cleanup_grace = *v;
      }
    }
  }
  if (auto d = f.get("rollback_drill")) {
    if (c.expect_map(*d)) {
      Fields fd(c, *d, {"every"});
      if (auto e = fd.require("every")) {
        // A drill sends requests: at most one a second keeps it a drill, not load.
        if (auto v = c.duration(*e, true)) {
          if (*v < std::chrono::seconds(1))
            c.fail(*e, "must be at least 1s, got " + quote(e->node.Scalar()));
          else
            rollout.rollback_drill_every = *v;
        }
      }
    }
  }
}

} // namespace weir::config::yaml
