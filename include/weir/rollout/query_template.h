#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace weir::rollout {

// The placeholders an external metric's query may use (config::AnalysisMetric::query): the route's
// name, the two versions' service ids ("namespace/name") and their names alone.
inline constexpr std::string_view kQueryVariables[] = {"route", "stable", "canary",
                                                       "stable_service", "canary_service"};

// The variables of a rollout for render_query: route, stable, canary, stable_service and
// canary_service.
std::map<std::string, std::string> query_variables(const std::string& route,
                                                   const std::string& stable_id,
                                                   const std::string& canary_id);

// Replaces every "{{name}}" (spaces inside the braces allowed: "{{ canary }}") whose name is in
// `vars` with its value; anything else is left as written. Values are inserted as they are:
// service ids and route names are made of letters, digits, ".", "_", "-" and "/", which need no
// quoting inside a PromQL string. Pure function.
std::string render_query(const std::string& query, const std::map<std::string, std::string>& vars);

// The names of the placeholders in `query` that are not in kQueryVariables, for the config loader.
std::vector<std::string> unknown_query_variables(std::string_view query);

} // namespace weir::rollout
