// Request-target and authority syntax (RFC 9112 3.2, RFC 3986): what routing and forwarding may
// rest on. Every refusal here is a byte class an attacker has used to make two parsers disagree.
#include "weir/http/target.h"

#include <gtest/gtest.h>
#include <string>

namespace weir::http {
namespace {

using namespace std::string_literals;

TEST(Authority, AcceptsNamesAddressesAndPorts) {
  for (const char* a :
       {"a.test", "a.test:8080", "A-B.example.COM", "a.test.", "localhost:1", "127.0.0.1",
        "127.0.0.1:65535", "[::1]", "[::1]:80", "[2001:db8::7]:443", "under_score.test", "x"}) {
    SCOPED_TRACE(a);
    EXPECT_TRUE(valid_authority(a));
  }
}

TEST(Authority, RefusesWhatTwoParsersReadDifferently) {
  for (std::string a : {"a.test:1@evil.test"s,
                        "user@a.test"s,
                        "a.test evil.test"s,
                        "a.test,evil.test"s,
                        "a.test/x"s,
                        "a.test\\x"s,
                        "a.test:"s,
                        "a.test:65536"s,
                        "a.test:123456"s,
                        "a.test:8o"s,
                        "a.test:-1"s,
                        ""s,
                        ":80"s,
                        "[::1"s,
                        "[::1]x"s,
                        "[zz::1]"s,
                        "[::1]:"s,
                        "a%2etest"s,
                        "a.test\t"s,
                        "a\x80.test"s,
                        "a.test;b"s,
                        "a.test?x"s,
                        "a.test#x"s}) {
    SCOPED_TRACE(a);
    EXPECT_FALSE(valid_authority(a));
  }
}

TEST(Target, OriginForm) {
  Target t;
  ASSERT_TRUE(parse_target("/p/a%20b?q=1&r=[2]:@!$'()*+,;=~._-", t));
  EXPECT_EQ(t.form, Target::Form::origin);
  EXPECT_EQ(t.path, "/p/a%20b?q=1&r=[2]:@!$'()*+,;=~._-");
  EXPECT_TRUE(t.authority.empty());
}

TEST(Target, RefusesBytesOutsideRfc3986) {
  std::string bad = "\t\f\v\x01\x1f\x7f \"<>\\^`{|}#";
  for (char c : bad) {
    SCOPED_TRACE(static_cast<int>(static_cast<unsigned char>(c)));
    Target t;
    EXPECT_FALSE(parse_target("/a"s + c + "b", t));
  }
  for (int c = 0x80; c <= 0xff; ++c) {
    Target t;
    EXPECT_FALSE(parse_target("/a"s + static_cast<char>(c), t)) << c;
  }
  Target t;
  EXPECT_FALSE(parse_target("/a%", t));
  EXPECT_FALSE(parse_target("/a%2", t));
  EXPECT_FALSE(parse_target("/a%zz", t));
  EXPECT_FALSE(parse_target("", t));
  EXPECT_FALSE(parse_target("a/b", t));
}

TEST(Target, AbsoluteForm) {
  Target t;
  ASSERT_TRUE(parse_target("http://a.test:8080/x?y", t));
  EXPECT_EQ(t.form, Target::Form::absolute);
  EXPECT_EQ(t.authority, "a.test:8080");
  EXPECT_EQ(t.path, "/x?y");
  ASSERT_TRUE(parse_target("HTTPS://a.test", t));
  EXPECT_EQ(t.authority, "a.test");
  EXPECT_EQ(t.path, "");
  ASSERT_TRUE(parse_target("http://a.test?q", t));
  EXPECT_EQ(t.path, "?q");
  EXPECT_FALSE(parse_target("ftp://a.test/", t));
  EXPECT_FALSE(parse_target("http://a.test:1@evil.test/", t));
  EXPECT_FALSE(parse_target("http://user:pw@a.test/", t));
  EXPECT_FALSE(parse_target("http:///x", t));
  EXPECT_FALSE(parse_target("http://a.test/\x80", t));
}

TEST(Target, Asterisk) {
  Target t;
  ASSERT_TRUE(parse_target("*", t));
  EXPECT_EQ(t.form, Target::Form::asterisk);
  EXPECT_FALSE(parse_target("**", t));
}

} // namespace
} // namespace weir::http
