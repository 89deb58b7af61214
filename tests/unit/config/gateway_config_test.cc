// The `gateway` block: the GatewayClass weir serves, and a file that leaves its routes to the
// cluster.
#include "load_helpers.h"

#include <gtest/gtest.h>

namespace weir::config {
namespace {

using testing_support::errors_of;
using testing_support::load_ok;

TEST(GatewayConfig, ClassNameAndAFileWithoutRoutesOrServices) {
  Config c = load_ok("gateway: {class_name: weir-public}\n"
                     "listeners: [{name: web, address: 127.0.0.1:8080}]\n");
  EXPECT_TRUE(c.gateway.enabled);
  EXPECT_EQ(c.gateway.class_name, "weir-public");
  EXPECT_TRUE(c.routes.empty());

  Config d = load_ok("gateway:\nlisteners: [{name: web, address: 127.0.0.1:8080}]\n");
  EXPECT_TRUE(d.gateway.enabled);
  EXPECT_EQ(d.gateway.class_name, "weir") << "the default class";
}

TEST(GatewayConfig, BadClassNamesAndKeysAreReportedWhereTheyAre) {
  std::string e = errors_of("gateway: {class_name: Weir_Public}\n"
                            "listeners: [{name: web, address: 127.0.0.1:8080}]\n");
  EXPECT_NE(e.find("t.yaml:1:23: gateway.class_name: expected a GatewayClass name"),
            std::string::npos)
      << e;
  e = errors_of("gateway: {class: weir}\nlisteners: [{name: web, address: 127.0.0.1:8080}]\n");
  EXPECT_NE(e.find("gateway"), std::string::npos) << e;
  EXPECT_NE(e.find("class"), std::string::npos) << e;
  e = errors_of("listeners: [{name: web, address: 127.0.0.1:8080}]\n");
  EXPECT_NE(e.find("routes"), std::string::npos) << "without gateway, routes are required: " << e;
}

} // namespace
} // namespace weir::config
