// EpollTransport on a real Poller and real loopback sockets: readiness by edges, reads that
// need no syscall to know the socket is empty, partial gather writes, connect, close with
// operations pending, and a transport closed while its event waits in the same batch.
#include "loopback.h"
#include "run_loop.h"
#include "weir/net/epoll_transport.h"

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstring>
#include <functional>
#include <gtest/gtest.h>
#include <memory>
#include <netinet/in.h>
#include <poll.h>
#include <string>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

namespace weir::net {
namespace {

namespace asio = boost::asio;
using boost::system::error_code;
using namespace std::chrono_literals;

class EpollTransportTest : public testing::Test {
protected:
  // Runs the loop until `done` or a deadline; false on the deadline.
  bool run_until(const std::function<bool()>& done, std::chrono::milliseconds limit = 5s) {
    return net::run_until(io_, done, limit);
  }
  // Adopts `fd` and takes it to where an accepted connection is once its first read found
  // nothing: known empty, registered with the Poller (a wait is what registers it).
  void adopt_drained(EpollTransport& t, Recorder& owner, int fd) {
    error_code ec;
    ASSERT_TRUE(t.adopt(fd, ec)) << ec.message();
    t.wait_readable(); // presumed ready until asked: reported at once
    io_.poll();
    ASSERT_EQ(owner.calls, std::vector<std::string>{"readable"});
    char byte;
    ASSERT_EQ(t.read_now(asio::buffer(&byte, 1), ec), 0u);
    ASSERT_EQ(ec, asio::error::would_block);
    owner.calls.clear();
    t.wait_readable(); // registers; the ADD's edge says output only
    io_.restart();
    io_.poll();
    ASSERT_TRUE(owner.calls.empty());
  }

