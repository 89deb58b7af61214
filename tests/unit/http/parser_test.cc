// Valid HTTP/1 messages through weir::http::Parser: whole, byte by byte and in random splits,
// pipelining, and the head fields a proxy routes on.

#include "connection_sim.h"
#include "weir/http/parser.h"

#include <gtest/gtest.h>
#include <string>

namespace weir::http {
namespace {

using test::expect_split_invariant;
using test::HeadCopy;
using test::kGet;
using test::kHeadMethod;
using test::kPost;
using test::kPut;
using test::run_bytewise;
using test::run_whole;
using test::RunResult;
using test::SimOptions;
using namespace std::string_literals;
using Headers = std::vector<std::pair<std::string, std::string>>;
constexpr auto kRequest = Parser::Kind::request;
constexpr auto kResponse = Parser::Kind::response;

uint32_t head_size(std::string_view wire) {
  return static_cast<uint32_t>(wire.find("\r\n\r\n") + 4);
}

TEST(ParserRequest, SimpleGet) {
  const std::string wire = "GET /index.html?q=1&r=%20 HTTP/1.1\r\n"
                           "Host: example.com\r\n"
                           "User-Agent: weir-test/1\r\n"
                           "Accept: */*\r\n"
                           "\r\n";
  RunResult r = expect_split_invariant(kRequest, wire);
  ASSERT_EQ(r.events, "HD");
  ASSERT_EQ(r.messages.size(), 1u);
  const HeadCopy& h = r.messages[0].head;
  EXPECT_EQ(h.method, kGet);
  EXPECT_EQ(h.method_name, "GET");
  EXPECT_EQ(h.target, "/index.html?q=1&r=%20");
  EXPECT_EQ(h.version_minor, 1);
  EXPECT_EQ(h.headers,
            (Headers{{"Host", "example.com"}, {"User-Agent", "weir-test/1"}, {"Accept", "*/*"}}));
  EXPECT_EQ(h.host, "example.com");
  EXPECT_EQ(h.framing, Framing::none);
  EXPECT_EQ(h.content_length, 0u);
  EXPECT_TRUE(h.keep_alive);
  EXPECT_FALSE(h.upgrade);
  EXPECT_FALSE(h.expect_continue);
  EXPECT_EQ(h.wire_size, wire.size());
  EXPECT_EQ(r.messages[0].body, "");
  EXPECT_TRUE(r.messages[0].complete);
  EXPECT_EQ(r.messages[0].end_offset, wire.size());
}

TEST(ParserRequest, ContentLengthBody) {
  const std::string body = "hello world, this is a body with\r\nCRLF and \0 NUL"s;
  const std::string wire = "POST /upload HTTP/1.1\r\n"
                           "Host: a.example\r\n"
                           "Content-Type: text/plain\r\n"
                           "Content-Length: " +
                           std::to_string(body.size()) + "\r\n\r\n" + body;
  RunResult r = expect_split_invariant(kRequest, wire);
  ASSERT_EQ(r.shape(), "HD");
  const auto& m = r.messages[0];
  EXPECT_EQ(m.head.method, kPost);
  EXPECT_EQ(m.head.framing, Framing::length);
  EXPECT_EQ(m.head.content_length, body.size());
  EXPECT_EQ(m.head.wire_size, head_size(wire));
  EXPECT_EQ(m.body, body);
  EXPECT_EQ(m.end_offset, wire.size());
}

TEST(ParserRequest, ZeroContentLength) {
  const std::string wire = "PUT /x HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n";
  RunResult r = expect_split_invariant(kRequest, wire);
  ASSERT_EQ(r.events, "HD");
  EXPECT_EQ(r.messages[0].head.method, kPut);
  EXPECT_EQ(r.messages[0].head.framing, Framing::length);
  EXPECT_EQ(r.messages[0].head.content_length, 0u);
  EXPECT_EQ(r.messages[0].body, "");
}

TEST(ParserRequest, LargeBodyArrivesAsSeveralBodyEvents) {
  std::string body;
  for (int i = 0; body.size() < 20000; ++i)
    body += "line " + std::to_string(i) + "\n";
  const std::string wire =
      "POST /big HTTP/1.1\r\nHost: h\r\nContent-Length: " + std::to_string(body.size()) +
      "\r\n\r\n" + body;
  RunResult r = expect_split_invariant(kRequest, wire);
  ASSERT_EQ(r.shape(), "HD");
  EXPECT_EQ(r.messages[0].body, body);
}

TEST(ParserRequest, ChunkedWithExtensionsAndTrailers) {
  const std::string wire = "POST /chunked HTTP/1.1\r\n"
                           "Host: h\r\n"
                           "Transfer-Encoding: chunked\r\n"
                           "Trailer: X-Checksum\r\n"
                           "\r\n"
                           "5;ext=1\r\n"
                           "hello\r\n"
                           "6;name=\"quoted value\";flag\r\n"
                           " world\r\n"
                           "1A\r\n"
                           "abcdefghijklmnopqrstuvwxyz\r\n"
                           "a\r\n"
                           "0123456789\r\n"
                           "0;last\r\n"
                           "X-Checksum: 1234\r\n"
                           "X-Other: o\r\n"
                           "\r\n";
  RunResult r = expect_split_invariant(kRequest, wire);
  ASSERT_EQ(r.shape(), "HD");
  const auto& m = r.messages[0];
  EXPECT_EQ(m.head.framing, Framing::chunked);
  EXPECT_EQ(m.head.content_length, 0u);
  EXPECT_EQ(m.head.wire_size, head_size(wire));
  EXPECT_EQ(m.head.headers.size(), 3u); // trailers are not part of the head
  EXPECT_EQ(m.body, "hello worldabcdefghijklmnopqrstuvwxyz0123456789");
  EXPECT_EQ(m.end_offset, wire.size());
}

TEST(ParserRequest, ChunkedUppercaseCodingAndHexDigits) {
  const std::string wire = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: Chunked\r\n\r\n"
                           "F\r\n0123456789abcde\r\n0\r\n\r\n";
  RunResult r = expect_split_invariant(kRequest, wire);
  ASSERT_EQ(r.shape(), "HD");
  EXPECT_EQ(r.messages[0].head.framing, Framing::chunked);
  EXPECT_EQ(r.messages[0].body, "0123456789abcde");
}

TEST(ParserRequest, TrailerNamedLikeHeadFieldsDoesNotChangeTheMessage) {
  // Trailers are not head fields: a Host trailer is not a second Host, a Content-Length trailer
  // does not re-frame the body.
  const std::string wire = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                           "3\r\nabc\r\n0\r\nHost: other\r\nContent-Length: 5\r\n\r\n";
  RunResult r = expect_split_invariant(kRequest, wire);
  ASSERT_EQ(r.shape(), "HD");
  EXPECT_EQ(r.messages[0].head.host, "h");
  EXPECT_EQ(r.messages[0].head.headers.size(), 2u);
  EXPECT_EQ(r.messages[0].body, "abc");
  EXPECT_EQ(r.messages[0].end_offset, wire.size());
}

TEST(ParserRequest, TransferEncodingTrailerIsRefused) {
  // Framing fields are not allowed in trailers (RFC 9110 6.5.1); llhttp refuses this one.
  test::expect_rejected(kRequest,
                        "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                        "3\r\nabc\r\n0\r\nTransfer-Encoding: chunked\r\n\r\n",
                        400, {}, "HE");
}

TEST(ParserRequest, Http10DefaultsToClose) {
  const std::string wire = "GET /old HTTP/1.0\r\nUser-Agent: u\r\n\r\n";
  RunResult r = expect_split_invariant(kRequest, wire);
  ASSERT_EQ(r.events, "HD");
  EXPECT_EQ(r.messages[0].head.version_minor, 0);
  EXPECT_FALSE(r.messages[0].head.keep_alive);
  EXPECT_EQ(r.messages[0].head.host, "");
}

TEST(ParserRequest, Http10KeepAlive) {
  const std::string wire = "GET /old HTTP/1.0\r\nHost: h\r\nConnection: Keep-Alive\r\n\r\n";
  RunResult r = expect_split_invariant(kRequest, wire);
  ASSERT_EQ(r.events, "HD");
  EXPECT_EQ(r.messages[0].head.version_minor, 0);
  EXPECT_TRUE(r.messages[0].head.keep_alive);
}

TEST(ParserRequest, Http11ConnectionClose) {
  const std::string wire = "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n";
  RunResult r = expect_split_invariant(kRequest, wire);
  ASSERT_EQ(r.events, "HD");
  EXPECT_FALSE(r.messages[0].head.keep_alive);
}

TEST(ParserRequest, ExpectContinue) {
  const std::string wire = "PUT /f HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\n"
                           "Content-Length: 3\r\n\r\nabc";
  RunResult r = expect_split_invariant(kRequest, wire);
  ASSERT_EQ(r.shape(), "HD");
  EXPECT_TRUE(r.messages[0].head.expect_continue);
  EXPECT_EQ(r.messages[0].body, "abc");
}

TEST(ParserRequest, ExpectOtherValueIsNotContinue) {
  const std::string wire = "GET / HTTP/1.1\r\nHost: h\r\nExpect: something\r\n\r\n";
  RunResult r = run_whole(kRequest, wire);
  ASSERT_EQ(r.events, "HD");
  EXPECT_FALSE(r.messages[0].head.expect_continue);
}

TEST(ParserRequest, ExpectContinueStopsBeforeBody) {
  // The proxy answers 100 Continue between the head and the body: the head event must come
  // before the client has sent any body byte.
  Parser p(kRequest, {});
  std::string buf =
      "POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n";
  size_t consumed = 0;
  EXPECT_EQ(p.execute(buf.data(), buf.size(), consumed), Parser::Event::head);
  EXPECT_EQ(consumed, buf.size());
  EXPECT_TRUE(p.head().expect_continue);
  EXPECT_EQ(p.execute(buf.data() + consumed, 0, consumed), Parser::Event::need_more);
  buf += "body";
  EXPECT_EQ(p.execute(buf.data() + buf.size() - 4, 4, consumed), Parser::Event::done);
  ASSERT_EQ(p.body().size(), 1u);
  EXPECT_EQ(p.body()[0], "body");
}

TEST(ParserRequest, WebSocketUpgrade) {
  const std::string wire = "GET /chat HTTP/1.1\r\n"
                           "Host: server.example.com\r\n"
                           "Upgrade: websocket\r\n"
                           "Connection: Upgrade\r\n"
                           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                           "Sec-WebSocket-Version: 13\r\n"
                           "\r\n";
  RunResult r = expect_split_invariant(kRequest, wire);
  ASSERT_EQ(r.events, "HD");
  EXPECT_TRUE(r.messages[0].head.upgrade);
  EXPECT_EQ(r.messages[0].end_offset, wire.size());
}

TEST(ParserRequest, WebSocketUpgradeLeavesTunnelBytesUnread) {
  const std::string head = "GET /chat HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n"
                           "Connection: upgrade\r\n\r\n";
  const std::string frames = "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58";
  const std::string buf = head + frames;
  Parser p(kRequest, {});
  size_t consumed = 0;
  ASSERT_EQ(p.execute(buf.data(), buf.size(), consumed), Parser::Event::head);
  EXPECT_EQ(consumed, head.size());
  EXPECT_TRUE(p.head().upgrade);
  ASSERT_EQ(p.execute(buf.data() + head.size(), frames.size(), consumed), Parser::Event::done);
  EXPECT_EQ(consumed, 0u); // the frames belong to the tunnel
  EXPECT_TRUE(p.body().empty());
}

TEST(ParserRequest, UpgradeDeclinedConnectionContinues) {
  // The upstream may refuse an Upgrade with an ordinary response; the client's next request on
  // the same connection must still parse.
  const std::string first = "GET /chat HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n"
                            "Connection: upgrade\r\n\r\n";
  const std::string second = "GET /next HTTP/1.1\r\nHost: h\r\n\r\n";
  test::ConnectionSim sim(kRequest, {});
  sim.feed(first);
  ASSERT_EQ(sim.result().events, "HD");
  sim.feed(second);
  EXPECT_EQ(sim.result().problems, "");
  EXPECT_EQ(sim.result().events, "HDHD");
  ASSERT_EQ(sim.result().messages.size(), 2u);
  EXPECT_EQ(sim.result().messages[1].head.target, "/next");
  EXPECT_FALSE(sim.result().messages[1].head.upgrade);
}

TEST(ParserRequest, UpgradeHeaderWithoutConnectionUpgradeIsNotAnUpgrade) {
  const std::string wire = "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\r\n";
  RunResult r = run_whole(kRequest, wire);
  ASSERT_EQ(r.events, "HD");
  EXPECT_FALSE(r.messages[0].head.upgrade);
}

TEST(ParserRequest, TabInHeaderValueAllowedAndOwsTrimmed) {
  const std::string wire = "GET / HTTP/1.1\r\n"
                           "Host:h\r\n"
                           "X-Tab: a\tb\r\n"
                           "X-Ows: \t  padded value \t \r\n"
                           "X-Empty:\r\n"
                           "X-Spaces:    \r\n"
                           "\r\n";
  RunResult r = expect_split_invariant(kRequest, wire);
  ASSERT_EQ(r.events, "HD");
  EXPECT_EQ(r.messages[0].head.headers, (Headers{{"Host", "h"},
                                                 {"X-Tab", "a\tb"},
                                                 {"X-Ows", "padded value"},
                                                 {"X-Empty", ""},
                                                 {"X-Spaces", ""}}));
  EXPECT_EQ(r.messages[0].head.host, "h");
}

TEST(ParserRequest, HeaderNamesKeepTheirCase) {
  const std::string wire = "GET / HTTP/1.1\r\nhOsT: h\r\nX-MiXeD: v\r\n\r\n";
  RunResult r = run_whole(kRequest, wire);
  ASSERT_EQ(r.events, "HD");
  EXPECT_EQ(r.messages[0].head.headers[1].first, "X-MiXeD");
  EXPECT_EQ(r.messages[0].head.host, "h");
}

TEST(ParserRequest, ObsTextInValueAllowed) {
  const std::string wire = "GET / HTTP/1.1\r\nHost: h\r\nX-Utf8: caf\xc3\xa9\r\n\r\n";
  RunResult r = expect_split_invariant(kRequest, wire);
  ASSERT_EQ(r.events, "HD");
  EXPECT_EQ(r.messages[0].head.headers[1].second, "caf\xc3\xa9");
}

TEST(ParserRequest, OtherMethodsAndTargets) {
  struct Case {
    std::string line;
    uint8_t method;
    std::string name;
    std::string target;
  };
  for (const Case& c :
       {Case{"DELETE /r/1 HTTP/1.1", test::kDelete, "DELETE", "/r/1"},
        Case{"HEAD / HTTP/1.1", kHeadMethod, "HEAD", "/"},
        Case{"OPTIONS * HTTP/1.1", 6, "OPTIONS", "*"},
        Case{"GET http://h.example/abs?x HTTP/1.1", kGet, "GET", "http://h.example/abs?x"},
        Case{"PATCH /p HTTP/1.1", 28, "PATCH", "/p"}}) {
    SCOPED_TRACE(c.line);
    RunResult r = expect_split_invariant(kRequest, c.line + "\r\nHost: h\r\n\r\n");
    ASSERT_EQ(r.events, "HD");
    EXPECT_EQ(r.messages[0].head.method, c.method);
    EXPECT_EQ(r.messages[0].head.method_name, c.name);
    EXPECT_EQ(r.messages[0].head.target, c.target);
  }
}

TEST(ParserRequest, ManyHeadersUpToTheLimit) {
  std::string wire = "GET / HTTP/1.1\r\nHost: h\r\n";
  for (int i = 1; i < 100; ++i)
    wire += "X-H" + std::to_string(i) + ": " + std::to_string(i) + "\r\n";
  wire += "\r\n";
  RunResult r = expect_split_invariant(kRequest, wire);
  ASSERT_EQ(r.events, "HD");
  EXPECT_EQ(r.messages[0].head.headers.size(), 100u);
  EXPECT_EQ(r.messages[0].head.headers[99].second, "99");
}

TEST(ParserRequest, HeadExactlyAtTheSizeLimit) {
  ParserLimits limits;
  limits.max_head_bytes = 1024;
  std::string wire = "GET / HTTP/1.1\r\nHost: h\r\nX-Pad: ";
  wire += std::string(1024 - wire.size() - 4, 'p') + "\r\n\r\n";
  ASSERT_EQ(wire.size(), 1024u);
  RunResult r = expect_split_invariant(kRequest, wire, SimOptions().with_limits(limits));
  EXPECT_EQ(r.events, "HD");
  EXPECT_EQ(r.messages[0].head.wire_size, 1024u);
}

TEST(ParserRequest, RequestLineExactlyAtTheLimit) {
  // max_line_bytes counts the request line without its CRLF.
  ParserLimits limits;
  limits.max_line_bytes = 100;
  const std::string prefix = "GET /";
  const std::string suffix = " HTTP/1.1";
  std::string line = prefix + std::string(100 - prefix.size() - suffix.size(), 'a') + suffix;
  ASSERT_EQ(line.size(), 100u);
  RunResult r = expect_split_invariant(kRequest, line + "\r\nHost: h\r\n\r\n",
                                       SimOptions().with_limits(limits));
  EXPECT_EQ(r.events, "HD");
}

TEST(ParserRequest, Pipelined) {
  const std::string a = "GET /a HTTP/1.1\r\nHost: h\r\n\r\n";
  const std::string b = "POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nbbbbb";
  const std::string c = "POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                        "3\r\nccc\r\n0\r\n\r\n";
  const std::string d = "DELETE /d HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n";
  const std::string e = "GET /e HTTP/1.0\r\n\r\n";
  const std::string wire = a + b + c + d + e;
  RunResult r = expect_split_invariant(kRequest, wire);
  EXPECT_EQ(r.shape(), "HDHDHDHDHD");
  ASSERT_EQ(r.messages.size(), 5u);
  const std::string parts[] = {a, b, c, d, e};
  const char* targets[] = {"/a", "/b", "/c", "/d", "/e"};
  const char* bodies[] = {"", "bbbbb", "ccc", "", ""};
  size_t end = 0;
  for (size_t i = 0; i < 5; ++i) {
    SCOPED_TRACE(i);
    end += parts[i].size();
    EXPECT_EQ(r.messages[i].head.target, targets[i]);
    EXPECT_EQ(r.messages[i].body, bodies[i]);
    EXPECT_TRUE(r.messages[i].complete);
    EXPECT_EQ(r.messages[i].end_offset, end);
  }
  EXPECT_FALSE(r.messages[4].head.keep_alive);
}

TEST(ParserRequest, PipelinedBytesAfterDoneAreNotConsumed) {
  const std::string a = "POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc";
  const std::string b = "GET /b HTTP/1.1\r\nHost: h\r\n\r\n";
  const std::string wire = a + b;
  Parser p(kRequest, {});
  size_t consumed = 0;
  size_t off = 0;
  ASSERT_EQ(p.execute(wire.data(), wire.size(), consumed), Parser::Event::head);
  off += consumed;
  EXPECT_EQ(p.head().target, "/a");
  Parser::Event ev = p.execute(wire.data() + off, wire.size() - off, consumed);
  off += consumed;
  ASSERT_EQ(ev, Parser::Event::done); // the last body bytes arrive with done
  ASSERT_EQ(p.body().size(), 1u);
  EXPECT_EQ(p.body()[0], "abc");
  EXPECT_EQ(off, a.size());
  // The next request is still there, untouched, for the next message.
  p.reset();
  ASSERT_EQ(p.execute(wire.data() + off, wire.size() - off, consumed), Parser::Event::head);
  EXPECT_EQ(p.head().target, "/b");
  EXPECT_EQ(off + consumed, wire.size());
  EXPECT_EQ(p.execute(wire.data() + wire.size(), 0, consumed), Parser::Event::done);
  EXPECT_EQ(consumed, 0u);
}

TEST(ParserRequest, HeadViewsPointIntoTheCallersBuffer) {
  const std::string wire = "GET /p HTTP/1.1\r\nHost: h\r\nX-A: b\r\n\r\n";
  Parser p(kRequest, {});
  size_t consumed = 0;
  ASSERT_EQ(p.execute(wire.data(), wire.size(), consumed), Parser::Event::head);
  EXPECT_EQ(p.head().target.data(), wire.data() + 4);
  EXPECT_EQ(p.head().host.data(), wire.data() + wire.find("h\r\n"));
  EXPECT_EQ(p.head().headers[1].value.data(), wire.data() + wire.find("b\r\n"));
}

TEST(ParserRequest, ResetForgetsThePreviousHead) {
  Parser p(kRequest, {});
  const std::string a = "GET /a HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n\r\n";
  size_t consumed = 0;
  ASSERT_EQ(p.execute(a.data(), a.size(), consumed), Parser::Event::head);
  ASSERT_EQ(p.execute(a.data() + consumed, 0, consumed), Parser::Event::done);
  p.reset();
  EXPECT_TRUE(p.in_head());
  EXPECT_FALSE(p.started());
  EXPECT_TRUE(p.head().headers.empty());
  EXPECT_FALSE(p.head().expect_continue);
  // A second Host on the next message is not a duplicate of the first message's Host.
  const std::string b = "GET /b HTTP/1.1\r\nHost: h\r\n\r\n";
  ASSERT_EQ(p.execute(b.data(), b.size(), consumed), Parser::Event::head);
  EXPECT_EQ(p.head().target, "/b");
  EXPECT_FALSE(p.head().expect_continue);
}

TEST(ParserRequest, StartConnectionForgetsCloseState) {
  Parser p(kRequest, {});
  const std::string a = "GET /a HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n";
  size_t consumed = 0;
  ASSERT_EQ(p.execute(a.data(), a.size(), consumed), Parser::Event::head);
  EXPECT_FALSE(p.head().keep_alive);
  ASSERT_EQ(p.execute(a.data() + consumed, 0, consumed), Parser::Event::done);
  p.start_connection();
  ASSERT_EQ(p.execute(a.data(), a.size(), consumed), Parser::Event::head);
  EXPECT_EQ(p.head().target, "/a");
}

TEST(ParserRequest, StartConnectionAfterError) {
  Parser p(kRequest, {});
  const std::string bad = "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n";
  size_t consumed = 0;
  ASSERT_EQ(p.execute(bad.data(), bad.size(), consumed), Parser::Event::error);
  EXPECT_EQ(p.execute(bad.data(), bad.size(), consumed), Parser::Event::error);
  p.start_connection();
  EXPECT_EQ(p.error(), ParseError::none);
  const std::string good = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
  EXPECT_EQ(p.execute(good.data(), good.size(), consumed), Parser::Event::head);
}

TEST(ParserRequest, FinishBetweenMessagesIsClean) {
  test::ConnectionSim sim(kRequest, {});
  sim.feed("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
  sim.finish();
  EXPECT_EQ(sim.result().events, "HD");
  EXPECT_EQ(sim.result().error, ParseError::none);
  EXPECT_EQ(sim.parser().finish(), Parser::Event::need_more);
}

TEST(ParserRequest, FinishOnIdleConnectionIsClean) {
  Parser p(kRequest, {});
  EXPECT_EQ(p.finish(), Parser::Event::need_more);
  EXPECT_FALSE(p.started());
}

TEST(ParserRequest, FinishInsideHeadIsAnError) {
  test::ConnectionSim sim(kRequest, SimOptions().with_finish());
  sim.feed("GET / HTTP/1.1\r\nHost: h\r\n");
  sim.finish();
  EXPECT_EQ(sim.result().events, "E");
  EXPECT_EQ(sim.result().status(), 400);
}

TEST(ParserRequest, FinishInsideBodyIsAnError) {
  const std::pair<std::string, std::string> cases[] = {
      {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nabc", "abc"},
      {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", "ab"}};
  for (const auto& [wire, body] : cases) {
    SCOPED_TRACE(wire);
    RunResult r = expect_split_invariant(kRequest, wire, SimOptions().with_finish());
    EXPECT_EQ(r.shape(), "HE");
    EXPECT_EQ(r.status(), 400);
    ASSERT_EQ(r.messages.size(), 1u);
    EXPECT_EQ(r.messages[0].body, body);
  }
}

TEST(ParserRequest, StartedAfterFirstByte) {
  Parser p(kRequest, {});
  size_t consumed = 0;
  EXPECT_FALSE(p.started());
  ASSERT_EQ(p.execute("G", 1, consumed), Parser::Event::need_more);
  EXPECT_TRUE(p.started());
  EXPECT_TRUE(p.in_head());
}

TEST(ParserRequest, ExecuteOnEmptyRemainderIsNeedMore) {
  // "body: call again with the rest" — when the rest is empty that must not be another body
  // event, or the caller spins.
  Parser p(kRequest, {});
  const std::string wire = "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\nab";
  size_t consumed = 0;
  ASSERT_EQ(p.execute(wire.data(), wire.size(), consumed), Parser::Event::head);
  size_t off = consumed;
  ASSERT_EQ(p.execute(wire.data() + off, wire.size() - off, consumed), Parser::Event::body);
  off += consumed;
  EXPECT_EQ(off, wire.size());
  EXPECT_EQ(p.body_bytes(), 2u);
  EXPECT_EQ(p.execute(wire.data() + off, 0, consumed), Parser::Event::need_more);
  EXPECT_EQ(consumed, 0u);
  EXPECT_TRUE(p.body().empty());
  EXPECT_EQ(p.body_bytes(), 0u);
}

TEST(ParserRequest, EmptyLineBeforeRequestLineIsIgnored) {
  // RFC 9112 2.2: a server SHOULD ignore at least one empty line before a request line (some
  // clients send CRLF after a POST body).
  const std::string a = "POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n\r\nx";
  const std::string b = "\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\n";
  RunResult r = expect_split_invariant(kRequest, a + b);
  ASSERT_EQ(r.shape(), "HDHD");
  EXPECT_EQ(r.messages[1].head.target, "/b");
  EXPECT_EQ(r.messages[1].end_offset, a.size() + b.size());
}

TEST(ParserRequest, UpgradeRequestWithBody) {
  const std::string a =
      "POST /up HTTP/1.1\r\nHost: h\r\nUpgrade: h2c\r\n"
      "Connection: Upgrade, HTTP2-Settings\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n"
      "Content-Length: 3\r\n\r\nabc";
  Parser p(kRequest, {});
  size_t consumed = 0;
  ASSERT_EQ(p.execute(a.data(), a.size(), consumed), Parser::Event::head);
  EXPECT_TRUE(p.head().upgrade);
  size_t off = consumed;
  ASSERT_EQ(p.execute(a.data() + off, a.size() - off, consumed), Parser::Event::done);
  ASSERT_EQ(p.body().size(), 1u);
  EXPECT_EQ(p.body()[0], "abc");
}

// ---- responses ----

TEST(ParserResponse, ContentLength) {
  const std::string wire = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                           "Content-Length: 12\r\n\r\nhello, world";
  RunResult r = expect_split_invariant(kResponse, wire);
  ASSERT_EQ(r.shape(), "HD");
  const auto& m = r.messages[0];
  EXPECT_EQ(m.head.status, 200);
  EXPECT_EQ(m.head.reason, "OK");
  EXPECT_EQ(m.head.version_minor, 1);
  EXPECT_EQ(m.head.framing, Framing::length);
  EXPECT_EQ(m.head.content_length, 12u);
  EXPECT_TRUE(m.head.keep_alive);
  EXPECT_EQ(m.head.wire_size, head_size(wire));
  EXPECT_EQ(m.body, "hello, world");
}

TEST(ParserResponse, ReasonWithSpacesAndEmptyReason) {
  RunResult r =
      expect_split_invariant(kResponse, "HTTP/1.1 404 Not Found At All\r\nContent-Length: 0\r\n\r\n"
                                        "HTTP/1.1 500 \r\nContent-Length: 0\r\n\r\n");
  ASSERT_EQ(r.shape(), "HDHD");
  EXPECT_EQ(r.messages[0].head.status, 404);
  EXPECT_EQ(r.messages[0].head.reason, "Not Found At All");
  EXPECT_EQ(r.messages[1].head.status, 500);
  EXPECT_EQ(r.messages[1].head.reason, "");
}

TEST(ParserResponse, ChunkedWithTrailers) {
  const std::string wire = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                           "4;a=b\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n"
                           "0\r\nExpires: never\r\n\r\n";
  RunResult r = expect_split_invariant(kResponse, wire);
  ASSERT_EQ(r.shape(), "HD");
  EXPECT_EQ(r.messages[0].head.framing, Framing::chunked);
  EXPECT_EQ(r.messages[0].body, "Wikipedia in\r\n\r\nchunks.");
  EXPECT_EQ(r.messages[0].end_offset, wire.size());
}

TEST(ParserResponse, TransferCodingsEndingInChunked) {
  const std::string wire = "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
                           "3\r\n\x1f\x8b\x08\r\n0\r\n\r\n";
  RunResult r = expect_split_invariant(kResponse, wire);
  ASSERT_EQ(r.shape(), "HD");
  EXPECT_EQ(r.messages[0].head.framing, Framing::chunked);
  EXPECT_EQ(r.messages[0].body, "\x1f\x8b\x08");
}

TEST(ParserResponse, ResponseToHeadHasNoBody) {
  // The Content-Length describes what a GET would have returned; nothing follows.
  const std::string a = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n";
  const std::string b = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc";
  RunResult r = expect_split_invariant(kResponse, a + b, SimOptions().with_no_body({true, false}));
  ASSERT_EQ(r.events.substr(0, 2), "HD");
  ASSERT_EQ(r.shape(), "HDHD");
  EXPECT_EQ(r.messages[0].head.content_length, 100u);
  EXPECT_EQ(r.messages[0].body, "");
  EXPECT_EQ(r.messages[0].end_offset, a.size());
  EXPECT_EQ(r.messages[1].body, "abc");
}

TEST(ParserResponse, ChunkedResponseToHeadHasNoBody) {
  const std::string a = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  const std::string b = "HTTP/1.1 204 No Content\r\n\r\n";
  RunResult r = expect_split_invariant(kResponse, a + b, SimOptions().with_no_body({true, false}));
  ASSERT_EQ(r.events, "HDHD");
  EXPECT_EQ(r.messages[0].end_offset, a.size());
}

TEST(ParserResponse, ResponseToHeadWithoutFramingHasNoBody) {
  const std::string a = "HTTP/1.1 200 OK\r\nServer: s\r\n\r\n";
  RunResult r =
      expect_split_invariant(kResponse, a, SimOptions().with_no_body({true}).with_finish());
  ASSERT_EQ(r.events, "HD");
  EXPECT_EQ(r.messages[0].head.framing, Framing::none);
}

TEST(ParserResponse, NoContentAndNotModifiedHaveNoBody) {
  const std::string a = "HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n";
  const std::string b = "HTTP/1.1 304 Not Modified\r\nContent-Length: 20\r\nETag: \"x\"\r\n\r\n";
  const std::string c = "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n";
  const std::string d = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
  RunResult r = expect_split_invariant(kResponse, a + b + c + d);
  ASSERT_EQ(r.shape(), "HDHDHDHD");
  EXPECT_EQ(r.messages[0].head.status, 204);
  EXPECT_EQ(r.messages[0].body, "");
  EXPECT_EQ(r.messages[0].end_offset, a.size());
  EXPECT_EQ(r.messages[1].head.status, 304);
  EXPECT_EQ(r.messages[1].body, "");
  EXPECT_EQ(r.messages[1].end_offset, a.size() + b.size());
  EXPECT_EQ(r.messages[2].body, "");
  EXPECT_EQ(r.messages[3].body, "ok");
}

TEST(ParserResponse, InformationalThenFinal) {
  const std::string a = "HTTP/1.1 100 Continue\r\n\r\n";
  const std::string b = "HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n";
  const std::string c = "HTTP/1.1 201 Created\r\nContent-Length: 4\r\n\r\ndone";
  RunResult r = expect_split_invariant(kResponse, a + b + c);
  ASSERT_EQ(r.shape(), "HDHDHD");
  EXPECT_EQ(r.messages[0].head.status, 100);
  EXPECT_EQ(r.messages[0].end_offset, a.size());
  EXPECT_EQ(r.messages[1].head.status, 103);
  EXPECT_EQ(r.messages[1].end_offset, a.size() + b.size());
  EXPECT_EQ(r.messages[2].head.status, 201);
  EXPECT_EQ(r.messages[2].body, "done");
}

TEST(ParserResponse, SwitchingProtocols) {
  const std::string head = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                           "Connection: Upgrade\r\n"
                           "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
  RunResult r = expect_split_invariant(kResponse, head);
  ASSERT_EQ(r.events, "HD");
  EXPECT_EQ(r.messages[0].head.status, 101);
  EXPECT_TRUE(r.messages[0].head.upgrade);
  EXPECT_EQ(r.messages[0].end_offset, head.size());

  // Tunnel bytes after the 101 stay unread.
  const std::string buf = head + "\x81\x02hi";
  Parser p(kResponse, {});
  size_t consumed = 0;
  ASSERT_EQ(p.execute(buf.data(), buf.size(), consumed), Parser::Event::head);
  EXPECT_EQ(consumed, head.size());
  ASSERT_EQ(p.execute(buf.data() + head.size(), 4, consumed), Parser::Event::done);
  EXPECT_EQ(consumed, 0u);
}

TEST(ParserResponse, UntilCloseBody) {
  const std::string wire = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n"
                           "body until the connection closes";
  RunResult r = expect_split_invariant(kResponse, wire, SimOptions().with_finish());
  ASSERT_EQ(r.shape(), "HD");
  EXPECT_EQ(r.messages[0].head.framing, Framing::until_close);
  EXPECT_FALSE(r.messages[0].head.keep_alive);
  EXPECT_EQ(r.messages[0].body, "body until the connection closes");
}

TEST(ParserResponse, UntilCloseEmptyBody) {
  RunResult r =
      expect_split_invariant(kResponse, "HTTP/1.0 200 OK\r\n\r\n", SimOptions().with_finish());
  ASSERT_EQ(r.events, "HD");
  EXPECT_EQ(r.messages[0].head.framing, Framing::until_close);
  EXPECT_EQ(r.messages[0].head.version_minor, 0);
  EXPECT_EQ(r.messages[0].body, "");
}

TEST(ParserResponse, UntilCloseWithoutFinishIsNotDone) {
  RunResult r = run_whole(kResponse, "HTTP/1.1 200 OK\r\n\r\nabc");
  EXPECT_EQ(r.shape(), "H");
  EXPECT_EQ(r.messages[0].body, "abc");
  EXPECT_FALSE(r.messages[0].complete);
}

TEST(ParserResponse, TruncatedBodyThenFinishIsAnError) {
  for (const char* wire : {"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
                           "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabc",
                           "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n"}) {
    SCOPED_TRACE(wire);
    RunResult r = expect_split_invariant(kResponse, wire, SimOptions().with_finish());
    EXPECT_EQ(r.shape(), "HE");
    EXPECT_EQ(r.status(), 400);
    EXPECT_EQ(r.messages[0].body, "abc");
  }
}

TEST(ParserResponse, TruncatedHeadThenFinishIsAnError) {
  RunResult r = expect_split_invariant(kResponse, "HTTP/1.1 200 OK\r\nContent-Le",
                                       SimOptions().with_finish());
  EXPECT_EQ(r.events, "E");
}

TEST(ParserResponse, Http10KeepAlive) {
  RunResult r = expect_split_invariant(
      kResponse, "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\nx");
  ASSERT_EQ(r.shape(), "HD");
  EXPECT_EQ(r.messages[0].head.version_minor, 0);
  EXPECT_TRUE(r.messages[0].head.keep_alive);
}

TEST(ParserResponse, ConnectionClose) {
  RunResult r = run_whole(kResponse, "HTTP/1.1 200 OK\r\nConnection: close\r\n"
                                     "Content-Length: 1\r\n\r\nx");
  ASSERT_EQ(r.shape(), "HD");
  EXPECT_FALSE(r.messages[0].head.keep_alive);
}

TEST(ParserResponse, PipelinedResponses) {
  const std::string a = "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na";
  const std::string b =
      "HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nb\r\n0\r\n\r\n";
  const std::string c = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n";
  const std::string d = "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nd";
  RunResult r = expect_split_invariant(kResponse, a + b + c + d,
                                       SimOptions().with_no_body({false, false, true, false}));
  ASSERT_EQ(r.shape(), "HDHDHDHD");
  EXPECT_EQ(r.messages[0].body, "a");
  EXPECT_EQ(r.messages[1].body, "b");
  EXPECT_EQ(r.messages[2].body, "");
  EXPECT_EQ(r.messages[3].body, "d");
  EXPECT_EQ(r.messages[3].end_offset, a.size() + b.size() + c.size() + d.size());
}

TEST(ParserStatus, StatusForEachError) {
  EXPECT_EQ(status_for(ParseError::none), 200);
  EXPECT_EQ(status_for(ParseError::bad_request), 400);
  EXPECT_EQ(status_for(ParseError::line_too_long), 414);
  EXPECT_EQ(status_for(ParseError::head_too_large), 431);
  EXPECT_EQ(status_for(ParseError::bad_version), 505);
  EXPECT_EQ(status_for(ParseError::not_implemented), 501);
}

} // namespace
} // namespace weir::http
