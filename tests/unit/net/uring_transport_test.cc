// UringTransport on a real Ring and real loopback sockets: reads through provided buffers (a
// waiting connection holds none), bytes kept for the next read, the end of the stream, writes
// larger than the socket takes, connect, close with operations pending, completions that arrive
// after their transport went, and more waiting connections than provided buffers.
#include "loopback.h"
#include "run_loop.h"
#include "weir/net/uring_transport.h"

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <gtest/gtest.h>
#include <memory>
#include <poll.h>
#include <string>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

namespace weir::net {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

class UringTransportTest : public testing::Test {
protected:
  void SetUp() override {
    std::string why;
    if (!Ring::available(&why)) GTEST_SKIP() << "io_uring not available here: " << why;
    make_ring(Ring::Options{});
  }
  void make_ring(Ring::Options options) {
    ring_.reset();
    ring_ = std::make_unique<Ring>(io_, options);
    ring_->enable();
  }
  bool run_until(const std::function<bool()>& done, std::chrono::milliseconds limit = 5s) {
    return net::run_until(io_, done, limit);
  }
  std::unique_ptr<UringTransport> adopt(Recorder& owner, int fd) {
    auto t = std::make_unique<UringTransport>(*ring_, io_, &owner, alloc_);
    error_code ec;
    EXPECT_TRUE(t->adopt(fd, ec)) << ec.message();
    return t;
  }

  HandlerPool pool_;
  HandlerAllocator<void> alloc_{&pool_};
  asio::io_context io_;
  std::unique_ptr<Ring> ring_;
  Loopback net_;
};

TEST_F(UringTransportTest, AWaitingConnectionHoldsNoBufferAndTheBytesWaitInAProvidedOne) {
  auto [client, server] = net_.pair();
  Recorder owner;
  auto t = adopt(owner, server);
  t->wait_readable();
  io_.poll();
  EXPECT_TRUE(owner.calls.empty());
  EXPECT_EQ(ring_->buffers_out(), 0u) << "waiting takes no buffer";
  ASSERT_EQ(::send(client, "hello", 5, 0), 5);
  ASSERT_TRUE(run_until([&] { return !owner.calls.empty(); }));
  EXPECT_EQ(owner.calls, std::vector<std::string>{"readable"});
  EXPECT_EQ(ring_->buffers_out(), 1u);
  EXPECT_FALSE(t->quiet());
  char buf[64];
  error_code ec;
  EXPECT_EQ(t->read_now(asio::buffer(buf), ec), 5u);
  EXPECT_FALSE(ec);
  EXPECT_EQ(std::string(buf, 5), "hello");
  EXPECT_EQ(ring_->buffers_out(), 0u) << "read out: the buffer goes back";
  EXPECT_EQ(t->read_now(asio::buffer(buf), ec), 0u);
  EXPECT_EQ(ec, asio::error::would_block);
  EXPECT_TRUE(t->quiet());
  ::close(client);
}

TEST_F(UringTransportTest, AReadTakesNoMoreThanItsBufferHoldsAndLeavesTheRestInTheSocket) {
  auto [client, server] = net_.pair();
  Recorder owner;
  auto t = adopt(owner, server);
  char buf[4];
  t->read(asio::buffer(buf));
  io_.poll();
  EXPECT_TRUE(owner.calls.empty());
  ASSERT_EQ(::send(client, "abcdefgh", 8, 0), 8);
  ASSERT_TRUE(run_until([&] { return !owner.calls.empty(); }));
  EXPECT_EQ(owner.calls, std::vector<std::string>{"read 4"});
  EXPECT_EQ(std::string(buf, 4), "abcd");
  EXPECT_EQ(ring_->buffers_out(), 0u) << "nothing left over in a provided buffer";
  EXPECT_FALSE(t->quiet()) << "the rest is in the socket";
  t->read(asio::buffer(buf));
  ASSERT_TRUE(run_until([&] { return owner.calls.size() == 2; }));
  EXPECT_EQ(owner.calls[1], "read 4");
  EXPECT_EQ(std::string(buf, 4), "efgh");
  ::close(client);
}

TEST_F(UringTransportTest, BytesAWaitersReadHadNoRoomForAreKeptWithoutHoldingAProvidedBuffer) {
  // 256 connections each keeping the end of a head in a provided buffer would starve every recv
  // of the worker: the rest moves to the connection's own memory.
  auto [client, server] = net_.pair();
  Recorder owner;
  auto t = adopt(owner, server);
  t->wait_readable();
  ASSERT_EQ(::send(client, "abcdefgh", 8, 0), 8);
  ASSERT_TRUE(run_until([&] { return !owner.calls.empty(); }));
  EXPECT_EQ(ring_->buffers_out(), 1u);
  char buf[4];
  error_code ec;
  ASSERT_EQ(t->read_now(asio::buffer(buf), ec), 4u);
  EXPECT_EQ(std::string(buf, 4), "abcd");
  EXPECT_EQ(ring_->buffers_out(), 0u) << "the provided buffer went back at once";
  EXPECT_FALSE(t->quiet());
  uint64_t completions = ring_->completions();
  owner.calls.clear();
  t->read(asio::buffer(buf)); // from the kept bytes: posted, no kernel
  io_.poll();
  EXPECT_EQ(owner.calls, std::vector<std::string>{"read 4"});
  EXPECT_EQ(std::string(buf, 4), "efgh");
  EXPECT_EQ(ring_->completions(), completions);
  EXPECT_TRUE(t->quiet());
  ::close(client);
}

TEST_F(UringTransportTest, TheEndOfTheStreamIsReadAsEofEveryTimeAfterTheLastBytes) {
  auto [client, server] = net_.pair();
  Recorder owner;
  auto t = adopt(owner, server);
  ASSERT_EQ(::send(client, "last words", 10, 0), 10);
  ::close(client);
  t->wait_readable();
  ASSERT_TRUE(run_until([&] { return !owner.calls.empty(); }));
  char buf[64];
  error_code ec;
  EXPECT_EQ(t->read_now(asio::buffer(buf), ec), 10u);
  EXPECT_FALSE(ec);
  owner.calls.clear();
  t->wait_readable(); // the end is behind the bytes: a second recv finds it
  ASSERT_TRUE(run_until([&] { return !owner.calls.empty(); }));
  EXPECT_EQ(owner.calls, std::vector<std::string>{"readable"});
  EXPECT_FALSE(t->quiet());
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(t->read_now(asio::buffer(buf), ec), 0u);
    EXPECT_EQ(ec, asio::error::eof);
  }
  owner.calls.clear();
  t->wait_readable(); // and a wait armed now reports at once, from the loop
  EXPECT_TRUE(owner.calls.empty());
  io_.poll();
  EXPECT_EQ(owner.calls, std::vector<std::string>{"readable"});
}

