// weirctl's text for the end of a rollout: a blue/green status with the rollback window, the
// last drill and the replaced version's cleanup; a drill's report; `show services`' cleanup.
#include "weir/control/render.h"

#include <gtest/gtest.h>

namespace weir::control::render {
namespace {

json::Value parse(std::string_view text) {
  auto parsed = json::parse(text);
  EXPECT_TRUE(parsed.value) << parsed.error;
  return parsed.value ? *parsed.value : json::Value();
}

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(RenderCutover, BlueGreenStatusAfterThePromotion) {
  const std::string out = rollout(parse(R"({"route":"r","phase":"Healthy","strategy":"blue_green",
    "stable":"app-v1/app","canary":"app-v2/app","canary_weight":100,"weights_from":"rollout",
    "header_routes":[],"steps":[{"set_header_route":"preview","current":false,"done":true},
    {"pause_ms":0,"current":false,"done":true}],"message":"promoted",
    "rollback_window":{"open":true,"remaining_ms":120000,"until":"2026-12-01T10:30:00.000Z",
    "undo_to":"app-v1/app"},
    "last_drill":{"time":"2026-12-01T10:28:00.000Z","target":"app-v1/app","live":"app-v2/app",
    "ready":false,"reason":"GET / on 127.0.0.1:9001: app-v1/app answered connect failed",
    "synthetic":{"sent":1,"same_class":0},"mirrored":{"compared":0,"diverged":0}},
    "cleanup":{"version":"app-v1/app","safe_to_delete":false,"grace_period_ms":600000,
    "pending":[{"condition":"tunnels","detail":"3 open","since":"2026-12-01T10:27:00.000Z"}],
    "clear":[]}})"));
  EXPECT_TRUE(has(out, "blue/green")) << out;
  EXPECT_TRUE(has(out, "pause (manual gate: rollout promote switches)")) << out;
  EXPECT_TRUE(has(out, "rollback window: open until 2026-12-01T10:30:00.000Z (120.00s left): "
                       "`rollout undo` returns to app-v1/app"))
      << out;
  EXPECT_TRUE(has(out, "rollback not ready: GET / on 127.0.0.1:9001")) << out;
  EXPECT_TRUE(has(out, "cleanup: app-v1/app: not safe to delete yet\n  pending tunnels: 3 open "
                       "(since 2026-12-01T10:27:00.000Z)"))
      << out;
}

TEST(RenderCutover, ADrillsReportAndAServicesCleanup) {
  EXPECT_EQ(reply(parse(R"({"ok":true,"drill":{"target":"app-v1/app","live":"app-v2/app",
    "ready":true,"synthetic":{"sent":2,"same_class":2},"mirrored":{"compared":20,"diverged":0}}})")),
            "rollback ready: app-v1/app answers as app-v2/app does\n  probes: 2 of 2 answered in "
            "the same status class; mirrored live GETs: 0 of 20 differed\n");
  const std::string out = services(parse(R"([{"service":"app-v1/app","endpoints":[],
    "cleanup":{"version":"app-v1/app","safe_to_delete":true,"safe_since":"2026-12-01T10:40:00Z",
    "pending":[],"clear":[]}}])"));
  EXPECT_TRUE(has(out, "cleanup:\napp-v1/app: safe to delete (since 2026-12-01T10:40:00Z)")) << out;
}

} // namespace
} // namespace weir::control::render
