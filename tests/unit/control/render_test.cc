#include "weir/control/render.h"

#include <gtest/gtest.h>
#include <sstream>
#include <string>
#include <vector>

namespace weir::control::render {
namespace {

json::Value parse(std::string_view text) {
  auto parsed = json::parse(text);
  if (!parsed.value) {
    ADD_FAILURE() << parsed.error << ": " << text;
    return json::Value();
  }
  return *parsed.value;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line))
    out.push_back(line);
  return out;
}

// A "show routes" reply as weir writes it: one plain route, one with a live override and a
// backend without available endpoints.
constexpr std::string_view kRoutes =
    R"({"ok":true,"routes":[)"
    R"({"name":"web","listener":"public","match":{"host":"*","path_prefix":"/"},"backends":[)"
    R"({"service":"app-v1/app","configured_weight":90,"weight":90,"override":false,"effective_weight":90,"share":0.9},)"
    R"({"service":"app-v2/app","configured_weight":10,"weight":10,"override":false,"effective_weight":10,"share":0.1}]},)"
    R"({"name":"api","listener":"public","match":{"host":"api.example.com","path_prefix":"/v1"},"backends":[)"
    R"({"service":"api-v1/api","configured_weight":100,"weight":50,"override":true,"effective_weight":50,"share":1},)"
    R"({"service":"api-v2/api","configured_weight":0,"weight":5,"override":true,"effective_weight":0,"share":0}]}]})";

TEST(TextTable, AlignsColumnsByDisplayWidth) {
  TextTable t;
  t.header = {"NAME", "N", "BAR"};
  t.right_aligned = {false, true};
  t.rows = {{"a", "1", "\u2588\u2588"}, {"longer", "100", "\u2591"}};
  EXPECT_EQ(t.str(), "NAME      N  BAR\n"
                     "a         1  \u2588\u2588\n"
                     "longer  100  \u2591\n");
}

TEST(TextTable, WithoutHeaderAndWithShortRows) {
  TextTable t;
  t.rows = {{"x", "y", "z"}, {"long"}};
  EXPECT_EQ(t.str(), "x     y  z\nlong\n");
}

TEST(Width, CountsCodePointsAndTruncatesWholeOnes) {
  EXPECT_EQ(display_width(""), 0u);
  EXPECT_EQ(display_width("abc"), 3u);
  EXPECT_EQ(display_width("\u2588\u2591 60%"), 6u);
  EXPECT_EQ(truncate_to_width("abcdef", 3), "abc");
  EXPECT_EQ(truncate_to_width("abc", 10), "abc");
  EXPECT_EQ(truncate_to_width("\u2588\u2588\u2591x", 2), "\u2588\u2588");
  EXPECT_EQ(truncate_to_width("abc", 0), "");
}

TEST(Format, Percent) {
  EXPECT_EQ(percent(0.6), "60%");
  EXPECT_EQ(percent(0.8333333333333334), "83.3%");
  EXPECT_EQ(percent(0.16666666666666666), "16.7%");
  EXPECT_EQ(percent(0), "0%");
  EXPECT_EQ(percent(1), "100%");
  EXPECT_EQ(percent(0.000001), "<0.1%");
  EXPECT_EQ(percent(0.999999), ">99.9%");
}

TEST(Format, Millis) {
  EXPECT_EQ(millis(0.4213), "0.42ms");
  EXPECT_EQ(millis(12.34), "12.3ms");
  EXPECT_EQ(millis(250.4), "250ms");
  EXPECT_EQ(millis(1250), "1.25s");
  EXPECT_EQ(millis(-1), "-");
}

TEST(Format, Bar) {
  EXPECT_EQ(bar(0.6), "\u2588\u2588\u2588\u2588\u2588\u2588\u2591\u2591\u2591\u2591");
  EXPECT_EQ(bar(0, 4), "\u2591\u2591\u2591\u2591");
  EXPECT_EQ(bar(1, 4), "\u2588\u2588\u2588\u2588");
  EXPECT_EQ(bar(0.01, 4), "\u2588\u2591\u2591\u2591") << "anything above 0 shows";
  EXPECT_EQ(bar(0.99, 4), "\u2588\u2588\u2588\u2591") << "anything below 1 is not full";
  EXPECT_EQ(bar(7, 2), "\u2588\u2588");
  EXPECT_EQ(display_width(bar(0.37)), 10u);
}

