#include "weir/http/scan.h"

#include <array>
#include <bit>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace weir::http::scan {

namespace {

constexpr uint64_t kOnes = 0x0101010101010101ULL;
constexpr uint64_t kHighs = 0x8080808080808080ULL;

uint64_t load64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// Non-zero when some byte of `v` is zero (exact as a yes/no; which byte is then found bytewise).
constexpr uint64_t zero_byte(uint64_t v) {
  return (v - kOnes) & ~v & kHighs;
}
// Non-zero when some byte of `v` is below n (n <= 128).
constexpr uint64_t byte_below(uint64_t v, uint8_t n) {
  return (v - kOnes * n) & ~v & kHighs;
}
constexpr uint64_t byte_equals(uint64_t v, char c) {
  return zero_byte(v ^ (kOnes * static_cast<unsigned char>(c)));
}

constexpr std::array<bool, 256> make_path_table() {
  std::array<bool, 256> t{};
  for (int c = 'a'; c <= 'z'; ++c)
    t[static_cast<size_t>(c)] = true;
  for (int c = 'A'; c <= 'Z'; ++c)
    t[static_cast<size_t>(c)] = true;
  for (int c = '0'; c <= '9'; ++c)
    t[static_cast<size_t>(c)] = true;
  for (char c : {'-', '.', '_', '~', '!', '$', '&', '\'', '(', ')', '*',
                 '+', ',', ';', '=', ':', '@', '/', '?',  '[', ']'})
    t[static_cast<unsigned char>(c)] = true;
  return t;
}
constexpr std::array<bool, 256> kPathTable = make_path_table();

bool cr_lf(char c) {
  return c == '\r' || c == '\n';
}
bool space_tab(char c) {
  return c == ' ' || c == '\t';
}
bool control(char c) {
  unsigned char u = static_cast<unsigned char>(c);
  return (u < 0x20 && u != '\t') || u == 0x7f;
}
bool non_path(char c) {
  return !kPathTable[static_cast<unsigned char>(c)];
}

// Word-at-a-time skeleton: `dirty(word)` may be non-zero only when the word holds a byte of the
// class (never misses one); the word is then looked at byte by byte with `hit`.
template <typename Dirty, typename Hit>
const char* swar_find(const char* p, const char* end, Dirty dirty, Hit hit) {
  while (end - p >= 8) {
    if (dirty(load64(p))) {
      for (int i = 0; i < 8; ++i)
        if (hit(p[i])) return p + i;
    }
    p += 8;
  }
  for (; p < end; ++p)
    if (hit(*p)) return p;
  return end;
}

uint64_t dirty_cr_lf(uint64_t v) {
  return byte_equals(v, '\r') | byte_equals(v, '\n');
}
uint64_t dirty_space_tab(uint64_t v) {
  return byte_equals(v, ' ') | byte_equals(v, '\t');
}
uint64_t dirty_control(uint64_t v) {
  // Below 0x20 (HTAB among them: the bytewise look drops it) or DEL.
  return byte_below(v, 0x20) | byte_equals(v, 0x7f);
}
// The path class is no arithmetic range; eight table lookups folded into one test per word.
uint64_t dirty_path(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return !(kPathTable[u[0]] & kPathTable[u[1]] & kPathTable[u[2]] & kPathTable[u[3]] &
           kPathTable[u[4]] & kPathTable[u[5]] & kPathTable[u[6]] & kPathTable[u[7]]);
}

#if defined(__SSE2__)
// 16 bytes per step. `mask(chunk)` has bit i set when byte i is in the class. With at least 16
// bytes the last step re-reads an overlapping 16 bytes ending at `end` (the bytes before `p` in it
// are known clean); shorter inputs go word-at-a-time.
template <typename Mask, typename Dirty, typename Hit>
const char* sse2_find(const char* p, const char* end, Mask mask, Dirty dirty, Hit hit) {
  if (end - p < 16) return swar_find(p, end, dirty, hit);
  for (; end - p >= 16; p += 16) {
    unsigned m = mask(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    if (m) return p + std::countr_zero(m);
  }
  if (p == end) return end;
  const char* last = end - 16;
  unsigned m = mask(_mm_loadu_si128(reinterpret_cast<const __m128i*>(last)));
  m &= ~0u << (p - last); // bytes before p were scanned already
  return m ? last + std::countr_zero(m) : end;
}

unsigned movemask(__m128i v) {
  return static_cast<unsigned>(_mm_movemask_epi8(v));
}
__m128i splat(char c) {
  return _mm_set1_epi8(c);
}

unsigned mask_cr_lf(__m128i v) {
  return movemask(_mm_or_si128(_mm_cmpeq_epi8(v, splat('\r')), _mm_cmpeq_epi8(v, splat('\n'))));
}
unsigned mask_space_tab(__m128i v) {
  return movemask(_mm_or_si128(_mm_cmpeq_epi8(v, splat(' ')), _mm_cmpeq_epi8(v, splat('\t'))));
}
unsigned mask_control(__m128i v) {
  // Signed compare: bytes 0x80-0xff are negative, so "below 0x20" needs them excluded.
  __m128i below = _mm_and_si128(_mm_cmplt_epi8(v, splat(0x20)), _mm_cmpgt_epi8(v, splat(-1)));
  __m128i tab = _mm_cmpeq_epi8(v, splat('\t'));
  __m128i del = _mm_cmpeq_epi8(v, splat(0x7f));
  return movemask(_mm_or_si128(_mm_andnot_si128(tab, below), del));
}
unsigned mask_non_path(__m128i v) {
  // Plain bytes lie in 0x21..0x7e, less 11 holes: " # % < > \ ^ ` { | }. Shifting by 0x80 - 0x21
  // maps 0x21..0x7e onto -128..-35 for a signed compare.
  __m128i shifted = _mm_add_epi8(v, splat(static_cast<char>(0x80 - 0x21)));
  __m128i bad = _mm_cmpgt_epi8(shifted, splat(static_cast<char>(0x7e - 0x21 - 0x80)));
  for (char c : {'"', '#', '%', '<', '>', '\\', '^', '`', '{', '|', '}'})
    bad = _mm_or_si128(bad, _mm_cmpeq_epi8(v, splat(c)));
  return movemask(bad);
}
#endif

} // namespace

bool path_byte(unsigned char c) {
  return kPathTable[c];
}

namespace reference {
const char* find_cr_lf(const char* p, const char* end) {
  for (; p < end; ++p)
    if (cr_lf(*p)) return p;
  return end;
}
const char* find_space_tab(const char* p, const char* end) {
  for (; p < end; ++p)
    if (space_tab(*p)) return p;
  return end;
}
const char* find_control(const char* p, const char* end) {
  for (; p < end; ++p)
    if (control(*p)) return p;
  return end;
}
const char* find_non_path(const char* p, const char* end) {
  for (; p < end; ++p)
    if (non_path(*p)) return p;
  return end;
}
} // namespace reference

namespace swar {
const char* find_cr_lf(const char* p, const char* end) {
  return swar_find(p, end, dirty_cr_lf, cr_lf);
}
const char* find_space_tab(const char* p, const char* end) {
  return swar_find(p, end, dirty_space_tab, space_tab);
}
const char* find_control(const char* p, const char* end) {
  return swar_find(p, end, dirty_control, control);
}
const char* find_non_path(const char* p, const char* end) {
  while (end - p >= 8) {
    if (dirty_path(p)) {
      for (int i = 0; i < 8; ++i)
        if (non_path(p[i])) return p + i;
    }
    p += 8;
  }
  return reference::find_non_path(p, end);
}
} // namespace swar

#if defined(__SSE2__)
const char* find_cr_lf(const char* p, const char* end) {
  return sse2_find(p, end, mask_cr_lf, dirty_cr_lf, cr_lf);
}
const char* find_space_tab(const char* p, const char* end) {
  return sse2_find(p, end, mask_space_tab, dirty_space_tab, space_tab);
}
const char* find_control(const char* p, const char* end) {
  return sse2_find(p, end, mask_control, dirty_control, control);
}
const char* find_non_path(const char* p, const char* end) {
  if (end - p < 16) return swar::find_non_path(p, end);
  for (; end - p >= 16; p += 16) {
    unsigned m = mask_non_path(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    if (m) return p + std::countr_zero(m);
  }
  if (p == end) return end;
  const char* last = end - 16;
  unsigned m = mask_non_path(_mm_loadu_si128(reinterpret_cast<const __m128i*>(last)));
  m &= ~0u << (p - last);
  return m ? last + std::countr_zero(m) : end;
}
#else
const char* find_cr_lf(const char* p, const char* end) {
  return swar::find_cr_lf(p, end);
}
const char* find_space_tab(const char* p, const char* end) {
  return swar::find_space_tab(p, end);
}
const char* find_control(const char* p, const char* end) {
  return swar::find_control(p, end);
}
const char* find_non_path(const char* p, const char* end) {
  return swar::find_non_path(p, end);
}
#endif

} // namespace weir::http::scan
