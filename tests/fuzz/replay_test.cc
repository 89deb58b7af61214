// Replays every committed input of the fuzz targets (tests/fuzz/corpus/<target> and the
// reproducers in tests/fuzz/crashes/<target>) through the same harnesses libFuzzer runs, so the
// release and sanitizer builds keep every bug the fuzzers found fixed. A broken invariant fails
// the test with the input's file name; the other inputs still run.

#include "fuzz_target.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <iterator>
#include <ostream>
#include <string>
#include <vector>

extern "C" int weir_fuzz_request(const uint8_t* data, size_t size);
extern "C" int weir_fuzz_response(const uint8_t* data, size_t size);
extern "C" int weir_fuzz_chunked(const uint8_t* data, size_t size);
extern "C" int weir_fuzz_config(const uint8_t* data, size_t size);
extern "C" int weir_fuzz_control(const uint8_t* data, size_t size);
extern "C" int weir_fuzz_json(const uint8_t* data, size_t size);

namespace {

namespace fs = std::filesystem;

struct Target {
  const char* name;
  int (*run)(const uint8_t*, size_t);
};

std::vector<fs::path> inputs(const fs::path& dir) {
  std::vector<fs::path> files;
  if (!fs::is_directory(dir)) return files;
  for (const fs::directory_entry& e : fs::directory_iterator(dir))
    if (e.is_regular_file() && e.path().filename() != "README.md") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  return files;
}

// gtest names the failing target instead of dumping the struct's bytes.
void PrintTo(const Target& target, std::ostream* os) {
  *os << target.name;
}

class FuzzReplay : public ::testing::TestWithParam<Target> {};

TEST_P(FuzzReplay, CorpusAndCrashes) {
  const Target& target = GetParam();
  const fs::path root = fs::path(WEIR_SOURCE_DIR) / "tests" / "fuzz";
  std::vector<fs::path> corpus = inputs(root / "corpus" / target.name);
  EXPECT_FALSE(corpus.empty()) << "no seed inputs in " << (root / "corpus" / target.name);
  std::vector<fs::path> all = corpus;
  for (const fs::path& p : inputs(root / "crashes" / target.name))
    all.push_back(p);
  for (const fs::path& path : all) {
    std::ifstream in(path, std::ios::binary);
    ASSERT_TRUE(in) << path;
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    try {
      target.run(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
    } catch (const weir::fuzz::CheckFailure& e) {
      ADD_FAILURE() << path << ": " << e.what();
    } catch (const std::exception& e) {
      ADD_FAILURE() << path << ": exception escaped the code under test: " << e.what();
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Fuzz, FuzzReplay,
    ::testing::Values(Target{"request", weir_fuzz_request}, Target{"response", weir_fuzz_response},
                      Target{"chunked", weir_fuzz_chunked}, Target{"config", weir_fuzz_config},
                      Target{"control", weir_fuzz_control}, Target{"json", weir_fuzz_json}),
    [](const ::testing::TestParamInfo<Target>& info) { return std::string(info.param.name); });

} // namespace
