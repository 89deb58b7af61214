#include "load_helpers.h"
#include "weir/config/loader.h"

#include <gtest/gtest.h>
#include <string>
#include <string_view>
#include <thread>

namespace weir::config {
namespace {

using testing_support::errors_of;
using testing_support::load_ok;
using testing_support::yaml;

// The smallest valid config; tests that need one bad value start from it.
constexpr std::string_view kMinimal = R"(
listeners:
  - { name: public, address: 127.0.0.1:0 }
services:
  - { namespace: app-v1, name: app, endpoints: [127.0.0.1:9001] }
  - { namespace: app-v2, name: app, endpoints: [127.0.0.1:9002] }
routes:
  - name: r
    listener: public
    backends: [{ service: app-v1/app }]
)";

// --- ConfigError formatting ---

TEST(ConfigErrorFormat, FullPosition) {
  ConfigError e{"a.yaml", 3, 7, "routes[0].name", "boom"};
  EXPECT_EQ(e.format(), "a.yaml:3:7: routes[0].name: boom");
}

TEST(ConfigErrorFormat, NoPositionNoKey) {
  ConfigError e{"a.yaml", 0, 0, "", "cannot read file: x"};
  EXPECT_EQ(e.format(), "a.yaml: cannot read file: x");
}

TEST(ConfigErrorFormat, PositionNoKey) {
  ConfigError e{"a.yaml", 2, 1, "", "bad"};
  EXPECT_EQ(e.format(), "a.yaml:2:1: bad");
}

TEST(ConfigErrorFormat, FormatErrorsOneLineEach) {
  std::vector<ConfigError> errors{{"a", 1, 2, "x", "m1"}, {"a", 3, 4, "", "m2"}};
  EXPECT_EQ(format_errors(errors), "a:1:2: x: m1\na:3:4: m2\n");
  EXPECT_EQ(format_errors({}), "");
}

// --- Whole-file problems ---

TEST(ConfigLoader, MissingFile) {
  LoadResult result = load_file("/nonexistent/weir.yaml");
  ASSERT_TRUE(std::holds_alternative<std::vector<ConfigError>>(result));
  EXPECT_EQ(format_errors(std::get<1>(result)),
            "/nonexistent/weir.yaml: cannot read file: No such file or directory\n");
}

TEST(ConfigLoader, DirectoryIsNotAFile) {
  LoadResult result = load_file("/");
  ASSERT_TRUE(std::holds_alternative<std::vector<ConfigError>>(result));
  EXPECT_EQ(format_errors(std::get<1>(result)), "/: cannot read file: Is a directory\n");
}

TEST(ConfigLoader, SyntaxError) {
  EXPECT_EQ(errors_of(R"(
listeners: [ { name: public
services: []
)"),
            "t.yaml:2:9: end of map flow not found\n");
}

TEST(ConfigLoader, TopLevelNotAMap) {
  EXPECT_EQ(errors_of("- a\n- b\n"), "t.yaml:1:1: expected a map at the top level, got a list\n");
  EXPECT_EQ(errors_of("hello\n"), "t.yaml:1:1: expected a map at the top level, got \"hello\"\n");
}

TEST(ConfigLoader, EmptyFile) {
  EXPECT_EQ(errors_of(""),
            "t.yaml: the file is empty; expected a map with listeners, services and routes\n");
  EXPECT_EQ(errors_of("# only a comment\n"),
            "t.yaml: the file is empty; expected a map with listeners, services and routes\n");
}

// --- Unknown and repeated keys ---

TEST(ConfigLoader, UnknownTopLevelKey) {
  EXPECT_EQ(errors_of(std::string(kMinimal) + "foo: 1\n"),
            "t.yaml:10:1: foo: unknown key \"foo\"\n");
}

TEST(ConfigLoader, UnknownKeySuggestsClosest) {
  EXPECT_EQ(
      errors_of(R"(
listeners:
  - { name: public, address: 127.0.0.1:0 }
services:
  - { namespace: app-v1, name: app, endpoints: [127.0.0.1:9001] }
routes:
  - name: r
    listner: public
    backends: [{ service: app-v1/app }]
)"),
      "t.yaml:6:5: routes[0]: missing required key \"listener\"\n"
      "t.yaml:7:5: routes[0].listner: unknown key \"listner\" (did you mean \"listener\"?)\n");
}

TEST(ConfigLoader, UnknownKeySuggestsTransposition) {
  EXPECT_EQ(errors_of(R"(
listeners:
  - { name: public, address: 127.0.0.1:0 }
services:
  - { namespace: app-v1, name: app, endpoints: [127.0.0.1:9001] }
routes:
  - name: r
    listener: public
    backends: [{ service: app-v1/app, wieght: 3 }]
)"),
            "t.yaml:8:39: routes[0].backends[0].wieght: unknown key \"wieght\" (did you mean "
            "\"weight\"?)\n");
}

TEST(ConfigLoader, UnknownKeyInEveryMap) {
  EXPECT_EQ(errors_of(R"(
listeners:
  - { name: public, address: 127.0.0.1:0, tsl: on }
services:
  - { namespace: app-v1, name: app, endpoints: [127.0.0.1:9001], weight: 1 }
routes:
  - name: r
    listener: public
    match: { hots: example.com }
    backends: [{ service: app-v1/app }]
    timeouts: { conect: 1s }
limits: { max_header: 10 }
access_log: { file: x }
)"),
            "t.yaml:2:43: listeners[0].tsl: unknown key \"tsl\" (did you mean \"tls\"?)\n"
            "t.yaml:4:66: services[0].weight: unknown key \"weight\"\n"
            "t.yaml:8:14: routes[0].match.hots: unknown key \"hots\" (did you mean \"host\"?)\n"
            "t.yaml:10:17: routes[0].timeouts.conect: unknown key \"conect\" (did you mean "
            "\"connect\"?)\n"
            "t.yaml:11:11: limits.max_header: unknown key \"max_header\" (did you mean "
            "\"max_headers\"?)\n"
            "t.yaml:12:15: access_log.file: unknown key \"file\"\n");
}

TEST(ConfigLoader, DuplicateKey) {
  EXPECT_EQ(errors_of(std::string(kMinimal) + "workers: 2\nworkers: 3\n"),
            "t.yaml:11:1: workers: duplicate key \"workers\" (first given at line 10)\n");
}

// --- Types ---

TEST(ConfigLoader, WeightNotAnInteger) {
  EXPECT_EQ(errors_of(R"(
listeners:
  - { name: public, address: 127.0.0.1:0 }
services:
  - { namespace: app-v1, name: app, endpoints: [127.0.0.1:9001] }
  - { namespace: app-v2, name: app, endpoints: [127.0.0.1:9002] }
routes:
  - name: r
    listener: public
    backends:
      - { service: app-v1/app, weight: 90 }
      - { service: app-v2/app, weight: abc }
)"),
            "t.yaml:11:40: routes[0].backends[1].weight: expected a non-negative integer, got "
            "\"abc\"\n");
}

TEST(ConfigLoader, NegativeWeight) {
  EXPECT_EQ(errors_of(R"(
listeners:
  - { name: public, address: 127.0.0.1:0 }
services:
  - { namespace: app-v1, name: app, endpoints: [127.0.0.1:9001] }
routes:
  - name: r
    listener: public
    backends: [{ service: app-v1/app, weight: -5 }]
)"),
            "t.yaml:8:47: routes[0].backends[0].weight: expected a non-negative integer, got "
            "\"-5\"\n");
}

TEST(ConfigLoader, WeightTooLarge) {
  EXPECT_EQ(errors_of(R"(
listeners:
  - { name: public, address: 127.0.0.1:0 }
services:
  - { namespace: app-v1, name: app, endpoints: [127.0.0.1:9001] }
routes:
  - name: r
    listener: public
    backends: [{ service: app-v1/app, weight: 99999999999999999999999 }]
)"),
            "t.yaml:8:47: routes[0].backends[0].weight: must be between 0 and 1000000, got "
            "99999999999999999999999\n");
}

TEST(ConfigLoader, AllWeightsZeroIsAllowed) {
  // The route then answers 503: an operator's way to stop traffic without removing it.
  EXPECT_EQ(errors_of(R"(
listeners:
  - { name: public, address: 127.0.0.1:0 }
services:
  - { namespace: app-v1, name: app, endpoints: [127.0.0.1:9001] }
  - { namespace: app-v2, name: app, endpoints: [127.0.0.1:9002] }
routes:
  - name: r
    listener: public
    backends:
      - { service: app-v1/app, weight: 0 }
      - { service: app-v2/app, weight: 0 }
)"),
            "");
}

TEST(ConfigLoader, WrongContainerTypes) {
  EXPECT_EQ(errors_of(R"(
listeners: { name: public }
services:
  - app-v1/app
routes:
  - name: [r]
    listener: public
    match: /api
    backends: { service: app-v1/app }
    timeouts: 5s
limits: []
access_log: stdout
)"),
            "t.yaml:1:12: listeners: expected a list, got a map\n"
            "t.yaml:3:5: services[0]: expected a map, got \"app-v1/app\"\n"
            "t.yaml:5:11: routes[0].name: expected a string, got a list\n"
            "t.yaml:7:12: routes[0].match: expected a map or a list of maps, got \"/api\"\n"
            "t.yaml:8:15: routes[0].backends: expected a list, got a map\n"
            "t.yaml:9:15: routes[0].timeouts: expected a map, got \"5s\"\n"
            "t.yaml:10:9: limits: expected a map, got a list\n"
            "t.yaml:11:13: access_log: expected a map, got \"stdout\"\n");
}

// The route's listener "public" is not reported as undefined: the listener whose name was
// rejected may be the one it means.
TEST(ConfigLoader, BadName) {
  EXPECT_EQ(errors_of(R"(
listeners:
  - { name: "pub lic", address: 127.0.0.1:0 }
services:
  - { namespace: app/v1, name: app, endpoints: [127.0.0.1:9001] }
routes:
  - name: r
    listener: public
    backends: [{ service: app }]
)"),
            "t.yaml:2:13: listeners[0].name: expected a name made of letters, digits, \".\", "
            "\"_\" or \"-\", got \"pub lic\"\n"
            "t.yaml:4:18: services[0].namespace: expected a name made of letters, digits, \".\", "
            "\"_\" or \"-\", got \"app/v1\"\n"
            "t.yaml:8:27: routes[0].backends[0].service: expected a service as "
            "\"namespace/name\", got \"app\"\n");
}

// --- Required keys ---

TEST(ConfigLoader, MissingTopLevelLists) {
  EXPECT_EQ(errors_of("workers: 2\n"), "t.yaml:1:1: missing required key \"listeners\"\n"
                                       "t.yaml:1:1: missing required key \"services\"\n"
                                       "t.yaml:1:1: missing required key \"routes\"\n");
}

TEST(ConfigLoader, MissingListenerKeys) {
  EXPECT_EQ(errors_of(R"(
listeners:
  - { name: public }
  - { address: 127.0.0.1:0 }
services:
  - { namespace: app-v1, name: app, endpoints: [127.0.0.1:9001] }
routes:
  - name: r
    listener: public
    backends: [{ service: app-v1/app }]
)"),
            "t.yaml:2:5: listeners[0]: missing required key \"address\"\n"
            "t.yaml:3:5: listeners[1]: missing required key \"name\"\n");
}

TEST(ConfigLoader, MissingServiceKeys) {
  EXPECT_EQ(errors_of(R"(
listeners:
  - { name: public, address: 127.0.0.1:0 }
services:
  - { name: app, endpoints: [127.0.0.1:9001] }
  - { namespace: app-v1, endpoints: [127.0.0.1:9001] }
  - { namespace: app-v1, name: app }
routes:
  - name: r
    listener: public
    backends: [{ service: app-v1/app }]
)"),
            "t.yaml:4:5: services[0]: missing required key \"namespace\"\n"
            "t.yaml:5:5: services[1]: missing required key \"name\"\n"
            "t.yaml:6:5: services[2]: missing required key \"endpoints\"\n");
}

TEST(ConfigLoader, MissingRouteKeys) {
  EXPECT_EQ(errors_of(R"(
listeners:
  - { name: public, address: 127.0.0.1:0 }
services:
  - { namespace: app-v1, name: app, endpoints: [127.0.0.1:9001] }
routes:
  - { listener: public, backends: [{ service: app-v1/app }] }
  - { name: b, backends: [{ service: app-v1/app }] }
  - { name: c, listener: public, match: { path_prefix: /c } }
  - { name: d, listener: public, match: { path_prefix: /d }, backends: [{ weight: 1 }] }
)"),
            "t.yaml:6:5: routes[0]: missing required key \"name\"\n"
            "t.yaml:7:5: routes[1]: missing required key \"listener\"\n"
            "t.yaml:8:5: routes[2]: missing required key \"backends\"\n"
            "t.yaml:9:73: routes[3].backends[0]: missing required key \"service\"\n");
}

TEST(ConfigLoader, UnnamedRouteIsNamedByItsPath) {
  EXPECT_EQ(errors_of(R"(
listeners:
  - { name: public, address: 127.0.0.1:0 }
services:
  - { namespace: app-v1, name: app, endpoints: [127.0.0.1:9001] }
routes:
  - { listener: public, backends: [{ service: app-v1/app }] }
  - { name: b, listener: public, backends: [{ service: app-v1/app }] }
)"),
            "t.yaml:6:5: routes[0]: missing required key \"name\"\n"
            "t.yaml:7:5: routes[1]: route \"b\" has the same match (host, path, method, headers, "
            "query) as routes[0] on listener \"public\": it would never be chosen\n");
}

TEST(ConfigLoader, EmptyLists) {
  EXPECT_EQ(errors_of(R"(
listeners: []
services:
  - { namespace: app-v1, name: app, endpoints: [] }
routes:
  - { name: r, listener: public, backends: [] }
)"),
            "t.yaml:1:12: listeners: must list at least one listener\n"
            "t.yaml:3:48: services[0].endpoints: must list at least one endpoint\n"
            "t.yaml:5:44: routes[0].backends: must list at least one backend\n");
}

TEST(ConfigLoader, EmptyValueIsNotAString) {
  EXPECT_EQ(errors_of(R"(
listeners:
  - name:
    address: 127.0.0.1:0
services:
  - { namespace: app-v1, name: app, endpoints: [127.0.0.1:9001] }
routes:
  - { name: r, listener: public, backends: [{ service: app-v1/app }] }
)"),
            "t.yaml:2:5: listeners[0].name: expected a string, got an empty value\n");
}

// --- Uniqueness and references ---

TEST(ConfigLoader, DuplicateListenerName) {
  EXPECT_EQ(errors_of(R"(
listeners:
  - { name: public, address: 127.0.0.1:0 }
  - { name: public, address: 127.0.0.1:0 }
services:
  - { namespace: app-v1, name: app, endpoints: [127.0.0.1:9001] }
routes:
  - { name: r, listener: public, backends: [{ service: app-v1/app }] }
)"),
            "t.yaml:3:13: listeners[1].name: duplicate listener name \"public\" (first defined at "
            "line 2)\n");
}

TEST(ConfigLoader, DuplicateListenerAddress) {
  EXPECT_EQ(errors_of(R"(
listeners:
  - { name: a, address: 0.0.0.0:8080 }
  - { name: b, address: 0.0.0.0:8080 }
  - { name: c, address: "[::1]:8080" }
  - { name: d, address: "[0:0::1]:8080" }
services:
  - { namespace: app-v1, name: app, endpoints: [127.0.0.1:9001] }
routes:
  - { name: r, listener: a, backends: [{ service: app-v1/app }] }
)"),
            "t.yaml:3:25: listeners[1].address: address 0.0.0.0:8080 is already used by listener "
            "\"a\" (line 2)\n"
            "t.yaml:5:25: listeners[3].address: address [::1]:8080 is already used by listener "
            "\"c\" (line 4)\n");
}

TEST(ConfigLoader, ListenersMayShareePortZero) {
  Config c = load_ok(R"(
listeners:
  - { name: a, address: 127.0.0.1:0 }
  - { name: b, address: 127.0.0.1:0 }
services:
  - { namespace: app-v1, name: app, endpoints: [127.0.0.1:9001] }
routes:
  - { name: r, listener: a, backends: [{ service: app-v1/app }] }
)");
  ASSERT_EQ(c.listeners.size(), 2u);
  EXPECT_EQ(c.listeners[1].address.port, 0);
}

TEST(ConfigLoader, DuplicateService) {
  EXPECT_EQ(errors_of(R"(
listeners:
  - { name: public, address: 127.0.0.1:0 }
services:
  - { namespace: app-v1, name: app, endpoints: [127.0.0.1:9001] }
  - { namespace: app-v1, name: app, endpoints: [127.0.0.1:9002] }
routes:
  - { name: r, listener: public, backends: [{ service: app-v1/app }] }
)"),
            "t.yaml:5:5: services[1]: duplicate service \"app-v1/app\" (first defined at line "
            "4)\n");
}

TEST(ConfigLoader, DuplicateRouteName) {
  EXPECT_EQ(errors_of(R"(
listeners:
  - { name: public, address: 127.0.0.1:0 }
services:
  - { namespace: app-v1, name: app, endpoints: [127.0.0.1:9001] }
routes:
  - { name: r, listener: public, backends: [{ service: app-v1/app }] }
  - { name: r, listener: public, match: { path_prefix: /b }, backends: [{ service: app-v1/app }] }
)"),
            "t.yaml:7:13: routes[1].name: duplicate route name \"r\" (first defined at line 6)\n");
}

TEST(ConfigLoader, UndefinedService) {
  EXPECT_EQ(errors_of(R"(
listeners:
  - { name: public, address: 127.0.0.1:0 }
services:
  - { namespace: app-v1, name: app, endpoints: [127.0.0.1:9001] }
routes:
  - name: r
    listener: public
    backends:
      - { service: app-v1/app, weight: 90 }
      - { service: app-v3/app, weight: 10 }
)"),
            "t.yaml:10:20: routes[0].backends[1].service: service \"app-v3/app\" is not "
            "defined\n");
}

TEST(ConfigLoader, UndefinedListener) {
  EXPECT_EQ(errors_of(R"(
listeners:
  - { name: public, address: 127.0.0.1:0 }
services:
  - { namespace: app-v1, name: app, endpoints: [127.0.0.1:9001] }
routes:
  - { name: r, listener: private, backends: [{ service: app-v1/app }] }
)"),
            "t.yaml:6:26: routes[0].listener: listener \"private\" is not defined\n");
}

TEST(ConfigLoader, BackendListedTwice) {
  EXPECT_EQ(errors_of(R"(
listeners:
  - { name: public, address: 127.0.0.1:0 }
services:
  - { namespace: app-v1, name: app, endpoints: [127.0.0.1:9001] }
routes:
  - name: r
    listener: public
    backends:
      - { service: app-v1/app, weight: 90 }
      - { service: app-v1/app, weight: 10 }
)"),
            "t.yaml:10:20: routes[0].backends[1].service: service \"app-v1/app\" is listed twice "
            "in this route\n");
}

TEST(ConfigLoader, EndpointListedTwice) {
  EXPECT_EQ(errors_of(R"(
listeners:
  - { name: public, address: 127.0.0.1:0 }
services:
  - { namespace: app-v1, name: app, endpoints: [127.0.0.1:9001, 127.0.0.1:9001] }
routes:
  - { name: r, listener: public, backends: [{ service: app-v1/app }] }
)"),
            "t.yaml:4:65: services[0].endpoints[1]: endpoint 127.0.0.1:9001 is listed twice\n");
}

TEST(ConfigLoader, SameMatchOnOneListener) {
  EXPECT_EQ(errors_of(R"(
listeners:
  - { name: public, address: 127.0.0.1:0 }
services:
  - { namespace: app-v1, name: app, endpoints: [127.0.0.1:9001] }
routes:
  - { name: a, listener: public, match: { host: Example.COM }, backends: [{ service: app-v1/app }] }
  - { name: b, listener: public, match: { host: example.com, path_prefix: / },
      backends: [{ service: app-v1/app }] }
  - { name: c, listener: public, backends: [{ service: app-v1/app }] }
  - { name: d, listener: public, match: {}, backends: [{ service: app-v1/app }] }
)"),
            "t.yaml:7:41: routes[1].match: route \"b\" has the same match (host, path, method, "
            "headers, query) as route \"a\" on listener \"public\": it would never be chosen\n"
            "t.yaml:10:41: routes[3].match: route \"d\" has the same match (host, path, method, "
            "headers, query) as route \"c\" on listener \"public\": it would never be chosen\n");
}

TEST(ConfigLoader, SameMatchOnDifferentListenersIsFine) {
  Config c = load_ok(R"(
listeners:
  - { name: a, address: 127.0.0.1:0 }
  - { name: b, address: 127.0.0.1:0 }
services:
  - { namespace: app-v1, name: app, endpoints: [127.0.0.1:9001] }
routes:
  - { name: r1, listener: a, backends: [{ service: app-v1/app }] }
  - { name: r2, listener: b, backends: [{ service: app-v1/app }] }
  - { name: r3, listener: b, match: { host: "*.example.com" }, backends: [{ service: app-v1/app }] }
  - { name: r4, listener: b, match: { host: example.com }, backends: [{ service: app-v1/app }] }
)");
  EXPECT_EQ(c.routes.size(), 4u);
}

// --- Addresses ---

// A listener binds an address; a service's endpoint may be a host name (discovery resolves it).
TEST(ConfigLoader, HostnameListenerAddressRejectedEndpointNameTaken) {
  EXPECT_EQ(errors_of(R"(
listeners:
  - { name: public, address: localhost:8080 }
services:
  - { namespace: app-v1, name: app, endpoints: [backend.internal:9001] }
routes:
  - { name: r, listener: public, backends: [{ service: app-v1/app }] }
)"),
            "t.yaml:2:30: listeners[0].address: expected a numeric IP address and port, e.g. "
            "127.0.0.1:8080\n");
}

TEST(ConfigLoader, BadAddresses) {
  EXPECT_EQ(errors_of(R"(
listeners:
  - { name: public, address: 127.0.0.1:0 }
services:
  - namespace: app-v1
    name: app
    endpoints:
      - 127.0.0.1
      - 127.0.0.1:0
      - 127.0.0.1:65536
      - "::1:9001"
      - 1.2.3:80
      - "[::1]:x"
      - 8080
routes:
  - { name: r, listener: public, backends: [{ service: app-v1/app }] }
)"),
            "t.yaml:7:9: services[0].endpoints[0]: expected a numeric IP address and port, e.g. "
            "127.0.0.1:8080\n"
            "t.yaml:8:9: services[0].endpoints[1]: port must be between 1 and 65535, got 0\n"
            "t.yaml:9:9: services[0].endpoints[2]: port must be between 1 and 65535, got 65536\n"
            "t.yaml:10:9: services[0].endpoints[3]: IPv6 addresses must be in brackets, e.g. "
            "[::1]:8080\n"
            "t.yaml:11:9: services[0].endpoints[4]: expected a numeric IP address and port, e.g. "
            "127.0.0.1:8080\n"
            "t.yaml:12:9: services[0].endpoints[5]: expected a numeric IP address and port, e.g. "
            "127.0.0.1:8080\n"
            "t.yaml:13:9: services[0].endpoints[6]: expected a numeric IP address and port, e.g. "
            "127.0.0.1:8080\n");
}

TEST(ConfigLoader, ListenerPortOutOfRange) {
  EXPECT_EQ(errors_of(R"(
listeners:
  - { name: public, address: 127.0.0.1:70000 }
services:
  - { namespace: app-v1, name: app, endpoints: [127.0.0.1:9001] }
routes:
  - { name: r, listener: public, backends: [{ service: app-v1/app }] }
)"),
            "t.yaml:2:30: listeners[0].address: port must be between 0 and 65535, got 70000\n");
}

// --- Durations ---

TEST(ConfigLoader, DurationWithoutUnit) {
  EXPECT_EQ(errors_of(std::string(kMinimal) + "drain_timeout: 30\n"),
            "t.yaml:10:16: drain_timeout: expected a duration like 500ms, 10s or 2m, got \"30\"\n");
}

TEST(ConfigLoader, BadDurations) {
  EXPECT_EQ(errors_of(R"(
listeners:
  - { name: public, address: 127.0.0.1:0 }
services:
  - { namespace: app-v1, name: app, endpoints: [127.0.0.1:9001] }
routes:
  - name: r
    listener: public
    backends: [{ service: app-v1/app }]
    timeouts: { connect: 1d, request: 1.5s, idle: -1s }
drain_timeout: 25h
)"),
            "t.yaml:9:26: routes[0].timeouts.connect: expected a duration like 500ms, 10s or 2m, "
            "got \"1d\"\n"
            "t.yaml:9:39: routes[0].timeouts.request: expected a duration like 500ms, 10s or 2m, "
            "got \"1.5s\"\n"
            "t.yaml:9:51: routes[0].timeouts.idle: expected a duration like 500ms, 10s or 2m, got "
            "\"-1s\"\n"
            "t.yaml:10:16: drain_timeout: must be at most 24h, got \"25h\"\n");
}

TEST(ConfigLoader, ZeroDurations) {
  EXPECT_EQ(errors_of(R"(
listeners:
  - { name: public, address: 127.0.0.1:0 }
services:
  - { namespace: app-v1, name: app, endpoints: [127.0.0.1:9001] }
routes:
  - name: r
    listener: public
    backends: [{ service: app-v1/app }]
    timeouts: { connect: 0ms, request: 0s, idle: 0s }
limits: { client_header_timeout: 0m }
drain_timeout: 0s
)"),
            "t.yaml:9:26: routes[0].timeouts.connect: must be greater than 0\n"
            "t.yaml:9:40: routes[0].timeouts.request: must be greater than 0\n"
            "t.yaml:10:34: limits.client_header_timeout: must be greater than 0\n");
}

// --- Match ---

TEST(ConfigLoader, PathPrefixMustStartWithSlash) {
  EXPECT_EQ(errors_of(R"(
listeners:
  - { name: public, address: 127.0.0.1:0 }
services:
  - { namespace: app-v1, name: app, endpoints: [127.0.0.1:9001] }
routes:
  - { name: r, listener: public, match: { path_prefix: api }, backends: [{ service: app-v1/app }] }
  - { name: s, listener: public, match: { path_prefix: "/a b" }, backends: [{ service: app-v1/app }] }
)"),
            "t.yaml:6:56: routes[0].match.path_prefix: must start with \"/\", got \"api\"\n"
            "t.yaml:7:56: routes[1].match.path_prefix: must not contain spaces, control "
            "characters, \"?\" or \"#\", got \"/a b\"\n");
}

TEST(ConfigLoader, BadHosts) {
  EXPECT_EQ(errors_of(R"(
listeners:
  - { name: public, address: 127.0.0.1:0 }
services:
  - { namespace: app-v1, name: app, endpoints: [127.0.0.1:9001] }
routes:
  - name: r
    listener: public
    backends: [{ service: app-v1/app }]
    match: { host: "*" }
  - { name: a, listener: public, match: { host: "a.*.com" }, backends: [{ service: app-v1/app }] }
  - { name: b, listener: public, match: { host: "foo_bar.com" }, backends: [{ service: app-v1/app }] }
  - { name: c, listener: public, match: { host: "example.com:80" }, backends: [{ service: app-v1/app }] }
  - { name: d, listener: public, match: { host: "a..com" }, backends: [{ service: app-v1/app }] }
)"),
            "t.yaml:9:20: routes[0].match.host: expected a host name like example.com or "
            "*.example.com (or none for any host), got \"*\"\n"
            "t.yaml:10:49: routes[1].match.host: expected a host name like example.com or "
            "*.example.com (or none for any host), got \"a.*.com\"\n"
            "t.yaml:11:49: routes[2].match.host: expected a host name like example.com or "
            "*.example.com (or none for any host), got \"foo_bar.com\"\n"
            "t.yaml:12:49: routes[3].match.host: expected a host name like example.com or "
            "*.example.com (or none for any host), got \"example.com:80\"\n"
            "t.yaml:13:49: routes[4].match.host: expected a host name like example.com or "
            "*.example.com (or none for any host), got \"a..com\"\n");
}

TEST(ConfigLoader, HostsAreLowercased) {
  Config c = load_ok(R"(
listeners:
  - { name: public, address: 127.0.0.1:0 }
services:
  - { namespace: app-v1, name: app, endpoints: [127.0.0.1:9001] }
routes:
  - { name: a, listener: public, match: { host: API.Example.COM }, backends: [{ service: app-v1/app }] }
  - { name: b, listener: public, match: { host: "*.Example.com" }, backends: [{ service: app-v1/app }] }
  - { name: c, listener: public, match: { host: "" }, backends: [{ service: app-v1/app }] }
)");
  ASSERT_EQ(c.routes.size(), 3u);
  EXPECT_EQ(c.routes[0].matches[0].host, "api.example.com");
  EXPECT_EQ(c.routes[1].matches[0].host, "*.example.com");
  EXPECT_EQ(c.routes[2].matches[0].host, "");
}

// --- Limits, workers, access log ---

TEST(ConfigLoader, BadLimits) {
  EXPECT_EQ(errors_of(std::string(kMinimal) + R"(limits:
  max_request_head_bytes: 512
  max_response_head_bytes: 2000000
  max_headers: 0
)"),
            "t.yaml:11:27: limits.max_request_head_bytes: must be between 1024 and 1048576, got "
            "512\n"
            "t.yaml:12:28: limits.max_response_head_bytes: must be between 1024 and 1048576, got "
            "2000000\n"
            "t.yaml:13:16: limits.max_headers: must be between 1 and 10000, got 0\n");
}

TEST(ConfigLoader, BufferBytesOutOfRange) {
  EXPECT_EQ(errors_of(std::string(kMinimal) + "limits: { buffer_bytes: 1000 }\n"),
            "t.yaml:10:25: limits.buffer_bytes: must be between 4096 and 1048576, got 1000\n");
}

TEST(ConfigLoader, RequestLineLongerThanHead) {
  EXPECT_EQ(errors_of(std::string(kMinimal) +
                      "limits: { max_request_head_bytes: 4096, max_request_line_bytes: 8000 }\n"),
            "t.yaml:10:65: limits.max_request_line_bytes: must not exceed max_request_head_bytes "
            "(4096), got 8000\n");
}

TEST(ConfigLoader, LoweringHeadAloneLowersTheLineLimit) {
  Config c = load_ok(std::string(kMinimal) + "limits: { max_request_head_bytes: 4096 }\n");
  EXPECT_EQ(c.limits.max_request_head_bytes, 4096u);
  EXPECT_EQ(c.limits.max_request_line_bytes, 4096u);
}

TEST(ConfigLoader, BadWorkers) {
  const std::string prefix(kMinimal);
  EXPECT_EQ(errors_of(prefix + "workers: 0\n"),
            "t.yaml:10:10: workers: expected \"auto\" or an integer between 1 and 1024, got "
            "\"0\"\n");
  EXPECT_EQ(errors_of(prefix + "workers: 1025\n"),
            "t.yaml:10:10: workers: expected \"auto\" or an integer between 1 and 1024, got "
            "\"1025\"\n");
  EXPECT_EQ(errors_of(prefix + "workers: many\n"),
            "t.yaml:10:10: workers: expected \"auto\" or an integer between 1 and 1024, got "
            "\"many\"\n");
}

TEST(ConfigLoader, Workers) {
  const std::string prefix(kMinimal);
  EXPECT_EQ(load_ok(prefix + "workers: 7\n").workers, 7u);
  EXPECT_EQ(load_ok(prefix + "workers: 1024\n").workers, 1024u);
  EXPECT_EQ(load_ok(prefix + "workers: auto\n").workers,
            std::max(1u, std::thread::hardware_concurrency()));
}

TEST(ConfigLoader, IoBackend) {
  const std::string prefix(kMinimal);
  EXPECT_EQ(load_ok(prefix).io, IoBackend::auto_);
  EXPECT_EQ(load_ok(prefix + "io: auto\n").io, IoBackend::auto_);
  EXPECT_EQ(load_ok(prefix + "io: epoll\n").io, IoBackend::epoll);
  EXPECT_EQ(load_ok(prefix + "io: io_uring\n").io, IoBackend::io_uring);
  EXPECT_EQ(errors_of(prefix + "io: uring\n"),
            "t.yaml:10:5: io: expected auto, epoll or io_uring, got \"uring\"\n");
}

TEST(ConfigLoader, AnUnknownKeyIsNotTakenForATwoLetterOne) {
  EXPECT_EQ(errors_of(std::string(kMinimal) + "ip: epoll\n"),
            "t.yaml:10:1: ip: unknown key \"ip\" (did you mean \"io\"?)\n");
  EXPECT_EQ(errors_of(std::string(kMinimal) + "foo: 1\n"),
            "t.yaml:10:1: foo: unknown key \"foo\"\n");
}

TEST(ConfigLoader, AccessLogFormat) {
  EXPECT_EQ(errors_of(std::string(kMinimal) + "access_log: { path: stderr, format: text }\n"),
            "t.yaml:10:37: access_log.format: unsupported format \"text\" (only \"json\" is "
            "supported)\n");
}

TEST(ConfigLoader, AccessLogPresentMeansEnabled) {
  Config c = load_ok(std::string(kMinimal) + "access_log: {}\n");
  EXPECT_TRUE(c.access_log.enabled);
  EXPECT_EQ(c.access_log.path, "stdout");
  EXPECT_EQ(c.access_log.format, "json");

  c = load_ok(std::string(kMinimal) + "access_log: { path: /var/log/weir/access.log }\n");
  EXPECT_TRUE(c.access_log.enabled);
  EXPECT_EQ(c.access_log.path, "/var/log/weir/access.log");
}

// --- Many errors at once ---

TEST(ConfigLoader, ReportsEveryErrorInFileOrder) {
  EXPECT_EQ(errors_of(R"(
workers: 0
listeners:
  - { name: public, address: example.com:80 }
services:
  - { namespace: app-v1, name: app, endpoints: [] }
routes:
  - name: r
    listener: public
    match: { path_prefix: api }
    backends:
      - { service: app-v1/app, weight: abc }
      - { service: app-v9/app }
    timeouts: { connect: 5 }
drain_timeout: soon
)"),
            "t.yaml:1:10: workers: expected \"auto\" or an integer between 1 and 1024, got \"0\"\n"
            "t.yaml:3:30: listeners[0].address: expected a numeric IP address and port, e.g. "
            "127.0.0.1:8080\n"
            "t.yaml:5:48: services[0].endpoints: must list at least one endpoint\n"
            "t.yaml:9:27: routes[0].match.path_prefix: must start with \"/\", got \"api\"\n"
            "t.yaml:11:40: routes[0].backends[0].weight: expected a non-negative integer, got "
            "\"abc\"\n"
            "t.yaml:12:20: routes[0].backends[1].service: service \"app-v9/app\" is not defined\n"
            "t.yaml:13:26: routes[0].timeouts.connect: expected a duration like 500ms, 10s or 2m, "
            "got \"5\"\n"
            "t.yaml:14:16: drain_timeout: expected a duration like 500ms, 10s or 2m, got "
            "\"soon\"\n");
}

TEST(ConfigLoader, ErrorsCarryStructuredFields) {
  LoadResult result =
      load_string(yaml(std::string(kMinimal) + "drain_timeout: x\n"), "dir/weir.yaml");
  ASSERT_TRUE(std::holds_alternative<std::vector<ConfigError>>(result));
  const auto& errors = std::get<1>(result);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].file, "dir/weir.yaml");
  EXPECT_EQ(errors[0].line, 10);
  EXPECT_EQ(errors[0].column, 16);
  EXPECT_EQ(errors[0].key_path, "drain_timeout");
}

// --- Valid configs ---

TEST(ConfigLoader, DefaultsApplied) {
  Config c = load_ok(kMinimal);
  EXPECT_EQ(c.source_path, "");
  EXPECT_EQ(c.workers, std::max(1u, std::thread::hardware_concurrency()));
  ASSERT_EQ(c.services.size(), 2u);
  EXPECT_EQ(c.services[0].max_idle_connections, 64u);
  ASSERT_EQ(c.routes.size(), 1u);
  const Route& r = c.routes[0];
  EXPECT_EQ(r.matches[0].host, "");
  EXPECT_EQ(r.matches[0].path.value, "/");
  ASSERT_EQ(r.backends.size(), 1u);
  EXPECT_EQ(r.backends[0].weight, 1u);
  EXPECT_EQ(r.timeouts.connect, Duration{1000});
  EXPECT_EQ(r.timeouts.request, Duration{0});
  EXPECT_EQ(r.timeouts.upstream_read, Duration{30000});
  EXPECT_EQ(r.timeouts.idle, Duration{60000});
  EXPECT_EQ(c.limits.max_request_head_bytes, 16384u);
  EXPECT_EQ(c.limits.max_request_line_bytes, 8192u);
  EXPECT_EQ(c.limits.max_headers, 100u);
  EXPECT_EQ(c.limits.max_response_head_bytes, 16384u);
  EXPECT_EQ(c.limits.buffer_bytes, 32768u);
  EXPECT_EQ(c.limits.client_header_timeout, Duration{10000});
  EXPECT_FALSE(c.access_log.enabled);
  EXPECT_EQ(c.drain_timeout, Duration{30000});
}

TEST(ConfigLoader, FullConfigRoundTrips) {
  Config c = load_ok(R"(
workers: 3
listeners:
  - { name: public, address: 0.0.0.0:8080 }
  - { name: v6, address: "[::]:8443" }
services:
  - namespace: app-v1
    name: app
    endpoints: [127.0.0.1:9001, "[::1]:9002"]
    max_idle_connections: 8
  - { namespace: app-v2, name: app, endpoints: [10.0.0.2:80] }
routes:
  - name: app-route
    listener: public
    match: { host: Example.com, path_prefix: /api }
    backends:
      - { service: app-v1/app, weight: 90 }
      - { service: app-v2/app, weight: 10 }
    timeouts: { connect: 250ms, request: 2m, idle: 1h }
  - name: wild
    listener: v6
    match: { host: "*.example.com" }
    backends: [{ service: app-v2/app, weight: 0 }, { service: app-v1/app, weight: 5 }]
limits:
  max_request_head_bytes: 32768
  max_request_line_bytes: 4096
  max_headers: 50
  max_response_head_bytes: 65536
  buffer_bytes: 65536
  client_header_timeout: 5s
access_log: { path: stderr, format: json }
drain_timeout: 0s
)");
  EXPECT_EQ(c.workers, 3u);
  ASSERT_EQ(c.listeners.size(), 2u);
  EXPECT_EQ(c.listeners[0].name, "public");
  EXPECT_EQ(c.listeners[0].address, (Address{"0.0.0.0", 8080}));
  EXPECT_EQ(c.listeners[1].address, (Address{"::", 8443}));
  EXPECT_EQ(c.listeners[1].address.text(), "[::]:8443");

  ASSERT_EQ(c.services.size(), 2u);
  EXPECT_EQ(c.services[0].ns, "app-v1");
  EXPECT_EQ(c.services[0].name, "app");
  EXPECT_EQ(c.services[0].id(), "app-v1/app");
  ASSERT_EQ(c.services[0].endpoints.size(), 2u);
  EXPECT_EQ(c.services[0].endpoints[0].text(), "127.0.0.1:9001");
  EXPECT_EQ(c.services[0].endpoints[1].text(), "[::1]:9002");
  EXPECT_EQ(c.services[0].max_idle_connections, 8u);
  EXPECT_EQ(c.services[1].max_idle_connections, 64u);

  ASSERT_EQ(c.routes.size(), 2u);
  const Route& r = c.routes[0];
  EXPECT_EQ(r.name, "app-route");
  EXPECT_EQ(r.listener, "public");
  EXPECT_EQ(r.matches[0].host, "example.com");
  EXPECT_EQ(r.matches[0].path.value, "/api");
  ASSERT_EQ(r.backends.size(), 2u);
  EXPECT_EQ(r.backends[0].service, "app-v1/app");
  EXPECT_EQ(r.backends[0].weight, 90u);
  EXPECT_EQ(r.backends[1].service, "app-v2/app");
  EXPECT_EQ(r.backends[1].weight, 10u);
  EXPECT_EQ(r.timeouts.connect, Duration{250});
  EXPECT_EQ(r.timeouts.request, Duration{120000});
  EXPECT_EQ(r.timeouts.idle, Duration{3600000});
  EXPECT_EQ(c.routes[1].matches[0].host, "*.example.com");
  EXPECT_EQ(c.routes[1].matches[0].path.value, "/");
  EXPECT_EQ(c.routes[1].backends[0].weight, 0u);

  EXPECT_EQ(c.limits.max_request_head_bytes, 32768u);
  EXPECT_EQ(c.limits.max_request_line_bytes, 4096u);
  EXPECT_EQ(c.limits.max_headers, 50u);
  EXPECT_EQ(c.limits.max_response_head_bytes, 65536u);
  EXPECT_EQ(c.limits.buffer_bytes, 65536u);
  EXPECT_EQ(c.limits.client_header_timeout, Duration{5000});
  EXPECT_TRUE(c.access_log.enabled);
  EXPECT_EQ(c.access_log.path, "stderr");
  EXPECT_EQ(c.access_log.format, "json");
  EXPECT_EQ(c.drain_timeout, Duration{0});
}

TEST(ConfigLoader, ReferenceConfigLoads) {
  const std::string path = std::string(WEIR_SOURCE_DIR) + "/conf/weir.yaml";
  LoadResult result = load_file(path);
  if (const auto* errors = std::get_if<std::vector<ConfigError>>(&result))
    FAIL() << format_errors(*errors);
  const Config& c = std::get<Config>(result);
  EXPECT_EQ(c.source_path, path);
  EXPECT_EQ(c.workers, std::max(1u, std::thread::hardware_concurrency()));
  ASSERT_EQ(c.listeners.size(), 1u);
  EXPECT_EQ(c.listeners[0].name, "public");
  EXPECT_EQ(c.listeners[0].address.text(), "0.0.0.0:8080");
  ASSERT_EQ(c.services.size(), 2u);
  EXPECT_EQ(c.services[0].id(), "app-v1/app");
  EXPECT_EQ(c.services[0].endpoints, (std::vector<Address>{{"127.0.0.1", 9001}}));
  EXPECT_EQ(c.services[1].id(), "app-v2/app");
  EXPECT_EQ(c.services[1].endpoints, (std::vector<Address>{{"127.0.0.1", 9002}}));
  ASSERT_EQ(c.routes.size(), 1u);
  EXPECT_EQ(c.routes[0].name, "app-route");
  EXPECT_EQ(c.routes[0].listener, "public");
  EXPECT_EQ(c.routes[0].matches[0].host, "");
  EXPECT_EQ(c.routes[0].matches[0].path.value, "/");
  ASSERT_EQ(c.routes[0].backends.size(), 2u);
  EXPECT_EQ(c.routes[0].backends[0].service, "app-v1/app");
  EXPECT_EQ(c.routes[0].backends[0].weight, 90u);
  EXPECT_EQ(c.routes[0].backends[1].service, "app-v2/app");
  EXPECT_EQ(c.routes[0].backends[1].weight, 10u);
  EXPECT_FALSE(c.access_log.enabled);

  // Every value the reference file spells out is the built-in default.
  const Config defaults;
  const Route default_route;
  EXPECT_EQ(c.routes[0].timeouts.connect, default_route.timeouts.connect);
  EXPECT_EQ(c.routes[0].timeouts.request, default_route.timeouts.request);
  EXPECT_EQ(c.routes[0].timeouts.upstream_read, default_route.timeouts.upstream_read);
  EXPECT_EQ(c.routes[0].timeouts.idle, default_route.timeouts.idle);
  EXPECT_EQ(c.services[0].max_idle_connections, Service{}.max_idle_connections);
  EXPECT_EQ(c.limits.max_request_head_bytes, defaults.limits.max_request_head_bytes);
  EXPECT_EQ(c.limits.max_request_line_bytes, defaults.limits.max_request_line_bytes);
  EXPECT_EQ(c.limits.max_headers, defaults.limits.max_headers);
  EXPECT_EQ(c.limits.max_response_head_bytes, defaults.limits.max_response_head_bytes);
  EXPECT_EQ(c.limits.client_header_timeout, defaults.limits.client_header_timeout);
  EXPECT_EQ(c.drain_timeout, defaults.drain_timeout);

  // The demo services are health-checked (weir-demo-upstream answers /healthz) with the
  // built-in check settings.
  for (const Service& s : c.services) {
    HealthCheck expected;
    expected.enabled = true;
    EXPECT_EQ(s.health_check, expected) << s.id();
    EXPECT_TRUE(s.probes.empty()) << s.id();
    EXPECT_EQ(s.outlier_detection, OutlierDetection{}) << s.id();
  }
  EXPECT_EQ(c.routes[0].retries, Retries{});
}

} // namespace
} // namespace weir::config
