// The head scans (http/scan.h) against their byte-at-a-time definitions: every byte value at every
// position of every length up to three 16-byte steps, at every alignment, on both the dispatched
// path (SSE2 on x86-64) and the 64-bit-word fallback; then random mixes with several hits.
#include "weir/http/scan.h"

#include <gtest/gtest.h>
#include <random>
#include <string>
#include <vector>

namespace weir::http::scan {
namespace {

using Find = const char* (*)(const char*, const char*);

struct Scan {
  const char* name;
  Find reference;
  Find fast;
  Find swar;
};

const std::vector<Scan>& scans() {
  static const std::vector<Scan> all = {
      {"cr_lf", reference::find_cr_lf, find_cr_lf, swar::find_cr_lf},
      {"space_tab", reference::find_space_tab, find_space_tab, swar::find_space_tab},
      {"control", reference::find_control, find_control, swar::find_control},
      {"non_path", reference::find_non_path, find_non_path, swar::find_non_path},
  };
  return all;
}

constexpr size_t kMaxLen = 50;     // three SSE2 steps and a tail
constexpr size_t kAlignments = 16; // every offset within an SSE2 load

TEST(HeadScan, EveryByteAtEveryPositionAndAlignment) {
  alignas(64) char buffer[kAlignments + kMaxLen + 16];
  for (const Scan& s : scans()) {
    SCOPED_TRACE(s.name);
    size_t mismatches = 0;
    for (int value = 0; value < 256; ++value) {
      for (size_t align = 0; align < kAlignments; ++align) {
        for (size_t len = 0; len <= kMaxLen; ++len) {
          for (size_t pos = 0; pos <= len; ++pos) { // pos == len: the byte lies just past the end
            std::fill(std::begin(buffer), std::end(buffer), 'a'); // 'a' is in no class
            char* begin = buffer + align;
            begin[pos] = static_cast<char>(value);
            const char* end = begin + len;
            const char* want = s.reference(begin, end);
            const char* fast = s.fast(begin, end);
            const char* swar = s.swar(begin, end);
            if (fast != want || swar != want) {
              if (++mismatches <= 5)
                ADD_FAILURE() << "byte " << value << " at " << pos << " of " << len << " align "
                              << align << ": want " << (want - begin) << " fast " << (fast - begin)
                              << " swar " << (swar - begin);
            }
          }
        }
      }
    }
    EXPECT_EQ(mismatches, 0u);
  }
}

TEST(HeadScan, ClassesAreWhatTheRfcsSay) {
  auto in = [](Find f, unsigned char c) {
    char b = static_cast<char>(c);
    return f(&b, &b + 1) == &b;
  };
  for (int v = 0; v < 256; ++v) {
    unsigned char c = static_cast<unsigned char>(v);
    SCOPED_TRACE(v);
    EXPECT_EQ(in(reference::find_cr_lf, c), c == '\r' || c == '\n');
    EXPECT_EQ(in(reference::find_space_tab, c), c == ' ' || c == '\t');
    EXPECT_EQ(in(reference::find_control, c), (c < 0x20 && c != '\t') || c == 0x7f);
    bool unreserved = std::isalnum(c) && c < 0x80;
    for (char u : std::string("-._~!$&'()*+,;=:@/?[]"))
      unreserved = unreserved || c == static_cast<unsigned char>(u);
    EXPECT_EQ(in(reference::find_non_path, c), !unreserved);
    EXPECT_EQ(path_byte(c), unreserved);
  }
}

TEST(HeadScan, RandomMixesFindTheFirstHit) {
  std::mt19937 rng(20261130);
  // Mostly plain bytes, with the classes' members and high bytes sprinkled in.
  const std::string plain = "abcXYZ019/-._~=&?";
  static constexpr char kSpecial[] = "\r\n \t\x7f\x80\xff%\"<>{}\0\x01\x1f";
  const std::string special(kSpecial, sizeof kSpecial - 1); // 16 bytes, the NUL among them
  std::vector<char> buf(300);
  for (int round = 0; round < 20000; ++round) {
    size_t len = rng() % 260;
    size_t align = rng() % 16;
    unsigned density = 1 + rng() % 64;
    for (size_t i = 0; i < len; ++i)
      buf[align + i] =
          rng() % density == 0 ? special[rng() % special.size()] : plain[rng() % plain.size()];
    const char* begin = buf.data() + align;
    const char* end = begin + len;
    for (const Scan& s : scans()) {
      // Scan on from each hit, as the callers do.
      for (const char* at = begin;;) {
        const char* want = s.reference(at, end);
        ASSERT_EQ(s.fast(at, end), want) << s.name << " round " << round;
        ASSERT_EQ(s.swar(at, end), want) << s.name << " round " << round;
        if (want == end) break;
        at = want + 1;
      }
    }
  }
}

} // namespace
} // namespace weir::http::scan
