#include "weir/config/address.h"

#include <gtest/gtest.h>

namespace weir::config {
namespace {

TEST(ConfigAddress, ParsesIPv4) {
  auto a = parse_address("127.0.0.1:9001", false);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 9001);
  EXPECT_EQ(a->text(), "127.0.0.1:9001");
}

TEST(ConfigAddress, ParsesIPv6InCanonicalForm) {
  auto a = parse_address("[0:0:0:0:0:0:0:1]:443", false);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "::1");
  EXPECT_EQ(a->text(), "[::1]:443");
  EXPECT_EQ(*a, *parse_address("[::1]:443", false));
}

TEST(ConfigAddress, PortZeroOnlyWhenAllowed) {
  EXPECT_TRUE(parse_address("0.0.0.0:0", true).ok());
  auto a = parse_address("0.0.0.0:0", false);
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.error().message, "port must be between 1 and 65535, got 0");
  EXPECT_EQ(a.error().source, ErrorSource::config);
}

TEST(ConfigAddress, Rejects) {
  const std::string numeric = "expected a numeric IP address and port, e.g. 127.0.0.1:8080";
  for (const char* text : {"", "localhost:80", "127.0.0.1", "127.0.0.1:", "127.0.0.1:+80",
                           "1.2.3:80", "01.2.3.4:80", "[::1]", "[::1]80", "[::1:80", "[]:80",
                           "[1.2.3.4]:80", " 1.2.3.4:80", "[fe80::1%eth0]:80"}) {
    auto a = parse_address(text, true);
    ASSERT_FALSE(a.ok()) << text;
    EXPECT_EQ(a.error().message, numeric) << text;
  }
  EXPECT_EQ(parse_address("::1:80", true).error().message,
            "IPv6 addresses must be in brackets, e.g. [::1]:8080");
  EXPECT_EQ(parse_address("1.2.3.4:65536", true).error().message,
            "port must be between 0 and 65535, got 65536");
  EXPECT_EQ(parse_address("1.2.3.4:99999999999", true).error().message,
            "port must be between 0 and 65535, got 99999999999");
}

} // namespace
} // namespace weir::config
