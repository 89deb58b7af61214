#pragma once

#include <cstdlib>
#include <gtest/gtest.h>

// Volume and endurance tests prove behaviour under sustained load and over many rounds; the
// sanitizer build (several times slower) proves nothing there that their shorter siblings,
// which it does run, do not. They run in the release build only, which keeps the whole test
// command within its time budget on 2 cores.
// The integration tests run against the sanitized binaries with the release build's test binary
// (WEIR_TEST_SANITIZED set by ./dev test, see tests/integration/meson.build): the check is made at
// run time there.
#if defined(WEIR_SANITIZED_BUILD) || defined(__SANITIZE_ADDRESS__)
#define WEIR_RELEASE_ONLY()                                                                        \
  GTEST_SKIP() << "release build only: a volume test (the sanitized build runs the shorter ones)"
#else
#define WEIR_RELEASE_ONLY()                                                                        \
  if (const char* sanitized = std::getenv("WEIR_TEST_SANITIZED"); sanitized && *sanitized)         \
  GTEST_SKIP() << "release build only: a volume test (the sanitized binaries run the shorter "     \
                  "ones)"
#endif
