// Fuzz target `response`: an upstream's byte stream through the response parser (in splits drawn
// from the first input byte, across pipelined and interim responses, some of them answering
// HEAD) and every accepted head through write_client_response. What reaches the client must be
// one well-formed head that states the body framing weir will actually send.

#include "fuzz_target.h"
#include "http_driver.h"
#include "weir/http/rewrite.h"

namespace {

using namespace weir;

void check_reparse(const http::Head& original, const http::ClientResponseContext& ctx,
                   const std::string& out) {
  http::Parser parser(http::Parser::Kind::response, http::ParserLimits{1u << 20, 1u << 20, 1000});
  parser.reset(ctx.head_request);
  size_t consumed = 0;
  http::Parser::Event ev = parser.execute(out.data(), out.size(), consumed);
  WEIR_FUZZ_CHECK(ev == http::Parser::Event::head);
  WEIR_FUZZ_CHECK(consumed == out.size());
  const http::Head& again = parser.head();
  WEIR_FUZZ_CHECK(again.status == original.status);
  WEIR_FUZZ_CHECK(again.version_minor == ctx.client_version_minor);
  const bool body_allowed =
      !(original.status < 200 || original.status == 204 || original.status == 304);
  if (!body_allowed || ctx.head_request) return; // the framing headers describe no body here
  if (original.framing == http::Framing::length) {
    WEIR_FUZZ_CHECK(again.framing == http::Framing::length);
    WEIR_FUZZ_CHECK(again.content_length == original.content_length);
  } else if (ctx.chunked) {
    WEIR_FUZZ_CHECK(again.framing == http::Framing::chunked);
  } else {
    // No length to state: the body ends when weir closes the connection.
    WEIR_FUZZ_CHECK(again.framing == http::Framing::until_close ||
                    again.framing == http::Framing::none);
  }
}

} // namespace

WEIR_FUZZ_TARGET(response) {
  if (size < 3) return 0;
  const uint8_t seed = data[0];
  const uint8_t head_mask = data[1]; // which responses answer HEAD
  const uint8_t client = data[2];    // the client's version and connection state
  std::string_view wire(reinterpret_cast<const char*>(data) + 3, size - 3);

  std::string out;
  fuzz::DriveOptions o;
  o.kind = http::Parser::Kind::response;
  o.head_mask = head_mask;
  o.on_head = [&](const http::Head& head, size_t index) {
    http::ClientResponseContext ctx;
    ctx.client_version_minor = client & 1;
    ctx.head_request = index < 8 && ((head_mask >> index) & 1) != 0;
    ctx.tunnel = head.status == 101 && (client & 2);
    // As the proxy decides: a body of unknown length is re-chunked for an HTTP/1.1 client, and
    // an HTTP/1.0 client learns where it ends by the close.
    const bool unknown_length =
        head.framing == http::Framing::chunked || head.framing == http::Framing::until_close;
    ctx.chunked = unknown_length && ctx.client_version_minor == 1;
    ctx.close =
        (client & 4) || (unknown_length && ctx.client_version_minor == 0) || !head.keep_alive;
    ctx.extra_headers = client & 8 ? "x-weir-route: r1\r\n" : "";
    out.clear();
    http::write_client_response(head, ctx, out);
    fuzz::check_head_text(out);
    check_reparse(head, ctx, out);
  };
  fuzz::Trace whole = fuzz::drive(wire, o);
  if (seed != 0) {
    o.split_seed = seed;
    o.on_head = nullptr;
    fuzz::Trace pieces = fuzz::drive(wire, o);
    WEIR_FUZZ_CHECK(pieces.same_outcome(whole));
  }
  return 0;
}