  HandlerPool pool_; // outlives the io_context (its operations' memory)
  HandlerAllocator<void> alloc_{&pool_};
  asio::io_context io_;
  Poller poller_{io_};
  Loopback net_;
};

TEST_F(EpollTransportTest, AWaitIsToldByTheEdgeAndAShortReadKnowsTheSocketIsEmpty) {
  auto [client, server] = net_.pair();
  Recorder owner;
  EpollTransport t(poller_, io_, &owner, alloc_);
  error_code ec;
  adopt_drained(t, owner, server); // and a wait pending: nothing to read yet
  ASSERT_EQ(::send(client, "hello", 5, 0), 5);
  ASSERT_TRUE(run_until([&] { return !owner.calls.empty(); }));
  EXPECT_EQ(owner.calls, std::vector<std::string>{"readable"});

  char buf[64];
  EXPECT_EQ(t.read_now(asio::buffer(buf), ec), 5u);
  EXPECT_FALSE(ec);
  EXPECT_EQ(std::string(buf, 5), "hello");
  // Less than asked for: drained, so the next read answers without the kernel, and the
  // connection counts as quiet (no MSG_PEEK either).
  EXPECT_EQ(t.read_now(asio::buffer(buf), ec), 0u);
  EXPECT_EQ(ec, asio::error::would_block);
  EXPECT_TRUE(t.quiet());
  // Bytes that come later make it unquiet once their edge is in.
  ASSERT_EQ(::send(client, "x", 1, 0), 1);
  ASSERT_TRUE(run_until([&] { return !t.quiet(); }));
  ::close(client);
}

TEST_F(EpollTransportTest, APendingReadCompletesFromTheEdgeAndAReadyOneIsPostedNotRunInline) {
  auto [client, server] = net_.pair();
  Recorder owner;
  EpollTransport t(poller_, io_, &owner, alloc_);
  error_code ec;
  ASSERT_TRUE(t.adopt(server, ec));
  char buf[4];
  t.read(asio::buffer(buf));
  io_.poll();
  EXPECT_TRUE(owner.calls.empty());
  ASSERT_EQ(::send(client, "abcdefgh", 8, 0), 8);
  ASSERT_TRUE(run_until([&] { return !owner.calls.empty(); }));
  EXPECT_EQ(owner.calls, std::vector<std::string>{"read 4"});
  EXPECT_EQ(std::string(buf, 4), "abcd");
  // The read filled its buffer: more may wait, so the next read asks at once, and its
  // completion still comes from the loop, not from inside read().
  t.read(asio::buffer(buf));
  EXPECT_EQ(owner.calls.size(), 1u);
  io_.poll();
  ASSERT_EQ(owner.calls.size(), 2u);
  EXPECT_EQ(owner.calls[1], "read 4");
  EXPECT_EQ(std::string(buf, 4), "efgh");
  ::close(client);
}

TEST_F(EpollTransportTest, TheEndOfTheStreamIsReadAsEofEveryTime) {
  auto [client, server] = net_.pair();
  Recorder owner;
  EpollTransport t(poller_, io_, &owner, alloc_);
  error_code ec;
  ASSERT_TRUE(t.adopt(server, ec));
  t.wait_readable();
  ::close(client);
  ASSERT_TRUE(run_until([&] { return !owner.calls.empty(); }));
  EXPECT_EQ(owner.calls, std::vector<std::string>{"readable"});
  char buf[8];
  EXPECT_EQ(t.read_now(asio::buffer(buf), ec), 0u);
  EXPECT_EQ(ec, asio::error::eof);
  EXPECT_FALSE(t.quiet());
  EXPECT_EQ(t.read_now(asio::buffer(buf), ec), 0u);
  EXPECT_EQ(ec, asio::error::eof);
}

TEST_F(EpollTransportTest, AnEndRightBehindTheLastBytesIsReadAfterThemWithoutAnotherEdge) {
  // A response and the upstream's close in one go: the short read that returns the bytes must
  // not count the socket as drained, or the end is never read (no edge announces it again).
  auto [client, server] = net_.pair();
  Recorder owner;
  EpollTransport t(poller_, io_, &owner, alloc_);
  error_code ec;
  ASSERT_TRUE(t.adopt(server, ec));
  ASSERT_EQ(::send(client, "last words", 10, 0), 10);
  ::close(client);
  t.wait_readable();
  ASSERT_TRUE(run_until([&] { return !owner.calls.empty(); }));
  io_.restart();
  io_.run_for(20ms); // both edges in, whatever order they came in
  char buf[64];
  EXPECT_EQ(t.read_now(asio::buffer(buf), ec), 10u);
  EXPECT_FALSE(ec);
  EXPECT_FALSE(t.quiet());
  EXPECT_EQ(t.read_now(asio::buffer(buf), ec), 0u);
  EXPECT_EQ(ec, asio::error::eof);
  owner.calls.clear();
  t.wait_readable(); // and a wait armed now reports at once, from the loop
  io_.poll();
  EXPECT_EQ(owner.calls, std::vector<std::string>{"readable"});
}

TEST_F(EpollTransportTest, QuietNowSeesBytesWhoseEdgeTheLoopHasNotHandledYet) {
  // A pooled connection taken again in the same turn of the loop (pipelined requests): quiet()
  // trusts the last short read, quiet_now() asks the kernel until the Poller has emptied the
  // event queue since that read.
  auto [client, server] = net_.pair();
  Recorder owner;
  EpollTransport t(poller_, io_, &owner, alloc_);
  error_code ec;
  adopt_drained(t, owner, server);
  ASSERT_EQ(::send(client, "response", 8, 0), 8);
  ASSERT_TRUE(run_until([&] { return !owner.calls.empty(); }));
  char buf[64];
  ASSERT_EQ(t.read_now(asio::buffer(buf), ec), 8u);
  ASSERT_EQ(::send(client, "stray", 5, 0), 5); // its edge is not handled yet
  EXPECT_TRUE(t.quiet()) << "quiet() answers from the last read, by design";
  EXPECT_FALSE(t.quiet_now()) << "quiet_now() must find the stray bytes";
  // Once the loop has handled the edge, both see them.
  io_.restart();
  io_.run_for(20ms);
  EXPECT_FALSE(t.quiet());
  EXPECT_FALSE(t.quiet_now());
  ASSERT_EQ(t.read_now(asio::buffer(buf), ec), 5u);
  // Nothing more comes: after a settled turn of the loop quiet_now() is sure without asking.
  io_.restart();
  io_.run_for(20ms);
  EXPECT_TRUE(t.quiet_now());
  ::close(client);
}

TEST_F(EpollTransportTest, AnEmptyReadReadsNothingAndIsNotAnEnd) {
  auto [client, server] = net_.pair();
  Recorder owner;
  EpollTransport t(poller_, io_, &owner, alloc_);
  error_code ec;
  ASSERT_TRUE(t.adopt(server, ec));
  ASSERT_EQ(::send(client, "x", 1, 0), 1);
  t.wait_readable();
  ASSERT_TRUE(run_until([&] { return !owner.calls.empty(); }));
  EXPECT_EQ(t.read_now(asio::mutable_buffer(), ec), 0u);
  EXPECT_FALSE(ec) << ec.message();
  char buf[4];
  EXPECT_EQ(t.read_now(asio::buffer(buf), ec), 1u);
  ::close(client);
}

TEST_F(EpollTransportTest, AGatherWriteLargerThanTheSocketTakesGoesOutWholeOnOutputEdges) {
  auto [client, server] = net_.pair();
  Recorder owner;
  EpollTransport t(poller_, io_, &owner, alloc_);
  error_code ec;
  ASSERT_TRUE(t.adopt(server, ec));
  // 8 MiB in three pieces with an empty one between: far more than the socket buffers hold.
  std::string a(3 << 20, 'a'), b(5 << 20, 'b'), c = "end";
  std::vector<asio::const_buffer> pieces{asio::buffer(a), asio::const_buffer(), asio::buffer(b),
                                         asio::buffer(c)};
  t.write(BufferView(pieces));
  std::string got;
  char buf[1 << 16];
  ASSERT_TRUE(run_until(
      [&] {
        ssize_t n;
        while ((n = ::recv(client, buf, sizeof buf, MSG_DONTWAIT)) > 0)
          got.append(buf, static_cast<size_t>(n));
        return !owner.calls.empty() && got.size() == a.size() + b.size() + c.size();
      },
      20s));
  EXPECT_EQ(owner.calls, std::vector<std::string>{"written " + std::to_string(got.size())});
  EXPECT_TRUE(got == a + b + c);
  ::close(client);
}

TEST_F(EpollTransportTest, ConnectSucceedsOrSaysWhyAndCloseAbortsWhatIsPending) {
  int accepted = -1;
  {
    Recorder owner;
    EpollTransport t(poller_, io_, &owner, alloc_);
    t.connect(net_.endpoint());
    ASSERT_TRUE(run_until([&] { return !owner.calls.empty(); }));
    EXPECT_EQ(owner.calls, std::vector<std::string>{"connected"});
    accepted = net_.accept();
    ASSERT_GE(accepted, 0);
    // Pending read and wait-free close: the read completes aborted, from the loop.
    char buf[8];
    t.read(asio::buffer(buf));
    t.close();
    EXPECT_EQ(owner.calls.size(), 1u);
    io_.poll();
    ASSERT_EQ(owner.calls.size(), 2u);
    EXPECT_EQ(owner.calls[1].rfind("read 0 ", 0), 0u) << owner.calls[1];
    EXPECT_NE(owner.calls[1].find("cancel"), std::string::npos) << owner.calls[1];
  }
  ::close(accepted);
  // A port nobody listens on: refused.
  asio::ip::tcp::endpoint ep;
  {
    Loopback gone;
    ep = gone.endpoint();
  } // closed: nobody listens there now
  Recorder owner;
  EpollTransport t(poller_, io_, &owner, alloc_);
  t.connect(ep);
  ASSERT_TRUE(run_until([&] { return !owner.calls.empty(); }));
  ASSERT_EQ(owner.calls.size(), 1u);
  EXPECT_NE(owner.calls[0], "connected") << "a closed port must refuse";
}

TEST_F(EpollTransportTest, ATransportClosedByAnEarlierCallbackInTheSameBatchHearsNothingMore) {
  auto [c1, s1] = net_.pair();
  auto [c2, s2] = net_.pair();
  Recorder o1, o2;
  auto t1 = std::make_unique<EpollTransport>(poller_, io_, &o1, alloc_);
  auto t2 = std::make_unique<EpollTransport>(poller_, io_, &o2, alloc_);
  adopt_drained(*t1, o1, s1); // each with a wait pending
  adopt_drained(*t2, o2, s2);
  // Whichever hears first closes and deletes the other: its event, in the same batch, must be
  // dropped rather than delivered to freed memory (ASan would say so).
  bool closed_other = false;
  o1.after = [&] {
    if (closed_other) return;
    closed_other = true;
    t2->close();
    io_.poll();
    t2.reset();
  };
  o2.after = [&] {
    if (closed_other) return;
    closed_other = true;
    t1->close();
    io_.poll();
    t1.reset();
  };
  ASSERT_EQ(::send(c1, "a", 1, 0), 1);
  ASSERT_EQ(::send(c2, "b", 1, 0), 1);
  ASSERT_TRUE(run_until([&] { return closed_other; }));
  io_.restart();
  io_.run_for(50ms);
  // One heard "readable"; the other heard only its wait aborted.
  std::vector<std::string> all = o1.calls;
  all.insert(all.end(), o2.calls.begin(), o2.calls.end());
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(std::count(all.begin(), all.end(), "readable"), 1);
  ::close(c1);
  ::close(c2);
}

TEST_F(EpollTransportTest, AnAcceptedConnectionWhoseRequestIsThereIsServedWithoutRegistering) {
  // HAProxy's speculative I/O: an accepted socket is tried at once, and registered with the
  // Poller only when something has to wait. A request already there and a response that goes
  // out whole (a Connection: close exchange) cost no epoll_ctl and no turn of the loop.
  auto [client, server] = net_.pair();
  ASSERT_EQ(::send(client, "GET / HTTP/1.1\r\n\r\n", 18, 0), 18);
  Recorder owner;
  EpollTransport t(poller_, io_, &owner, alloc_);
  error_code ec;
  ASSERT_TRUE(t.adopt(server, ec));
  t.wait_readable();
  io_.poll();
  ASSERT_EQ(owner.calls, std::vector<std::string>{"readable"});
  char buf[64];
  ASSERT_EQ(t.read_now(asio::buffer(buf), ec), 18u);
  std::vector<asio::const_buffer> out{asio::buffer("HTTP/1.1 200 OK\r\n\r\n", 19)};
  t.write(BufferView(out));
  io_.poll();
  ASSERT_EQ(owner.calls.size(), 2u);
  EXPECT_EQ(owner.calls[1], "written 19");
  EXPECT_EQ(poller_.events(), 0u) << "nothing was registered, so no edge ever came";
  // The short read drained it, but with no registration no edge would say that bytes came
  // since: quiet() and quiet_now() ask the kernel.
  EXPECT_TRUE(t.quiet());
  ASSERT_EQ(::send(client, "x", 1, 0), 1);
  EXPECT_FALSE(t.quiet());
  EXPECT_FALSE(t.quiet_now());
  // And a wait armed now registers, and the ADD reports the byte that came before it.
  owner.calls.clear();
  t.wait_readable();
  io_.poll();
  ASSERT_TRUE(run_until([&] { return !owner.calls.empty(); }));
  EXPECT_EQ(owner.calls, std::vector<std::string>{"readable"});
  EXPECT_EQ(t.read_now(asio::buffer(buf), ec), 1u);
  ::close(client);
}

TEST_F(EpollTransportTest, AKeepAliveExchangeTakesOneEventPerDirectionAndNoEmptyRead) {
  // The shape of a proxied request on the upstream side: write the request, wait, read the
  // response. Counted in edges: a wait armed on a drained socket does not ask the kernel.
  auto [client, server] = net_.pair();
  Recorder owner;
  EpollTransport t(poller_, io_, &owner, alloc_);
  error_code ec;
  ASSERT_TRUE(t.adopt(server, ec));
  char buf[256];
  ASSERT_EQ(t.read_now(asio::buffer(buf), ec), 0u); // the one time it asks: nothing yet
  ASSERT_EQ(ec, asio::error::would_block);
  for (int i = 0; i < 20; ++i) {
    owner.calls.clear();
    std::vector<asio::const_buffer> req{asio::buffer("GET / HTTP/1.1\r\n\r\n", 18)};
    t.write(BufferView(req));
    t.wait_readable();
    ASSERT_TRUE(run_until([&] { return owner.calls.size() == 1; }));
    EXPECT_EQ(owner.calls[0], "written 18") << "a drained socket must not look readable";
    char in[64];
    ASSERT_EQ(::recv(client, in, sizeof in, 0), 18);
    ASSERT_EQ(::send(client, "HTTP/1.1 200 OK\r\n\r\n", 19, 0), 19);
    ASSERT_TRUE(run_until([&] { return owner.calls.size() == 2; }));
    EXPECT_EQ(owner.calls[1], "readable");
    EXPECT_EQ(t.read_now(asio::buffer(buf), ec), 19u);
    EXPECT_TRUE(t.quiet());
  }
  ::close(client);
}

TEST_F(EpollTransportTest, TheLastWriteEndsTheStreamBeforeItsCompletionIsHeard) {
  check_write_last_ends_the_stream(
      net_,
      [this](Recorder& o, int fd) {
        auto t = std::make_unique<EpollTransport>(poller_, io_, &o, alloc_);
        error_code ec;
        EXPECT_TRUE(t->adopt(fd, ec));
        return t;
      },
      [this](const std::function<bool()>& done) { return run_until(done); });
}

} // namespace
} // namespace weir::net