TEST_F(UringTransportTest, BytesLeftInTheSocketBehindAFullBufferMakeItUnquiet) {
  // A response that fills the provided buffer exactly, and stray bytes behind it: the pool
  // must not take the connection for clean (hardening: bytes past a response's framing).
  Ring::Options small;
  small.buffer_size = 4096;
  make_ring(small);
  auto [client, server] = net_.pair();
  Recorder owner;
  auto t = adopt(owner, server);
  std::string bytes(4096, 'r');
  ASSERT_EQ(::send(client, bytes.data(), bytes.size(), 0), 4096);
  ASSERT_EQ(::send(client, "stray", 5, 0), 5);
  std::vector<char> buf(4096);
  t->read(asio::buffer(buf));
  ASSERT_TRUE(run_until([&] { return !owner.calls.empty(); }));
  ASSERT_EQ(owner.calls[0], "read 4096");
  EXPECT_FALSE(t->quiet()) << "the stray bytes are in the socket";
  EXPECT_FALSE(t->quiet_now());
  ::close(client);
}

TEST_F(UringTransportTest, AGatherWriteLargerThanTheSocketTakesGoesOutWhole) {
  auto [client, server] = net_.pair();
  int small = 4096;
  ::setsockopt(server, SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
  Recorder owner;
  auto t = adopt(owner, server);
  std::string a(300000, 'a'), b(300000, 'b');
  std::vector<asio::const_buffer> out{asio::buffer(a), asio::buffer(b)};
  t->write(BufferView(out));
  io_.poll();
  EXPECT_TRUE(owner.calls.empty()) << "the socket cannot take 600 KB at once";
  std::string got;
  char chunk[65536];
  ASSERT_TRUE(run_until([&] {
    ssize_t n = ::recv(client, chunk, sizeof chunk, MSG_DONTWAIT);
    if (n > 0) got.append(chunk, static_cast<size_t>(n));
    return !owner.calls.empty() && got.size() == a.size() + b.size();
  }));
  EXPECT_EQ(owner.calls, std::vector<std::string>{"written 600000"});
  EXPECT_EQ(got, a + b);
  ::close(client);
}

TEST_F(UringTransportTest, ConnectSucceedsOrSaysWhyAndCloseAbortsWhatIsPending) {
  Recorder owner;
  UringTransport t(*ring_, io_, &owner, alloc_);
  t.connect(net_.endpoint());
  ASSERT_TRUE(run_until([&] { return !owner.calls.empty(); }));
  EXPECT_EQ(owner.calls, std::vector<std::string>{"connected"});
  int peer = net_.accept();
  ASSERT_GE(peer, 0);
  char buf[8];
  t.read(asio::buffer(buf));
  owner.calls.clear();
  t.close();
  EXPECT_TRUE(owner.calls.empty()) << "aborted from the loop, not inside close()";
  io_.poll();
  ASSERT_EQ(owner.calls.size(), 1u);
  EXPECT_EQ(owner.calls[0].rfind("read 0 ", 0), 0u) << owner.calls[0];
  // The peer sees the connection end (the cancelled recv let the socket go).
  ASSERT_TRUE(run_until([&] { return ::recv(peer, buf, sizeof buf, MSG_DONTWAIT) == 0; }));
  ::close(peer);

  // Nobody listens on port 1: refused, and said so.
  Recorder refused;
  UringTransport u(*ring_, io_, &refused, alloc_);
  u.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 1));
  ASSERT_TRUE(run_until([&] { return !refused.calls.empty(); }));
  EXPECT_EQ(refused.calls[0],
            "connected " + error_code(ECONNREFUSED, boost::system::system_category()).message());
}

