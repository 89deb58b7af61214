#pragma once

#include "client.h"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

// Minimal RFC 6455 framing for tests: client frames are masked, server frames are not.
namespace weir::test {

// One client frame of `opcode` with `payload`, masked with `mask_key`; `fin` false: a fragment
// that more frames of its message follow.
std::string ws_frame(uint8_t opcode, std::string_view payload, uint32_t mask_key, bool fin = true);

struct WsFrame {
  bool fin = false;
  bool masked = false;
  uint8_t opcode = 0;
  std::string payload;
};

// The next frame from `c`; nullopt if it does not arrive whole within `timeout`.
std::optional<WsFrame> read_ws_frame(RawClient& c, std::chrono::milliseconds timeout);

// The opening handshake of a WebSocket on `path` (with the RFC's sample key).
std::string ws_upgrade_request(std::string_view path);

} // namespace weir::test
