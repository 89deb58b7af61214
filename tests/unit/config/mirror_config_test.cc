#include "load_helpers.h"
#include "weir/config/loader.h"

#include <gtest/gtest.h>
#include <string>
#include <string_view>
#include <vector>

// A route's `mirror` with its `compare`, a rollout's `set_mirror` step and
// `analysis.max_divergence`: defaults, every key, and the errors with their places.
namespace weir::config {
namespace {

using testing_support::errors_of;
using testing_support::load_ok;

// Lines 1-9; the route's keys are 4 spaces in, so `mirror:` written next is line 10.
constexpr std::string_view kHead = R"(
listeners:
  - { name: public, address: 127.0.0.1:0 }
services:
  - { namespace: app-v1, name: app, endpoints: [127.0.0.1:9001] }
  - { namespace: app-v2, name: app, endpoints: [127.0.0.1:9002] }
routes:
  - name: r
    listener: public
    backends: [{ service: app-v1/app, weight: 100 }, { service: app-v2/app, weight: 0 }]
)";

std::string with(std::string_view lines) {
  return std::string(kHead) + std::string(lines);
}

Mirror mirror_of(std::string_view lines) {
  const Config c = load_ok(with(lines));
  return c.routes.empty() ? Mirror{} : c.routes[0].filters.mirror;
}

TEST(ConfigMirror, AbsentIsOffAndTheServiceAloneTakesTheDefaults) {
  EXPECT_FALSE(load_ok(with("")).routes[0].filters.mirror.enabled);
  const Mirror m = mirror_of("    mirror: { service: app-v2/app }\n");
  EXPECT_TRUE(m.enabled);
  EXPECT_EQ(m.service, "app-v2/app");
  EXPECT_EQ(m.percent, 100);
  EXPECT_EQ(m.max_body_bytes, 65536u);
  EXPECT_EQ(m.max_in_flight, 64u);
  EXPECT_FALSE(m.compare.enabled);
}

TEST(ConfigMirror, EveryKey) {
  const Mirror m = mirror_of(R"(    mirror:
      service: app-v2/app
      percent: 12.5%
      max_body_bytes: 1MiB
      max_in_flight: 8
      compare: { status_class: false, headers: [Content-Type, ETag], body: hash }
)");
  EXPECT_EQ(m.percent, 12.5);
  EXPECT_EQ(m.max_body_bytes, 1048576u);
  EXPECT_EQ(m.max_in_flight, 8u);
  EXPECT_TRUE(m.compare.enabled);
  EXPECT_FALSE(m.compare.status_class);
  EXPECT_EQ(m.compare.headers, (std::vector<std::string>{"content-type", "etag"}));
  EXPECT_EQ(m.compare.body, Compare::Body::hash);
}

TEST(ConfigMirror, PercentIsAPercentageWithOrWithoutTheSign) {
  EXPECT_EQ(mirror_of("    mirror: { service: app-v2/app, percent: 10 }\n").percent, 10);
  EXPECT_EQ(mirror_of("    mirror: { service: app-v2/app, percent: 0.5 }\n").percent, 0.5);
  EXPECT_EQ(mirror_of("    mirror: { service: app-v2/app, percent: 0% }\n").percent, 0);
  EXPECT_EQ(mirror_of("    mirror: { service: app-v2/app, percent: 100% }\n").percent, 100);
}

TEST(ConfigMirror, CompareShapes) {
  // An empty compare: the status class only.
  Compare c = mirror_of("    mirror: { service: app-v2/app, compare: {} }\n").compare;
  EXPECT_TRUE(c.enabled);
  EXPECT_TRUE(c.status_class);
  EXPECT_EQ(c.body, Compare::Body::none);
  // json_fields alone: those fields.
  c = mirror_of("    mirror: { service: app-v2/app, compare: { json_fields: [price, order.total] "
                "} }\n")
          .compare;
  EXPECT_EQ(c.body, Compare::Body::json_fields);
  EXPECT_EQ(c.json_fields, (std::vector<std::string>{"price", "order.total"}));
  // ...with fields ignored inside them (the issue's shape).
  c = mirror_of("    mirror: { service: app-v2/app, compare: { json_fields: [price], "
                "ignore_json_fields: [ts] } }\n")
          .compare;
  EXPECT_EQ(c.body, Compare::Body::json_fields);
  EXPECT_EQ(c.ignore_json_fields, (std::vector<std::string>{"ts"}));
  // ignore_json_fields alone: the hash of the JSON without them.
  c = mirror_of("    mirror: { service: app-v2/app, compare: { ignore_json_fields: [ts, meta.id] "
                "} }\n")
          .compare;
  EXPECT_EQ(c.body, Compare::Body::hash);
  EXPECT_EQ(c.ignore_json_fields, (std::vector<std::string>{"ts", "meta.id"}));
  // body: json_fields written out is the same as leaving it out.
  c = mirror_of("    mirror: { service: app-v2/app, compare: { body: json_fields, json_fields: "
                "[a] } }\n")
          .compare;
  EXPECT_EQ(c.body, Compare::Body::json_fields);
  c = mirror_of("    mirror: { service: app-v2/app, compare: { body: none } }\n").compare;
  EXPECT_EQ(c.body, Compare::Body::none);
}

TEST(ConfigMirror, BadValuesAreNamedWithTheirPlace) {
  EXPECT_EQ(errors_of(with(R"(    mirror:
      service: app-v2
      percent: 101%
      max_body_bytes: 17MiB
      max_in_flight: 0
      extra: 1
)")),
            "t.yaml:11:16: routes[0].mirror.service: expected a service as \"namespace/name\", "
            "got \"app-v2\"\n"
            "t.yaml:12:16: routes[0].mirror.percent: must be between 0% and 100%, got \"101%\"\n"
            "t.yaml:13:23: routes[0].mirror.max_body_bytes: must be at most 16MiB, got \"17MiB\"\n"
            "t.yaml:14:22: routes[0].mirror.max_in_flight: must be between 1 and 10000, got 0\n"
            "t.yaml:15:7: routes[0].mirror.extra: unknown key \"extra\"\n");
  EXPECT_EQ(errors_of(with("    mirror: { percent: ten }\n")),
            "t.yaml:10:13: routes[0].mirror: missing required key \"service\"\n"
            "t.yaml:10:24: routes[0].mirror.percent: expected a percentage like 10%, 10 or 0.5%, "
            "got \"ten\"\n");
  EXPECT_EQ(errors_of(with("    mirror: app-v2/app\n")),
            "t.yaml:10:13: routes[0].mirror: expected a map, got \"app-v2/app\"\n");
}

TEST(ConfigMirror, BadComparisonsAreNamed) {
  const auto compare_errors = [](std::string_view compare) {
    return errors_of(with(
        "    mirror:\n      service: app-v2/app\n      compare: " + std::string(compare) + "\n"));
  };
  EXPECT_EQ(
      compare_errors("{ body: sha }"),
      "t.yaml:12:24: routes[0].mirror.compare.body: unknown body comparison \"sha\" (expected "
      "hash, none or json_fields)\n");
  EXPECT_EQ(compare_errors("{ body: hahs }"),
            "t.yaml:12:24: routes[0].mirror.compare.body: unknown body comparison \"hahs\" (did "
            "you mean \"hash\"?) (expected hash, none or json_fields)\n");
  EXPECT_EQ(compare_errors("{ body: json_fields }"),
            "t.yaml:12:24: routes[0].mirror.compare.body: body: json_fields needs the list of "
            "fields: json_fields: [price, ...]\n");
  EXPECT_EQ(compare_errors("{ body: hash, json_fields: [a] }"),
            "t.yaml:12:43: routes[0].mirror.compare.json_fields: json_fields compares only the "
            "fields listed, which body: hash contradicts (leave body out)\n");
  EXPECT_EQ(compare_errors("{ body: none, ignore_json_fields: [ts] }"),
            "t.yaml:12:50: routes[0].mirror.compare.ignore_json_fields: ignore_json_fields needs a "
            "body comparison, but body is none\n");
  EXPECT_EQ(compare_errors("{ status_class: false }"),
            "t.yaml:12:16: routes[0].mirror.compare: compares nothing: set status_class: true, "
            "headers or a body comparison (or leave compare out)\n");
  EXPECT_EQ(compare_errors("{ headers: [content-type, Content-Type, transfer-encoding, \"a b\"] }"),
            "t.yaml:12:42: routes[0].mirror.compare.headers[1]: header \"content-type\" is listed "
            "twice\n"
            "t.yaml:12:56: routes[0].mirror.compare.headers[2]: header \"transfer-encoding\" is "
            "hop-by-hop: weir rewrites it on each connection, so it cannot be compared\n"
            "t.yaml:12:75: routes[0].mirror.compare.headers[3]: expected a header name made of "
            "letters, digits and !#$%&'*+-.^_`|~, got \"a b\"\n");
  EXPECT_EQ(compare_errors("{ json_fields: [a..b, .a, \"\"] }"),
            "t.yaml:12:32: routes[0].mirror.compare.json_fields[0]: expected a JSON field as a "
            "dotted path like price or order.total (at most 256 bytes, no control characters), "
            "got \"a..b\"\n"
            "t.yaml:12:38: routes[0].mirror.compare.json_fields[1]: expected a JSON field as a "
            "dotted path like price or order.total (at most 256 bytes, no control characters), "
            "got \".a\"\n"
            "t.yaml:12:42: routes[0].mirror.compare.json_fields[2]: expected a JSON field as a "
            "dotted path like price or order.total (at most 256 bytes, no control characters), "
            "got \"\"\n");
  EXPECT_EQ(compare_errors("{ headers: [] }"),
            "t.yaml:12:27: routes[0].mirror.compare.headers: must list at least one header\n");
}

TEST(ConfigMirror, TheServiceMustBeDefinedAndNotTheOnlyBackend) {
  EXPECT_EQ(errors_of(with("    mirror: { service: app-v3/app }\n")),
            "t.yaml:10:24: routes[0].mirror.service: service \"app-v3/app\" is not defined\n");
  // Mirroring to one of the route's own backends is the canary case: fine.
  EXPECT_EQ(errors_of(with("    mirror: { service: app-v1/app }\n")), "");
  EXPECT_EQ(errors_of(R"(
listeners:
  - { name: public, address: 127.0.0.1:0 }
services:
  - { namespace: app-v1, name: app, endpoints: [127.0.0.1:9001] }
routes:
  - name: r
    listener: public
    backends: [{ service: app-v1/app }]
    mirror: { service: app-v1/app }
)"),
            "t.yaml:9:24: routes[0].mirror.service: service \"app-v1/app\" is the route's only "
            "backend: it would get every request twice; mirror to another service (a canary, a "
            "new version)\n");
}

// The mirror thread speaks plain HTTP: a TLS service is refused at load, not dropped at run time.
TEST(ConfigMirror, ATlsServiceIsRefused) {
  EXPECT_EQ(errors_of(R"(
listeners:
  - { name: public, address: 127.0.0.1:0 }
services:
  - { namespace: app-v1, name: app, endpoints: [127.0.0.1:9001] }
  - { namespace: app-v2, name: app, endpoints: [127.0.0.1:9002], tls: { verify: false } }
routes:
  - name: r
    listener: public
    backends: [{ service: app-v1/app }]
    mirror: { service: app-v2/app }
)"),
            "t.yaml:10:24: routes[0].mirror.service: service \"app-v2/app\" is reached over TLS; "
            "weir mirrors only to plain-HTTP services\n");
}

// The rollout's lines after kHead: its steps from line 14 on (8 spaces in), analysis after.
std::string with_rollout(std::string_view steps, std::string_view analysis = "",
                         std::string_view route_lines = "") {
  return with(std::string(route_lines) +
              "    rollout:\n      stable: app-v1/app\n      canary: app-v2/app\n      steps:\n" +
              std::string(steps) +
              (analysis.empty() ? "" : "      analysis:\n" + std::string(analysis)));
}

TEST(ConfigSetMirror, StepAndMaxDivergence) {
  const Config c = load_ok(with_rollout("        - set_mirror: { percent: 10% }\n"
                                        "        - analysis: { duration: 10s }\n"
                                        "        - set_mirror: { percent: 0.5 }\n"
                                        "        - set_mirror: { percent: 0 }\n"
                                        "        - set_weight: 100\n",
                                        "        max_divergence: 1%\n"));
  const auto& steps = c.routes[0].rollout.steps;
  ASSERT_EQ(steps.size(), 5u);
  EXPECT_EQ(steps[0].kind, RolloutStep::Kind::set_mirror);
  EXPECT_EQ(steps[0].mirror_percent, 10);
  EXPECT_EQ(steps[2].mirror_percent, 0.5);
  EXPECT_EQ(steps[3].mirror_percent, 0);
  EXPECT_EQ(c.routes[0].rollout.analysis.max_divergence, 0.01);
  // Off unless given; "none" says so.
  EXPECT_EQ(load_ok(with_rollout("        - set_weight: 100\n"))
                .routes[0]
                .rollout.analysis.max_divergence,
            -1);
  EXPECT_EQ(load_ok(with_rollout("        - set_weight: 100\n", "        max_divergence: none\n"))
                .routes[0]
                .rollout.analysis.max_divergence,
            -1);
}

TEST(ConfigSetMirror, ARouteMirrorToTheCanaryWithCompareAlsoFeedsMaxDivergence) {
  EXPECT_EQ(errors_of(with_rollout("        - set_weight: 100\n", "        max_divergence: 0.5%\n",
                                   "    mirror: { service: app-v2/app, compare: {} }\n")),
            "");
}

TEST(ConfigSetMirror, BadStepsAndThresholdsAreNamed) {
  EXPECT_EQ(errors_of(with_rollout("        - set_mirror: 10%\n"
                                   "        - set_mirror: { percent: 150% }\n"
                                   "        - set_mirror: {}\n"
                                   "        - set_mirorr: { percent: 1 }\n")),
            "t.yaml:14:23: routes[0].rollout.steps[0].set_mirror: expected a map like { percent: "
            "10% }, got \"10%\"\n"
            "t.yaml:15:34: routes[0].rollout.steps[1].set_mirror.percent: must be between 0% and "
            "100%, got \"150%\"\n"
            "t.yaml:16:23: routes[0].rollout.steps[2].set_mirror: missing required key "
            "\"percent\"\n"
            "t.yaml:17:11: routes[0].rollout.steps[3].set_mirorr: unknown step \"set_mirorr\" "
            "(did you mean \"set_mirror\"?)\n");
  EXPECT_EQ(errors_of(with_rollout("        - set_mirror: { percent: 5 }\n",
                                   "        max_divergence: 1\n")),
            "t.yaml:16:25: routes[0].rollout.analysis.max_divergence: is ambiguous: write 1% for "
            "a percentage, or a ratio with a decimal point like 0.01, got \"1\"\n");
}

TEST(ConfigSetMirror, MaxDivergenceNeedsAMirrorToTheCanary) {
  const std::string why = "has no answers to judge: no step mirrors requests to the canary (add a "
                          "`set_mirror: {percent: 10%}` step, or a route mirror to the canary "
                          "with compare)\n";
  EXPECT_EQ(errors_of(with_rollout("        - set_weight: 100\n", "        max_divergence: 1%\n")),
            "t.yaml:16:25: routes[0].rollout.analysis.max_divergence: " + why);
  // A set_mirror of 0 mirrors nothing; a route mirror without compare compares nothing.
  EXPECT_EQ(errors_of(with_rollout("        - set_mirror: { percent: 0 }\n",
                                   "        max_divergence: 1%\n")),
            "t.yaml:16:25: routes[0].rollout.analysis.max_divergence: " + why);
  EXPECT_EQ(errors_of(with_rollout("        - set_weight: 100\n", "        max_divergence: 1%\n",
                                   "    mirror: { service: app-v2/app }\n")),
            "t.yaml:17:25: routes[0].rollout.analysis.max_divergence: " + why);
}

} // namespace
} // namespace weir::config
