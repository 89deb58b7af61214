// Micro-benchmarks of the request path's CPU work before any syscall: parsing a request head
// (and a chunked body), and rewriting request and response heads for the other side. Every
// benchmark reuses its parser and output string, as a keep-alive connection does, so steady-state
// numbers include no allocation unless the code under test allocates.
#include "weir/http/head.h"
#include "weir/http/parser.h"
#include "weir/http/rewrite.h"

#include <benchmark/benchmark.h>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

using weir::http::Parser;
using weir::http::ParserLimits;

// A typical browser navigation request, ~400 bytes of head.
constexpr std::string_view kBrowserGet =
    "GET /v1/users/42/profile?expand=teams&fields=name,email HTTP/1.1\r\n"
    "Host: api.example.com\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:126.0) Gecko/20100101 Firefox/126.0\r\n"
    "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
    "Accept-Language: en-US,en;q=0.5\r\n"
    "Accept-Encoding: gzip, deflate, br\r\n"
    "Connection: keep-alive\r\n"
    "Cookie: session=4f2a9c1e7b3d8a6f; theme=dark\r\n"
    "Upgrade-Insecure-Requests: 1\r\n"
    "\r\n";

constexpr std::string_view kChunkedPost = "POST /upload HTTP/1.1\r\n"
                                          "Host: api.example.com\r\n"
                                          "User-Agent: curl/8.5.0\r\n"
                                          "Content-Type: application/json\r\n"
                                          "Transfer-Encoding: chunked\r\n"
                                          "\r\n"
                                          "1b\r\n{\"name\":\"weir\",\"version\":1,\r\n"
                                          "20\r\n\"tags\":[\"proxy\",\"http\",\"bench\"]}\r\n"
                                          "0\r\n\r\n";

constexpr std::string_view kUpstreamResponse = "HTTP/1.1 200 OK\r\n"
                                               "Content-Type: text/plain; charset=utf-8\r\n"
                                               "Content-Length: 7\r\n"
                                               "Date: Mon, 03 Jun 2024 10:00:00 GMT\r\n"
                                               "Cache-Control: no-store\r\n"
                                               "X-Served-By: app-v1\r\n"
                                               "Connection: keep-alive\r\n"
                                               "Keep-Alive: timeout=60\r\n"
                                               "\r\n"
                                               "app-v1\n";

// Parses one whole message from `wire`; returns the number of body bytes seen. Aborts on a parse
// error: the inputs are fixed and valid, so an error means the benchmark measures nothing.
uint64_t parse_message(Parser& parser, std::string_view wire) {
  const char* p = wire.data();
  size_t left = wire.size();
  uint64_t body = 0;
  for (;;) {
    size_t consumed = 0;
    const Parser::Event ev = parser.execute(p, left, consumed);
    p += consumed;
    left -= consumed;
    switch (ev) {
    case Parser::Event::head:
      break;
    case Parser::Event::body:
      body += parser.body_bytes();
      break;
    case Parser::Event::done:
      body += parser.body_bytes();
      return body;
    case Parser::Event::need_more:
    case Parser::Event::error:
      std::abort();
    }
  }
}

void BM_ParseRequest(benchmark::State& state) {
  Parser parser(Parser::Kind::request, ParserLimits{});
  parser.start_connection();
  for (auto _ : state) {
    parser.reset();
    benchmark::DoNotOptimize(parse_message(parser, kBrowserGet));
    benchmark::DoNotOptimize(parser.head().headers.data());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(kBrowserGet.size()));
}
BENCHMARK(BM_ParseRequest);

void BM_ParseRequestChunkedBody(benchmark::State& state) {
  Parser parser(Parser::Kind::request, ParserLimits{});
  parser.start_connection();
  for (auto _ : state) {
    parser.reset();
    benchmark::DoNotOptimize(parse_message(parser, kChunkedPost));
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(kChunkedPost.size()));
}
BENCHMARK(BM_ParseRequestChunkedBody);

void BM_RewriteRequestHead(benchmark::State& state) {
  Parser parser(Parser::Kind::request, ParserLimits{});
  parser.start_connection();
  parse_message(parser, kBrowserGet);
  weir::http::UpstreamRequestContext ctx;
  ctx.client_ip = "203.0.113.7";
  ctx.proto = "http";
  ctx.request_id = "0123456789abcdef0123456789abcdef";
  std::string out;
  out.reserve(1024);
  for (auto _ : state) {
    out.clear();
    weir::http::write_upstream_request(parser.head(), ctx, out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RewriteRequestHead);

void BM_RewriteResponseHead(benchmark::State& state) {
  Parser parser(Parser::Kind::response, ParserLimits{});
  parser.start_connection();
  parse_message(parser, kUpstreamResponse);
  const weir::http::ClientResponseContext ctx{};
  std::string out;
  out.reserve(1024);
  for (auto _ : state) {
    out.clear();
    weir::http::write_client_response(parser.head(), ctx, out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RewriteResponseHead);

} // namespace

BENCHMARK_MAIN();