TEST(PrettyJson, IndentsAndParsesBack) {
  json::Value v = parse(R"({"a":[1,2.5,"x\"y"],"b":{},"c":[],"d":{"e":null,"f":true}})");
  std::string text = pretty_json(v);
  EXPECT_EQ(text, "{\n"
                  "  \"a\": [\n"
                  "    1,\n"
                  "    2.5,\n"
                  "    \"x\\\"y\"\n"
                  "  ],\n"
                  "  \"b\": {},\n"
                  "  \"c\": [],\n"
                  "  \"d\": {\n"
                  "    \"e\": null,\n"
                  "    \"f\": true\n"
                  "  }\n"
                  "}\n");
  EXPECT_EQ(parse(text), v);
}

TEST(Routes, OneRowPerBackendWithLiveAndConfiguredWeights) {
  std::string text = reply(parse(kRoutes));
  auto lines = lines_of(text);
  ASSERT_EQ(lines.size(), 6u) << text;
  EXPECT_EQ(lines[0], "ROUTE  MATCH               BACKEND     WEIGHT   CONFIGURED  SHARE  NOTE");
  EXPECT_EQ(lines[1], "web    */                  app-v1/app      90           90    90%");
  EXPECT_EQ(lines[2], "web    */                  app-v2/app      10           10    10%");
  EXPECT_EQ(lines[3], "api    api.example.com/v1  api-v1/api      50*         100   100%");
  EXPECT_EQ(
      lines[4],
      "api    api.example.com/v1  api-v2/api       5*           0     0%  no endpoint available");
  EXPECT_EQ(lines[5], "* set by an operator (\"weirctl clear weight ROUTE\" drops it)");
}

TEST(Routes, WithoutOverridesThereIsNoFootnote) {
  json::Value all = parse(kRoutes);
  ASSERT_TRUE(all["routes"].is_array());
  std::string text = routes(json::Value(json::Value::Array{all["routes"].as_array()[0]}));
  EXPECT_EQ(text, "ROUTE  MATCH  BACKEND     WEIGHT   CONFIGURED  SHARE\n"
                  "web    */     app-v1/app      90           90    90%\n"
                  "web    */     app-v2/app      10           10    10%\n");
  EXPECT_EQ(routes(parse("[]")), "no routes\n");
}

TEST(Routes, SetWeightReplyShowsTheRoute) {
  std::string r = R"({"ok":true,"route":{"name":"web","listener":"public",)"
                  R"("match":{"host":"*","path_prefix":"/"},"backends":[)"
                  R"({"service":"a/x","configured_weight":90,"weight":50,"override":true,)"
                  R"("effective_weight":50,"share":0.8333333333333334},)"
                  R"({"service":"b/x","configured_weight":10,"weight":10,"override":false,)"
                  R"("effective_weight":10,"share":0.16666666666666666}]}})";
  auto lines = lines_of(reply(parse(r)));
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[1], "web    */     a/x          50*          90  83.3%");
  EXPECT_EQ(lines[2], "web    */     b/x          10           10  16.7%");
}

TEST(Services, OneRowPerEndpoint) {
  std::string r =
      R"({"ok":true,"services":[)"
      R"({"service":"app-v1/app","endpoints":[)"
      R"({"address":"127.0.0.1:8001","health":"healthy","drained":false,"active":3},)"
      R"({"address":"127.0.0.1:8002","health":"unhealthy","drained":true,"active":12}]},)"
      R"({"service":"empty/svc","endpoints":[]}]})";
  EXPECT_EQ(reply(parse(r)), "SERVICE     ENDPOINT        HEALTH     DRAINED  ACTIVE\n"
                             "app-v1/app  127.0.0.1:8001  healthy    no            3\n"
                             "app-v1/app  127.0.0.1:8002  unhealthy  yes          12\n"
                             "empty/svc   -               -          -             -\n");
}

