#pragma once

#include "weir/base/result.h"

#include <string>
#include <string_view>

namespace weir {

// A bearer token kept in a file of its own (the admin dashboard's actions): the file's content
// with trailing whitespace (a final newline) dropped. Refused: an unreadable or empty file, one
// larger than 4 KiB, a token shorter than kMinTokenLength (guessable) or with a character that
// is not printable ASCII or is a space (it could not travel in an Authorization header).
inline constexpr size_t kMinTokenLength = 16;
Result<std::string> read_token_file(const std::string& path);

// Compares in time that depends only on the lengths, so a client cannot learn the token a
// character at a time from how long a refusal takes.
bool same_token(std::string_view a, std::string_view b);

} // namespace weir
