// Precompiled once per build for each test binary (meson cpp_pch): GoogleTest and the standard
// headers most tests include. System headers only, so editing weir's own headers never rebuilds
// it; test files still include what they use, this only makes including it cheap.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <functional>
#include <gtest/gtest.h>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>
