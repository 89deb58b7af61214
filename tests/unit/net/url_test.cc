#include "weir/net/url.h"

#include <gtest/gtest.h>
#include <string>

// URLs of weir's own HTTP client (rollout hooks, Prometheus): what is accepted, how it is split,
// and the message for each kind of mistake.
namespace weir::net {
namespace {

Url ok(std::string_view text) {
  auto r = parse_url(text);
  EXPECT_TRUE(r.ok()) << text << ": " << (r.ok() ? "" : r.error().message);
  return r.ok() ? *r : Url{};
}

std::string error_of(std::string_view text) {
  auto r = parse_url(text);
  return r.ok() ? "(accepted)" : r.error().message;
}

TEST(Url, HttpDefaults) {
  const Url u = ok("http://hooks.example.com");
  EXPECT_FALSE(u.tls);
  EXPECT_EQ(u.host, "hooks.example.com");
  EXPECT_FALSE(u.numeric);
  EXPECT_EQ(u.port, 80);
  EXPECT_EQ(u.target, "/");
  EXPECT_EQ(u.authority(), "hooks.example.com");
  EXPECT_EQ(u.text(), "http://hooks.example.com/");
}

TEST(Url, HttpsDefaultPortAndPathWithQuery) {
  const Url u = ok("HTTPS://Prom.Example.com/api/v1/query?query=up%7Bjob%3D%22x%22%7D");
  EXPECT_TRUE(u.tls);
  EXPECT_EQ(u.host, "prom.example.com");
  EXPECT_EQ(u.port, 443);
  EXPECT_EQ(u.target, "/api/v1/query?query=up%7Bjob%3D%22x%22%7D");
  EXPECT_EQ(u.authority(), "prom.example.com");
}

TEST(Url, NumericHostsAndExplicitPorts) {
  Url u = ok("http://127.0.0.1:9000/hook");
  EXPECT_TRUE(u.numeric);
  EXPECT_EQ(u.host, "127.0.0.1");
  EXPECT_EQ(u.port, 9000);
  EXPECT_EQ(u.authority(), "127.0.0.1:9000");
  u = ok("https://[::1]:8443/gate");
  EXPECT_TRUE(u.numeric);
  EXPECT_EQ(u.host, "::1");
  EXPECT_EQ(u.port, 8443);
  EXPECT_EQ(u.authority(), "[::1]:8443");
  EXPECT_EQ(u.text(), "https://[::1]:8443/gate");
  u = ok("https://[::1]");
  EXPECT_EQ(u.port, 443);
  EXPECT_EQ(u.authority(), "[::1]");
  u = ok("http://localhost:80/x");
  EXPECT_EQ(u.authority(), "localhost"); // the default port is left out of Host
}

TEST(Url, QueryWithoutPathGetsSlash) {
  EXPECT_EQ(ok("http://h:1?x=1").target, "/?x=1");
}

TEST(Url, Refused) {
  EXPECT_EQ(error_of("ftp://h/x"),
            "expected an http:// or https:// URL like http://127.0.0.1:9000/hook, got "
            "\"ftp://h/x\"");
  EXPECT_EQ(error_of("127.0.0.1:9000/hook"),
            "expected an http:// or https:// URL like http://127.0.0.1:9000/hook, got "
            "\"127.0.0.1:9000/hook\"");
  EXPECT_EQ(error_of("http:///x"), "the URL has no host");
  EXPECT_EQ(error_of("http://h:/x"), "empty port after \":\"");
  EXPECT_EQ(error_of("http://h:0/x"), "the port must be between 1 and 65535, got 0");
  EXPECT_EQ(error_of("http://h:65536/x"), "the port must be between 1 and 65535, got 65536");
  EXPECT_EQ(error_of("http://h:8o/x"), "the port must be a number, got \"8o\"");
  EXPECT_EQ(error_of("http://::1:80/x"),
            "an IPv6 address must be in brackets, e.g. http://[::1]:9000/");
  EXPECT_EQ(error_of("http://[::1/x"), "missing \"]\" after an IPv6 address");
  EXPECT_EQ(error_of("http://[1.2.3.4]/x"), "\"1.2.3.4\" in brackets is not an IPv6 address");
  EXPECT_EQ(error_of("http://[::1]x/"), "expected \":port\" after \"]\"");
  EXPECT_EQ(error_of("http://300.1.1.1/"), "\"300.1.1.1\" is not a valid IPv4 address");
  EXPECT_EQ(error_of("http://bad_host/"),
            "\"bad_host\" is not a valid host name (letters, digits, \"-\" and \".\")");
  EXPECT_EQ(error_of("http://-x.com/"),
            "\"-x.com\" is not a valid host name (letters, digits, \"-\" and \".\")");
  EXPECT_EQ(error_of("http://user:pw@h/x"),
            "user info (\"user@\") is not supported in a URL; put credentials elsewhere");
  EXPECT_EQ(error_of("http://h/x#frag"), "a URL must not have a fragment (\"#...\")");
  EXPECT_EQ(error_of("http://h/a b"),
            "the path must not contain spaces, control characters or non-ASCII bytes");
  EXPECT_EQ(error_of("http://h/a\r\nX: y"),
            "the path must not contain spaces, control characters or non-ASCII bytes");
}

TEST(Url, PercentEncodeKeepsOnlyUnreserved) {
  EXPECT_EQ(percent_encode("AZaz09-._~"), "AZaz09-._~");
  EXPECT_EQ(percent_encode("sum(rate(x{code=~\"5..\"}[1m])) / 2 & +"),
            "sum%28rate%28x%7Bcode%3D~%225..%22%7D%5B1m%5D%29%29%20%2F%202%20%26%20%2B");
  EXPECT_EQ(percent_encode("\xc3\xa9"), "%C3%A9");
}

} // namespace
} // namespace weir::net