TEST_F(UringTransportTest,
       ACompletionForATransportThatWentIsDroppedNotDeliveredToItsSlotsNextUser) {
  auto [c1, s1] = net_.pair();
  auto [c2, s2] = net_.pair();
  Recorder first, second;
  auto t1 = adopt(first, s1);
  t1->wait_readable();
  io_.poll();                  // its recv is in the kernel
  t1.reset();                  // destroyed with the recv armed: cancelled, and its slot free
  auto t2 = adopt(second, s2); // takes the same slot, a new generation
  t2->wait_readable();
  ::send(c1, "old", 3, MSG_NOSIGNAL); // to the socket the first transport closed
  ASSERT_EQ(::send(c2, "new", 3, 0), 3);
  ASSERT_TRUE(run_until([&] { return !second.calls.empty(); }));
  io_.restart();
  io_.run_for(20ms);
  EXPECT_TRUE(first.calls.empty());
  EXPECT_EQ(second.calls, std::vector<std::string>{"readable"});
  char buf[8];
  error_code ec;
  EXPECT_EQ(t2->read_now(asio::buffer(buf), ec), 3u);
  EXPECT_EQ(std::string(buf, 3), "new");
  EXPECT_EQ(ring_->buffers_out(), 0u) << "no buffer is lost to the gone transport";
  ::close(c1);
  ::close(c2);
}

