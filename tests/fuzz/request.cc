// Fuzz target `request`: a client's byte stream through the request parser (in splits drawn from
// the first input byte, across pipelined messages) and every accepted head through
// write_upstream_request. What weir forwards must be one well-formed head that weir itself reads
// back with the same method, target and body framing: anything else is a way to smuggle a
// request past the proxy.

#include "fuzz_target.h"
#include "http_driver.h"
#include "weir/http/rewrite.h"

namespace {

using namespace weir;

// The rewritten head parsed again, as the upstream (another weir, say) would.
void check_reparse(const http::Head& original, const std::string& out) {
  http::Parser parser(http::Parser::Kind::request, http::ParserLimits{1u << 20, 1u << 20, 1000});
  size_t consumed = 0;
  http::Parser::Event ev = parser.execute(out.data(), out.size(), consumed);
  if (ev == http::Parser::Event::error && original.host.empty()) {
    // A request without Host (HTTP/1.0 allows it) goes out as HTTP/1.1 without Host; a strict
    // upstream refuses that, which is the upstream's answer to give, not a framing ambiguity.
    return;
  }
  WEIR_FUZZ_CHECK(ev == http::Parser::Event::head);
  WEIR_FUZZ_CHECK(consumed == out.size());
  const http::Head& again = parser.head();
  WEIR_FUZZ_CHECK(again.method_name == original.method_name);
  // Origin-form goes on as it came; absolute-form may go on in origin-form: its path and query,
  // behind a '/' when the path is empty ("http://a.test?q" -> "/?q", "http://a.test" -> "/").
  std::string_view t = again.target;
  if (t != original.target) {
    WEIR_FUZZ_CHECK(!t.empty() && t[0] == '/' && original.target[0] != '/');
    std::string_view tail = t.size() == 1 || t[1] == '?' ? t.substr(1) : t;
    WEIR_FUZZ_CHECK(original.target.size() > tail.size() &&
                    original.target.substr(original.target.size() - tail.size()) == tail);
  }
  WEIR_FUZZ_CHECK(again.version_minor == 1);
  WEIR_FUZZ_CHECK(again.framing == original.framing);
  if (original.framing == http::Framing::length)
    WEIR_FUZZ_CHECK(again.content_length == original.content_length);
  int lengths = 0, codings = 0, hosts = 0;
  for (const http::Header& h : again.headers) {
    lengths += http::iequals(h.name, "content-length");
    codings += http::iequals(h.name, "transfer-encoding");
    hosts += http::iequals(h.name, "host");
  }
  WEIR_FUZZ_CHECK(lengths == (original.framing == http::Framing::length ? 1 : 0));
  WEIR_FUZZ_CHECK(codings == (original.framing == http::Framing::chunked ? 1 : 0));
  WEIR_FUZZ_CHECK(hosts <= 1);
}

} // namespace

WEIR_FUZZ_TARGET(request) {
  if (size < 1) return 0;
  const uint8_t seed = data[0];
  std::string_view wire(reinterpret_cast<const char*>(data) + 1, size - 1);

  std::string out;
  fuzz::DriveOptions o;
  o.kind = http::Parser::Kind::request;
  o.on_head = [&](const http::Head& head, size_t index) {
    http::UpstreamRequestContext ctx;
    ctx.client_ip = "192.0.2.7";
    ctx.proto = index % 2 ? "https" : "http";
    ctx.request_id = "0123456789abcdef";
    ctx.tunnel = head.upgrade;
    out.clear();
    http::write_upstream_request(head, ctx, out);
    fuzz::check_head_text(out);
    check_reparse(head, out);
  };
  o.split_seed = 0;
  fuzz::Trace whole = fuzz::drive(wire, o);
  if (seed != 0) {
    o.split_seed = seed;
    o.on_head = nullptr;
    fuzz::Trace pieces = fuzz::drive(wire, o);
    WEIR_FUZZ_CHECK(pieces.same_outcome(whole));
  }
  return 0;
}
