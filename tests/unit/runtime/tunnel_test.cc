// The tunnel's two pumps driven by hand through a fake pair of ends: no sockets. Then its drain:
// a WebSocket's Close injected at a message boundary whatever the reads' splits, the caps, and
// any other tunnel closed at once.
#include "weir/runtime/tunnel.h"
#include "weir/runtime/websocket_frames.h"

#include <algorithm>
#include <boost/asio/error.hpp>
#include <chrono>
#include <cstring>
#include <gtest/gtest.h>
#include <string>
#include <utility>
#include <vector>

namespace weir::runtime {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

struct FakeEnds : TunnelEnds {
  std::vector<std::string> calls;
  std::string to_client, to_upstream; // what was written to each side
  int activity = 0;
  bool done = false;
  bool aborted = false;
  bool client_write_pending = false; // a write to the client not completed yet (drain tests)
  std::chrono::steady_clock::time_point now = std::chrono::steady_clock::time_point{} + 1000h;

  void tunnel_read_client(asio::mutable_buffer b) override {
    calls.push_back("read_client:" + std::to_string(b.size()));
  }
  void tunnel_write_client(asio::const_buffer b) override {
    calls.push_back("write_client");
    to_client.append(static_cast<const char*>(b.data()), b.size());
    client_write_pending = true;
  }
  void tunnel_read_upstream(asio::mutable_buffer b) override {
    calls.push_back("read_upstream:" + std::to_string(b.size()));
  }
  void tunnel_write_upstream(asio::const_buffer b) override {
    calls.push_back("write_upstream");
    to_upstream.append(static_cast<const char*>(b.data()), b.size());
  }
  void tunnel_end_client() override { calls.push_back("end_client"); }
  void tunnel_end_upstream() override { calls.push_back("end_upstream"); }
  void tunnel_activity() override { ++activity; }
  void tunnel_done() override { done = true; }
  void tunnel_abort() override {
    calls.push_back("abort");
    aborted = true;
  }
  std::chrono::steady_clock::time_point tunnel_now() override { return now; }
};

struct Bufs {
  char client[8] = {};
  char upstream[8] = {};
};

TEST(Tunnel, StartsReadingBothSidesWhenNothingCameAlong) {
  FakeEnds e;
  Bufs b;
  Tunnel t;
  EXPECT_FALSE(t.started());
  t.start(e, {}, {}, asio::buffer(b.client), asio::buffer(b.upstream));
  EXPECT_TRUE(t.started());
  EXPECT_EQ(e.calls, (std::vector<std::string>{"read_client:8", "read_upstream:8"}));
  EXPECT_EQ(t.to_upstream(), Tunnel::Pump::reading);
  EXPECT_EQ(t.to_client(), Tunnel::Pump::reading);
}

TEST(Tunnel, BytesThatCameWithTheHandshakeGoFirst) {
  FakeEnds e;
  Bufs b;
  Tunnel t;
  std::string early_client = "hello", early_upstream = "welcome";
  t.start(e, asio::buffer(early_client), asio::buffer(early_upstream), asio::buffer(b.client),
          asio::buffer(b.upstream));
  EXPECT_EQ(e.to_upstream, "hello");
  EXPECT_EQ(e.to_client, "welcome");
  EXPECT_EQ(t.to_upstream(), Tunnel::Pump::writing);
  EXPECT_EQ(t.to_client(), Tunnel::Pump::writing);
  e.calls.clear();
  t.on_upstream_written();
  t.on_client_written();
  EXPECT_EQ(e.calls, (std::vector<std::string>{"read_client:8", "read_upstream:8"}));
}

// The 101 reached the client while the request's last write to the upstream was still going
// out: the client is not read (the pending write may point into its buffer) and nothing more is
// written upstream until that write completes; then the bytes that came with the handshake go,
// and only after them the client is read.
TEST(Tunnel, WaitsForTheRequestsPendingWriteBeforeTheClientPump) {
  FakeEnds e;
  Bufs b;
  Tunnel t;
  std::string early_client = "hello";
  t.start(e, asio::buffer(early_client), {}, asio::buffer(b.client), asio::buffer(b.upstream),
          /*upstream_busy=*/true);
  EXPECT_EQ(e.calls, (std::vector<std::string>{"read_upstream:8"}));
  EXPECT_EQ(t.to_upstream(), Tunnel::Pump::writing);
  e.calls.clear();
  t.on_upstream_written(); // the request's write
  EXPECT_EQ(e.calls, (std::vector<std::string>{"write_upstream"}));
  EXPECT_EQ(e.to_upstream, "hello");
  e.calls.clear();
  t.on_upstream_written(); // the handshake's bytes
  EXPECT_EQ(e.calls, (std::vector<std::string>{"read_client:8"}));
  EXPECT_EQ(t.to_upstream(), Tunnel::Pump::reading);

  // Nothing came along: the client is read once the request's write is out.
  FakeEnds e2;
  Tunnel t2;
  t2.start(e2, {}, {}, asio::buffer(b.client), asio::buffer(b.upstream), true);
  EXPECT_EQ(e2.calls, (std::vector<std::string>{"read_upstream:8"}));
  e2.calls.clear();
  t2.on_upstream_written();
  EXPECT_EQ(e2.calls, (std::vector<std::string>{"read_client:8"}));
}

TEST(Tunnel, EachPumpWritesWhatItReadBeforeReadingAgain) {
  FakeEnds e;
  Bufs b;
  Tunnel t;
  t.start(e, {}, {}, asio::buffer(b.client), asio::buffer(b.upstream));
  e.calls.clear();
  std::memcpy(b.client, "ping", 4);
  t.on_client_read({}, 4);
  EXPECT_EQ(e.to_upstream, "ping");
  EXPECT_EQ(t.to_upstream(), Tunnel::Pump::writing);
  // A stray read completion while writing changes nothing (one buffer per direction).
  t.on_client_read({}, 4);
  EXPECT_EQ(e.to_upstream, "ping");
  std::memcpy(b.upstream, "pong", 4);
  t.on_upstream_read({}, 4);
  EXPECT_EQ(e.to_client, "pong");
  t.on_upstream_written();
  EXPECT_EQ(t.to_upstream(), Tunnel::Pump::reading);
  EXPECT_EQ(e.calls, (std::vector<std::string>{"write_upstream", "write_client", "read_client:8"}));
  EXPECT_GE(e.activity, 3);
}

TEST(Tunnel, AnEndHalfClosesTheOtherSideAndBothEndsFinish) {
  FakeEnds e;
  Bufs b;
  Tunnel t;
  t.start(e, {}, {}, asio::buffer(b.client), asio::buffer(b.upstream));
  e.calls.clear();
  t.on_client_read(asio::error::eof, 0);
  EXPECT_EQ(t.to_upstream(), Tunnel::Pump::ended);
  EXPECT_EQ(e.calls, (std::vector<std::string>{"end_upstream"}));
  EXPECT_FALSE(e.done);
  // The other direction goes on: the upstream still answers.
  std::memcpy(b.upstream, "bye", 3);
  t.on_upstream_read({}, 3);
  t.on_client_written();
  EXPECT_EQ(e.to_client, "bye");
  t.on_upstream_read({}, 0);
  EXPECT_EQ(t.to_client(), Tunnel::Pump::ended);
  EXPECT_TRUE(e.done);
  EXPECT_EQ(e.calls.back(), "end_client");
}

TEST(Tunnel, UpstreamEndFirst) {
  FakeEnds e;
  Bufs b;
  Tunnel t;
  t.start(e, {}, {}, asio::buffer(b.client), asio::buffer(b.upstream));
  t.on_upstream_read(asio::error::connection_reset, 0);
  EXPECT_EQ(e.calls.back(), "end_client");
  EXPECT_FALSE(e.done);
  t.on_client_read(asio::error::eof, 0);
  EXPECT_TRUE(e.done);
}

// ---------------------------------------------------------------------------------------------
// Drains

constexpr uint8_t kText = 0x1, kBinary = 0x2, kCont = 0x0, kClose = 0x8, kPing = 0x9;
const std::string kWeirClose("\x88\x02\x03\xf4", 4); // 1012, service restart

// An unmasked server frame (7- or 16-bit length).
std::string frame(bool fin, uint8_t opcode, const std::string& payload) {
  std::string f;
  f.push_back(static_cast<char>((fin ? 0x80 : 0) | opcode));
  if (payload.size() < 126) {
    f.push_back(static_cast<char>(payload.size()));
  } else {
    f.push_back(static_cast<char>(126));
    f.push_back(static_cast<char>(payload.size() >> 8));
    f.push_back(static_cast<char>(payload.size()));
  }
  return f + payload;
}

// A started tunnel, both pumps reading, with buffers big enough for every read below.
struct Ws {
  FakeEnds e;
  std::vector<char> client = std::vector<char>(1 << 16);
  std::vector<char> upstream = std::vector<char>(1 << 16);
  Tunnel t;
  explicit Ws(bool websocket = true, const std::string& with_101 = "") {
    t.start(e, {}, asio::buffer(with_101), asio::buffer(client), asio::buffer(upstream), false,
            websocket);
    complete_writes();
  }
  // One read from the upstream brings `bytes`.
  void upstream_sends(const std::string& bytes) {
    std::memcpy(upstream.data(), bytes.data(), bytes.size());
    t.on_upstream_read({}, bytes.size());
  }
  void client_sends(const std::string& bytes) {
    std::memcpy(client.data(), bytes.data(), bytes.size());
    t.on_client_read({}, bytes.size());
    if (t.to_upstream() == Tunnel::Pump::writing) t.on_upstream_written();
  }
  // Every write to the client completes (one after another, as the transport reports them).
  void complete_writes() {
    while (std::exchange(e.client_write_pending, false))
      t.on_client_written();
  }
};

TEST(TunnelDrain, AnyOtherUpgradeClosesAtOnce) {
  Ws w(false);
  w.upstream_sends(frame(false, kText, "no framing is looked at"));
  w.complete_writes();
  w.t.drain();
  EXPECT_TRUE(w.e.aborted);
}

TEST(TunnelDrain, AtABoundaryTheCloseGoesAtOnceThenTheUpstreamIsDropped) {
  Ws w;
  w.upstream_sends(frame(true, kText, "one"));
  w.complete_writes();
  w.e.to_client.clear();
  w.t.drain();
  EXPECT_EQ(w.e.to_client, kWeirClose);
  EXPECT_EQ(w.t.closing(), Tunnel::Closing::writing);
  // Whatever the upstream sends after weir's Close is read and dropped.
  w.e.calls.clear();
  w.upstream_sends(frame(true, kText, "two"));
  EXPECT_EQ(w.e.to_client, kWeirClose);
  EXPECT_EQ(w.e.calls, (std::vector<std::string>{"read_upstream:65536"}));
  w.complete_writes();
  EXPECT_EQ(w.t.closing(), Tunnel::Closing::sent);
  // The client's Close reply still goes up; the upstream's end ends the client's side, and the
  // client's end finishes the tunnel.
  const std::string reply = "\x88\x82"
                            "abcd\x62\x8a"; // Close 1000, masked with "abcd"
  w.client_sends(reply);
  EXPECT_EQ(w.e.to_upstream, reply);
  w.upstream_sends(frame(true, kClose, "\x03\xe8"));
  EXPECT_EQ(w.e.to_client, kWeirClose);
  w.t.on_upstream_read(asio::error::eof, 0);
  EXPECT_EQ(w.e.calls.back(), "end_client");
  EXPECT_FALSE(w.e.done);
  w.t.on_client_read(asio::error::eof, 0);
  EXPECT_TRUE(w.e.done);
  EXPECT_FALSE(w.e.aborted);
}

// The drain comes after the upstream's stream was read up to any byte: the client gets exactly
// the stream up to the end of the message that byte is in, then weir's Close; the rest arrives
// in one read, or a byte per read.
TEST(TunnelDrain, CloseAtTheNextMessageBoundaryWhateverTheSplit) {
  std::string stream;
  std::vector<size_t> ends;
  auto message = [&](const std::string& frames) {
    stream += frames;
    ends.push_back(stream.size());
  };
  message(frame(true, kText, "alpha"));
  message(frame(true, kBinary, std::string(300, 'x'))); // a 16-bit length
  message(frame(false, kText, "be") + frame(true, kPing, "?") + frame(false, kCont, "t") +
          frame(true, kCont, "a"));
  message(frame(true, kText, "gamma"));
  for (bool bytewise : {false, true}) {
    for (size_t split = 1; split < stream.size(); ++split) {
      Ws w;
      w.upstream_sends(stream.substr(0, split));
      w.complete_writes();
      w.t.drain();
      w.complete_writes();
      for (size_t at = split; at < stream.size() && w.t.to_client() == Tunnel::Pump::reading;) {
        const size_t n = bytewise ? 1 : stream.size() - at;
        w.upstream_sends(stream.substr(at, n));
        w.complete_writes();
        at += n;
      }
      const size_t end = *std::lower_bound(ends.begin(), ends.end(), split);
      ASSERT_EQ(w.e.to_client, stream.substr(0, end) + kWeirClose)
          << "split " << split << (bytewise ? ", a byte per read" : "");
      ASSERT_EQ(w.t.closing(), Tunnel::Closing::sent);
      ASSERT_FALSE(w.e.aborted);
    }
  }
}

TEST(TunnelDrain, AWriteUnderWayEndsFirst) {
  // The upstream's frame is still being written when the drain comes: the Close follows it.
  Ws w;
  w.upstream_sends(frame(true, kText, "whole"));
  w.t.drain();
  EXPECT_EQ(w.e.to_client, frame(true, kText, "whole"));
  w.complete_writes();
  EXPECT_EQ(w.e.to_client, frame(true, kText, "whole") + kWeirClose);

  // Half a frame came with the 101: the drain waits for its other half.
  std::string f = frame(true, kBinary, "0123456789");
  Ws v(true, f.substr(0, 4));
  v.t.drain();
  EXPECT_EQ(v.t.closing(), Tunnel::Closing::boundary);
  v.upstream_sends(f.substr(4) + frame(true, kText, "dropped"));
  v.complete_writes();
  EXPECT_EQ(v.e.to_client, f + kWeirClose);
}

TEST(TunnelDrain, NoSecondCloseAfterTheUpstreams) {
  Ws w;
  w.upstream_sends(frame(true, kClose, "\x03\xe9"));
  w.complete_writes();
  w.t.drain();
  EXPECT_EQ(w.t.closing(), Tunnel::Closing::peer);
  EXPECT_EQ(w.e.to_client, frame(true, kClose, "\x03\xe9"));
  // The handshake has its cap all the same.
  EXPECT_FALSE(w.t.check_deadline(w.e.now + Tunnel::kHandshakeWait - 1ms));
  EXPECT_FALSE(w.e.aborted);
  EXPECT_TRUE(w.t.check_deadline(w.e.now + Tunnel::kHandshakeWait));
  EXPECT_TRUE(w.e.aborted);
}

TEST(TunnelDrain, CapsCloseBothSides) {
  // No boundary within kBoundaryWait (a frame that never ends).
  Ws w;
  w.upstream_sends(frame(false, kText, "a fragment, and no more"));
  w.complete_writes();
  w.t.drain();
  EXPECT_EQ(w.t.closing(), Tunnel::Closing::boundary);
  EXPECT_EQ(w.t.close_deadline(), w.e.now + Tunnel::kBoundaryWait);
  EXPECT_FALSE(w.t.check_deadline(w.e.now + Tunnel::kBoundaryWait - 1ms));
  EXPECT_TRUE(w.t.check_deadline(w.e.now + Tunnel::kBoundaryWait));
  EXPECT_TRUE(w.e.aborted);

  // The Close went at 2 s; the client never answers: closed kHandshakeWait after it.
  Ws v;
  v.upstream_sends(frame(true, kText, "x").substr(0, 1));
  v.complete_writes();
  v.t.drain();
  v.e.now += 2s;
  v.upstream_sends(frame(true, kText, "x").substr(1));
  v.complete_writes();
  EXPECT_EQ(v.t.closing(), Tunnel::Closing::sent);
  EXPECT_EQ(v.t.close_deadline(), v.e.now + Tunnel::kHandshakeWait);
  EXPECT_FALSE(v.t.check_deadline(v.e.now + Tunnel::kHandshakeWait - 1ms));
  EXPECT_TRUE(v.t.check_deadline(v.e.now + Tunnel::kHandshakeWait));
  EXPECT_TRUE(v.e.aborted);
}

TEST(TunnelDrain, TheUpstreamsEndWaitsBehindTheClose) {
  Ws w;
  w.t.on_client_read(asio::error::eof, 0); // the client ended its side first
  w.t.drain();
  EXPECT_EQ(w.t.closing(), Tunnel::Closing::writing);
  w.e.calls.clear();
  w.t.on_upstream_read(asio::error::eof, 0);
  EXPECT_TRUE(w.e.calls.empty()) << "no end of the client's side over weir's Close";
  EXPECT_FALSE(w.e.done);
  w.complete_writes();
  EXPECT_EQ(w.e.calls, (std::vector<std::string>{"end_client"}));
  EXPECT_TRUE(w.e.done);
  EXPECT_EQ(w.e.to_client, kWeirClose);
}

TEST(TunnelDrain, OnceOnly) {
  Ws w;
  w.t.drain();
  w.complete_writes();
  w.t.drain();
  w.complete_writes();
  EXPECT_EQ(w.e.to_client, kWeirClose);
}

TEST(TunnelDrain, BrokenFramingGivesUpOnAnOrderlyEnd) {
  // Broken before the drain.
  Ws w;
  w.upstream_sends(frame(true, kCont, "a continuation of nothing"));
  w.complete_writes();
  w.t.drain();
  EXPECT_TRUE(w.e.aborted);
  // Broken while the drain waits for a boundary.
  Ws v;
  v.upstream_sends(frame(false, kText, "frag"));
  v.complete_writes();
  v.t.drain();
  EXPECT_FALSE(v.e.aborted);
  v.upstream_sends(frame(true, kText, "a new message inside the fragmented one"));
  EXPECT_TRUE(v.e.aborted);
}

TEST(TunnelDrain, ADrainedUpstreamThatEndedIsClosedAtOnce) {
  Ws w;
  w.t.on_upstream_read(asio::error::eof, 0);
  w.t.drain();
  EXPECT_TRUE(w.e.aborted);
}

} // namespace
} // namespace weir::runtime
