#include "weir/route/split.h"
#include "weir/route/table.h"

#include <benchmark/benchmark.h>
#include <string>
#include <string_view>
#include <vector>

namespace {

using weir::config::Route;

Route make_route(std::string host, std::string prefix) {
  Route r;
  r.name = host + prefix;
  r.listener = "main";
  r.matches.emplace_back().host = std::move(host);
  r.matches.back().path.value = std::move(prefix);
  return r;
}

// ~20 routes of the shape a small deployment has: a few exact hosts with several prefixes,
// two wildcards and catch-alls.
std::vector<Route> twenty_routes() {
  std::vector<Route> rs;
  for (const char* host : {"api.example.com", "www.example.com", "shop.example.com"}) {
    for (const char* prefix : {"/", "/v1", "/v1/users", "/v2", "/static/"})
      rs.push_back(make_route(host, prefix));
  }
  rs.push_back(make_route("*.example.com", "/"));
  rs.push_back(make_route("*.example.com", "/health"));
  rs.push_back(make_route("*.cdn.example.com", "/"));
  rs.push_back(make_route("", "/"));
  rs.push_back(make_route("", "/metrics"));
  return rs;
}

struct Request {
  std::string_view host;
  std::string_view path;
};

constexpr Request kRequests[] = {
    {"api.example.com", "/v1/users/42?expand=1"},
    {"WWW.Example.com:443", "/static/app.js"},
    {"shop.example.com", "/v2/cart"},
    {"img.cdn.example.com", "/a.png"},
    {"blog.example.com", "/health"},
    {"unknown.test", "/metrics"},
    {"[::1]:8080", "/"},
    {"api.example.com.", "/v3"},
};

void BM_TableMatch(benchmark::State& state) {
  const auto routes = twenty_routes();
  const auto table = weir::route::Table::build(routes, "main");
  size_t i = 0;
  for (auto _ : state) {
    const Request& r = kRequests[i++ % std::size(kRequests)];
    benchmark::DoNotOptimize(table.match(r.host, r.path).route);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TableMatch);

void BM_SplitPick(benchmark::State& state) {
  std::vector<uint32_t> weights;
  for (int64_t i = 0; i < state.range(0); ++i)
    weights.push_back(static_cast<uint32_t>(10 + 17 * i));
  weir::route::Split split(weights);
  for (auto _ : state)
    benchmark::DoNotOptimize(split.pick());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SplitPick)->Arg(2)->Arg(5);

} // namespace

BENCHMARK_MAIN();
