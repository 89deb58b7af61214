// The WebSocket frame tracker fed whole streams, split at every byte position, byte by byte and
// with stops at boundaries: frames of 7-, 16- and 64-bit lengths, masked and unmasked,
// fragmented messages with control frames between their fragments, and framing that breaks.
#include "weir/runtime/websocket_frames.h"

#include <gtest/gtest.h>
#include <set>
#include <string>
#include <vector>

namespace weir::runtime {
namespace {

// One frame as RFC 6455 §5.2 lays it out. `length_bytes` forces the extended length's size
// (0, 2 or 8; -1: the shortest, as a sender must).
std::string frame(bool fin, uint8_t opcode, const std::string& payload, bool masked = false,
                  int length_bytes = -1, uint8_t rsv = 0) {
  std::string f;
  f.push_back(static_cast<char>((fin ? 0x80 : 0) | rsv | opcode));
  const uint64_t n = payload.size();
  if (length_bytes < 0) length_bytes = n < 126 ? 0 : n <= 0xffff ? 2 : 8;
  const char mask_bit = masked ? static_cast<char>(0x80) : 0;
  if (length_bytes == 0) {
    f.push_back(static_cast<char>(mask_bit | n));
  } else if (length_bytes == 2) {
    f.push_back(static_cast<char>(mask_bit | 126));
    f.push_back(static_cast<char>(n >> 8));
    f.push_back(static_cast<char>(n));
  } else {
    f.push_back(static_cast<char>(mask_bit | 127));
    for (int shift = 56; shift >= 0; shift -= 8)
      f.push_back(static_cast<char>(n >> shift));
  }
  const char key[4] = {'\x12', '\x34', '\x56', '\x78'};
  if (masked) f.append(key, 4);
  for (size_t i = 0; i < payload.size(); ++i)
    f.push_back(masked ? static_cast<char>(payload[i] ^ key[i % 4]) : payload[i]);
  return f;
}

constexpr uint8_t kText = 0x1, kBinary = 0x2, kCont = 0x0, kClose = 0x8, kPing = 0x9, kPong = 0xa;

// A stream of messages and where each ends (the message boundaries after offset 0).
struct Stream {
  std::string bytes;
  std::vector<size_t> boundaries;
  void message(const std::string& frames) {
    bytes += frames;
    boundaries.push_back(bytes.size());
  }
};

// Every kind of frame the tracker must follow, masked and not.
Stream mixed_stream(bool masked) {
  Stream s;
  s.message(frame(true, kText, "hello", masked));
  s.message(frame(true, kBinary, "", masked));                      // empty payload
  s.message(frame(true, kText, std::string(125, 'a'), masked));     // largest 7-bit length
  s.message(frame(true, kBinary, std::string(126, 'b'), masked));   // smallest 16-bit length
  s.message(frame(true, kBinary, std::string(65535, 'c'), masked)); // largest 16-bit length
  s.message(frame(true, kBinary, std::string(65536, 'd'), masked)); // smallest 64-bit length
  s.message(frame(true, kText, "short", masked, 8));                // 64-bit, not the shortest
  s.message(frame(true, kPing, "are you there", masked));           // control frames between
  s.message(frame(true, kPong, "", masked));                        // messages are boundaries
  // A fragmented message with a ping and a pong between its fragments: one boundary, at its end.
  s.message(frame(false, kText, "frag-1 ", masked) + frame(true, kPing, "p", masked) +
            frame(false, kCont, std::string(300, 'e'), masked) + frame(true, kPong, "", masked) +
            frame(true, kCont, " end", masked));
  s.message(frame(true, kText, "after", masked, -1, 0x40)); // RSV1: permessage-deflate
  return s;
}

TEST(WebSocketFrames, WholeStreamEndsAtABoundary) {
  for (bool masked : {false, true}) {
    Stream s = mixed_stream(masked);
    WebSocketFrames f;
    EXPECT_TRUE(f.at_boundary());
    EXPECT_EQ(f.feed(s.bytes), s.bytes.size());
    EXPECT_TRUE(f.at_boundary());
    EXPECT_FALSE(f.broken());
    EXPECT_FALSE(f.close_seen());
    EXPECT_EQ(f.messages(), 9u); // the ping and the pong are no messages
  }
}

TEST(WebSocketFrames, ByteByByteIsAtABoundaryExactlyBetweenMessages) {
  for (bool masked : {false, true}) {
    Stream s = mixed_stream(masked);
    std::set<size_t> ends(s.boundaries.begin(), s.boundaries.end());
    WebSocketFrames f;
    for (size_t i = 0; i < s.bytes.size(); ++i) {
      ASSERT_EQ(f.feed(std::string_view(s.bytes).substr(i, 1)), 1u);
      ASSERT_EQ(f.at_boundary(), ends.count(i + 1) == 1)
          << "after byte " << i << " masked " << masked;
    }
  }
}

TEST(WebSocketFrames, SplitAtEveryBytePositionGivesTheSameState) {
  for (bool masked : {false, true}) {
    Stream s = mixed_stream(masked);
    std::set<size_t> ends(s.boundaries.begin(), s.boundaries.end());
    for (size_t split = 0; split <= s.bytes.size(); ++split) {
      WebSocketFrames f;
      f.feed(std::string_view(s.bytes).substr(0, split));
      ASSERT_EQ(f.at_boundary(), split == 0 || ends.count(split) == 1) << "split " << split;
      f.feed(std::string_view(s.bytes).substr(split));
      ASSERT_TRUE(f.at_boundary()) << "split " << split;
      ASSERT_EQ(f.messages(), 9u) << "split " << split;
    }
  }
}

// Fed up to any position, then asked to stop at the next boundary: it stops exactly there, at
// the end of the message the position is in (and at once when the position is a boundary).
TEST(WebSocketFrames, StopAtBoundaryFromEveryPosition) {
  for (bool masked : {false, true}) {
    Stream s = mixed_stream(masked);
    size_t previous = 0;
    for (size_t end : s.boundaries) {
      for (size_t at = previous; at <= end; ++at) {
        WebSocketFrames f;
        f.feed(std::string_view(s.bytes).substr(0, at));
        const size_t took = f.feed(std::string_view(s.bytes).substr(at), true);
        const size_t expected = at == previous ? 0 : end - at;
        ASSERT_EQ(took, expected) << "from " << at << " (message ends at " << end << ")";
        ASSERT_TRUE(f.at_boundary());
      }
      previous = end;
    }
  }
}

TEST(WebSocketFrames, PingBetweenFragmentsIsNoBoundary) {
  WebSocketFrames f;
  f.feed(frame(false, kText, "Hel"));
  EXPECT_FALSE(f.at_boundary());
  f.feed(frame(true, kPing, "x"));
  EXPECT_FALSE(f.at_boundary()) << "a control frame between fragments ends inside the message";
  f.feed(frame(false, kCont, "l"));
  EXPECT_FALSE(f.at_boundary());
  f.feed(frame(true, kCont, "lo"));
  EXPECT_TRUE(f.at_boundary());
  EXPECT_EQ(f.messages(), 1u);
  EXPECT_FALSE(f.broken());
}

TEST(WebSocketFrames, CloseIsSeenOnceWhole) {
  std::string close = frame(true, kClose, std::string("\x03\xe8", 2) + "bye");
  WebSocketFrames f;
  f.feed(std::string_view(close).substr(0, close.size() - 1));
  EXPECT_FALSE(f.close_seen());
  f.feed(std::string_view(close).substr(close.size() - 1));
  EXPECT_TRUE(f.close_seen());
  EXPECT_TRUE(f.at_boundary());

  // A bare Close (no status) ends as soon as its header is in.
  WebSocketFrames g;
  g.feed(frame(true, kClose, ""));
  EXPECT_TRUE(g.close_seen());
  // Masked, between two fragments (a control frame may stand there).
  WebSocketFrames h;
  h.feed(frame(false, kBinary, "ab", true) + frame(true, kClose, "", true));
  EXPECT_TRUE(h.close_seen());
  EXPECT_FALSE(h.at_boundary());
}

TEST(WebSocketFrames, BrokenFramingIsSaidAndSwallowsTheRest) {
  const std::vector<std::pair<const char*, std::string>> cases = {
      {"continuation of no message", frame(true, kCont, "x")},
      {"fragmented control frame", frame(false, kPing, "x")},
      {"control frame over 125 bytes", frame(true, kPing, std::string(126, 'x'))},
      {"new message inside a fragmented one", frame(false, kText, "a") + frame(true, kText, "b")},
      {"64-bit length with its top bit set", std::string("\x82\x7f\x80\0\0\0\0\0\0\0", 10)},
  };
  for (const auto& [what, bytes] : cases) {
    WebSocketFrames f;
    EXPECT_EQ(f.feed(bytes), bytes.size()) << what;
    EXPECT_TRUE(f.broken()) << what;
    // No boundary to stop at any more: everything is taken.
    const std::string more = frame(true, kText, "after");
    EXPECT_EQ(f.feed(more, true), more.size()) << what;
  }
  // Unknown opcodes and RSV bits are the endpoints' business: the framing still reads.
  WebSocketFrames f;
  f.feed(frame(true, 0x3, "reserved") + frame(true, 0xb, "reserved control") +
         frame(true, kText, "x", false, -1, 0x70));
  EXPECT_FALSE(f.broken());
  EXPECT_TRUE(f.at_boundary());
}

TEST(WebSocketFrames, UpgradeHeaderNamesWebSocket) {
  EXPECT_TRUE(upgrades_to_websocket("websocket"));
  EXPECT_TRUE(upgrades_to_websocket("WebSocket"));
  EXPECT_TRUE(upgrades_to_websocket("h2c, websocket"));
  EXPECT_TRUE(upgrades_to_websocket(" websocket/13 ,foo"));
  EXPECT_FALSE(upgrades_to_websocket("h2c"));
  EXPECT_FALSE(upgrades_to_websocket(""));
  EXPECT_FALSE(upgrades_to_websocket("websockets"));
  EXPECT_FALSE(upgrades_to_websocket("web socket"));
}

} // namespace
} // namespace weir::runtime
