#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace weir::runtime {

// Where one direction of a WebSocket stream stands in its framing (RFC 6455 §5.2), so that weir
// can end a tunnel between two messages and never inside one: a Close written into a frame would
// corrupt it, and one between two fragments of a message would cut the message short.
//
// Only frame headers are read (FIN, opcode, the 7/16/64-bit payload length, the mask bit and its
// key); payloads are skipped unseen, so tracking costs a few instructions per frame whatever its
// size. Either direction's frames (masked or not). The RSV bits are left alone: an extension
// (permessage-deflate) sets them and the framing stays the same.
//
// Pure: no I/O, no allocation. One thread at a time (a tunnel's worker).
class WebSocketFrames {
public:
  // Consumes up to `n` bytes of the stream and returns how many it took: all of them, or, with
  // `stop_at_boundary`, those up to the first message boundary it reaches (0 when the stream is
  // at one already). A broken stream takes everything.
  size_t feed(const uint8_t* bytes, size_t n, bool stop_at_boundary = false);
  size_t feed(std::string_view bytes, bool stop_at_boundary = false) {
    return feed(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), stop_at_boundary);
  }

  // Between two messages: not inside a frame (its header or payload) and not between the
  // fragments of a data message (a control frame between two fragments ends inside it).
  bool at_boundary() const { return head_len_ == 0 && payload_left_ == 0 && !in_message_; }
  // A whole Close frame went by: its sender is closing and sends no data after it.
  bool close_seen() const { return close_seen_; }
  // The bytes broke the framing rules that boundaries rest on (a fragmented or over-long control
  // frame, a continuation of no message, a new message inside a fragmented one, a 64-bit length
  // with its top bit set): no boundary can be trusted from here on.
  bool broken() const { return broken_; }
  // Data messages whose last frame went by.
  uint64_t messages() const { return messages_; }

private:
  // Bytes of the header being read: 2, plus 2 or 8 of extended length, plus 4 of mask key.
  size_t header_size() const;
  void start_frame();
  void end_frame();

  uint8_t head_[14] = {};
  uint8_t head_len_ = 0;
  uint64_t payload_left_ = 0;
  bool fin_ = false;        // of the frame being read
  uint8_t opcode_ = 0;      // of the frame being read
  bool in_message_ = false; // a data message started and its FIN frame has not ended yet
  bool close_seen_ = false;
  bool broken_ = false;
  uint64_t messages_ = 0;
};

// Whether an Upgrade header's value asks for WebSocket (a comma-separated list of protocols,
// compared without case, as RFC 9110 §7.8 says).
bool upgrades_to_websocket(std::string_view upgrade_header);

} // namespace weir::runtime
