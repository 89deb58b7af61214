#include "websocket.h"

namespace weir::test {

std::string ws_frame(uint8_t opcode, std::string_view payload, uint32_t mask_key, bool fin) {
  std::string f;
  f.push_back(static_cast<char>((fin ? 0x80 : 0) | opcode));
  if (payload.size() < 126) {
    f.push_back(static_cast<char>(0x80 | payload.size()));
  } else if (payload.size() <= 0xffff) {
    f.push_back(static_cast<char>(0x80 | 126));
    f.push_back(static_cast<char>(payload.size() >> 8));
    f.push_back(static_cast<char>(payload.size() & 0xff));
  } else {
    f.push_back(static_cast<char>(0x80 | 127));
    for (int shift = 56; shift >= 0; shift -= 8)
      f.push_back(static_cast<char>((uint64_t(payload.size()) >> shift) & 0xff));
  }
  char mask[4] = {static_cast<char>(mask_key >> 24), static_cast<char>(mask_key >> 16),
                  static_cast<char>(mask_key >> 8), static_cast<char>(mask_key)};
  f.append(mask, 4);
  for (size_t i = 0; i < payload.size(); ++i)
    f.push_back(static_cast<char>(payload[i] ^ mask[i % 4]));
  return f;
}

std::optional<WsFrame> read_ws_frame(RawClient& c, std::chrono::milliseconds timeout) {
  std::string h = c.read_exactly(2, timeout);
  if (h.size() < 2) return std::nullopt;
  WsFrame f;
  f.fin = (h[0] & 0x80) != 0;
  f.opcode = h[0] & 0x0f;
  f.masked = (h[1] & 0x80) != 0;
  uint64_t len = h[1] & 0x7f;
  if (len >= 126) {
    std::string ext = c.read_exactly(len == 126 ? 2 : 8, timeout);
    if (ext.size() < (len == 126 ? 2u : 8u)) return std::nullopt;
    len = 0;
    for (char b : ext)
      len = (len << 8) | static_cast<uint8_t>(b);
  }
  std::string mask;
  if (f.masked) mask = c.read_exactly(4, timeout);
  f.payload = c.read_exactly(len, timeout);
  if (f.payload.size() != len) return std::nullopt;
  if (f.masked)
    for (size_t i = 0; i < f.payload.size(); ++i)
      f.payload[i] = static_cast<char>(f.payload[i] ^ mask[i % 4]);
  return f;
}

std::string ws_upgrade_request(std::string_view path) {
  return "GET " + std::string(path) +
         " HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
}

} // namespace weir::test
