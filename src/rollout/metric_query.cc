#include "weir/rollout/metric_query.h"

#include "weir/base/json.h"
#include "weir/net/http_client.h"
#include "weir/net/url.h"

#include <boost/asio/post.hpp>
#include <cerrno>
#include <cmath>
#include <cstdlib>

namespace weir::rollout {
namespace {

namespace asio = boost::asio;

MetricValue failed(std::string error) {
  return MetricValue{false, 0, std::move(error)};
}

// A sample's value: [ <unix time>, "<number as text>" ]. Prometheus writes NaN and the
// infinities as "NaN", "+Inf" and "-Inf".
MetricValue sample_value(const json::Value& pair) {
  if (!pair.is_array() || pair.as_array().size() != 2 || !pair.as_array()[1].is_string())
    return failed("the answer's value is not [time, \"number\"]");
  const std::string& text = pair.as_array()[1].as_string();
  char* end = nullptr;
  errno = 0;
  const double value = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size())
    return failed("the answer's value " + json::escape(text) + " is not a number");
  if (std::isnan(value)) return failed("the query returned NaN (e.g. a ratio of two zero rates)");
  return MetricValue{true, value, ""};
}

} // namespace

MetricValue parse_prometheus_answer(std::string_view body) {
  auto parsed = json::parse(body);
  if (!parsed.value) {
    std::string start(body.substr(0, 80));
    return failed("the answer is not JSON (" + parsed.error + "): " + json::escape(start));
  }
  const json::Value& doc = *parsed.value;
  const std::string status = doc.get_string("status");
  if (status == "error") {
    return failed("Prometheus answered " + doc.get_string("errorType", "an error") + ": " +
                  doc.get_string("error"));
  }
  if (status != "success")
    return failed("the answer's status is " +
                  (status.empty() ? std::string("missing") : json::escape(status)) +
                  ", not \"success\"");
  const json::Value& data = doc["data"];
  const std::string type = data.get_string("resultType");
  const json::Value& result = data["result"];
  if (type == "scalar") return sample_value(result);
  if (type == "vector") {
    if (!result.is_array()) return failed("the answer's result is not a list");
    const auto& samples = result.as_array();
    if (samples.empty())
      return failed("the query returned an empty vector (no series matched, or no data yet)");
    if (samples.size() > 1)
      return failed("the query returned " + std::to_string(samples.size()) +
                    " samples, expected one (aggregate it, e.g. with sum())");
    return sample_value(samples[0]["value"]);
  }
  if (type.empty()) return failed("the answer has no data.resultType");
  return failed("the query returned a " + type + ", expected a scalar or an instant vector");
}

void query_prometheus(asio::io_context& io, const config::AnalysisMetric& metric,
                      const std::string& query, std::function<void(MetricValue)> done) {
  std::string address = metric.prometheus_address;
  while (!address.empty() && address.back() == '/')
    address.pop_back();
  auto url = net::parse_url(address + "/api/v1/query?query=" + net::percent_encode(query));
  if (!url) {
    asio::post(io, [done = std::move(done), error = "bad Prometheus address: " +
                                                    url.error().message] { done(failed(error)); });
    return;
  }
  net::HttpRequest request;
  request.url = std::move(*url);
  request.headers = {{"Accept", "application/json"}};
  request.timeout = metric.timeout;
  request.ca_file = metric.ca_file;
  net::HttpClient::fetch(io, std::move(request), [done = std::move(done)](net::HttpResponse r) {
    if (!r.error.empty()) return done(failed("Prometheus: " + r.error));
    // Prometheus explains a refused query (400 bad_data, 422, 503) in the same JSON shape.
    MetricValue value = parse_prometheus_answer(r.body);
    if (!value.ok && r.status / 100 != 2 && value.error.rfind("Prometheus answered", 0) != 0)
      value.error = "Prometheus answered " + std::to_string(r.status) + ": " + value.error;
    done(std::move(value));
  });
}

} // namespace weir::rollout
