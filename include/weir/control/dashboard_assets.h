#pragma once

#include <span>
#include <string_view>

namespace weir::control {

// The dashboard's page, script and style sheet, compiled into the binary from
// src/control/dashboard/ (embed_assets.py writes dashboard_assets.cc at build time): nothing
// is read from disk or fetched from elsewhere at run time.
struct DashboardAsset {
  std::string_view path; // as served: "/dashboard/dashboard.js"
  std::string_view content_type;
  std::string_view body;
};
std::span<const DashboardAsset> dashboard_assets();

} // namespace weir::control
