// route::Regex: what a client sends can neither overflow a worker's stack nor take more than
// linear time, and what linear-time matching cannot do is refused when the config is loaded.
#include "weir/route/regex.h"

#include <chrono>
#include <gtest/gtest.h>
#include <pthread.h>
#include <string>

namespace weir::route {
namespace {

Regex compiled(const std::string& pattern) {
  std::string error;
  std::optional<Regex> re = Regex::compile(pattern, &error);
  EXPECT_TRUE(re) << pattern << ": " << error;
  return re ? *re : *Regex::compile("", nullptr);
}

std::string refusal(const std::string& pattern) {
  std::string error;
  EXPECT_FALSE(Regex::compile(pattern, &error)) << pattern;
  return error;
}

TEST(RouteRegex, MatchesTheWholeValueWithECMAScriptSyntax) {
  EXPECT_TRUE(compiled("/img/[0-9]+\\.png").matches("/img/42.png"));
  EXPECT_FALSE(compiled("/img/[0-9]+\\.png").matches("/img/42.png.gz"));
  EXPECT_FALSE(compiled("[0-9]+").matches("x1"));
  EXPECT_TRUE(compiled("1|true").matches("true"));
  EXPECT_TRUE(compiled("(?:ab)*c").matches("ababc"));
  EXPECT_TRUE(compiled(".*Mobile.*").matches("Foo Mobile/1"));
  EXPECT_TRUE(compiled("a{2,3}").matches("aaa"));
  EXPECT_FALSE(compiled("a{2,3}").matches("aaaa"));
  EXPECT_TRUE(compiled("\\bv[0-9]\\b.*").matches("v1 x"));
  EXPECT_TRUE(compiled("").matches(""));
  EXPECT_FALSE(compiled("").matches("x"));
  EXPECT_TRUE(compiled("(a*)*b").matches("aaab"));
  EXPECT_TRUE(compiled("[^/]+/x").matches("abc/x"));
}

// What the worker threads get: glibc's default thread stack (8 MiB here).
template <typename F> void on_a_default_thread(F f) {
  pthread_t t;
  auto call = [](void* arg) -> void* {
    (*static_cast<F*>(arg))();
    return nullptr;
  };
  ASSERT_EQ(pthread_create(&t, nullptr, call, &f), 0);
  pthread_join(t, nullptr);
}

TEST(RouteRegex, LongValuesNeitherOverflowTheStackNorBacktrack) {
  // libstdc++'s default executor recursed once or more per character: "(a|b)*c" against 16 KiB
  // crashed the process (a header or a path of a request), "(a|aa)*c" against 100 characters
  // ran for hours.
  const std::string value(256 * 1024, 'a');
  on_a_default_thread([&] {
    const auto start = std::chrono::steady_clock::now();
    for (const char* pattern : {"(a|b)*c", ".*x", "(.*)*", "(a|aa)*c", "(a*)*b", "(a|a)*"}) {
      const bool whole = std::string(pattern) == "(.*)*" || std::string(pattern) == "(a|a)*";
      EXPECT_EQ(compiled(pattern).matches(std::string_view(value).substr(0, 64 * 1024)), whole)
          << pattern;
    }
    EXPECT_FALSE(compiled("(a|b)*c").matches(value));
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  });
}

TEST(RouteRegex, RefusesWhatLinearTimeMatchingCannotDo) {
  EXPECT_EQ(refusal("(a)\\1"), "uses a back-reference (\\1), which weir does not support: it "
                               "matches in time linear in the value, as RE2 (Envoy's engine) does");
  EXPECT_NE(refusal("((?!.*x).)*y").find("uses lookahead (\"(?!\")"), std::string::npos);
  EXPECT_NE(refusal("(?=a)a").find("uses lookahead (\"(?=\")"), std::string::npos);
  // Written as literals they are fine.
  compiled("\\(\\?=x\\)");
  compiled("[(?=]+");
  compiled("\\\\1");
}

TEST(RouteRegex, RefusesPatternsWhoseRepetitionsExpandTooFar) {
  // "((((a?){10}){10}){10}){10}" took 17 s against 10 000 characters.
  EXPECT_NE(refusal("((((a?){10}){10}){10}){10}").find("is too large: its repetitions expand to "),
            std::string::npos);
  EXPECT_NE(refusal("(a?){3000}").find("at most 256"), std::string::npos);
  EXPECT_NE(refusal("(.*a.*a.*a.*a.*a.*a.*a.*a.*a.*a){40}x").find("expand to 1"),
            std::string::npos);
  EXPECT_NE(refusal("a{99999999999999999999}").find("more than 10^12"), std::string::npos);
  compiled("/api/v[0-9]+/users/[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}");
  EXPECT_LT(
      regex_expanded_size("/api/v[0-9]+/users/[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}", nullptr),
      100u);
  EXPECT_EQ(regex_expanded_size("abc", nullptr), 3u);
  EXPECT_EQ(regex_expanded_size("(a|b){4}", nullptr), 4u * 5 + 1);
  EXPECT_EQ(regex_expanded_size("x{2,}", nullptr), 3u + 1);
}

TEST(RouteRegex, PatternsRoutesUseTakeAMillisecondOrSoOnA16KiBValue) {
  const std::string value(16 * 1024, 'a');
  const auto start = std::chrono::steady_clock::now();
  for (const char* pattern : {".*Mobile.*", "/api/v[0-9]+/users/[0-9a-f]{8}(-[0-9a-f]{4}){3}",
                              "[a-z0-9]*\\.example\\.com", ".*a.*b.*c.*d", "(gold|silver|bronze)"})
    EXPECT_FALSE(compiled(pattern).matches(value)) << pattern;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(200));
}

TEST(RouteRegex, SyntaxErrorsSayWhy) {
  EXPECT_NE(refusal("[").find("does not compile (ECMAScript, matching the whole value): "),
            std::string::npos);
  EXPECT_NE(refusal("(").find("does not compile"), std::string::npos);
}

} // namespace
} // namespace weir::route
