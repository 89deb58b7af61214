#pragma once

#include "weir/config/loader.h"

#include <gtest/gtest.h>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

// Shared by the config loader tests: load YAML written inline and see either the Config or the
// formatted errors.
namespace weir::config::testing_support {

// Drops the newline that follows R"( so line 1 of the YAML is the first line written.
inline std::string yaml(std::string_view text) {
  if (!text.empty() && text.front() == '\n') text.remove_prefix(1);
  return std::string(text);
}

// "" when the config loads; otherwise every error, one formatted line each.
inline std::string errors_of(std::string_view text) {
  LoadResult result = load_string(yaml(text), "t.yaml");
  if (const auto* errors = std::get_if<std::vector<ConfigError>>(&result))
    return format_errors(*errors);
  return "";
}

inline Config load_ok(std::string_view text) {
  LoadResult result = load_string(yaml(text), "t.yaml");
  if (const auto* errors = std::get_if<std::vector<ConfigError>>(&result)) {
    ADD_FAILURE() << format_errors(*errors);
    return Config{};
  }
  return std::get<Config>(std::move(result));
}

// A listener, a service and a route: the least a config needs, for tests about another block
// (appended after it; its lines 1-6).
inline std::string one_route_config() {
  return R"(
listeners: [{name: web, address: 127.0.0.1:8080}]
services:
  - {namespace: app-v1, name: app, endpoints: [127.0.0.1:9001]}
routes:
  - {name: r, listener: web, match: {path_prefix: /}, backends: [{service: app-v1/app}]}
)";
}

} // namespace weir::config::testing_support
