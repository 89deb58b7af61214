// Messages weir::http::Parser must refuse: ambiguous framing (request smuggling vectors),
// malformed syntax and oversized heads. Each is refused with the same status however the
// bytes are split across reads.

#include "connection_sim.h"
#include "weir/http/parser.h"

#include <gtest/gtest.h>
#include <string>

namespace weir::http {
namespace {

using namespace std::string_literals;
using test::expect_rejected;
using test::RunResult;
using test::SimOptions;
constexpr auto kRequest = Parser::Kind::request;
constexpr auto kResponse = Parser::Kind::response;

std::string request_with(const std::string& headers, const std::string& body = "") {
  return "POST /p HTTP/1.1\r\nHost: h\r\n" + headers + "\r\n" + body;
}

// ---- Content-Length / Transfer-Encoding ----

TEST(ParserRejectFraming, ContentLengthAndTransferEncoding) {
  expect_rejected(
      kRequest,
      request_with("Content-Length: 3\r\nTransfer-Encoding: chunked\r\n", "3\r\nabc\r\n0\r\n\r\n"),
      400);
  expect_rejected(
      kRequest,
      request_with("Transfer-Encoding: chunked\r\nContent-Length: 3\r\n", "3\r\nabc\r\n0\r\n\r\n"),
      400);
  expect_rejected(kRequest, request_with("Transfer-Encoding: chunked\r\nContent-Length: 0\r\n"),
                  400);
}

TEST(ParserRejectFraming, DuplicateContentLength) {
  expect_rejected(kRequest, request_with("Content-Length: 3\r\nContent-Length: 3\r\n", "abc"), 400);
  expect_rejected(kRequest, request_with("Content-Length: 3\r\nContent-Length: 5\r\n", "abc"), 400);
  expect_rejected(kRequest, request_with("Content-Length: 3\r\ncontent-length: 3\r\n", "abc"), 400);
}

TEST(ParserRejectFraming, ContentLengthList) {
  expect_rejected(kRequest, request_with("Content-Length: 3, 3\r\n", "abc"), 400);
  expect_rejected(kRequest, request_with("Content-Length: 3,3\r\n", "abc"), 400);
}

TEST(ParserRejectFraming, ContentLengthNotADecimalNumber) {
  for (const char* value : {"abc", "-1", "+3", "3a", "0x10", "3 3", "3.0", "", " ", "1e3",
                            "99999999999999999999999999"}) {
    SCOPED_TRACE(value);
    expect_rejected(kRequest, request_with("Content-Length: "s + value + "\r\n", "abc"), 400);
  }
}

TEST(ParserRejectFraming, RequestTransferCodingOtherThanChunked) {
  // A framed body (final chunked) with a coding the proxy does not decode: 501 (RFC 9112 6.1).
  expect_rejected(kRequest, request_with("Transfer-Encoding: gzip, chunked\r\n"), 501);
  // No final chunked: the length cannot be determined (RFC 9112 6.3): 400.
  expect_rejected(kRequest, request_with("Transfer-Encoding: gzip\r\n"), 400);
  expect_rejected(kRequest, request_with("Transfer-Encoding: deflate\r\n"), 400);
  // chunked present but not final: the body length cannot be determined (RFC 9112 6.3): 400.
  expect_rejected(kRequest, request_with("Transfer-Encoding: chunked, gzip\r\n"), 400);
  // Not a transfer coding at all; a classic smuggling probe.
  expect_rejected(kRequest, request_with("Transfer-Encoding: xchunked\r\n"), 400);
  expect_rejected(kRequest, request_with("Transfer-Encoding: chunkedx\r\n"), 400);
  expect_rejected(kRequest, request_with("Transfer-Encoding: chunked, chunked\r\n"), 400);
  expect_rejected(kRequest, request_with("Transfer-Encoding: \"chunked\"\r\n"), 400);
  expect_rejected(kRequest, request_with("Transfer-Encoding: \r\n"), 400);
  expect_rejected(kRequest, request_with("Transfer-Encoding: ,\r\n"), 400);
}

TEST(ParserRejectFraming, DuplicateTransferEncoding) {
  expect_rejected(
      kRequest,
      request_with("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", "0\r\n\r\n"),
      400);
}

TEST(ParserRejectFraming, BadChunkSize) {
  const std::string head = request_with("Transfer-Encoding: chunked\r\n");
  for (const char* chunks : {
           "zz\r\nabc\r\n0\r\n\r\n",                 // not hex
           "-3\r\nabc\r\n0\r\n\r\n",                 // sign
           "0x3\r\nabc\r\n0\r\n\r\n",                // prefix
           "fffffffffffffffff1\r\nabc\r\n0\r\n\r\n", // overflows 64 bits
           "10000000000000000\r\nabc\r\n0\r\n\r\n",  // 2^64
           "\r\nabc\r\n0\r\n\r\n",                   // empty size
           "3\nabc\r\n0\r\n\r\n",                    // LF-only size line
           "3\r\nabc\n0\r\n\r\n",                    // LF-only after data
           "3\r\nabcd\r\n0\r\n\r\n",                 // data longer than the size
           "3\r\nabc\r\n0\n\r\n",                    // LF-only last chunk
           "3\r\nabc\r\n0\r\n\n",                    // LF-only end of trailers
           "3\r\nabc\r\n0\r\nX-T: v\n\r\n",          // LF-only trailer line
           "3\rabc\r\n0\r\n\r\n",                    // bare CR
       }) {
    SCOPED_TRACE(testing::PrintToString(std::string(chunks)));
    // Refused while reading the body: the head was valid and was reported.
    expect_rejected(kRequest, head + chunks, 400, {}, "HE");
  }
}

// ---- line endings and header syntax ----

TEST(ParserRejectSyntax, BareLineFeed) {
  for (const std::string& wire : {
           "GET / HTTP/1.1\nHost: h\r\n\r\n"s,
           "GET / HTTP/1.1\r\nHost: h\n\r\n"s,
           "GET / HTTP/1.1\r\nHost: h\r\nX-A: b\n\r\n"s,
           "GET / HTTP/1.1\r\nHost: h\r\n\n"s,
           "GET / HTTP/1.1\nHost: h\n\n"s,
       }) {
    SCOPED_TRACE(testing::PrintToString(wire));
    expect_rejected(kRequest, wire, 400);
  }
}

TEST(ParserRejectSyntax, BareCarriageReturn) {
  for (const std::string& wire : {
           "GET / HTTP/1.1\rHost: h\r\n\r\n"s,
           "GET / HTTP/1.1\r\nHost: h\rX-A: b\r\n\r\n"s,
           "GET / HTTP/1.1\r\nHost: h\r\nX-A: a\rb\r\n\r\n"s,
           "GET / HTTP/1.1\r\nHost: h\r\n\r\r\n"s,
       }) {
    SCOPED_TRACE(testing::PrintToString(wire));
    expect_rejected(kRequest, wire, 400);
  }
}

TEST(ParserRejectSyntax, ObsoleteLineFolding) {
  for (const std::string& wire : {
           "GET / HTTP/1.1\r\nHost: h\r\nX-A: a\r\n b\r\n\r\n"s,
           "GET / HTTP/1.1\r\nHost: h\r\nX-A: a\r\n\tb\r\n\r\n"s,
           "GET / HTTP/1.1\r\nHost: h\r\nX-A:\r\n b\r\n\r\n"s,
           "GET / HTTP/1.1\r\nX-A: a\r\n Host: h\r\n\r\n"s,
           "GET / HTTP/1.1\r\n Host: h\r\n\r\n"s,
           "GET / HTTP/1.1\r\n\tHost: h\r\n\r\n"s,
           "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip,\r\n chunked\r\n\r\n"s,
       }) {
    SCOPED_TRACE(testing::PrintToString(wire));
    expect_rejected(kRequest, wire, 400);
  }
}

TEST(ParserRejectSyntax, WhitespaceBeforeColon) {
  for (const std::string& wire : {
           "GET / HTTP/1.1\r\nHost : h\r\n\r\n"s,
           "GET / HTTP/1.1\r\nHost\t: h\r\n\r\n"s,
           "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n"s,
           "POST / HTTP/1.1\r\nHost: h\r\nContent-Length : 3\r\n\r\nabc"s,
           "GET / HTTP/1.1\r\nHost: h\r\nX A: v\r\n\r\n"s,
       }) {
    SCOPED_TRACE(testing::PrintToString(wire));
    expect_rejected(kRequest, wire, 400);
  }
}

TEST(ParserRejectSyntax, EmptyHeaderName) {
  expect_rejected(kRequest, "GET / HTTP/1.1\r\nHost: h\r\n: v\r\n\r\n", 400);
  expect_rejected(kRequest, "GET / HTTP/1.1\r\n:\r\nHost: h\r\n\r\n", 400);
}

TEST(ParserRejectSyntax, ControlCharactersInHeaderNames) {
  for (const std::string& name : {"X\x01"s
                                  "A",
                                  "X\x7f"s
                                  "A",
                                  "X\0A"s,
                                  "X\x1b"s
                                  "A",
                                  "\x01"s}) {
    SCOPED_TRACE(testing::PrintToString(name));
    expect_rejected(kRequest, "GET / HTTP/1.1\r\nHost: h\r\n" + name + ": v\r\n\r\n", 400);
  }
}

TEST(ParserRejectSyntax, ControlCharactersInHeaderValues) {
  for (const std::string& value : {"a\x01"s
                                   "b",
                                   "a\x7f"s
                                   "b",
                                   "a\0b"s, "\x1b[31mred"s,
                                   "a\x0b"s
                                   "b",
                                   "a\x0c"s
                                   "b",
                                   "\0"s}) {
    SCOPED_TRACE(testing::PrintToString(value));
    expect_rejected(kRequest, "GET / HTTP/1.1\r\nHost: h\r\nX-A: " + value + "\r\n\r\n", 400);
  }
  expect_rejected(kRequest, "GET / HTTP/1.1\r\nHost: h\0evil\r\n\r\n"s, 400);
}

TEST(ParserRejectSyntax, BadRequestLine) {
  for (const std::string& wire : {
           "GET / HTTP/1.1 \r\nHost: h\r\n\r\n"s, "get / HTTP/1.1\r\nHost: h\r\n\r\n"s,
           "G3T / HTTP/1.1\r\nHost: h\r\n\r\n"s, "GET /a b HTTP/1.1\r\nHost: h\r\n\r\n"s,
           "GET /\x01 HTTP/1.1\r\nHost: h\r\n\r\n"s, "GET / HTTP/1.x\r\nHost: h\r\n\r\n"s,
           "GET / http/1.1\r\nHost: h\r\n\r\n"s, "GET / FTP/1.1\r\nHost: h\r\n\r\n"s,
           "GET /\r\nHost: h\r\n\r\n"s,
           "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"s, // TLS ClientHello on a plain port
       }) {
    SCOPED_TRACE(testing::PrintToString(wire));
    expect_rejected(kRequest, wire, 400);
  }
}

TEST(ParserRejectSyntax, UnsupportedVersion) {
  for (const char* version : {"HTTP/2.0", "HTTP/1.2", "HTTP/1.9", "HTTP/3.0", "HTTP/0.9"}) {
    SCOPED_TRACE(version);
    expect_rejected(kRequest, "GET / "s + version + "\r\nHost: h\r\n\r\n", 505);
  }
}

TEST(ParserRejectSyntax, Http2Preface) {
  // An HTTP/2 prior-knowledge client on an HTTP/1 port.
  expect_rejected(kRequest, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505);
}

TEST(ParserRejectSyntax, Connect) {
  expect_rejected(kRequest, "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
                  501);
}

TEST(ParserRejectSyntax, DuplicateHost) {
  expect_rejected(kRequest, "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400);
  expect_rejected(kRequest, "GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n", 400);
  expect_rejected(kRequest, "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\nHOST:\r\n\r\n", 400);
}

// ---- limits ----

TEST(ParserRejectLimits, RequestLineTooLong) {
  const std::string wire = "GET /" + std::string(9000, 'a') + " HTTP/1.1\r\nHost: h\r\n\r\n";
  expect_rejected(kRequest, wire, 414);
  // Refused before the line ends: the client need not send it all.
  test::ConnectionSim sim(kRequest, {});
  sim.feed(wire.substr(0, 8300));
  EXPECT_EQ(sim.result().events, "E");
  EXPECT_EQ(sim.result().status(), 414);
}

TEST(ParserRejectLimits, RequestLineOneOverTheLimit) {
  ParserLimits limits;
  limits.max_line_bytes = 100;
  const std::string prefix = "GET /";
  const std::string suffix = " HTTP/1.1";
  std::string line = prefix + std::string(101 - prefix.size() - suffix.size(), 'a') + suffix;
  ASSERT_EQ(line.size(), 101u);
  expect_rejected(kRequest, line + "\r\nHost: h\r\n\r\n", 414, SimOptions().with_limits(limits));
}

TEST(ParserRejectLimits, HeadTooLarge) {
  std::string wire = "GET / HTTP/1.1\r\nHost: h\r\n";
  for (int i = 0; wire.size() < 17000; ++i)
    wire += "X-Filler-" + std::to_string(i) + ": " + std::string(60, 'v') + "\r\n";
  wire += "\r\n";
  expect_rejected(kRequest, wire, 431);
  // With a body following in the same read.
  expect_rejected(kRequest, wire.substr(0, wire.size() - 2) + "Content-Length: 3\r\n\r\nabc", 431);
}

TEST(ParserRejectLimits, HeadTooLargeTrickling) {
  // The head never ends; the parser must give up once the limit is passed, not buffer forever.
  ParserLimits limits;
  limits.max_head_bytes = 4096;
  test::ConnectionSim sim(kRequest, SimOptions().with_limits(limits));
  sim.feed("GET / HTTP/1.1\r\nHost: h\r\n");
  for (int i = 0; i < 1000 && sim.result().events.empty(); ++i)
    sim.feed("X-Slow-" + std::to_string(i) + ": loris\r\n");
  EXPECT_EQ(sim.result().events, "E");
  EXPECT_EQ(sim.result().status(), 431);
  EXPECT_LE(sim.result().consumed, 4096u + 64u);
}

TEST(ParserRejectLimits, HeadOneOverTheLimit) {
  ParserLimits limits;
  limits.max_head_bytes = 1024;
  std::string wire = "GET / HTTP/1.1\r\nHost: h\r\nX-Pad: ";
  wire += std::string(1025 - wire.size() - 4, 'p') + "\r\n\r\n";
  ASSERT_EQ(wire.size(), 1025u);
  expect_rejected(kRequest, wire, 431, SimOptions().with_limits(limits));
}

TEST(ParserRejectLimits, LongValueWithinALongLine) {
  // One huge header line is a head-size problem (431), not a request-line one.
  const std::string wire =
      "GET / HTTP/1.1\r\nHost: h\r\nCookie: " + std::string(20000, 'c') + "\r\n\r\n";
  expect_rejected(kRequest, wire, 431);
}

TEST(ParserRejectLimits, TooManyHeaders) {
  std::string wire = "GET / HTTP/1.1\r\nHost: h\r\n";
  for (int i = 0; i < 100; ++i)
    wire += "X-" + std::to_string(i) + ": v\r\n";
  wire += "\r\n";
  expect_rejected(kRequest, wire, 431);

  ParserLimits limits;
  limits.max_headers = 3;
  expect_rejected(kRequest, "GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", 431,
                  SimOptions().with_limits(limits));
}

TEST(ParserRejectLimits, ErrorIsSticky) {
  Parser p(kRequest, {});
  const std::string bad = "GET / HTTP/1.1\r\nHost : h\r\n\r\n";
  const std::string good = "GET / HTTP/1.1\r\nHost: h\r\n\r\n";
  size_t consumed = 0;
  ASSERT_EQ(p.execute(bad.data(), bad.size(), consumed), Parser::Event::error);
  EXPECT_EQ(p.error(), ParseError::bad_request);
  EXPECT_FALSE(p.error_reason().empty());
  EXPECT_EQ(p.execute(good.data(), good.size(), consumed), Parser::Event::error);
  EXPECT_EQ(consumed, 0u);
  EXPECT_EQ(p.finish(), Parser::Event::error);
}

// ---- responses ----

TEST(ParserRejectResponse, ContentLengthAndTransferEncoding) {
  expect_rejected(kResponse,
                  "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
                  "0\r\n\r\n",
                  400);
  expect_rejected(kResponse,
                  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"
                  "0\r\n\r\n",
                  400);
}

TEST(ParserRejectResponse, TransferEncodingNotEndingInChunked) {
  for (const char* te : {"gzip", "chunked, gzip", "xchunked", "chunked, identity"}) {
    SCOPED_TRACE(te);
    expect_rejected(kResponse, "HTTP/1.1 200 OK\r\nTransfer-Encoding: "s + te + "\r\n\r\nabc", 400);
  }
}

TEST(ParserRejectResponse, DuplicateContentLength) {
  expect_rejected(kResponse, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
                  400);
}

TEST(ParserRejectResponse, BareLineFeed) {
  for (const std::string& wire : {
           "HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n"s,
           "HTTP/1.1 200 OK\r\nContent-Length: 0\n\r\n"s,
           "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\n"s,
           "HTTP/1.1 200 OK\nContent-Length: 0\n\n"s,
       }) {
    SCOPED_TRACE(testing::PrintToString(wire));
    expect_rejected(kResponse, wire, 400);
  }
  expect_rejected(kResponse,
                  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\r\n0\r\n\r\n", 400,
                  {}, "HE");
}

TEST(ParserRejectResponse, BadStatusLine) {
  for (const std::string& wire : {
           "HTTP/1.1 2000 OK\r\n\r\n"s,
           "HTTP/1.1 20 OK\r\n\r\n"s,
           "HTTP/1.1 abc OK\r\n\r\n"s,
           "HTTP/1.1\r\n\r\n"s,
           "ICY 200 OK\r\n\r\n"s,
       }) {
    SCOPED_TRACE(testing::PrintToString(wire));
    expect_rejected(kResponse, wire, 400);
  }
  expect_rejected(kResponse, "HTTP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n", 505);
}

TEST(ParserRejectResponse, ObsFoldAndControlCharacters) {
  expect_rejected(kResponse, "HTTP/1.1 200 OK\r\nX-A: a\r\n b\r\nContent-Length: 0\r\n\r\n", 400);
  expect_rejected(kResponse,
                  "HTTP/1.1 200 OK\r\nX-A: a\x01"
                  "b\r\nContent-Length: 0\r\n\r\n",
                  400);
  expect_rejected(kResponse, "HTTP/1.1 200 OK\r\nX-A : a\r\nContent-Length: 0\r\n\r\n", 400);
}

// ---- Hardening (issue 9): each of these was accepted before ----

TEST(ParserRejectChunked, BytesBetweenChunkDataAndItsCrlf) {
  // The "chunk terminator" desync: a front proxy that reads chunk data differently sees a
  // second request where weir (non-strict llhttp) swallowed "XY" and carried on.
  expect_rejected(kRequest, request_with("Transfer-Encoding: chunked\r\n", "5\r\nhelloXY0\r\n\r\n"),
                  400, {}, "HE");
  expect_rejected(kRequest,
                  request_with("Transfer-Encoding: chunked\r\n",
                               "5\r\nhello\r\r0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n"),
                  400, {}, "HE");
  expect_rejected(kRequest,
                  request_with("Transfer-Encoding: chunked\r\n", "3\r\nabcd\r\n0\r\n\r\n"), 400, {},
                  "HE");
  expect_rejected(kResponse,
                  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXY0\r\n\r\n", 400,
                  {}, "HE");
}

TEST(ParserRejectHost, MissingOrInvalidHost) {
  expect_rejected(kRequest, "GET / HTTP/1.1\r\n\r\n", 400);
  expect_rejected(kRequest, "GET / HTTP/1.1\r\nHost:\r\n\r\n", 400);
  for (std::string host : {"a.test:1@evil.test"s, "a.test evil"s, "a.test,b.test"s, "a.test:99999"s,
                           "a.test/x"s, "[::1"s, "a.test:"s}) {
    SCOPED_TRACE(host);
    expect_rejected(kRequest, "GET / HTTP/1.1\r\nHost: " + host + "\r\n\r\n", 400);
  }
  expect_rejected(kRequest, "GET http://a.test:1@evil.test/ HTTP/1.1\r\nHost: a.test\r\n\r\n", 400);
  expect_rejected(kRequest, "GET ftp://a.test/ HTTP/1.1\r\nHost: a.test\r\n\r\n", 400);
}

TEST(ParserRejectFraming, TransferEncodingInHttp10) {
  // RFC 9112 6.1: a 1.0 request with Transfer-Encoding has faulty framing; 400 and close.
  expect_rejected(kRequest,
                  "POST / HTTP/1.0\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400);
  expect_rejected(kRequest, "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400);
}

TEST(ParserRejectTarget, BytesOutsideRfc3986) {
  for (std::string c : {"\t"s, "\f"s, "\x80"s, "\xff"s, "\x7f"s, "<"s, "\""s, "{"s, "|"s, "#"s,
                        "%"s, "%g0"s, "\\"s}) {
    SCOPED_TRACE(testing::PrintToString(c));
    expect_rejected(kRequest, "GET /a" + c + "b HTTP/1.1\r\nHost: h\r\n\r\n", 400);
  }
  expect_rejected(kRequest, "GET * HTTP/1.1\r\nHost: h\r\n\r\n", 400); // only OPTIONS *
}

} // namespace
} // namespace weir::http
