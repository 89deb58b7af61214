// HTTPRoute's header modifiers and URL rewrite as weir writes heads (weir/http/header_modifier.h,
// weir/http/path_modifier.h, and their use by weir/http/rewrite.h). The cases restate the
// Gateway API conformance tests httproute-request-header-modifier, -response-header-modifier,
// -request-header-modifier-backend, httproute-rewrite-host and httproute-rewrite-path, and the
// ReplacePrefixMatch table of the API's reference. Every head written is parsed back.
#include "connection_sim.h"
#include "weir/http/header_modifier.h"
#include "weir/http/parser.h"
#include "weir/http/path_modifier.h"
#include "weir/http/rewrite.h"

#include <gtest/gtest.h>
#include <memory>
#include <string>
#include <vector>

namespace weir::http {
namespace {

using test::HeadCopy;

class ParsedHead {
public:
  ParsedHead(Parser::Kind kind, std::string wire)
      : wire_(std::move(wire)), parser_(std::make_unique<Parser>(kind, ParserLimits{})) {
    parser_->reset(false);
    size_t consumed = 0;
    EXPECT_EQ(parser_->execute(wire_.data(), wire_.size(), consumed), Parser::Event::head)
        << parser_->error_reason();
  }
  const Head& head() const { return parser_->head(); }

private:
  std::string wire_;
  std::unique_ptr<Parser> parser_;
};

HeadCopy reparse(Parser::Kind kind, const std::string& head) {
  test::RunResult r = test::run_whole(kind, head, test::SimOptions{});
  EXPECT_EQ(r.error, ParseError::none) << r.reason << " in:\n" << head;
  if (r.messages.empty()) return {};
  return r.messages[0].head;
}

std::vector<std::string> values(const HeadCopy& h, std::string_view name) {
  std::vector<std::string> out;
  for (const auto& [n, v] : h.headers)
    if (iequals(n, name)) out.push_back(v);
  return out;
}

using Values = std::vector<std::string>;

config::HeaderModifier modifier(std::vector<config::HeaderValue> set,
                                std::vector<config::HeaderValue> add,
                                std::vector<std::string> remove) {
  config::HeaderModifier m;
  m.set = std::move(set);
  m.add = std::move(add);
  m.remove = std::move(remove);
  return m;
}

// The request as the backend gets it.
HeadCopy forwarded(const std::string& wire, const UpstreamRequestContext& filters) {
  ParsedHead in(Parser::Kind::request, wire);
  UpstreamRequestContext ctx = filters;
  ctx.client_ip = "192.0.2.7";
  ctx.request_id = "rid-1";
  std::string out;
  write_upstream_request(in.head(), ctx, out);
  return reparse(Parser::Kind::request, out);
}

// The response as the client gets it.
HeadCopy answered(const std::string& wire, const HeaderModifier* headers) {
  ParsedHead in(Parser::Kind::response, wire);
  ClientResponseContext ctx;
  ctx.headers = headers;
  std::string out;
  write_client_response(in.head(), ctx, out);
  return reparse(Parser::Kind::response, out);
}

// ---- the compiled modifier ----

TEST(HeaderModifier, CompiledIntoDroppedNamesAndLines) {
  const HeaderModifier m =
      HeaderModifier::compile(modifier({{"X-Header-Set", "set-overwrites-values"}},
                                       {{"X-Header-Add", "add-appends"}}, {"x-header-remove"}));
  EXPECT_FALSE(m.empty());
  EXPECT_TRUE(m.drops("x-header-set"));
  EXPECT_TRUE(m.drops("X-HEADER-REMOVE"));
  EXPECT_FALSE(m.drops("X-Header-Add")); // added to, not replaced
  EXPECT_FALSE(m.drops("X-Header-Se"));
  EXPECT_EQ(m.lines(), "X-Header-Set: set-overwrites-values\r\nX-Header-Add: add-appends\r\n");
  EXPECT_TRUE(HeaderModifier::compile({}).empty());
  EXPECT_TRUE(HeaderModifier{}.empty());
}

TEST(HeaderModifier, TheBackendsFilterHasTheLastWord) {
  // Route: set X-A, add X-B, add X-C. Backend: remove X-B, set X-C, add X-A.
  const HeaderModifier m = HeaderModifier::compile(
      modifier({{"X-A", "route"}}, {{"X-B", "route"}, {"X-C", "route"}}, {}),
      modifier({{"x-c", "backend"}}, {{"X-A", "backend"}}, {"x-b"}));
  EXPECT_EQ(m.lines(), "X-A: route\r\nx-c: backend\r\nX-A: backend\r\n");
  for (std::string_view name : {"x-a", "x-b", "x-c"})
    EXPECT_TRUE(m.drops(name)) << name;
}

// ---- request headers (httproute-request-header-modifier) ----

TEST(HeaderModifierRequest, SetAddRemoveAsTheConformanceTestSendsThem) {
  const HeaderModifier m = HeaderModifier::compile(
      modifier({{"X-Header-Set", "set-overwrites-values"}},
               {{"X-Header-Add", "add-appends-values"}}, {"x-header-remove"}));
  UpstreamRequestContext ctx;
  ctx.headers = &m;
  // Nothing of the kind in the request: set and add both appear.
  HeadCopy plain =
      forwarded("GET /set HTTP/1.1\r\nHost: gw\r\nSome-Other-Header: val\r\n\r\n", ctx);
  EXPECT_EQ(values(plain, "x-header-set"), Values{"set-overwrites-values"});
  EXPECT_EQ(values(plain, "x-header-add"), Values{"add-appends-values"});
  EXPECT_EQ(values(plain, "some-other-header"), Values{"val"});
  // The request has them: set replaces (whatever the case of the name), add appends, remove
  // drops every one.
  HeadCopy full = forwarded("GET /x HTTP/1.1\r\nHost: gw\r\nx-header-set: some-other-value\r\n"
                            "X-HEADER-SET: again\r\nX-Header-Add: add-val-0\r\n"
                            "X-Header-Remove: val\r\nx-header-remove: two\r\n\r\n",
                            ctx);
  EXPECT_EQ(values(full, "x-header-set"), Values{"set-overwrites-values"});
  EXPECT_EQ(values(full, "x-header-add"), (Values{"add-val-0", "add-appends-values"}));
  EXPECT_TRUE(values(full, "x-header-remove").empty());
  // What weir writes itself is untouched.
  EXPECT_EQ(values(full, "host"), Values{"gw"});
  EXPECT_EQ(values(full, "x-forwarded-for"), Values{"192.0.2.7"});
}

TEST(HeaderModifierRequest, BackendFilterOnTopOfTheRoutes) {
  // httproute-request-header-modifier-backend: the route sets a header, one backend sets it
  // again and adds its own; the other backend sees only the route's.
  const config::HeaderModifier route = modifier({{"X-Route", "route"}}, {}, {});
  const HeaderModifier to_v1 =
      HeaderModifier::compile(route, modifier({{"X-Route", "v1"}}, {{"X-Backend", "v1"}}, {}));
  const HeaderModifier to_v2 = HeaderModifier::compile(route);
  UpstreamRequestContext ctx;
  ctx.headers = &to_v1;
  HeadCopy v1 = forwarded("GET / HTTP/1.1\r\nHost: gw\r\nX-Route: client\r\n\r\n", ctx);
  EXPECT_EQ(values(v1, "x-route"), Values{"v1"});
  EXPECT_EQ(values(v1, "x-backend"), Values{"v1"});
  ctx.headers = &to_v2;
  HeadCopy v2 = forwarded("GET / HTTP/1.1\r\nHost: gw\r\nX-Route: client\r\n\r\n", ctx);
  EXPECT_EQ(values(v2, "x-route"), Values{"route"});
  EXPECT_TRUE(values(v2, "x-backend").empty());
}

// ---- response headers (httproute-response-header-modifier) ----

TEST(HeaderModifierResponse, SetAddRemoveOnTheBackendsAnswer) {
  const HeaderModifier m =
      HeaderModifier::compile(modifier({{"X-Header-Set", "set-overwrites-values"}},
                                       {{"X-Header-Add", "header-val-1"}}, {"x-header-remove"}));
  HeadCopy h = answered("HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX-Header-Set: backend\r\n"
                        "X-Header-Add: backend-val\r\nX-Header-Remove: secret\r\n"
                        "Content-Type: text/plain\r\n\r\n",
                        &m);
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(values(h, "x-header-set"), Values{"set-overwrites-values"});
  EXPECT_EQ(values(h, "x-header-add"), (Values{"backend-val", "header-val-1"}));
  EXPECT_TRUE(values(h, "x-header-remove").empty());
  EXPECT_EQ(values(h, "content-type"), Values{"text/plain"});
  EXPECT_EQ(values(h, "content-length"), Values{"0"});
  // Without a filter the answer is as before.
  HeadCopy plain = answered("HTTP/1.1 204 No Content\r\nX-Header-Remove: kept\r\n\r\n", nullptr);
  EXPECT_EQ(values(plain, "x-header-remove"), Values{"kept"});
}

// ---- the path (httproute-rewrite-path and the ReplacePrefixMatch table) ----

std::string modified(std::string_view target, config::PathModifier::Type type,
                     std::string_view value, size_t prefix_length) {
  config::PathModifier m;
  m.type = type;
  m.value = std::string(value);
  std::string out;
  append_modified_path(out, target, m, prefix_length);
  return out;
}

TEST(PathModifier, ReplacePrefixAsTheGatewayApiTableSays) {
  constexpr auto kPrefix = config::PathModifier::Type::replace_prefix;
  struct Case {
    std::string_view path;
    size_t prefix_length; // of "/foo" or "/foo/": the matched prefix without a trailing '/'
    std::string_view replacement;
    std::string_view expected;
  };
  const Case cases[] = {
      {"/foo/bar", 4, "/xyz", "/xyz/bar"},
      {"/foo/bar", 4, "/xyz/", "/xyz/bar"},
      {"/foo", 4, "/xyz", "/xyz"},
      {"/foo/", 4, "/xyz", "/xyz/"},
      {"/foo/bar", 4, "", "/bar"},
      {"/foo/", 4, "", "/"},
      {"/foo", 4, "", "/"},
      {"/foo/", 4, "/", "/"},
      {"/foo", 4, "/", "/"},
      {"/foo/bar", 0, "/xyz", "/xyz/foo/bar"},
  };
  for (const Case& c : cases)
    EXPECT_EQ(modified(c.path, kPrefix, c.replacement, c.prefix_length), c.expected)
        << c.path << " with " << c.replacement;
}

TEST(PathModifier, TheConformanceRewrites) {
  constexpr auto kPrefix = config::PathModifier::Type::replace_prefix;
  constexpr auto kFull = config::PathModifier::Type::replace_full;
  // PathPrefix /prefix/one, replacePrefixMatch /one.
  EXPECT_EQ(modified("/prefix/one/two", kPrefix, "/one", 11), "/one/two");
  // PathPrefix /strip-prefix, replacePrefixMatch /.
  EXPECT_EQ(modified("/strip-prefix/three", kPrefix, "/", 13), "/three");
  EXPECT_EQ(modified("/strip-prefix", kPrefix, "/", 13), "/");
  // PathPrefix /full/one, replaceFullPath /one.
  EXPECT_EQ(modified("/full/one/two", kFull, "/one", 9), "/one");
  // PathPrefix /prefix/rewrite-path-and-modify-headers, replacePrefixMatch /prefix.
  EXPECT_EQ(modified("/prefix/rewrite-path-and-modify-headers/one", kPrefix, "/prefix", 39),
            "/prefix/one");
}

TEST(PathModifier, TheQueryStays) {
  constexpr auto kPrefix = config::PathModifier::Type::replace_prefix;
  constexpr auto kFull = config::PathModifier::Type::replace_full;
  EXPECT_EQ(modified("/prefix/one/two?a=1&b=2", kPrefix, "/one", 11), "/one/two?a=1&b=2");
  EXPECT_EQ(modified("/prefix/one?a=1", kPrefix, "", 11), "/?a=1");
  EXPECT_EQ(modified("/full/one?x=%2F", kFull, "/one", 9), "/one?x=%2F");
  EXPECT_EQ(modified("/same?q", config::PathModifier::Type::none, "", 0), "/same?q");
  EXPECT_EQ(modified("?q", config::PathModifier::Type::none, "", 0), "/?q");
}

// ---- the rewrite in the request head (httproute-rewrite-host, -path) ----

TEST(RewriteInRequestHead, HostAndPathWhatTheBackendSees) {
  config::PathModifier path;
  path.type = config::PathModifier::Type::replace_prefix;
  path.value = "/one";
  UpstreamRequestContext ctx;
  ctx.rewrite_host = "one.example.org";
  ctx.rewrite_path = &path;
  ctx.prefix_length = 11;
  HeadCopy h = forwarded(
      "GET /prefix/one/two?x=1 HTTP/1.1\r\nHost: rewrite.example\r\nAccept: */*\r\n\r\n", ctx);
  EXPECT_EQ(h.target, "/one/two?x=1");
  EXPECT_EQ(values(h, "host"), Values{"one.example.org"});
  // The client's authority stays what X-Forwarded-Host says.
  EXPECT_EQ(values(h, "x-forwarded-host"), Values{"rewrite.example"});
  EXPECT_EQ(values(h, "accept"), Values{"*/*"});
}

TEST(RewriteInRequestHead, HostRewrittenForEveryFormOfRequest) {
  UpstreamRequestContext ctx;
  ctx.rewrite_host = "backend.internal";
  ctx.default_host = "10.0.0.9:8080";
  // Absolute-form: the target's authority is not what is sent either.
  HeadCopy absolute = forwarded("GET http://front.example/a HTTP/1.1\r\nHost: other\r\n\r\n", ctx);
  EXPECT_EQ(values(absolute, "host"), Values{"backend.internal"});
  EXPECT_EQ(absolute.target, "/a");
  // HTTP/1.0 without Host: the rewrite, not the endpoint's address.
  HeadCopy no_host = forwarded("GET /a HTTP/1.0\r\n\r\n", ctx);
  EXPECT_EQ(values(no_host, "host"), Values{"backend.internal"});
  // Without a rewrite nothing changes.
  HeadCopy kept = forwarded("GET /a?b HTTP/1.1\r\nHost: front.example\r\n\r\n", {});
  EXPECT_EQ(values(kept, "host"), Values{"front.example"});
  EXPECT_EQ(kept.target, "/a?b");
}

TEST(RewriteInRequestHead, PathAndHeadersTogether) {
  // httproute-rewrite-path's fourth rule: a full-path rewrite with a header modifier.
  config::PathModifier path;
  path.type = config::PathModifier::Type::replace_full;
  path.value = "/test";
  const HeaderModifier m = HeaderModifier::compile(
      modifier({{"X-Header-Set", "set-overwrites-values"}},
               {{"X-Header-Add", "header-val-1"}, {"X-Header-Add-Append", "header-val-2"}},
               {"x-header-remove"}));
  UpstreamRequestContext ctx;
  ctx.headers = &m;
  ctx.rewrite_path = &path;
  ctx.prefix_length = 37;
  HeadCopy h = forwarded("GET /full/rewrite-path-and-modify-headers/test HTTP/1.1\r\nHost: gw\r\n"
                         "X-Header-Remove: remove-val\r\nX-Header-Add-Append: append-val-1\r\n"
                         "X-Header-Set: set-val\r\n\r\n",
                         ctx);
  EXPECT_EQ(h.target, "/test");
  EXPECT_EQ(values(h, "x-header-add"), Values{"header-val-1"});
  EXPECT_EQ(values(h, "x-header-add-append"), (Values{"append-val-1", "header-val-2"}));
  EXPECT_EQ(values(h, "x-header-set"), Values{"set-overwrites-values"});
  EXPECT_TRUE(values(h, "x-header-remove").empty());
}

} // namespace
} // namespace weir::http
