// What recording one request's metrics costs on a worker (the budget: under 50 ns), and
// what a /metrics scrape costs the control thread.
#include "weir/metrics/cells.h"
#include "weir/metrics/prometheus.h"
#include "weir/metrics/registry.h"

#include <benchmark/benchmark.h>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace {

using namespace weir::metrics;

// A mix of outcomes and latencies (log-uniform 100 µs .. 1 s), cycled so the branches and the
// histogram buckets touched vary as they do under real traffic.
struct Outcome {
  int status;
  bool local;
  std::optional<UpstreamFailure> failure;
  uint64_t total_ns;
  uint64_t ttfb_ns;
  uint64_t bytes_in;
  uint64_t bytes_out;
};

std::vector<Outcome> outcomes() {
  std::mt19937_64 rng(42);
  std::uniform_real_distribution<double> log_ns(std::log(1e5), std::log(1e9));
  std::uniform_int_distribution<int> pct(0, 99);
  std::vector<Outcome> out(4096);
  for (auto& o : out) {
    int p = pct(rng);
    o.status = p < 90 ? 200 : p < 95 ? 404 : p < 98 ? 503 : 502;
    o.local = o.status == 502;
    if (o.local) o.failure = UpstreamFailure::reset;
    o.total_ns = static_cast<uint64_t>(std::exp(log_ns(rng)));
    o.ttfb_ns = o.total_ns * 3 / 4;
    o.bytes_in = 200 + static_cast<uint64_t>(pct(rng));
    o.bytes_out = 1000 + static_cast<uint64_t>(pct(rng)) * 100;
  }
  return out;
}

// The cell updates of ClientConnection::finish_request, line for line.
inline void record(BackendCells* cells, EndpointCells* ep, const Outcome& o, uint64_t total_ns) {
  cells->requests.add();
  bool upstream_error = o.failure.has_value() || (o.status >= 500 && !o.local);
  if (upstream_error)
    cells->upstream_errors.add();
  else if ((o.status >= 400 && o.status < 500) || o.status == 0)
    cells->client_errors.add();
  cells->bytes_in.add(o.bytes_in);
  cells->bytes_out.add(o.bytes_out);
  cells->total.record(total_ns);
  if (o.ttfb_ns) cells->ttfb.record(o.ttfb_ns);
  ep->active.sub();
  if (o.status >= 100 && o.status < 600) ep->status[o.status / 100 - 1].add();
  if (o.failure) ep->failures[static_cast<size_t>(*o.failure)].add();
}

void BM_RecordRequest(benchmark::State& state) {
  Registry registry;
  BackendCells* cells = registry.backend({"app", "app-v1/app"});
  EndpointCells* ep = registry.endpoint({"app", "app-v1/app", "10.0.0.1:8080"});
  const auto mix = outcomes();
  size_t i = 0;
  for (auto _ : state) {
    const Outcome& o = mix[i++ & (mix.size() - 1)];
    ep->active.add(); // what choosing the endpoint did when the request started
    record(cells, ep, o, o.total_ns);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RecordRequest);

// The same plus the one steady_clock::now() finish_request reads for the duration.
void BM_RecordRequestWithClock(benchmark::State& state) {
  Registry registry;
  BackendCells* cells = registry.backend({"app", "app-v1/app"});
  EndpointCells* ep = registry.endpoint({"app", "app-v1/app", "10.0.0.1:8080"});
  const auto mix = outcomes();
  auto started = std::chrono::steady_clock::now();
  size_t i = 0;
  for (auto _ : state) {
    const Outcome& o = mix[i++ & (mix.size() - 1)];
    ep->active.add();
    auto now = std::chrono::steady_clock::now();
    record(cells, ep, o, static_cast<uint64_t>((now - started).count()));
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RecordRequestWithClock);

// One scrape of a mid-sized deployment: `routes` routes × 2 versions × 3 endpoints, merged from
// 4 workers and written as text (control thread; no worker waits on it).
void BM_Scrape(benchmark::State& state) {
  const int routes = static_cast<int>(state.range(0));
  std::vector<std::unique_ptr<Registry>> workers;
  const auto mix = outcomes();
  for (int w = 0; w < 4; ++w) {
    auto r = std::make_unique<Registry>();
    for (int route = 0; route < routes; ++route) {
      for (const char* svc : {"app-v1/app", "app-v2/app"}) {
        std::string name = "route-" + std::to_string(route);
        BackendCells* cells = r->backend({name, svc});
        for (int e = 0; e < 3; ++e) {
          EndpointCells* ep = r->endpoint({name, svc, "10.0.0." + std::to_string(e) + ":8080"});
          for (size_t k = 0; k < 300; ++k) {
            ep->active.add();
            record(cells, ep, mix[k], mix[k].total_ns);
          }
        }
      }
    }
    workers.push_back(std::move(r));
  }
  std::string out;
  size_t bytes = 0;
  for (auto _ : state) {
    Exposition e;
    for (const auto& r : workers)
      e.add(*r);
    e.version = "bench";
    out.clear();
    write_prometheus(e, out);
    bytes = out.size();
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_Scrape)->Arg(10)->Arg(100)->Unit(benchmark::kMillisecond);

} // namespace

BENCHMARK_MAIN();
