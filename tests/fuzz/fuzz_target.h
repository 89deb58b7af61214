#pragma once

// One source per fuzz target, built two ways:
//  - with WEIR_FUZZ_LIBFUZZER (tests/fuzz/meson.build, -Dfuzz=true): the file defines libFuzzer's
//    LLVMFuzzerTestOneInput, and a broken invariant traps so libFuzzer keeps the input;
//  - without it (tests/unit/meson.build): the entry point is weir_fuzz_<target>, so every harness
//    links into the one unit test binary, and a broken invariant throws CheckFailure, which the
//    replay test reports with the input's file name (the other inputs still run).

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <stdexcept>

#ifdef WEIR_FUZZ_LIBFUZZER
#define WEIR_FUZZ_TARGET(name)                                                                     \
  extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
#else
#define WEIR_FUZZ_TARGET(name) extern "C" int weir_fuzz_##name(const uint8_t* data, size_t size)
#endif

namespace weir::fuzz {

struct CheckFailure : std::logic_error {
  using std::logic_error::logic_error;
};

[[noreturn]] inline void check_failed(const char* what, const char* file, int line) {
#ifdef WEIR_FUZZ_LIBFUZZER
  std::fprintf(stderr, "%s:%d: invariant broken: %s\n", file, line, what);
  __builtin_trap();
#else
  char message[512];
  std::snprintf(message, sizeof message, "%s:%d: invariant broken: %s", file, line, what);
  throw CheckFailure(message);
#endif
}

} // namespace weir::fuzz

// An invariant the code under test must keep for every input.
#define WEIR_FUZZ_CHECK(cond)                                                                      \
  do {                                                                                             \
    if (!(cond)) ::weir::fuzz::check_failed(#cond, __FILE__, __LINE__);                            \
  } while (0)
