// What a hostile client, or a careless config, can do to HTTPRoute's matches and filters through
// a real weir: regular expressions against values as long as the head limits allow (they once
// overflowed a worker's stack and killed the process), and a reload that brings a regex weir
// cannot match in linear time (refused, the running config serves on).
#include "support/client.h"
#include "support/upstream.h"
#include "support/wait.h"
#include "support/websocket.h"
#include "support/weir.h"

#include <chrono>
#include <csignal>
#include <cstdio>
#include <gtest/gtest.h>
#include <string>
#include <thread>

namespace weir::test {
namespace {

std::string config(const DemoUpstream& up, const std::string& header_regex) {
  // Head limits raised as far as they go: a regex must cope with whatever they let in.
  return "workers: 1\nlimits: { max_request_head_bytes: 1048576, max_request_line_bytes: "
         "1048576 }\nlisteners:\n  - name: public\n    address: 127.0.0.1:0\n"
         "services:\n  - { namespace: d, name: app, endpoints: [" +
         up.address() +
         "] }\n"
         "routes:\n"
         "  - name: regex\n    listener: public\n    backends: [{ service: d/app }]\n"
         "    match:\n"
         "      - { path_prefix: /h, headers: [{ name: x-a, value: \"" +
         header_regex +
         "\", type: RegularExpression }] }\n"
         "      - { path: { type: RegularExpression, value: \"/p(a|b)*c\" } }\n"
         "      - { path_prefix: /q, query: [{ name: a, value: \"(a|b)*c\", type: "
         "RegularExpression }] }\n";
}

TEST(RoutingAttack, ValuesAsLongAsTheHeadAllowsAgainstRegexConditionsAreAnsweredAndWeirLivesOn) {
  DemoUpstream up = DemoUpstream::start("up");
  Weir weir = Weir::start(config(up, "(a|b)*c"));
  const uint16_t port = weir.port();
  // libstdc++'s backtracking executor needed a stack frame or more per character: each of these
  // overflowed the worker's stack and took the process down (a header of 15 000 characters did,
  // within the default 16 KiB head limit).
  const std::string as(100000, 'a');
  EXPECT_EQ(http_request(port, "GET", "/h", {{"x-a", as}}).status, 404);
  EXPECT_EQ(http_request(port, "GET", "/h", {{"x-a", as}, {"x-a", "c"}}).status, 404);
  EXPECT_EQ(http_request(port, "GET", "/p" + as).status, 404);
  EXPECT_EQ(http_request(port, "GET", "/q?a=" + as).status, 404);

  // Long values that match reach the upstream (whose own head limits are the defaults).
  const std::string some(4000, 'a');
  EXPECT_EQ(http_request(port, "GET", "/h", {{"x-a", some + "c"}}).status, 200);
  EXPECT_EQ(http_request(port, "GET", "/p" + some + "bc").status, 200);
  EXPECT_EQ(http_request(port, "GET", "/q?a=" + some + "c").status, 200);
}

TEST(RoutingAttack, AReloadWithARegexThatCannotBeMatchedInLinearTimeIsRefusedAndTheOldOneServes) {
  DemoUpstream up = DemoUpstream::start("up");
  Weir weir = Weir::start(config(up, "(a|b)*c"));
  const uint16_t port = weir.port();
  ASSERT_EQ(http_request(port, "GET", "/h", {{"x-a", "abc"}}).status, 200);
  int reloads = 0;
  for (const char* bad : {"((?!.*x).)*c", "(a)\\\\1", "((((a?){10}){10}){10}){10}"}) {
    const std::string next = weir.config_path + ".next";
    ASSERT_TRUE(write_file(next, config(up, bad)));
    ASSERT_EQ(std::rename(next.c_str(), weir.config_path.c_str()), 0);
    weir.proc->signal(SIGHUP);
    ++reloads;
    // Each refusal names the place and the reason.
    ASSERT_TRUE(wait_until(
        [&] {
          size_t n = 0;
          for (const std::string& line : lines_of(weir.proc->output()))
            if (line.find("routes[0].match[0].headers[0].value") != std::string::npos) ++n;
          return n >= static_cast<size_t>(reloads);
        },
        5s))
        << weir.proc->output_tail(2000);
    EXPECT_EQ(http_request(port, "GET", "/h", {{"x-a", "abc"}}).status, 200) << bad;
  }
  const std::string out = weir.proc->output();
  EXPECT_NE(out.find("uses lookahead"), std::string::npos) << out;
  EXPECT_NE(out.find("uses a back-reference"), std::string::npos) << out;
  EXPECT_NE(out.find("is too large"), std::string::npos) << out;
}

// timeouts.request is HTTPRoute's: one request's exchange. A WebSocket tunnel the route opened
// outlives it (timeouts.idle bounds a tunnel), and each request of a keep-alive connection
// gets its own.
TEST(RoutingAttack, RouteTimeoutsBoundEachExchangeNotATunnelNorTheConnection) {
  DemoUpstream up = DemoUpstream::start("up");
  Weir weir = Weir::start("workers: 1\nlisteners:\n  - name: public\n    address: 127.0.0.1:0\n"
                          "services:\n  - { namespace: d, name: app, endpoints: [" +
                          up.address() +
                          "] }\n"
                          "routes:\n  - name: r\n    listener: public\n    backends: [{ service: "
                          "d/app }]\n    timeouts: { request: 400ms, backend_request: 300ms }\n");
  {
    auto c = RawClient::connect(weir.port());
    ASSERT_TRUE(c);
    ASSERT_TRUE(c->send(ws_upgrade_request("/ws")));
    auto head = c->read_response(5s);
    ASSERT_TRUE(head);
    ASSERT_EQ(head->status, 101);
    const auto opened = std::chrono::steady_clock::now();
    // Past both timeouts (the worker's sweep runs every 100 ms), the tunnel still echoes.
    while (std::chrono::steady_clock::now() - opened < 700ms) {
      ASSERT_TRUE(c->send(ws_frame(0x1, "hi", 0x01020304)));
      auto echo = read_ws_frame(*c, 2s);
      ASSERT_TRUE(echo) << "the tunnel was cut";
      EXPECT_EQ(echo->payload, "hi");
      std::this_thread::sleep_for(100ms);
    }
  }
  {
    // Three requests of 250 ms each on one connection: 750 ms in all, each within 400 ms.
    auto c = RawClient::connect(weir.port());
    ASSERT_TRUE(c);
    for (int i = 0; i < 3; ++i) {
      ASSERT_TRUE(c->send("GET /?delay_ms=250 HTTP/1.1\r\nHost: a\r\n\r\n"));
      auto r = c->read_response(5s);
      ASSERT_TRUE(r) << i;
      EXPECT_EQ(r->status, 200) << i;
    }
    // And one past them is answered 504.
    ASSERT_TRUE(c->send("GET /?delay_ms=2000 HTTP/1.1\r\nHost: a\r\n\r\n"));
    auto late = c->read_response(5s);
    ASSERT_TRUE(late);
    EXPECT_EQ(late->status, 504);
  }
}

} // namespace
} // namespace weir::test
