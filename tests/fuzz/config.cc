// Fuzz target `config`: the input as the text of a config file through the YAML loader. Whatever
// the text, the loader returns a config or positioned errors; yaml-cpp's exceptions (and any
// other) must never escape it, since `reload` runs it on whatever the operator's file says.

#include "fuzz_target.h"
#include "weir/config/loader.h"

#include <optional>
#include <string>
#include <string_view>

WEIR_FUZZ_TARGET(config) {
  using namespace weir;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  bool threw = false;
  std::optional<config::LoadResult> result;
  try {
    result = config::load_string(text, "fuzz.yaml");
  } catch (...) {
    threw = true;
  }
  WEIR_FUZZ_CHECK(!threw && result.has_value());
  if (auto* errors = std::get_if<std::vector<config::ConfigError>>(&*result)) {
    WEIR_FUZZ_CHECK(!errors->empty());
    for (const config::ConfigError& e : *errors) {
      WEIR_FUZZ_CHECK(!e.message.empty());
      WEIR_FUZZ_CHECK(e.line >= 0 && e.column >= 0);
      WEIR_FUZZ_CHECK(e.format().find(e.message) != std::string::npos);
    }
    std::string all = config::format_errors(*errors);
    WEIR_FUZZ_CHECK(!all.empty() && all.back() == '\n');
  } else {
    const config::Config& c = std::get<config::Config>(*result);
    WEIR_FUZZ_CHECK(!c.listeners.empty());
  }
  return 0;
}
