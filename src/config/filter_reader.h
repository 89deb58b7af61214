#pragma once

#include "yaml_checker.h"

#include <vector>

namespace weir::config::yaml {

// The filter keys a route takes beside its own, and the ones a backend takes.
inline constexpr std::string_view kRouteFilterKeys[] = {"request_headers", "response_headers",
                                                        "redirect", "rewrite", "mirror"};
inline constexpr std::string_view kBackendFilterKeys[] = {"request_headers", "response_headers",
                                                          "rewrite"};

// Reads the HTTPRoute filters among the keys of a route (or, with `backend`, of one backend):
// request_headers, response_headers, redirect, rewrite (mirror: read_mirror). `matches`: the
// route's match alternatives, when they were read without error: a replace_prefix path needs
// each of them to be a PathPrefix (nullptr skips that check).
void read_filters(Checker& checker, const Fields& fields, Filters& filters, bool backend,
                  const std::vector<Match>* matches = nullptr);

// Reads a route's `mirror: {service, percent, max_body_bytes, max_in_flight, compare}`.
void read_mirror(Checker& checker, const Item& item, Mirror& mirror);

// A mirror's share of requests: "10%", "10" or "0.5%", 0 to 100 (also a set_mirror step's).
std::optional<double> read_mirror_percent(Checker& checker, const Item& item);

} // namespace weir::config::yaml
