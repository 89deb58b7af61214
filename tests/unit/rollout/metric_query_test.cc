#include "weir/rollout/hook_call.h"
#include "weir/rollout/metric_query.h"

#include <cmath>
#include <gtest/gtest.h>

// The Prometheus answers external metrics reduce to one number (bodies as Prometheus 2.x writes
// them), and the message a hook's answer becomes.
namespace weir::rollout {
namespace {

TEST(PrometheusAnswer, ScalarAndSingleSampleVector) {
  MetricValue v = parse_prometheus_answer(
      R"({"status":"success","data":{"resultType":"scalar","result":[1700000000.123,"0.25"]}})");
  EXPECT_TRUE(v.ok) << v.error;
  EXPECT_DOUBLE_EQ(v.value, 0.25);
  v = parse_prometheus_answer(
      R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{"job":"weir"},)"
      R"("value":[1700000000.5,"1"]}]}})");
  EXPECT_TRUE(v.ok) << v.error;
  EXPECT_DOUBLE_EQ(v.value, 1);
  v = parse_prometheus_answer(
      R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{},)"
      R"("value":[1700000000.5,"+Inf"]}]}})");
  EXPECT_TRUE(v.ok) << v.error;
  EXPECT_TRUE(std::isinf(v.value));
}

TEST(PrometheusAnswer, EveryFailureSaysWhich) {
  const std::pair<const char*, const char*> cases[] = {
      {R"({"status":"success","data":{"resultType":"vector","result":[]}})",
       "the query returned an empty vector (no series matched, or no data yet)"},
      {R"({"status":"success","data":{"resultType":"vector","result":[)"
       R"({"metric":{"i":"a"},"value":[1,"1"]},{"metric":{"i":"b"},"value":[1,"2"]}]}})",
       "the query returned 2 samples, expected one (aggregate it, e.g. with sum())"},
      {R"({"status":"success","data":{"resultType":"vector","result":[)"
       R"({"metric":{},"value":[1,"NaN"]}]}})",
       "the query returned NaN (e.g. a ratio of two zero rates)"},
      {R"({"status":"error","errorType":"bad_data","error":"1:5: parse error: unexpected"})",
       "Prometheus answered bad_data: 1:5: parse error: unexpected"},
      {R"({"status":"warning"})", "the answer's status is \"warning\", not \"success\""},
      {R"({"data":{}})", "the answer's status is missing, not \"success\""},
      {R"({"status":"success","data":{"resultType":"matrix","result":[]}})",
       "the query returned a matrix, expected a scalar or an instant vector"},
      {R"({"status":"success","data":{}})", "the answer has no data.resultType"},
      {R"({"status":"success","data":{"resultType":"scalar","result":[1,"x1"]}})",
       "the answer's value \"x1\" is not a number"},
      {R"({"status":"success","data":{"resultType":"scalar","result":[1,2]}})",
       "the answer's value is not [time, \"number\"]"},
      {"<html>502 Bad Gateway</html>", "the answer is not JSON (offset 0: unexpected character "
                                       "'<'): \"<html>502 Bad Gateway</html>\""},
  };
  for (const auto& [body, error] : cases) {
    MetricValue v = parse_prometheus_answer(body);
    EXPECT_FALSE(v.ok) << body;
    EXPECT_EQ(v.error, error) << body;
  }
}

TEST(HookMessage, TrimsAndCutsAtACharacter) {
  EXPECT_EQ(hook_message("  \r\nnot yet: 3 checks pending\n"), "not yet: 3 checks pending");
  EXPECT_EQ(hook_message(""), "");
  EXPECT_EQ(hook_message(std::string(300, 'x')).size(), 256u);
  // 255 ASCII bytes then a 2-byte character across the limit: the character is left out whole.
  std::string body = std::string(255, 'a') + "\xc3\xa9" + "tail";
  EXPECT_EQ(hook_message(body), std::string(255, 'a'));
}

} // namespace
} // namespace weir::rollout