TEST(Services, OpenTunnelsFollowTheTableForServicesThatHaveAny) {
  std::string r =
      R"({"ok":true,"services":[)"
      R"({"service":"chat-v1/chat","tunnels":20,"endpoints":[)"
      R"({"address":"127.0.0.1:8001","health":"healthy","drained":false,"active":20}]},)"
      R"({"service":"chat-v2/chat","tunnels":0,"endpoints":[]}]})";
  EXPECT_EQ(reply(parse(r)), "SERVICE       ENDPOINT        HEALTH   DRAINED  ACTIVE\n"
                             "chat-v1/chat  127.0.0.1:8001  healthy  no           20\n"
                             "chat-v2/chat  -               -        -             -\n"
                             "\n"
                             "tunnels:\n"
                             "chat-v1/chat: 20 open\n");
}

TEST(Help, AlignsUsageAndHelp) {
  std::string r =
      R"({"ok":true,"commands":[)"
      R"({"name":"help","usage":"help","help":"list every command"},)"
      R"({"name":"set weight","usage":"set weight ROUTE NS/SVC=W","help":"set weights"}]})";
  EXPECT_EQ(reply(parse(r)), "Commands (run as: weirctl COMMAND ...):\n"
                             "  help                       list every command\n"
                             "  set weight ROUTE NS/SVC=W  set weights\n");
}

TEST(Changes, ListsOnlyWhatChanged) {
  std::string r =
      R"({"ok":true,"changes":{"routes_added":["new"],"routes_removed":[],)"
      R"("routes_changed":["web","api"],"overrides_kept":[],"need_restart":["workers"]}})";
  EXPECT_EQ(reply(parse(r)),
            "reloaded:\n"
            "  routes added:    new\n"
            "  routes changed:  web, api\n"
            "  need a restart:  workers\n"
            "(the settings that need a restart keep their old values until then)\n");
  EXPECT_EQ(reply(parse(R"({"ok":true,"changes":{"routes_added":[],"need_restart":[]}})")),
            "reloaded: no changes\n");
}

TEST(Reply, BareOkAndUnknownShapes) {
  EXPECT_EQ(reply(parse(R"({"ok":true})")), "ok\n");
  std::string unknown = reply(parse(R"({"ok":true,"probes":[{"name":"p","passes":3}]})"));
  EXPECT_EQ(parse(unknown), parse(R"({"ok":true,"probes":[{"name":"p","passes":3}]})"))
      << "unknown shapes print as JSON: " << unknown;
  EXPECT_NE(unknown.find("\n  \"probes\": ["), std::string::npos) << unknown;
  std::string config = reply(parse(R"({"ok":true,"config":{"workers":2}})"));
  EXPECT_EQ(config, "{\n  \"workers\": 2\n}\n");
}

constexpr std::string_view kWatch =
    R"({"ok":true,"route":"web","time":"2026-11-26T08:52:19.562Z","window_s":1,"backends":[)"
    R"({"service":"app-v1/app","weight":90,"share":0.6,"requests":20,"errors":0,)"
    R"("rps":17.997011092391798,"error_rate":0.0123,"p50_ms":0.1039355,"p90_ms":4.0,"p99_ms":27.9183355},)"
    R"({"service":"app-v2/app","weight":60,"share":0.4,"requests":0,"errors":0,"rps":0,)"
    R"("error_rate":0,"p50_ms":0,"p90_ms":0,"p99_ms":0}]})";

TEST(Watch, FrameHasHeaderAndOneRowPerBackend) {
  auto lines = lines_of(watch_frame(parse(kWatch)));
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0], "route web   2026-11-26T08:52:19.562Z   window 1s");
  EXPECT_EQ(lines[1], "SERVICE     WEIGHT  SHARE           REQ/S  ERR %     P50     P99  REQUESTS");
  EXPECT_EQ(lines[2],
            "app-v1/app      90  \u2588\u2588\u2588\u2588\u2588\u2588\u2591\u2591\u2591\u2591"
            " 60%   18.0  1.23%  0.10ms  27.9ms        20");
  EXPECT_EQ(lines[3],
            "app-v2/app      60  \u2588\u2588\u2588\u2588\u2591\u2591\u2591\u2591\u2591\u2591"
            " 40%    0.0      -       -       -         0");
}

