#include "weir/route/split.h"

#include <cstdint>
#include <gtest/gtest.h>
#include <limits>
#include <numeric>
#include <random>
#include <vector>

namespace weir::route {
namespace {

std::vector<uint64_t> count_picks(Split& s, uint64_t n) {
  std::vector<uint64_t> counts(s.size(), 0);
  for (uint64_t i = 0; i < n; ++i) {
    const int p = s.pick();
    EXPECT_GE(p, 0);
    EXPECT_LT(static_cast<size_t>(p), s.size());
    if (p >= 0) ++counts[static_cast<size_t>(p)];
  }
  return counts;
}

TEST(Split, NinetyTenExact) {
  const std::vector<uint32_t> w = {90, 10};
  Split s(w);
  EXPECT_EQ(s.size(), 2u);
  EXPECT_EQ(count_picks(s, 10000), (std::vector<uint64_t>{9000, 1000}));
}

TEST(Split, NinetyTenAnyWindow) {
  const std::vector<uint32_t> w = {90, 10};
  Split s(w);
  std::vector<int> seq;
  for (int i = 0; i < 30000; ++i)
    seq.push_back(s.pick());
  // Sliding 10,000-pick window starting at every offset.
  int light = 0;
  for (int i = 0; i < 10000; ++i)
    light += seq[static_cast<size_t>(i)] == 1;
  for (size_t start = 0; start + 10000 <= seq.size(); ++start) {
    ASSERT_GE(light, 990) << start;
    ASSERT_LE(light, 1010) << start;
    ASSERT_EQ(light, 1000) << start; // in fact exact: the sequence has period 100
    if (start + 10000 < seq.size()) light += (seq[start + 10000] == 1) - (seq[start] == 1);
  }
}

TEST(Split, Smooth) {
  const std::vector<uint32_t> w = {90, 10};
  Split s(w);
  int prev = -1;
  for (int i = 0; i < 10000; ++i) {
    const int p = s.pick();
    if (p == 1) {
      ASSERT_NE(prev, 1) << "light backend picked twice in a row at " << i;
    }
    prev = p;
  }
  // 5,1,1 spreads the heavy backend instead of bursting it (nginx's documented sequence).
  const std::vector<uint32_t> w2 = {5, 1, 1};
  Split s2(w2);
  std::vector<int> got;
  for (int i = 0; i < 7; ++i)
    got.push_back(s2.pick());
  EXPECT_EQ(got, (std::vector<int>{0, 0, 1, 0, 2, 0, 0}));
}

TEST(Split, ZeroWeightNeverPicked) {
  const std::vector<uint32_t> w = {0, 3, 0, 1, 0};
  Split s(w);
  EXPECT_EQ(count_picks(s, 4000), (std::vector<uint64_t>{0, 3000, 0, 1000, 0}));
}

TEST(Split, AllZero) {
  const std::vector<uint32_t> w = {0, 0, 0};
  Split s(w);
  EXPECT_EQ(s.size(), 3u);
  for (int i = 0; i < 10; ++i)
    EXPECT_EQ(s.pick(), -1);
  Split empty;
  EXPECT_EQ(empty.size(), 0u);
  EXPECT_EQ(empty.pick(), -1);
  Split empty_span{std::span<const uint32_t>{}};
  EXPECT_EQ(empty_span.pick(), -1);
}

TEST(Split, SingleBackend) {
  const std::vector<uint32_t> w = {7};
  Split s(w);
  for (int i = 0; i < 100; ++i)
    EXPECT_EQ(s.pick(), 0);
  const std::vector<uint32_t> one = {std::numeric_limits<uint32_t>::max()};
  s.reset(one);
  for (int i = 0; i < 100; ++i)
    EXPECT_EQ(s.pick(), 0);
}

TEST(Split, RandomWeightsExactOverPeriods) {
  std::mt19937 rng(12345);
  for (int round = 0; round < 20; ++round) {
    const size_t n = 1 + rng() % 16;
    std::vector<uint32_t> w(n);
    for (auto& x : w)
      x = rng() % 4 == 0 ? 0 : rng() % 200;
    const uint64_t sum = std::accumulate(w.begin(), w.end(), uint64_t{0});
    Split s(w);
    if (sum == 0) {
      EXPECT_EQ(s.pick(), -1);
      continue;
    }
    // Skip a random number of picks first: exactness must hold for any window.
    const uint64_t skip = rng() % sum;
    for (uint64_t i = 0; i < skip; ++i)
      s.pick();
    const uint64_t k = 1 + rng() % 4;
    const auto counts = count_picks(s, sum * k);
    for (size_t i = 0; i < n; ++i)
      EXPECT_EQ(counts[i], uint64_t{w[i]} * k) << "round " << round << " backend " << i;
  }
}

TEST(Split, LargeWeightsDoNotOverflow) {
  constexpr uint32_t kMax = std::numeric_limits<uint32_t>::max();
  // Sum overflows 32 bits; equal weights must still rotate round robin.
  const std::vector<uint32_t> w = {kMax, kMax, kMax, 0};
  Split s(w);
  for (int i = 0; i < 300; ++i)
    ASSERT_EQ(s.pick(), i % 3);

  std::vector<uint32_t> many(1000, kMax);
  s.reset(many);
  EXPECT_EQ(s.size(), 1000u);
  for (int i = 0; i < 3000; ++i)
    ASSERT_EQ(s.pick(), i % 1000);

  // kMax : 1 — the light backend shows up at most once in the first million picks.
  const std::vector<uint32_t> skew = {kMax, 1};
  s.reset(skew);
  EXPECT_LE(count_picks(s, 1000000)[1], 1u);

  // 3:1 ratio at huge scale keeps the proportion over a short window.
  const std::vector<uint32_t> big = {kMax / 4 * 3, kMax / 4};
  s.reset(big);
  EXPECT_EQ(count_picks(s, 4000), (std::vector<uint64_t>{3000, 1000}));
}

TEST(Split, ResetStartsOver) {
  const std::vector<uint32_t> w = {1, 1};
  Split s(w);
  EXPECT_EQ(s.pick(), 0);
  s.reset(w);
  EXPECT_EQ(s.pick(), 0); // state dropped: same start as a fresh Split
  const std::vector<uint32_t> w3 = {0, 0, 5};
  s.reset(w3);
  EXPECT_EQ(s.size(), 3u);
  EXPECT_EQ(s.pick(), 2);
  const std::vector<uint32_t> zero = {0};
  s.reset(zero);
  EXPECT_EQ(s.pick(), -1);
}

TEST(Split, DeterministicAcrossInstances) {
  const std::vector<uint32_t> w = {13, 7, 0, 29};
  Split a(w), b(w);
  for (int i = 0; i < 1000; ++i)
    ASSERT_EQ(a.pick(), b.pick());
}

} // namespace
} // namespace weir::route
