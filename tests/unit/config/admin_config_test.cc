// The `admin` block: the listener's address and the dashboard's actions behind a bearer token
// kept in a file, with the errors a user sees for each mistake.
#include "load_helpers.h"
#include "weir/base/token_file.h"

#include <cstdio>
#include <fstream>
#include <gtest/gtest.h>
#include <unistd.h>

namespace weir::config {
namespace {

using testing_support::errors_of;
using testing_support::load_ok;

// A file that holds `content`, removed at the end of the test.
class TokenFile {
public:
  explicit TokenFile(const std::string& content) {
    char name[] = "/tmp/weir-token-XXXXXX";
    const int fd = ::mkstemp(name);
    path_ = name;
    ::close(fd);
    std::ofstream(path_) << content;
  }
  ~TokenFile() { std::remove(path_.c_str()); }
  const std::string& path() const { return path_; }

private:
  std::string path_;
};

std::string with_admin(const std::string& admin) {
  return testing_support::one_route_config() + admin;
}

TEST(AdminConfig, TheDashboardIsReadOnlyUnlessActionsAreTurnedOn) {
  Config c = load_ok(with_admin("admin: {address: 127.0.0.1:9901}\n"));
  EXPECT_TRUE(c.admin.enabled);
  EXPECT_FALSE(c.admin.dashboard_actions);
  EXPECT_EQ(c.admin.token_file, "");
}

TEST(AdminConfig, ActionsWithATokenFileTheTrailingNewlineIsNotPartOfTheToken) {
  TokenFile token("0123456789abcdef0123\n");
  Config c = load_ok(with_admin("admin: {address: 127.0.0.1:9901, dashboard_actions: true, "
                                "token_file: " +
                                token.path() + "}\n"));
  EXPECT_TRUE(c.admin.dashboard_actions);
  EXPECT_EQ(c.admin.token_file, token.path());
  auto read = read_token_file(token.path());
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(*read, "0123456789abcdef0123");
}

TEST(AdminConfig, ActionsWithoutATokenFileAreRefused) {
  EXPECT_EQ(errors_of(with_admin("admin: {address: 127.0.0.1:9901, dashboard_actions: true}\n")),
            "t.yaml:6:53: admin.dashboard_actions: true needs token_file too: the bearer token a "
            "browser must send for an action\n");
}

// The errors of a config whose actions take their token from `path`.
std::string errors_with_token_file(const std::string& path) {
  return errors_of(with_admin(
      "admin: {address: 127.0.0.1:9901, dashboard_actions: true, token_file: " + path + "}\n"));
}

TEST(AdminConfig, AMissingShortOrEmptyTokenIsAConfigErrorNotALater403) {
  EXPECT_NE(errors_with_token_file("/nonexistent/token")
                .find("token file /nonexistent/token: No such file or directory"),
            std::string::npos);
  const std::pair<const char*, const char*> bad[] = {
      {"hunter2\n", "the token has 7 characters; at least 16 are needed"},
      {"\n", "is empty"},
      {"0123456789 abcdef0123\n", "printable ASCII characters only, no spaces"},
  };
  for (const auto& [content, why] : bad) {
    TokenFile token(content);
    EXPECT_NE(errors_with_token_file(token.path()).find(why), std::string::npos) << why;
  }
}

TEST(AdminConfig, DashboardActionsMustBeABoolean) {
  EXPECT_NE(errors_of(with_admin("admin: {address: 127.0.0.1:9901, dashboard_actions: yes}\n"))
                .find("expected true or false, got \"yes\""),
            std::string::npos);
}

TEST(TokenFile, ComparisonIsExact) {
  EXPECT_TRUE(same_token("abc", "abc"));
  EXPECT_FALSE(same_token("abc", "abd"));
  EXPECT_FALSE(same_token("abc", "abcd"));
  EXPECT_FALSE(same_token("", "a"));
}

} // namespace
} // namespace weir::config
