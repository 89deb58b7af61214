#include "weir/runtime/websocket_frames.h"

#include "weir/http/head.h"

#include <algorithm>

namespace weir::runtime {

namespace {
constexpr uint8_t kContinuation = 0x0;
constexpr uint8_t kClose = 0x8;
constexpr bool is_control(uint8_t opcode) {
  return (opcode & 0x8) != 0;
}
} // namespace

size_t WebSocketFrames::header_size() const {
  if (head_len_ < 2) return 2;
  const uint8_t len7 = head_[1] & 0x7f;
  return 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + ((head_[1] & 0x80) ? 4 : 0);
}

size_t WebSocketFrames::feed(const uint8_t* bytes, size_t n, bool stop_at_boundary) {
  size_t i = 0;
  while (i < n) {
    if (broken_) return n;
    if (stop_at_boundary && at_boundary()) return i;
    if (payload_left_ > 0) {
      const uint64_t take = std::min<uint64_t>(payload_left_, n - i);
      i += static_cast<size_t>(take);
      payload_left_ -= take;
      if (payload_left_ == 0) end_frame();
      continue;
    }
    head_[head_len_++] = bytes[i++];
    if (head_len_ < header_size()) continue;
    start_frame();
    if (!broken_ && payload_left_ == 0) end_frame();
  }
  return i;
}

void WebSocketFrames::start_frame() {
  fin_ = (head_[0] & 0x80) != 0;
  opcode_ = head_[0] & 0x0f;
  const uint8_t len7 = head_[1] & 0x7f;
  uint64_t length = len7;
  if (len7 >= 126) {
    length = 0;
    const size_t bytes = len7 == 126 ? 2 : 8;
    for (size_t b = 0; b < bytes; ++b)
      length = (length << 8) | head_[2 + b];
  }
  head_len_ = 0;
  payload_left_ = length;
  // What a boundary rests on; everything else (RSV bits, unknown opcodes, a bad close code) is
  // the endpoints' business and leaves the framing readable.
  if ((length >> 63) != 0) broken_ = true;
  if (is_control(opcode_)) {
    if (!fin_ || length > 125) broken_ = true;
  } else if (opcode_ == kContinuation) {
    if (!in_message_) broken_ = true;
  } else {
    if (in_message_) broken_ = true;
    in_message_ = true;
  }
}

void WebSocketFrames::end_frame() {
  if (is_control(opcode_)) {
    if (opcode_ == kClose) close_seen_ = true;
    return;
  }
  if (fin_) {
    in_message_ = false;
    ++messages_;
  }
}

bool upgrades_to_websocket(std::string_view value) {
  while (!value.empty()) {
    size_t comma = value.find(',');
    std::string_view token = value.substr(0, comma);
    while (!token.empty() && (token.front() == ' ' || token.front() == '\t'))
      token.remove_prefix(1);
    while (!token.empty() && (token.back() == ' ' || token.back() == '\t'))
      token.remove_suffix(1);
    // "websocket/13" names a version of it, as RFC 9110's protocol syntax allows.
    if (http::iequals(token.substr(0, token.find('/')), "websocket")) return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

} // namespace weir::runtime
