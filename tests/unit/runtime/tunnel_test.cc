// The tunnel's two pumps driven by hand through a fake pair of ends: no sockets.
#include "weir/runtime/tunnel.h"

#include <boost/asio/error.hpp>
#include <cstring>
#include <gtest/gtest.h>
#include <string>
#include <vector>

namespace weir::runtime {
namespace {

namespace asio = boost::asio;

struct FakeEnds : TunnelEnds {
  std::vector<std::string> calls;
  std::string to_client, to_upstream; // what was written to each side
  int activity = 0;
  bool done = false;

  void tunnel_read_client(asio::mutable_buffer b) override {
    calls.push_back("read_client:" + std::to_string(b.size()));
  }
  void tunnel_write_client(asio::const_buffer b) override {
    calls.push_back("write_client");
    to_client.append(static_cast<const char*>(b.data()), b.size());
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

} // namespace
} // namespace weir::runtime
