// Black-box attacks on the edge-triggered data plane (issue 11: EpollTransport, Poller,
// PolledAcceptor). Each case targets an assumption of the poller: a short read drained the
// socket, an edge is the only news of bytes or of the peer's end, a pooled connection is clean
// unless an edge or a full read says otherwise. The bytes come from real sockets, split and timed
// so that they arrive in separate segments, through a real weir to a real or raw upstream.
#include "support/client.h"
#include "support/upstream.h"
#include "support/wait.h"
#include "support/weir.h"

#include <atomic>
#include <cerrno>
#include <chrono>
#include <gtest/gtest.h>
#include <memory>
#include <mutex>
#include <poll.h>
#include <string>
#include <string_view>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace weir::test {
namespace {

using namespace std::chrono_literals;

std::string proxy_config(const std::string& upstream) {
  return R"(workers: 1
listeners:
  - name: public
    address: 127.0.0.1:0
services:
  - namespace: attack
    name: app
    endpoints: [)" +
         upstream + R"(]
routes:
  - name: attack-route
    listener: public
    backends: [{ service: attack/app }]
    timeouts: { connect: 2s, request: 5s, idle: 10s }
drain_timeout: 1s
)";
}

// A raw origin on loopback. Each connection answers its requests in turn ("conn<K> <path>" as the
// body, K counting connections from 1), misbehaving by path:
//   .../extra  the response is followed, in the same write, by a second unasked-for response
//   .../fin    the response and the end of the connection go in one write-then-shutdown
class RawOrigin {
public:
  RawOrigin() {
    listen_fd_ = listen_loopback(port_);
    if (listen_fd_ < 0) throw std::runtime_error("listen_loopback failed");
    acceptor_ = std::thread([this] { accept_loop(); });
  }
  ~RawOrigin() {
    stop_ = true;
    acceptor_.join();
    for (auto& t : handlers_)
      t.join();
    ::close(listen_fd_);
  }
  uint16_t port() const { return port_; }
  int connections() const { return connections_; }

private:
  void accept_loop() {
    while (!stop_) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      int fd = ::accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) continue;
      int id = ++connections_;
      handlers_.emplace_back([this, fd, id] { serve(fd, id); });
    }
  }

  void serve(int fd, int id) {
    std::string in;
    char buf[4096];
    while (!stop_) {
      size_t end = in.find("\r\n\r\n");
      if (end == std::string::npos) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 50) <= 0) continue;
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) break;
        in.append(buf, static_cast<size_t>(n));
        continue;
      }
      std::string line = in.substr(0, in.find("\r\n"));
      in.erase(0, end + 4); // the tests send no request bodies
      size_t sp = line.find(' ');
      std::string path = line.substr(sp + 1, line.find(' ', sp + 1) - sp - 1);
      std::string body = "conn" + std::to_string(id) + " " + path;
      std::string out =
          "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
      bool fin = path.ends_with("/fin");
      if (path.ends_with("/extra")) out += "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nEVIL";
      if (::send(fd, out.data(), out.size(), MSG_NOSIGNAL) < 0) break;
      if (fin) {
        ::shutdown(fd, SHUT_WR);
        break;
      }
    }
    ::close(fd);
  }

  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  std::thread acceptor_;
  std::vector<std::thread> handlers_; // touched by the acceptor thread only until ~RawOrigin
};

// Sends `parts` as separate TCP segments: TCP_NODELAY is on, and the pause lets weir read each
// part before the next arrives (so every read of weir ends short, on a drained socket).
void send_in_parts(RawClient& c, const std::vector<std::string_view>& parts) {
  for (auto part : parts) {
    ASSERT_TRUE(c.send(part));
    std::this_thread::sleep_for(2ms);
  }
}

TEST(DataPlaneAttack, PipelinedRequestsSplitAtEveryByteAreAllAnswered) {
  auto upstream = DemoUpstream::start("attack-up");
  auto weir = Weir::start(proxy_config(upstream.address()));
  const std::string data = "GET /one HTTP/1.1\r\nHost: x\r\n\r\n"
                           "POST /two HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world"
                           "POST /three HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                           "5\r\nabcde\r\n3;ext=1\r\nfgh\r\n0\r\n\r\n"
                           "GET /four HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  for (size_t split = 1; split < data.size(); ++split) {
    SCOPED_TRACE("split at byte " + std::to_string(split));
    auto c = RawClient::connect(weir.port());
    ASSERT_TRUE(c);
    std::string_view all(data);
    send_in_parts(*c, {all.substr(0, split), all.substr(split)});
    for (std::string_view expected_body :
         {"attack-up\n", "hello world", "abcdefgh", "attack-up\n"}) {
      auto r = c->read_response(5s);
      ASSERT_TRUE(r);
      EXPECT_EQ(r->status, 200);
      EXPECT_EQ(r->body, expected_body);
    }
    EXPECT_TRUE(c->closed_by_peer(5s)) << "the last request asked for Connection: close";
  }
}

