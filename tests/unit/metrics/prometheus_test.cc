#include "weir/metrics/prometheus.h"

#include <cmath>
#include <cstdlib>
#include <gtest/gtest.h>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace weir::metrics {
namespace {

// A strict reader of the text format, enough to check what weir writes.
struct Sample {
  std::string name;
  std::vector<std::pair<std::string, std::string>> labels; // unescaped values
  std::string value;

  std::string label(const std::string& key) const {
    for (const auto& [k, v] : labels)
      if (k == key) return v;
    return "";
  }
  // Labels without `le`, as one string: identifies a histogram series.
  std::string series_id() const {
    std::string id = name.substr(0, name.rfind('_'));
    for (const auto& [k, v] : labels)
      if (k != "le") id += "|" + k + "=" + v;
    return id;
  }
};

struct Family {
  std::string name, type, help;
  std::vector<Sample> samples;
};

// Parses `text`; any deviation from the format is a test failure.
std::vector<Family> parse(const std::string& text) {
  std::vector<Family> families;
  EXPECT_TRUE(!text.empty() && text.back() == '\n') << "must end with a newline";
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    EXPECT_FALSE(line.empty()) << "no blank lines";
    if (line.rfind("# HELP ", 0) == 0) {
      std::string rest = line.substr(7);
      Family f;
      f.name = rest.substr(0, rest.find(' '));
      f.help = rest.substr(f.name.size() + 1);
      for (const auto& g : families)
        EXPECT_NE(g.name, f.name) << "family declared twice";
      families.push_back(f);
      continue;
    }
    if (line.rfind("# TYPE ", 0) == 0) {
      std::string rest = line.substr(7);
      EXPECT_FALSE(families.empty());
      if (families.empty()) continue;
      EXPECT_EQ(rest.substr(0, rest.find(' ')), families.back().name) << "TYPE right after HELP";
      EXPECT_TRUE(families.back().type.empty()) << "one TYPE per family";
      EXPECT_TRUE(families.back().samples.empty()) << "TYPE before samples";
      families.back().type = rest.substr(rest.find(' ') + 1);
      continue;
    }
    EXPECT_NE(line[0], '#') << line;
    Sample s;
    size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ')
      s.name.push_back(line[i++]);
    if (i < line.size() && line[i] == '{') {
      ++i;
      while (i < line.size() && line[i] != '}') {
        size_t eq = line.find("=\"", i);
        EXPECT_NE(eq, std::string::npos) << line;
        if (eq == std::string::npos) break;
        std::string key = line.substr(i, eq - i);
        std::string value;
        for (i = eq + 2; i < line.size() && line[i] != '"'; ++i) {
          if (line[i] == '\\') {
            ++i;
            EXPECT_TRUE(line[i] == '\\' || line[i] == '"' || line[i] == 'n') << line;
            value.push_back(line[i] == 'n' ? '\n' : line[i]);
          } else {
            value.push_back(line[i]);
          }
        }
        s.labels.emplace_back(key, value);
        ++i; // closing quote
        if (i < line.size() && line[i] == ',') ++i;
      }
      ++i; // '}'
    }
    EXPECT_EQ(line[i], ' ') << line;
    s.value = line.substr(i + 1);
    EXPECT_FALSE(s.value.empty()) << line;
    EXPECT_FALSE(families.empty()) << "sample before any HELP: " << line;
    if (families.empty()) continue;
    Family& f = families.back();
    bool belongs = s.name == f.name;
    if (f.type == "histogram")
      belongs =
          s.name == f.name + "_bucket" || s.name == f.name + "_sum" || s.name == f.name + "_count";
    EXPECT_TRUE(belongs) << s.name << " under family " << f.name;
    f.samples.push_back(std::move(s));
  }
  return families;
}

const Family* find(const std::vector<Family>& fs, const std::string& name) {
  for (const auto& f : fs)
    if (f.name == name) return &f;
  return nullptr;
}

// The value of the one sample of `name` whose labels include all of `labels`.
std::optional<double> value(const std::vector<Family>& fs, const std::string& name,
                            const std::map<std::string, std::string>& labels) {
  std::optional<double> found;
  for (const auto& f : fs)
    for (const auto& s : f.samples) {
      if (s.name != name) continue;
      bool match = true;
      for (const auto& [k, v] : labels)
        match = match && s.label(k) == v;
      if (!match) continue;
      EXPECT_FALSE(found.has_value()) << "two samples match " << name;
      found = std::strtod(s.value.c_str(), nullptr);
    }
  return found;
}

// Two workers with known traffic on route "app" (two versions) and one reload-removed backend.
struct Fixture {
  Registry w1, w2;
  Exposition e;

