// Whether and where a failed attempt goes again (runtime/retry_policy.h), and the worker's
// budget that allows it (upstream/retry_budget.h).
#include "weir/runtime/retry_policy.h"
#include "weir/upstream/retry_budget.h"

#include <gtest/gtest.h>

namespace weir::runtime {
namespace {

using F = metrics::UpstreamFailure;

config::Retries retries(uint32_t attempts) {
  config::Retries r;
  r.attempts = attempts;
  return r;
}

AttemptFacts sent_get() {
  AttemptFacts f;
  f.request_sent = true;
  f.request_done = true;
  f.method = "GET";
  return f;
}

TEST(RetryPolicy, WantedByCause) {
  config::Retries r = retries(1);
  EXPECT_TRUE(retry_wanted(r, F::connect_refused, 0));
  EXPECT_TRUE(retry_wanted(r, F::connect_timeout, 0));
  EXPECT_TRUE(retry_wanted(r, F::reset, 0));
  EXPECT_TRUE(retry_wanted(r, F::response_timeout, 0)); // as 504
  EXPECT_TRUE(retry_wanted(r, F::bad_response, 0));     // as 502
  EXPECT_TRUE(retry_wanted(r, F::kCount, 503));
  EXPECT_FALSE(retry_wanted(r, F::kCount, 500));
  r.on_connect_failure = false;
  r.on_reset = false;
  r.on_status = {500};
  EXPECT_FALSE(retry_wanted(r, F::connect_refused, 0));
  EXPECT_FALSE(retry_wanted(r, F::connect_timeout, 0));
  EXPECT_FALSE(retry_wanted(r, F::reset, 0));
  EXPECT_FALSE(retry_wanted(r, F::response_timeout, 0));
  EXPECT_FALSE(retry_wanted(r, F::bad_response, 0));
  EXPECT_TRUE(retry_wanted(r, F::kCount, 500));
}

struct Case {
  const char* name;
  config::Retries retries;
  F cause;
  int status;
  AttemptFacts facts;
  RetryVerdict verdict;
};

TEST(RetryPolicy, TableOfVerdicts) {
  AttemptFacts unsent;
  unsent.method = "POST";
  unsent.has_body = true;
  unsent.framing = http::Framing::chunked;
  AttemptFacts started = sent_get();
  started.response_started = true;
  AttemptFacts post = sent_get();
  post.method = "POST";
  AttemptFacts partial = sent_get();
  partial.request_done = false;
  AttemptFacts put_body = sent_get();
  put_body.method = "PUT";
  put_body.has_body = true;
  put_body.framing = http::Framing::length;
  put_body.content_length = 100;
  AttemptFacts put_big = put_body;
  put_big.content_length = 65537;
  AttemptFacts put_chunked = put_body;
  put_chunked.framing = http::Framing::chunked;
  AttemptFacts put_reused = put_body;
  put_reused.body_still_held = false;
  AttemptFacts used_up = sent_get();
  used_up.retries_made = 2;

  const Case cases[] = {
      {"retries off", retries(0), F::reset, 0, sent_get(), RetryVerdict::no},
      {"attempts used up", retries(2), F::reset, 0, used_up, RetryVerdict::no},
      {"one left", retries(3), F::reset, 0, used_up, RetryVerdict::replay},
      {"response began", retries(1), F::reset, 0, started, RetryVerdict::no},
      {"not on this status", retries(1), F::kCount, 500, sent_get(), RetryVerdict::no},
      {"never sent: any method", retries(1), F::connect_refused, 0, unsent, RetryVerdict::again},
      {"sent GET replayed", retries(1), F::kCount, 503, sent_get(), RetryVerdict::replay},
      {"sent POST not replayed", retries(1), F::reset, 0, post, RetryVerdict::no},
      {"request not all read", retries(1), F::reset, 0, partial, RetryVerdict::no},
      {"PUT with a small body", retries(1), F::reset, 0, put_body, RetryVerdict::replay},
      {"body above max_body", retries(1), F::reset, 0, put_big, RetryVerdict::no},
      {"chunked body", retries(1), F::reset, 0, put_chunked, RetryVerdict::no},
      {"body no longer held", retries(1), F::reset, 0, put_reused, RetryVerdict::no},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(static_cast<int>(decide_retry(c.retries, c.cause, c.status, c.facts)),
              static_cast<int>(c.verdict));
  }
}

TEST(RetryPolicy, Idempotent) {
  for (const char* m : {"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})
    EXPECT_TRUE(idempotent(m)) << m;
  for (const char* m : {"POST", "PATCH", "CONNECT", "get"})
    EXPECT_FALSE(idempotent(m)) << m;
}

TEST(RetryPolicy, RetryBackendIsTheHeaviestOtherWhenAsked) {
  Snapshot::Route route;
  route.backends.resize(3);
  route.backends[0].effective_weight = 50;
  route.backends[1].effective_weight = 30;
  route.backends[2].effective_weight = 20;
  EXPECT_EQ(retry_backend(route, 0, false), 0);
  EXPECT_EQ(retry_backend(route, 0, true), 1);
  EXPECT_EQ(retry_backend(route, 1, true), 0);
  route.backends[1].effective_weight = 0;
  route.backends[2].effective_weight = 0;
  EXPECT_EQ(retry_backend(route, 0, true), 0); // no other can take it
}

TEST(RetryBudget, DepositsCapAndTakes) {
  upstream::RetryBudget b;
  EXPECT_EQ(b.tokens(), upstream::RetryBudget::kInitialTokens);
  for (int i = 0; i < 10; ++i)
    EXPECT_TRUE(b.take());
  EXPECT_FALSE(b.take());
  for (int i = 0; i < 4; ++i)
    b.deposit(20);
  EXPECT_FALSE(b.take()); // 0.8 of a token
  b.deposit(20);
  EXPECT_TRUE(b.take());
  for (int i = 0; i < 1000; ++i)
    b.deposit(100);
  EXPECT_EQ(b.tokens(), upstream::RetryBudget::kMaxTokens);
}

TEST(RetryBudget, MinConcurrencyNeedsNoToken) {
  upstream::RetryBudget b;
  while (b.take()) {
  }
  EXPECT_TRUE(b.allow(0, 3));
  EXPECT_TRUE(b.allow(2, 3));
  EXPECT_FALSE(b.allow(3, 3));
  uint32_t& n = b.in_flight("app");
  ++n;
  b.in_flight("other") = 7;
  EXPECT_EQ(b.in_flight("app"), 1u);
  EXPECT_EQ(&b.in_flight("app"), &n);
}

} // namespace
} // namespace weir::runtime