TEST(Watch, LineIsOneLinePerUpdate) {
  EXPECT_EQ(watch_line(parse(kWatch)),
            "2026-11-26T08:52:19.562Z web  app-v1/app weight=90 share=60% req=20 rps=18.0 "
            "err=1.23% p50=0.10ms p99=27.9ms | app-v2/app weight=60 share=40% req=0 rps=0.0 "
            "err=- p50=- p99=-\n");
}

TEST(Watch, RemovedRouteShowsTheMessage) {
  json::Value v =
      parse(R"({"ok":true,"route":"web","time":"T","error":"route removed by a reload"})");
  EXPECT_EQ(watch_line(v), "T web: route removed by a reload\n");
  EXPECT_EQ(watch_frame(v), "route web   T\nroute removed by a reload\n");
}

TEST(RenderRollout, StepsWithMarkerTimeLeftAndAnalysisSideBySide) {
  json::Value v = parse(R"({"route":"web","phase":"Progressing","stable":"v1/app",
    "canary":"v2/app","canary_weight":10,"step":1,"message":"progressing",
    "step_remaining_ms":12300,
    "steps":[{"set_weight":10,"current":false,"done":true},
             {"pause_ms":30000,"current":true,"done":false},
             {"pause_ms":0,"current":false,"done":false},
             {"analysis_ms":60000,"current":false,"done":false}],
    "last_analysis":{"outcome":"pass","reason":"pass: 300 requests",
      "stable":{"requests":2700,"errors":0,"error_rate":0,"p99_ms":12,"rps":270},
      "canary":{"requests":300,"errors":1,"error_rate":0.0033,"p99_ms":14,"rps":30}}})");
  std::string out = rollout(v);
  EXPECT_NE(out.find("phase Progressing"), std::string::npos) << out;
  EXPECT_NE(out.find("canary weight 10%"), std::string::npos) << out;
  EXPECT_NE(out.find("\u2713 1. set_weight 10%"), std::string::npos) << out;
  EXPECT_NE(out.find("\u25b6 2. pause"), std::string::npos) << out;
  EXPECT_NE(out.find("left)"), std::string::npos) << out;
  EXPECT_NE(out.find("manual gate"), std::string::npos) << out;
  EXPECT_NE(out.find("last analysis: pass"), std::string::npos) << out;
  EXPECT_NE(out.find("stable"), std::string::npos) << out;
  EXPECT_NE(out.find("2700"), std::string::npos) << out;
  EXPECT_NE(out.find("300"), std::string::npos) << out;
}

TEST(RenderRollout, HistoryOneLinePerEvent) {
  json::Value v = parse(R"([{"time":"T1","type":"started","message":"a"},
                            {"time":"T2","type":"aborted","message":"b"}])");
  EXPECT_EQ(rollout_history(v), "T1  started  a\nT2  aborted  b\n");
  EXPECT_EQ(rollout_history(parse("[]")), "no events\n");
}

TEST(RenderProbes, ShowProbesIsAProbeTableNotTheServicesTable) {
  json::Value v = parse(R"({"ok":true,"services":[{"service":"app-v2/app","ready":false,
    "probes":[{"name":"checkout","ran":true,"last":"fail","passes":3,"failures":1,
    "consecutive_passes":0,"ready_after":3,"ready":false,"latency_ms":4.5,
    "endpoint":"127.0.0.1:9002","last_failure":"status 500"}]}]})");
  std::string out = reply(v);
  EXPECT_NE(out.find("PROBE"), std::string::npos) << out;
  EXPECT_NE(out.find("checkout"), std::string::npos) << out;
  EXPECT_NE(out.find("status 500"), std::string::npos) << out;
  EXPECT_NE(out.find("0/3"), std::string::npos) << out;
  EXPECT_EQ(out.find("ENDPOINT"), std::string::npos) << out; // not the services table
}

TEST(Reply, AnUpgradeSaysPidsVersionsAndBuilds) {
  const std::string out = reply(parse(
      R"({"ok":true,"upgrade":{"old_pid":10,"new_pid":11,"old_version":"0.1.0",)"
      R"("new_version":"0.2.0","old_build":"aa","new_build":"bb","binary":"/b","took_ms":4}})"));
  EXPECT_EQ(out, "upgraded in 4 ms: pid 10 -> 11, weir 0.1.0 -> 0.2.0, build aa -> bb\n"
                 "the old process drains and exits\n");
}

} // namespace
} // namespace weir::control::render