  Fixture() {
    BackendCells* v1a = w1.backend({"app", "app-v1/app"});
    BackendCells* v1b = w2.backend({"app", "app-v1/app"});
    BackendCells* v2 = w1.backend({"app", "app-v2/app"});
    EndpointCells* ep1a = w1.endpoint({"app", "app-v1/app", "10.0.0.1:80"});
    EndpointCells* ep1b = w2.endpoint({"app", "app-v1/app", "10.0.0.1:80"});
    EndpointCells* ep2 = w1.endpoint({"app", "app-v2/app", "10.0.0.2:80"});
    for (int i = 0; i < 30; ++i) {
      v1a->requests.add();
      v1a->total.record(20'000'000);
      v1a->ttfb.record(19'000'000);
      ep1a->status[1].add();
    }
    for (int i = 0; i < 12; ++i) {
      v1b->requests.add();
      v1b->total.record(500'000);
      v1b->ttfb.record(400'000);
      ep1b->status[3].add();
      v1b->client_errors.add();
    }
    for (int i = 0; i < 7; ++i) {
      v2->requests.add();
      v2->upstream_errors.add();
      v2->total.record(70'000'000'000); // beyond the last bound: only +Inf
      ep2->status[4].add();
    }
    ep2->failures[static_cast<size_t>(UpstreamFailure::connect_timeout)].add(3);
    ep1a->active.add(2);
    v1a->bytes_in.add(1000);
    v1b->bytes_in.add(234);
    v2->bytes_out.add(5555);
    w1.client_connections.add(3);
    w2.client_connections.add(4);
    e.add(w1);
    e.add(w2);
    e.weights = {{"app", "app-v1/app", 0, 90}, {"app", "app-v2/app", 100, 10}};
    e.endpoint_states = {{"app-v1/app", "10.0.0.1:80", true}, {"app-v2/app", "10.0.0.2:80", false}};
    e.reloads_ok = 4;
    e.reloads_failed = 1;
    e.version = "1.2.3";
  }
};

TEST(Prometheus, LabelValuesEscapeBackslashQuoteAndNewline) {
  std::string out;
  append_label_value(out, "plain-1.2/x:80");
  EXPECT_EQ(out, "plain-1.2/x:80");
  out.clear();
  append_label_value(out, "a\\b\"c\nd");
  EXPECT_EQ(out, R"(a\\b\"c\nd)");
  out.clear();
  append_label_value(out, "\\\\\"\"\n\n");
  EXPECT_EQ(out, R"(\\\\\"\"\n\n)");
  out.clear();
  append_label_value(out, "tab\tand ünïcode"); // only the three are escaped
  EXPECT_EQ(out, "tab\tand ünïcode");
}

TEST(Prometheus, HostileNamesStayInsideTheirLabel) {
  Registry w;
  const std::string route = "r\"} weir_fake 1\n# TYPE x counter\\";
  w.backend({route, "ns\n/svc\"x"})->requests.add(5);
  w.endpoint({route, "ns\n/svc\"x", "h:1"})->status[1].add(5);
  Exposition e;
  e.add(w);
  std::string text;
  write_prometheus(e, text);
  auto fs = parse(text);
  EXPECT_EQ(find(fs, "weir_fake"), nullptr);
  EXPECT_EQ(value(fs, "weir_backend_requests_total",
                  {{"route", route}, {"namespace", "ns\n"}, {"service", "svc\"x"}}),
            5.0);
  EXPECT_EQ(value(fs, "weir_requests_total", {{"route", route}, {"code", "2xx"}}), 5.0);
}

TEST(Prometheus, EveryFamilyHasHelpAndTypeAndConventionalNames) {
  Fixture f;
  std::string text;
  write_prometheus(f.e, text);
  auto fs = parse(text);
  std::set<std::string> names;
  for (const auto& fam : fs) {
    names.insert(fam.name);
    EXPECT_EQ(fam.name.rfind("weir_", 0), 0u) << fam.name;
    EXPECT_FALSE(fam.help.empty()) << fam.name;
    ASSERT_TRUE(fam.type == "counter" || fam.type == "gauge" || fam.type == "histogram")
        << fam.name << " " << fam.type;
    bool total = fam.name.size() > 6 && fam.name.substr(fam.name.size() - 6) == "_total";
    EXPECT_EQ(total, fam.type == "counter") << fam.name;
    for (const auto& s : fam.samples)
      for (const auto& [k, v] : s.labels)
        EXPECT_TRUE(k == "route" || k == "namespace" || k == "service" || k == "endpoint" ||
                    k == "code" || k == "cause" || k == "le" || k == "result" || k == "version")
            << k;
  }
  for (const char* required :
       {"weir_requests_total", "weir_upstream_failures_total", "weir_upstream_errors_total",
        "weir_client_errors_total", "weir_bytes_received_total", "weir_bytes_sent_total",
        "weir_request_duration_seconds", "weir_upstream_response_time_seconds",
        "weir_active_requests", "weir_client_connections", "weir_backend_weight",
        "weir_backend_configured_weight", "weir_endpoint_up", "weir_config_reloads_total",
        "weir_build_info"})
    EXPECT_TRUE(names.count(required)) << required;
}

TEST(Prometheus, CountersSumEveryWorkerPerKey) {
  Fixture f;
  std::string text;
  write_prometheus(f.e, text);
  auto fs = parse(text);
  std::map<std::string, std::string> v1 = {
      {"route", "app"}, {"namespace", "app-v1"}, {"service", "app"}};
  std::map<std::string, std::string> v2 = {
      {"route", "app"}, {"namespace", "app-v2"}, {"service", "app"}};
  auto with = [](std::map<std::string, std::string> m, std::string k, std::string v) {
    m[k] = v;
    return m;
  };
  auto ep1 = with(v1, "endpoint", "10.0.0.1:80");
  auto ep2 = with(v2, "endpoint", "10.0.0.2:80");
  EXPECT_EQ(value(fs, "weir_requests_total", with(ep1, "code", "2xx")), 30.0);
  EXPECT_EQ(value(fs, "weir_requests_total", with(ep1, "code", "4xx")), 12.0);
  EXPECT_EQ(value(fs, "weir_requests_total", with(ep1, "code", "5xx")), 0.0);
  EXPECT_EQ(value(fs, "weir_requests_total", with(ep2, "code", "5xx")), 7.0);
  EXPECT_EQ(value(fs, "weir_requests_total", with(ep2, "code", "1xx")), 0.0);
  EXPECT_EQ(value(fs, "weir_upstream_failures_total", with(ep2, "cause", "connect_timeout")), 3.0);
  EXPECT_EQ(value(fs, "weir_upstream_failures_total", with(ep2, "cause", "reset")), 0.0);
  EXPECT_EQ(value(fs, "weir_active_requests", ep1), 2.0);
  EXPECT_EQ(value(fs, "weir_backend_requests_total", v1), 42.0);
  EXPECT_EQ(value(fs, "weir_upstream_errors_total", v2), 7.0);
  EXPECT_EQ(value(fs, "weir_upstream_errors_total", v1), 0.0);
  EXPECT_EQ(value(fs, "weir_client_errors_total", v1), 12.0);
  EXPECT_EQ(value(fs, "weir_bytes_received_total", v1), 1234.0);
  EXPECT_EQ(value(fs, "weir_bytes_sent_total", v2), 5555.0);
  EXPECT_EQ(value(fs, "weir_client_connections", {}), 7.0);
  EXPECT_EQ(value(fs, "weir_backend_weight", v1), 0.0);
  EXPECT_EQ(value(fs, "weir_backend_configured_weight", v1), 90.0);
  EXPECT_EQ(value(fs, "weir_backend_weight", v2), 100.0);
  EXPECT_EQ(value(fs, "weir_endpoint_up",
                  {{"namespace", "app-v1"}, {"service", "app"}, {"endpoint", "10.0.0.1:80"}}),
            1.0);
  EXPECT_EQ(value(fs, "weir_endpoint_up",
                  {{"namespace", "app-v2"}, {"service", "app"}, {"endpoint", "10.0.0.2:80"}}),
            0.0);
  EXPECT_EQ(value(fs, "weir_config_reloads_total", {{"result", "ok"}}), 4.0);
  EXPECT_EQ(value(fs, "weir_config_reloads_total", {{"result", "failed"}}), 1.0);
  EXPECT_EQ(value(fs, "weir_build_info", {{"version", "1.2.3"}}), 1.0);
  // endpoint_up has no route label: it is about the endpoint, whatever routes use it.
  for (const auto& s : find(fs, "weir_endpoint_up")->samples)
    EXPECT_EQ(s.label("route"), "");
}

TEST(Prometheus, HistogramBucketsAreCumulativeMonotonicAndEndAtCount) {
  Fixture f;
  std::string text;
  write_prometheus(f.e, text);
  auto fs = parse(text);
  for (const char* name :
       {"weir_request_duration_seconds", "weir_upstream_response_time_seconds"}) {
    const Family* fam = find(fs, name);
    ASSERT_NE(fam, nullptr);
    ASSERT_EQ(fam->type, "histogram");
    std::map<std::string, std::vector<const Sample*>> buckets;
    std::map<std::string, double> counts, sums;
    for (const auto& s : fam->samples) {
      std::string suffix = s.name.substr(std::string(name).size());
      if (suffix == "_bucket") buckets[s.series_id()].push_back(&s);
      if (suffix == "_count") counts[s.series_id()] = std::strtod(s.value.c_str(), nullptr);
      if (suffix == "_sum") sums[s.series_id()] = std::strtod(s.value.c_str(), nullptr);
    }
    ASSERT_EQ(buckets.size(), 2u) << name; // app-v1/app and app-v2/app
    for (const auto& [id, series] : buckets) {
      ASSERT_EQ(series.size(), std::size(kLatencyBounds) + 1) << id;
      double prev_le = -1, prev_count = -1;
      for (size_t i = 0; i < series.size(); ++i) {
        std::string le = series[i]->label("le");
        double bound = le == "+Inf" ? INFINITY : std::strtod(le.c_str(), nullptr);
        double count = std::strtod(series[i]->value.c_str(), nullptr);
        EXPECT_GT(bound, prev_le) << id << " le must increase";
        EXPECT_GE(count, prev_count) << id << " counts must be cumulative";
        prev_le = bound;
        prev_count = count;
      }
      EXPECT_EQ(series.back()->label("le"), "+Inf");
      ASSERT_TRUE(counts.count(id)) << id;
      EXPECT_EQ(prev_count, counts[id]) << id << ": +Inf must equal _count";
      ASSERT_TRUE(sums.count(id));
    }
  }
  std::map<std::string, std::string> v1 = {{"namespace", "app-v1"}};
  std::map<std::string, std::string> v2 = {{"namespace", "app-v2"}};
  auto at = [&](std::map<std::string, std::string> l, const char* le) {
    l["le"] = le;
    return value(fs, "weir_request_duration_seconds_bucket", l);
  };
  // v1: 12 at 0.5 ms, 30 at 20 ms.
  EXPECT_EQ(at(v1, "0.001"), 12.0);
  EXPECT_EQ(at(v1, "0.01"), 12.0);
  EXPECT_EQ(at(v1, "0.025"), 42.0);
  EXPECT_EQ(at(v1, "+Inf"), 42.0);
  EXPECT_EQ(value(fs, "weir_request_duration_seconds_count", v1), 42.0);
  EXPECT_NEAR(*value(fs, "weir_request_duration_seconds_sum", v1), 12 * 0.0005 + 30 * 0.02, 1e-9);
  // v2: 7 at 70 s, past the last bound.
  EXPECT_EQ(at(v2, "60"), 0.0);
  EXPECT_EQ(at(v2, "+Inf"), 7.0);
  EXPECT_NEAR(*value(fs, "weir_request_duration_seconds_sum", v2), 7 * 70.0, 1e-6);
  // ttfb of v2 is empty: all zero, still exported.
  EXPECT_EQ(value(fs, "weir_upstream_response_time_seconds_count", v2), 0.0);
}

TEST(Prometheus, ValuesNearABoundCountUnderItOnlyWhenTheirBucketLiesWithin) {
  Registry w;
  BackendCells* c = w.backend({"r", "n/s"});
  c->total.record(990'000);   // 0.99 ms: its whole fine bucket is below 1 ms
  c->total.record(1'010'000); // 1.01 ms: above
  c->total.record(9'999'999); // just under 10 ms; its bucket straddles 10 ms
  Exposition e;
  e.add(w);
  std::string text;
  write_prometheus(e, text);
  auto fs = parse(text);
  auto at = [&](const char* le) {
    return value(fs, "weir_request_duration_seconds_bucket", {{"le", le}});
  };
  EXPECT_EQ(at("0.001"), 1.0);
  EXPECT_EQ(at("0.0025"), 2.0);
  // The straddling bucket counts under the next bound: never more than the true count under a
  // bound, at most one fine bucket (< 1/64 of the value) late.
  EXPECT_EQ(at("0.01"), 2.0);
  EXPECT_EQ(at("0.025"), 3.0);
}

TEST(Prometheus, EmptyExpositionStillDeclaresEveryFamily) {
  Exposition e;
  std::string text;
  write_prometheus(e, text);
  auto fs = parse(text);
  EXPECT_GE(fs.size(), 15u);
  EXPECT_EQ(value(fs, "weir_client_connections", {}), 0.0);
}

TEST(Prometheus, AppendsToTheGivenString) {
  Fixture f;
  std::string out = "prefix\n";
  write_prometheus(f.e, out);
  EXPECT_EQ(out.rfind("prefix\n# HELP ", 0), 0u);
}

} // namespace
} // namespace weir::metrics
