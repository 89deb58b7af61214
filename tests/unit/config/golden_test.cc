#include "weir/config/loader.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <sstream>
#include <string>
#include <vector>

// Golden config cases: every tests/data/configs/valid/*.yaml must load; every
// tests/data/configs/invalid/NAME.yaml must fail with exactly the lines in NAME.expected. Errors
// name the file by its base name so the expected text does not depend on the checkout path.
namespace weir::config {
namespace {

namespace fs = std::filesystem;

fs::path data_dir(const char* kind) {
  return fs::path(WEIR_SOURCE_DIR) / "tests" / "data" / "configs" / kind;
}

std::vector<std::string> yaml_files(const char* kind) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(data_dir(kind), ec)) {
    if (entry.path().extension() == ".yaml") names.push_back(entry.path().stem().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::string read(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string test_name(const testing::TestParamInfo<std::string>& info) {
  std::string name = info.param;
  std::replace_if(
      name.begin(), name.end(), [](char c) { return !std::isalnum(static_cast<unsigned char>(c)); },
      '_');
  return name;
}

class ConfigGoldenValid : public testing::TestWithParam<std::string> {};
class ConfigGoldenInvalid : public testing::TestWithParam<std::string> {};

TEST_P(ConfigGoldenValid, Loads) {
  const fs::path path = data_dir("valid") / (GetParam() + ".yaml");
  LoadResult result = load_string(read(path), path.filename().string());
  if (const auto* errors = std::get_if<std::vector<ConfigError>>(&result))
    FAIL() << format_errors(*errors);
}

TEST_P(ConfigGoldenInvalid, FailsWithExpectedErrors) {
  const fs::path yaml = data_dir("invalid") / (GetParam() + ".yaml");
  const fs::path expected = data_dir("invalid") / (GetParam() + ".expected");
  ASSERT_TRUE(fs::exists(expected)) << expected << " is missing";
  LoadResult result = load_string(read(yaml), yaml.filename().string());
  ASSERT_TRUE(std::holds_alternative<std::vector<ConfigError>>(result)) << "loaded without error";
  EXPECT_EQ(format_errors(std::get<std::vector<ConfigError>>(result)), read(expected));
}

INSTANTIATE_TEST_SUITE_P(Config, ConfigGoldenValid, testing::ValuesIn(yaml_files("valid")),
                         test_name);
INSTANTIATE_TEST_SUITE_P(Config, ConfigGoldenInvalid, testing::ValuesIn(yaml_files("invalid")),
                         test_name);

TEST(ConfigGolden, DirectoriesHaveCases) {
  EXPECT_FALSE(yaml_files("valid").empty());
  EXPECT_FALSE(yaml_files("invalid").empty());
}

// An .expected file without its .yaml is a case that silently stopped running.
TEST(ConfigGolden, EveryExpectedFileHasAConfig) {
  for (const auto& entry : fs::directory_iterator(data_dir("invalid"))) {
    if (entry.path().extension() != ".expected") continue;
    fs::path yaml = entry.path();
    yaml.replace_extension(".yaml");
    EXPECT_TRUE(fs::exists(yaml)) << entry.path();
  }
}

} // namespace
} // namespace weir::config
