// The dnsmasq harness itself (support/dnsmasq.h), before weir's DNS discovery leans on it: it
// answers from its hosts file with the TTL asked for, serves a replaced file within that TTL,
// and goes silent when killed and answers again, on the same port, when restarted.
#include "support/dnsmasq.h"

#include <gtest/gtest.h>
#include <string>
#include <vector>

namespace weir::test {
namespace {

TEST(Dnsmasq, AnswersFromItsHostsFileWithTheGivenTtl) {
  auto dns = Dnsmasq::start("10.1.0.2 app.test\n10.1.0.1 app.test\n::1 app.test\n", 3);
  ASSERT_TRUE(dns);
  EXPECT_EQ(dns->address(), "127.0.0.1:" + std::to_string(dns->port()));

  auto a = dns->query("app.test");
  ASSERT_TRUE(a) << dns->output();
  EXPECT_EQ(a->rcode, 0);
  EXPECT_EQ(a->addresses, (std::vector<std::string>{"10.1.0.1", "10.1.0.2"}));
  EXPECT_EQ(a->min_ttl, 3u);

  auto aaaa = dns->query("app.test", DnsType::aaaa);
  ASSERT_TRUE(aaaa) << dns->output();
  EXPECT_EQ(aaaa->addresses, std::vector<std::string>{"::1"});

  auto unknown = dns->query("other.test");
  ASSERT_TRUE(unknown) << dns->output();
  EXPECT_EQ(unknown->rcode, 3) << "NXDOMAIN";
  EXPECT_TRUE(unknown->addresses.empty());
  EXPECT_TRUE(dns->wait_answers("other.test", {}, 1s));
}

TEST(Dnsmasq, ServesAReplacedHostsFileWithinTheTtl) {
  auto dns = Dnsmasq::start("10.1.0.1 app.test\n", 1);
  ASSERT_TRUE(dns);
  ASSERT_TRUE(dns->wait_answers("app.test", {"10.1.0.1"}, 2s)) << dns->output();

  ASSERT_TRUE(dns->set_hosts("10.1.0.3 app.test\n10.1.0.4 app.test\n10.1.0.9 new.test\n"));
  EXPECT_TRUE(dns->wait_answers("app.test", {"10.1.0.4", "10.1.0.3"}, 1s)) << dns->output();
  EXPECT_TRUE(dns->wait_answers("new.test", {"10.1.0.9"}, 1s)) << dns->output();

  // A name taken out of the file is gone, not left in a cache.
  ASSERT_TRUE(dns->set_hosts("10.1.0.9 new.test\n"));
  EXPECT_TRUE(dns->wait_answers("app.test", {}, 1s)) << dns->output();
  EXPECT_TRUE(dns->wait_answers("new.test", {"10.1.0.9"}, 1s)) << dns->output();
}

TEST(Dnsmasq, KilledIsSilentAndRestartedAnswersOnTheSamePort) {
  auto dns = Dnsmasq::start("10.1.0.1 app.test\n");
  ASSERT_TRUE(dns);
  uint16_t port = dns->port();

  dns->kill();
  EXPECT_FALSE(dns->query("app.test", DnsType::a, 200ms));
  EXPECT_FALSE(dns->wait_answers("app.test", {}, 200ms)) << "silence is not an empty answer";

  // While it is down the file changes; the restarted server reads the current one.
  ASSERT_TRUE(dns->set_hosts("10.1.0.5 app.test\n"));
  ASSERT_TRUE(dns->restart());
  EXPECT_EQ(dns->port(), port);
  EXPECT_TRUE(dns->wait_answers("app.test", {"10.1.0.5"}, 1s)) << dns->output();
}

} // namespace
} // namespace weir::test