TEST_F(UringTransportTest, MoreConnectionsWithBytesThanProvidedBuffersAllGetTheirBytes) {
  Ring::Options two;
  two.buffers = 2;
  two.buffer_size = 4096;
  make_ring(two);
  constexpr int kConnections = 12;
  std::vector<int> clients;
  std::vector<std::unique_ptr<UringTransport>> transports;
  std::vector<Recorder> owners(kConnections);
  std::vector<std::string> got(kConnections);
  for (int i = 0; i < kConnections; ++i) {
    auto [client, server] = net_.pair();
    clients.push_back(client);
    transports.push_back(adopt(owners[static_cast<size_t>(i)], server));
  }
  for (int i = 0; i < kConnections; ++i) {
    auto& t = *transports[static_cast<size_t>(i)];
    owners[static_cast<size_t>(i)].after = [&t, &got, i] {
      char buf[64];
      error_code ec;
      size_t n = t.read_now(asio::buffer(buf), ec); // as an owner does: at once
      got[static_cast<size_t>(i)].append(buf, n);
    };
    t.wait_readable();
  }
  io_.poll();
  for (int i = 0; i < kConnections; ++i) {
    std::string msg = "message " + std::to_string(i);
    ASSERT_EQ(::send(clients[static_cast<size_t>(i)], msg.data(), msg.size(), 0),
              static_cast<ssize_t>(msg.size()));
  }
  ASSERT_TRUE(run_until([&] {
    for (int i = 0; i < kConnections; ++i)
      if (got[static_cast<size_t>(i)] != "message " + std::to_string(i)) return false;
    return true;
  })) << "a connection starved of buffers never got its bytes";
  EXPECT_EQ(ring_->buffers_out(), 0u);
  for (int c : clients)
    ::close(c);
}

TEST_F(UringTransportTest, ConnectionsThatStartedWaitingWhileEveryBufferWasOutAreAllWokenLater) {
  // Waits armed while no provided buffer is free fail at once (ENOBUFS, bytes or not) and wait
  // for a buffer. One coming back must not wake just one of them: a woken recv that finds no
  // bytes gives its buffer back to the kernel, and the others would wait forever.
  Ring::Options two;
  two.buffers = 2;
  two.buffer_size = 4096;
  make_ring(two);
  std::vector<int> clients;
  std::vector<std::unique_ptr<UringTransport>> holders, waiters;
  std::vector<Recorder> holder_owners(2), waiter_owners(5);
  for (size_t i = 0; i < holder_owners.size(); ++i) {
    auto [client, server] = net_.pair();
    clients.push_back(client);
    holders.push_back(adopt(holder_owners[i], server));
    holders.back()->wait_readable();
    ASSERT_EQ(::send(client, "held", 4, 0), 4);
  }
  ASSERT_TRUE(run_until([&] { return ring_->buffers_out() == 2; })) << "both buffers held";
  std::vector<std::string> got(waiter_owners.size());
  for (size_t i = 0; i < waiter_owners.size(); ++i) {
    auto [client, server] = net_.pair();
    clients.push_back(client);
    waiters.push_back(adopt(waiter_owners[i], server));
    UringTransport& t = *waiters.back();
    waiter_owners[i].after = [&t, &got, i] { // as an owner does: reads at once
      char in[16];
      error_code e;
      size_t n = t.read_now(asio::buffer(in), e);
      got[i].append(in, n);
    };
    t.wait_readable();
  }
  uint64_t before = ring_->completions();
  io_.restart();
  io_.run_for(30ms); // their recvs are refused: no buffer
  EXPECT_EQ(ring_->completions() - before, waiters.size()) << "each recv was refused (ENOBUFS)";
  char buf[16];
  error_code ec;
  for (auto& h : holders)
    ASSERT_EQ(h->read_now(asio::buffer(buf), ec), 4u); // both buffers back
  io_.restart();
  io_.run_for(30ms); // the woken recvs find no bytes yet
  EXPECT_EQ(ring_->buffers_out(), 0u);
  // Only the last ones to have asked get bytes: no read by the first ones brings a buffer back.
  const size_t first_sender = 2;
  for (size_t i = first_sender; i < waiters.size(); ++i)
    ASSERT_EQ(::send(clients[holders.size() + i], "late", 4, 0), 4);
  ASSERT_TRUE(run_until([&] {
    for (size_t i = first_sender; i < waiters.size(); ++i)
      if (got[i] != "late") return false;
    return true;
  })) << "a connection that waited for a buffer was never woken";
  for (size_t i = 0; i < first_sender; ++i)
    EXPECT_TRUE(waiter_owners[i].calls.empty());
  for (int c : clients)
    ::close(c);
}

TEST_F(UringTransportTest, TheLastWriteEndsTheStreamBeforeItsCompletionIsHeard) {
  check_write_last_ends_the_stream(
      net_, [this](Recorder& o, int fd) { return adopt(o, fd); },
      [this](const std::function<bool()>& done) { return run_until(done); });
}

} // namespace
} // namespace weir::net
