#pragma once

#include <cstdio>
#include <string>
#include <vector>

namespace weir::gateway {

// `weir import [FLAGS] FILE...`: reads Gateway API objects (and Services, Namespaces) from
// multi-document YAML files ("-" is standard input), writes the weir config they describe to
// `out` and, to `err`, what weir could not express (object and field), notes on ignored
// documents, and any check the written config fails. Returns the exit status: 0 when everything
// was expressed, 1 when something was not (what could be is still written), 2 on a usage error
// or input that cannot be read. Runs on the caller's thread.
int run_import(const std::vector<std::string>& args, std::FILE* out, std::FILE* err);

} // namespace weir::gateway
