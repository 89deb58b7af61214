// weir/http/head.h: case-insensitive names, lookup and reuse of a Head.

#include "weir/http/head.h"

#include <gtest/gtest.h>

namespace weir::http {
namespace {

TEST(HttpHead, IequalsIgnoresAsciiCaseOnly) {
  EXPECT_TRUE(iequals("Content-Length", "content-length"));
  EXPECT_TRUE(iequals("HOST", "host"));
  EXPECT_TRUE(iequals("", ""));
  EXPECT_FALSE(iequals("host", "hos"));
  EXPECT_FALSE(iequals("host", "hosts"));
  EXPECT_FALSE(iequals("a", ""));
  // Only A-Z fold: a naive `| 0x20` would equate these.
  EXPECT_FALSE(iequals("[", "{"));
  EXPECT_FALSE(iequals("@", "`"));
  EXPECT_FALSE(iequals("^", "~"));
  EXPECT_FALSE(iequals("-", "\r"));
  EXPECT_FALSE(iequals("\xc3\x89", "\xc3\xa9")); // É vs é: not ASCII, compared as bytes
  EXPECT_TRUE(iequals("\xc3\xa9", "\xc3\xa9"));
}

TEST(HttpHead, FindIsCaseInsensitiveAndReturnsTheFirst) {
  Head h;
  h.headers = {{"Host", "a"}, {"Cookie", "1"}, {"cookie", "2"}};
  ASSERT_NE(h.find("host"), nullptr);
  EXPECT_EQ(h.find("HOST")->value, "a");
  ASSERT_NE(h.find("COOKIE"), nullptr);
  EXPECT_EQ(h.find("COOKIE")->value, "1");
  EXPECT_EQ(h.find("cookies"), nullptr);
  EXPECT_EQ(h.find(""), nullptr);
}

TEST(HttpHead, ClearRestoresDefaultsAndKeepsCapacity) {
  Head h;
  h.method = 3;
  h.method_name = "POST";
  h.target = "/x";
  h.status = 500;
  h.reason = "r";
  h.version_minor = 0;
  h.headers.assign(20, Header{"a", "b"});
  h.framing = Framing::chunked;
  h.content_length = 7;
  h.keep_alive = false;
  h.upgrade = true;
  h.expect_continue = true;
  h.host = "h";
  h.wire_size = 99;
  size_t capacity = h.headers.capacity();
  h.clear();
  Head fresh;
  EXPECT_EQ(h.method, fresh.method);
  EXPECT_TRUE(h.method_name.empty());
  EXPECT_TRUE(h.target.empty());
  EXPECT_EQ(h.status, 0);
  EXPECT_TRUE(h.reason.empty());
  EXPECT_EQ(h.version_minor, 1);
  EXPECT_TRUE(h.headers.empty());
  EXPECT_EQ(h.headers.capacity(), capacity); // reused across messages, no reallocation
  EXPECT_EQ(h.framing, Framing::none);
  EXPECT_EQ(h.content_length, 0u);
  EXPECT_TRUE(h.keep_alive);
  EXPECT_FALSE(h.upgrade);
  EXPECT_FALSE(h.expect_continue);
  EXPECT_TRUE(h.host.empty());
  EXPECT_EQ(h.wire_size, 0u);
}

} // namespace
} // namespace weir::http
