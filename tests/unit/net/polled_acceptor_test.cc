// PolledAcceptor on a real listening socket: a burst is taken whole (in slices), the peer's
// address comes with the socket, pause leaves connections in the backlog and resume takes them,
// an accept error pauses, stop ends the callbacks.
#include "run_loop.h"
#include "weir/net/polled_acceptor.h"

#include <arpa/inet.h>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <fcntl.h>
#include <functional>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <unistd.h>
#include <vector>

namespace weir::net {
namespace {

using namespace std::chrono_literals;

struct Taker : AcceptOwner {
  std::vector<int> fds;
  std::vector<std::string> peers;
  std::vector<boost::system::error_code> errors;
  std::function<void()> after;
  void on_accepted(int fd, const sockaddr* peer, socklen_t) override {
    fds.push_back(fd);
    char ip[INET6_ADDRSTRLEN] = {};
    if (peer->sa_family == AF_INET)
      ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(peer)->sin_addr, ip, sizeof ip);
    peers.emplace_back(ip);
    if (after) after();
  }
  void on_accept_error(const boost::system::error_code& ec) override { errors.push_back(ec); }
  ~Taker() {
    for (int fd : fds)
      ::close(fd);
  }
};

class PolledAcceptorTest : public testing::Test {
protected:
  PolledAcceptorTest() {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(listen_fd_, 512);
    socklen_t len = sizeof a;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
    addr_ = a;
  }
  ~PolledAcceptorTest() override {
    for (int fd : clients_)
      ::close(fd);
    ::close(listen_fd_);
  }
  void connect_clients(int n) {
    for (int i = 0; i < n; ++i) {
      int c = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      ASSERT_EQ(::connect(c, reinterpret_cast<sockaddr*>(&addr_), sizeof addr_), 0);
      clients_.push_back(c);
    }
  }
  bool run_until(const std::function<bool()>& done, std::chrono::milliseconds limit = 5s) {
    return net::run_until(io_, done, limit);
  }
  boost::asio::io_context io_;
  Poller poller_{io_};
  int listen_fd_ = -1;
  sockaddr_in addr_{};
  std::vector<int> clients_;
};

TEST_F(PolledAcceptorTest, ABurstIsTakenWholeInSlicesWithNonBlockingSocketsAndPeerAddresses) {
  connect_clients(10); // queued before the acceptor starts: no edge will announce them
  Taker taker;
  PolledAcceptor acceptor(poller_, io_, listen_fd_, &taker);
  boost::system::error_code ec;
  ASSERT_TRUE(acceptor.start(ec)) << ec.message();
  EXPECT_TRUE(taker.fds.empty()) << "never inside start()";
  connect_clients(2 * PolledAcceptor::kSlice + 5);
  const size_t total = clients_.size();
  ASSERT_TRUE(run_until([&] { return taker.fds.size() == total; }));
  for (int fd : taker.fds)
    EXPECT_TRUE(::fcntl(fd, F_GETFL) & O_NONBLOCK);
  for (const std::string& p : taker.peers)
    EXPECT_EQ(p, "127.0.0.1");
  EXPECT_TRUE(taker.errors.empty());
}

TEST_F(PolledAcceptorTest, PausedConnectionsWaitInTheBacklogAndResumeTakesThem) {
  Taker taker;
  PolledAcceptor acceptor(poller_, io_, listen_fd_, &taker);
  boost::system::error_code ec;
  ASSERT_TRUE(acceptor.start(ec));
  taker.after = [&] {
    if (taker.fds.size() == 3) acceptor.pause(); // the owner's connection cap
  };
  connect_clients(8);
  ASSERT_TRUE(run_until([&] { return taker.fds.size() == 3; }));
  io_.restart();
  io_.run_for(50ms);
  EXPECT_EQ(taker.fds.size(), 3u) << "a paused acceptor took more";
  taker.after = nullptr;
  acceptor.resume(); // no new edge comes for the five waiting: resume must look by itself
  ASSERT_TRUE(run_until([&] { return taker.fds.size() == 8; }));
}

TEST_F(PolledAcceptorTest, AnAcceptErrorPausesUntilTheOwnerResumes) {
  Taker taker;
  PolledAcceptor acceptor(poller_, io_, listen_fd_, &taker);
  boost::system::error_code ec;
  ASSERT_TRUE(acceptor.start(ec));
  io_.poll();
  // No descriptor left for the new socket: EMFILE.
  rlimit old{};
  ::getrlimit(RLIMIT_NOFILE, &old);
  std::vector<int> filler;
  rlimit low = old;
  low.rlim_cur = 64;
  ::setrlimit(RLIMIT_NOFILE, &low);
  for (int fd; (fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0;)
    filler.push_back(fd);
  int spare = filler.back(); // one descriptor for the client socket below
  filler.pop_back();
  ::close(spare);
  connect_clients(1);
  bool errored = run_until([&] { return !taker.errors.empty(); });
  for (int fd : filler)
    ::close(fd);
  ::setrlimit(RLIMIT_NOFILE, &old);
  ASSERT_TRUE(errored);
  EXPECT_EQ(taker.errors[0].value(), EMFILE);
  EXPECT_TRUE(acceptor.paused());
  EXPECT_TRUE(taker.fds.empty());
  acceptor.resume();
  ASSERT_TRUE(run_until([&] { return taker.fds.size() == 1; }));
}

TEST_F(PolledAcceptorTest, AStoppedAcceptorTakesNothingMore) {
  Taker taker;
  auto acceptor = std::make_unique<PolledAcceptor>(poller_, io_, listen_fd_, &taker);
  boost::system::error_code ec;
  ASSERT_TRUE(acceptor->start(ec));
  connect_clients(1);
  ASSERT_TRUE(run_until([&] { return taker.fds.size() == 1; }));
  acceptor->stop();
  acceptor.reset();
  connect_clients(3);
  io_.restart();
  io_.run_for(50ms);
  EXPECT_EQ(taker.fds.size(), 1u);
}

} // namespace
} // namespace weir::net