TEST(DataPlaneAttack, HalfClosedClientGetsEveryPipelinedAnswerThenTheClose) {
  auto upstream = DemoUpstream::start("attack-up");
  auto weir = Weir::start(proxy_config(upstream.address()));
  // The requests and the end of the client's stream arrive together: the edge that announces
  // the bytes also carries the peer's end, which must not cut the answers short.
  for (int pipelined : {1, 5}) {
    auto c = RawClient::connect(weir.port());
    ASSERT_TRUE(c);
    std::string requests;
    for (int i = 0; i < pipelined; ++i)
      requests += "GET /r" + std::to_string(i) + " HTTP/1.1\r\nHost: x\r\n\r\n";
    ASSERT_TRUE(c->send(requests));
    c->shutdown_write();
    for (int i = 0; i < pipelined; ++i) {
      auto r = c->read_response(5s);
      ASSERT_TRUE(r) << "answer " << i << " of " << pipelined;
      EXPECT_EQ(r->status, 200);
    }
    EXPECT_TRUE(c->closed_by_peer(5s));
  }
}

TEST(DataPlaneAttack, UpstreamBytesPastAResponseOrItsEndNeverServeTheNextRequest) {
  RawOrigin origin;
  auto weir = Weir::start(proxy_config("127.0.0.1:" + std::to_string(origin.port())));
  auto c = RawClient::connect(weir.port());
  ASSERT_TRUE(c);
  // "conn<K> <path>" -> "conn<K>"
  auto connection_of = [](const std::string& body) { return body.substr(0, body.find(' ')); };
  for (std::string_view misbehaviour : {"/extra", "/fin", "/extra", "/fin"}) {
    SCOPED_TRACE(std::string(misbehaviour));
    ASSERT_TRUE(c->send(build_request("GET", misbehaviour, {}, {})));
    auto first = c->read_response(5s);
    ASSERT_TRUE(first);
    EXPECT_EQ(first->status, 200);
    EXPECT_TRUE(first->body.ends_with(misbehaviour)) << first->body;
    // At once: the unasked-for bytes (or the end) came with the response, in the same read.
    ASSERT_TRUE(c->send(build_request("GET", "/after", {}, {})));
    auto next = c->read_response(5s);
    ASSERT_TRUE(next);
    EXPECT_EQ(next->status, 200);
    EXPECT_TRUE(next->body.ends_with(" /after")) << next->body;
    EXPECT_NE(connection_of(next->body), connection_of(first->body))
        << "the connection that misbehaved was used again";
  }
  EXPECT_FALSE(c->closed_by_peer(100ms)) << "the client's connection stays kept alive";
}

// A request that exactly fills weir's read buffer (16 KiB here) leaves the transport unsure the
// socket is drained, so the idle wait after its response wakes at once and reads nothing. The
// keep-alive connection is still idle then: it must last its idle timeout (10 s here), not be
// closed at client_header_timeout (300 ms) as if a request head had begun.
TEST(DataPlaneAttack, AnIdleWaitWokenForNothingKeepsTheIdleTimeout) {
  DemoUpstream up = DemoUpstream::start("up");
  Weir weir = Weir::start(proxy_config(up.address()) +
                          "limits:\n  client_header_timeout: 300ms\n  buffer_bytes: 16384\n");
  auto c = RawClient::connect(weir.port());
  ASSERT_TRUE(c);
  std::string head = "POST /full HTTP/1.1\r\nHost: a\r\nContent-Length: 00000\r\n\r\n";
  const size_t body = 16384 - head.size();
  std::string length = std::to_string(body);
  head.replace(head.find("00000"), 5, std::string(5 - length.size(), '0') + length);
  ASSERT_EQ(head.size() + body, 16384u);
  ASSERT_TRUE(c->send(head + std::string(body, 'b')));
  auto r = c->read_response(5s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  // Three header timeouts (and the sweep's 100 ms) pass: the connection is still open...
  EXPECT_FALSE(c->closed_by_peer(1s)) << "an idle connection closed at client_header_timeout";
  // ...and carries the next request.
  ASSERT_TRUE(c->send("GET /next HTTP/1.1\r\nHost: a\r\n\r\n"));
  auto next = c->read_response(5s);
  ASSERT_TRUE(next);
  EXPECT_EQ(next->status, 200);
}

} // namespace
} // namespace weir::test
