// The status an HTTPRoute and a GatewayClass get from weir: which merge patch, and when none.
#include "weir/gateway/status_writer.h"

#include <gtest/gtest.h>

namespace weir::gateway {
namespace {

json::Value parse(const std::string& text) {
  auto parsed = json::parse(text);
  EXPECT_TRUE(parsed.value) << parsed.error << ": " << text;
  return parsed.value ? *parsed.value : json::Value();
}

ParentStatus accepted_parent() {
  ParentStatus p;
  p.ref.ns = "infra";
  p.ref.name = "gw";
  p.accepted = {true, "Accepted", ""};
  p.resolved_refs = {true, "ResolvedRefs", ""};
  return p;
}

const json::Value& ours(const json::Value& patch) {
  for (const auto& p : patch["status"]["parents"].as_array())
    if (p.get_string("controllerName") == kControllerName) return p;
  static const json::Value none;
  return none;
}

TEST(RouteStatusPatch, WritesWeirsEntryAndGivesOtherControllersTheirsBack) {
  const json::Value route =
      parse(R"({"metadata":{"name":"r"},"status":{"parents":[{"parentRef":{"name":"x"},)"
            R"("controllerName":"example.com/other","conditions":[{"type":"Accepted"}]}]}})");
  auto patch = route_status_patch(route, {accepted_parent()}, 3, kControllerName, "T1");
  ASSERT_TRUE(patch);
  const json::Value p = parse(*patch);
  ASSERT_EQ(p["status"]["parents"].as_array().size(), 2u);
  EXPECT_EQ(p["status"]["parents"].as_array()[0], (*route["status"]["parents"].as_array().begin()));
  const json::Value& mine = ours(p);
  EXPECT_EQ(mine["parentRef"].get_string("group"), "gateway.networking.k8s.io");
  EXPECT_EQ(mine["parentRef"].get_string("kind"), "Gateway");
  EXPECT_EQ(mine["parentRef"].get_string("namespace"), "infra");
  EXPECT_EQ(mine["parentRef"].get_string("name"), "gw");
  ASSERT_EQ(mine["conditions"].as_array().size(), 2u);
  for (const auto& c : mine["conditions"].as_array()) {
    EXPECT_EQ(c.get_string("status"), "True");
    EXPECT_EQ(c.get_string("reason"), c.get_string("type"));
    EXPECT_EQ(c.get_number("observedGeneration"), 3);
    EXPECT_EQ(c.get_string("lastTransitionTime"), "T1");
  }
}

TEST(RouteStatusPatch, NothingWhenTheStatusSaysSoAlreadyAndTheTimeStaysWhileTheStatusDoes) {
  const std::string first =
      *route_status_patch(parse("{}"), {accepted_parent()}, 1, kControllerName, "T1");
  const json::Value written = parse(first);
  EXPECT_FALSE(route_status_patch(written, {accepted_parent()}, 1, kControllerName, "T2"))
      << "the same conditions are not written again";

  // A new generation: observedGeneration moves, lastTransitionTime stays (status unchanged).
  auto next = route_status_patch(written, {accepted_parent()}, 2, kControllerName, "T2");
  ASSERT_TRUE(next);
  const json::Value next_status = parse(*next);
  for (const auto& c : ours(next_status)["conditions"].as_array()) {
    EXPECT_EQ(c.get_number("observedGeneration"), 2);
    EXPECT_EQ(c.get_string("lastTransitionTime"), "T1");
  }

  // ResolvedRefs turns False: its time is new, Accepted's is kept.
  ParentStatus refused = accepted_parent();
  refused.resolved_refs = {false, "RefNotPermitted", "no ReferenceGrant"};
  auto turned = route_status_patch(written, {refused}, 1, kControllerName, "T3");
  ASSERT_TRUE(turned);
  const json::Value turned_status = parse(*turned);
  for (const auto& c : ours(turned_status)["conditions"].as_array()) {
    if (c.get_string("type") == "ResolvedRefs") {
      EXPECT_EQ(c.get_string("status"), "False");
      EXPECT_EQ(c.get_string("reason"), "RefNotPermitted");
      EXPECT_EQ(c.get_string("message"), "no ReferenceGrant");
      EXPECT_EQ(c.get_string("lastTransitionTime"), "T3");
    } else {
      EXPECT_EQ(c.get_string("lastTransitionTime"), "T1");
    }
  }
}

TEST(RouteStatusPatch, ARouteNoLongerWeirsLosesOnlyWeirsEntries) {
  EXPECT_FALSE(route_status_patch(parse("{}"), {}, 0, kControllerName, "T"))
      << "a route weir never wrote is left alone";
  const std::string mine =
      *route_status_patch(parse("{}"), {accepted_parent()}, 1, kControllerName, "T1");
  auto cleared = route_status_patch(parse(mine), {}, 0, kControllerName, "T2");
  ASSERT_TRUE(cleared);
  const json::Value cleared_status = parse(*cleared);
  EXPECT_TRUE(cleared_status["status"]["parents"].as_array().empty());
}

TEST(ClassStatusPatch, AcceptedOnceThenNothing) {
  auto patch = class_status_patch(parse(R"({"metadata":{"generation":4}})"), {true, "Accepted", ""},
                                  4, "T1");
  ASSERT_TRUE(patch);
  const json::Value written = parse(*patch);
  const json::Value& c = written["status"]["conditions"].as_array().at(0);
  EXPECT_EQ(c.get_string("type"), "Accepted");
  EXPECT_EQ(c.get_string("status"), "True");
  EXPECT_EQ(c.get_number("observedGeneration"), 4);
  EXPECT_FALSE(class_status_patch(written, {true, "Accepted", ""}, 4, "T2"));
}

} // namespace
} // namespace weir::gateway

namespace weir::gateway {
namespace {

// The patch replaces status.parents whole, other controllers' entries included: it holds the
// resourceVersion it was built from, so that the API server refuses it (409) when another
// controller wrote meanwhile, rather than weir writing back their older entries.
TEST(RouteStatusPatch, CarriesTheResourceVersionItWasBuiltFrom) {
  const json::Value route = parse(R"({"metadata":{"name":"r","resourceVersion":"42"}})");
  auto patch = route_status_patch(route, {accepted_parent()}, 1, kControllerName, "T1");
  ASSERT_TRUE(patch);
  EXPECT_EQ(parse(*patch)["metadata"].get_string("resourceVersion"), "42");
}

// The API server refuses a condition message longer than 32768 bytes (the route as a whole with
// it): a long list of unresolved backends is cut short, at a character's start.
TEST(RouteStatusPatch, ALongMessageIsCutToWhatTheApiTakes) {
  ParentStatus p = accepted_parent();
  p.resolved_refs = {false, "BackendNotFound", ""};
  for (int i = 0; i < 5000; ++i)
    p.resolved_refs.message += "the Service ns/é" + std::to_string(i) + " does not exist; ";
  auto patch = route_status_patch(parse("{}"), {p}, 1, kControllerName, "T1");
  ASSERT_TRUE(patch);
  const json::Value written = parse(*patch);
  std::string message;
  for (const auto& c : ours(written)["conditions"].as_array())
    if (c.get_string("type") == "ResolvedRefs") message = c.get_string("message");
  EXPECT_LE(message.size(), 32768u);
  EXPECT_GT(message.size(), 1000u);
  EXPECT_TRUE(message.ends_with("…")) << message.substr(message.size() - 20);
  // Said once, it is not written again.
  EXPECT_FALSE(route_status_patch(written, {p}, 1, kControllerName, "T2"));
}

} // namespace
} // namespace weir::gateway
