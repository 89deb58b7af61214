#pragma once

#include <cstddef>
#include <cstdint>

// The byte scans weir runs over request and response heads itself (llhttp does the grammar):
// line ends for the bare-CR/LF and obs-fold check, the request-target's characters, whitespace
// in header names and control bytes in reason phrases. Each skips clean stretches many bytes at a
// time — 16 with SSE2 (the x86-64 baseline), else 8 in a 64-bit word (SWAR) — and looks at single
// bytes only around a hit. Every function returns the first byte of [p, end) in its class, or
// `end`; each has a byte-at-a-time twin in `reference` that defines it (the unit tests compare
// them for every byte value at every position and alignment). Pure functions: any thread.
namespace weir::http::scan {

// '\r' or '\n'.
const char* find_cr_lf(const char* p, const char* end);
// ' ' or '\t'.
const char* find_space_tab(const char* p, const char* end);
// A control byte other than HTAB: 0x00-0x08, 0x0a-0x1f, 0x7f (obs-text, 0x80-0xff, is not one).
const char* find_control(const char* p, const char* end);
// A byte that is not a plain request-target byte: pchar (RFC 3986 3.3) without pct-encoded,
// plus '/', '?', '[' and ']'. '%' is not plain either: the caller checks the two hex digits.
const char* find_non_path(const char* p, const char* end);

// Whether `c` is a plain request-target byte (the class find_non_path stops outside of).
bool path_byte(unsigned char c);

// The same scans 8 bytes per step in a 64-bit word, whatever the target: the fallback where
// SSE2 is missing, exposed so that the tests cover it on x86-64 too.
namespace swar {
const char* find_cr_lf(const char* p, const char* end);
const char* find_space_tab(const char* p, const char* end);
const char* find_control(const char* p, const char* end);
const char* find_non_path(const char* p, const char* end);
} // namespace swar

// One byte at a time: the definitions.
namespace reference {
const char* find_cr_lf(const char* p, const char* end);
const char* find_space_tab(const char* p, const char* end);
const char* find_control(const char* p, const char* end);
const char* find_non_path(const char* p, const char* end);
} // namespace reference

} // namespace weir::http::scan
