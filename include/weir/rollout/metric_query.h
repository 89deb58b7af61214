#pragma once

#include "weir/config/config.h"
#include "weir/rollout/host.h"

#include <boost/asio/io_context.hpp>
#include <functional>
#include <string>
#include <string_view>

namespace weir::rollout {

// Runs one Prometheus instant query: GET {metric.prometheus_address}/api/v1/query?query=QUERY
// (QUERY already templated, see render_query; it is percent-encoded here) within
// metric.timeout, and reduces the answer with parse_prometheus_answer. `done` runs once, on the
// io_context's thread, never inside query_prometheus(). Control thread only.
void query_prometheus(boost::asio::io_context& io, const config::AnalysisMetric& metric,
                      const std::string& query, std::function<void(MetricValue)> done);

// The number in a body of Prometheus' /api/v1/query: a scalar, or an instant vector with exactly
// one sample. Anything else is a failed measurement whose error says why: an error answer
// (status "error", with Prometheus' errorType and error), an empty vector (no series matched, or
// no data yet), several samples (the query must aggregate, e.g. with sum()), a NaN value (e.g. a
// ratio of two rates that are both 0), a matrix or string result, or a body that is not the
// expected JSON. Pure function.
MetricValue parse_prometheus_answer(std::string_view body);

} // namespace weir::rollout
