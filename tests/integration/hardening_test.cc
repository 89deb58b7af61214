// Hardening end to end (issue 9): raw bytes into a real weir, what the upstream received and
// what the client got out. Each test is one class of hole that weir had: upstream connections
// reused while dirty, host confusion, resources without a bound (client connections, slow
// bodies, upstream connections, accept loops on EMFILE, the access-log queue, the admin
// listener), a second weir on the same address, and forwarding/override policy.
#include "support/client.h"
#include "support/control.h"
#include "support/process.h"
#include "support/upstream.h"
#include "support/wait.h"
#include "support/weir.h"
#include "weir/base/json.h"

#include <arpa/inet.h>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <gtest/gtest.h>
#include <memory>
#include <mutex>
#include <netinet/in.h>
#include <poll.h>
#include <sstream>
#include <string>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace weir::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

long ms_since(Clock::time_point t) {
  return static_cast<long>(
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count());
}

bool contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

// The value of one sample of weir's /metrics ("name" or "name{labels}" as printed), -1 if absent.
double metric(uint16_t admin_port, const std::string& sample) {
  HttpResponse r = http_request(admin_port, "GET", "/metrics");
  std::istringstream in(r.body);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(sample + " ", 0) == 0) return std::stod(line.substr(sample.size() + 1));
  }
  return -1;
}

// Sum of every sample of a family whose labels contain `label_part`.
double metric_sum(uint16_t admin_port, const std::string& family, const std::string& label_part) {
  HttpResponse r = http_request(admin_port, "GET", "/metrics");
  std::istringstream in(r.body);
  double sum = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(family + "{", 0) != 0 || !contains(line, label_part)) continue;
    sum += std::stod(line.substr(line.rfind(' ') + 1));
  }
  return sum;
}

// A raw TCP origin: records every byte it receives per connection and answers each request
// (a head ending in CRLFCRLF) with `reply(n)` for the n-th request overall.
class RecordingUpstream {
public:
  using Reply = std::function<std::string(int n, const std::string& head)>;
  explicit RecordingUpstream(Reply reply) : reply_(std::move(reply)) {
    listen_fd_ = listen_loopback(port_);
    if (listen_fd_ < 0 || ::pipe2(wake_, O_CLOEXEC) != 0) {
      ADD_FAILURE() << "recording upstream: " << std::strerror(errno);
      return;
    }
    thread_ = std::thread([this] { run(); });
  }
  ~RecordingUpstream() {
    if (thread_.joinable()) {
      char c = 0;
      (void)!::write(wake_[1], &c, 1);
      thread_.join();
    }
    for (int fd : {listen_fd_, wake_[0], wake_[1]})
      if (fd >= 0) ::close(fd);
  }
  uint16_t port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  // Every request head received, in order.
  std::vector<std::string> heads() const {
    std::lock_guard lock(mutex_);
    return heads_;
  }
  int connections() const { return connections_.load(); }

private:
  void run() {
    std::vector<pollfd> fds;
    std::vector<std::string> in;
    fds.push_back({listen_fd_, POLLIN, 0});
    fds.push_back({wake_[0], POLLIN, 0});
    in.resize(2);
    for (;;) {
      if (::poll(fds.data(), fds.size(), 1000) < 0) return;
      if (fds[1].revents) break;
      if (fds[0].revents & POLLIN) {
        int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd >= 0) {
          ++connections_;
          fds.push_back({fd, POLLIN, 0});
          in.emplace_back();
        }
      }
      for (size_t i = 2; i < fds.size(); ++i) {
        if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        char buf[65536];
        ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
        if (n <= 0) {
          ::close(fds[i].fd);
          fds[i].fd = -1;
          continue;
        }
        in[i].append(buf, static_cast<size_t>(n));
        for (size_t end; (end = in[i].find("\r\n\r\n")) != std::string::npos;) {
          std::string head = in[i].substr(0, end + 4);
          in[i].erase(0, end + 4);
          int count;
          {
            std::lock_guard lock(mutex_);
            heads_.push_back(head);
            count = static_cast<int>(heads_.size());
          }
          std::string out = reply_(count, head);
          (void)!::write(fds[i].fd, out.data(), out.size());
        }
      }
      for (size_t i = fds.size(); i-- > 2;) {
        if (fds[i].fd < 0) {
          fds.erase(fds.begin() + static_cast<long>(i));
          in.erase(in.begin() + static_cast<long>(i));
        }
      }
    }
    for (size_t i = 2; i < fds.size(); ++i)
      ::close(fds[i].fd);
  }

  Reply reply_;
  int listen_fd_ = -1;
  int wake_[2] = {-1, -1};
  uint16_t port_ = 0;
  std::atomic<int> connections_{0};
  mutable std::mutex mutex_;
  std::vector<std::string> heads_;
  std::thread thread_;
};

std::string one_route(const std::string& upstream, const std::string& limits = "",
                      const std::string& extra = "") {
  return "workers: 1\n"
         "listeners: [{ name: public, address: \"127.0.0.1:0\" }]\n"
         "admin: { address: \"127.0.0.1:0\" }\n"
         "services:\n"
         "  - { namespace: v1, name: app, endpoints: [\"" +
         upstream +
         "\"], outlier_detection: { enabled: false } }\n"
         "routes:\n"
         "  - name: r\n"
         "    listener: public\n"
         "    backends: [{ service: v1/app, weight: 1 }]\n" +
         (limits.empty() ? "" : "limits:\n" + limits) + extra;
}

// ---------------------------------------------------------------------------------------------
// Upstream side

TEST(HardeningUpstream, BytesPastAResponsesFramingNeverAnswerAnotherRequest) {
  // The first response is framed to end exactly where weir's 16 KiB read ends (buffer_bytes); the
  // bytes after it (a complete second response) are still in the socket when the exchange finishes.
  // Reused, that connection would hand them to the next request as its answer.
  const std::string smuggled = "HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nsmuggled";
  size_t first_body = 0;
  RecordingUpstream up([&](int n, const std::string&) {
    if (n == 1) {
      std::string head = "HTTP/1.1 200 OK\r\nContent-Length: ";
      size_t total = 16384;
      // head + digits + CRLFCRLF + body == 16384
      size_t body = total - head.size() - 5 - 4;
      first_body = body;
      std::string out = head + std::to_string(body) + "\r\n\r\n" + std::string(body, 'a');
      EXPECT_EQ(out.size(), total);
      return out + smuggled;
    }
    return std::string("HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nhonest");
  });
  Weir weir = Weir::start(one_route(up.address(), "  buffer_bytes: 16384\n"));
  auto c = RawClient::connect(weir.port());
  ASSERT_TRUE(c);
  // Pipelined: the second request is routed the instant the first response is done.
  ASSERT_TRUE(c->send("GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n"));
  auto r1 = c->read_response(5s);
  ASSERT_TRUE(r1);
  EXPECT_EQ(r1->body.size(), first_body);
  auto r2 = c->read_response(5s);
  ASSERT_TRUE(r2);
  EXPECT_EQ(r2->body, "honest");
  EXPECT_EQ(up.connections(), 2) << "the dirty connection was reused";
}

TEST(HardeningUpstream, TransferCodingsBeforeChunkedReachTheClient) {
  RecordingUpstream up([](int, const std::string&) {
    using namespace std::string_literals;
    return "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
           "4\r\n\x1f\x8b\x08\x00\r\n0\r\n\r\n"s;
  });
  Weir weir = Weir::start(one_route(up.address()));
  auto c = RawClient::connect(weir.port());
  ASSERT_TRUE(c->send("GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
  auto r = c->read_response(5s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->header("transfer-encoding"), "gzip, chunked");
  EXPECT_EQ(r->body, std::string("\x1f\x8b\x08\x00", 4));
}

// ---------------------------------------------------------------------------------------------
// Host confusion

TEST(HardeningHost, AbsoluteFormRoutesAndForwardsOneAuthority) {
  RecordingUpstream good([](int, const std::string&) {
    return std::string("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ngood");
  });
  RecordingUpstream evil([](int, const std::string&) {
    return std::string("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nevil");
  });
  Weir weir = Weir::start("workers: 1\n"
                          "listeners: [{ name: public, address: \"127.0.0.1:0\" }]\n"
                          "services:\n"
                          "  - { namespace: a, name: app, endpoints: [\"" +
                          good.address() +
                          "\"] }\n"
                          "  - { namespace: e, name: app, endpoints: [\"" +
                          evil.address() +
                          "\"] }\n"
                          "routes:\n"
                          "  - { name: a, listener: public, match: { host: a.test }, backends: "
                          "[{ service: a/app }] }\n"
                          "  - { name: e, listener: public, match: { host: evil.test }, backends: "
                          "[{ service: e/app }] }\n");
  auto c = RawClient::connect(weir.port());
  ASSERT_TRUE(c->send("GET http://a.test/x HTTP/1.1\r\nHost: evil.test\r\n\r\n"));
  auto r = c->read_response(5s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "good");
  ASSERT_EQ(good.heads().size(), 1u);
  const std::string head = good.heads()[0];
  EXPECT_TRUE(head.rfind("GET /x HTTP/1.1\r\n", 0) == 0) << head;
  EXPECT_TRUE(contains(head, "\r\nHost: a.test\r\n")) << head;
  EXPECT_FALSE(contains(head, "evil.test")) << head;
  EXPECT_TRUE(evil.heads().empty());

  // Connection cannot take Host away on its way to the upstream.
  ASSERT_TRUE(c->send("GET /y HTTP/1.1\r\nHost: a.test\r\nConnection: host\r\n\r\n"));
  r = c->read_response(5s);
  ASSERT_TRUE(r);
  ASSERT_EQ(good.heads().size(), 2u);
  EXPECT_TRUE(contains(good.heads()[1], "\r\nHost: a.test\r\n")) << good.heads()[1];

  // Refused outright, each on a connection of its own, and nothing reaches any upstream.
  for (std::string bad : {
           "GET / HTTP/1.1\r\n\r\n",                                    // no Host
           "GET / HTTP/1.1\r\nHost: a.test:1@evil.test\r\n\r\n",        // userinfo
           "GET / HTTP/1.1\r\nHost: a.test\r\nHost: evil.test\r\n\r\n", // two
           "GET http://a.test:1@evil.test/ HTTP/1.1\r\nHost: a.test\r\n\r\n",
       }) {
    SCOPED_TRACE(bad);
    auto b = RawClient::connect(weir.port());
    ASSERT_TRUE(b->send(bad));
    auto br = b->read_response(5s);
    ASSERT_TRUE(br);
    EXPECT_EQ(br->status, 400);
    EXPECT_TRUE(b->closed_by_peer(5s));
  }
  EXPECT_EQ(good.heads().size(), 2u);
  EXPECT_TRUE(evil.heads().empty());
}

TEST(HardeningFraming, ChunkTerminatorAndHttp10TransferEncodingAndTargetBytes) {
  RecordingUpstream up([](int, const std::string&) {
    return std::string("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  });
  Weir weir = Weir::start(one_route(up.address()));
  for (std::string bad : {
           "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXY0\r\n\r\n",
           "POST / HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
           "GET /a\tb HTTP/1.1\r\nHost: a\r\n\r\n",
           "GET /a\fb HTTP/1.1\r\nHost: a\r\n\r\n",
           "GET /a\x80 HTTP/1.1\r\nHost: a\r\n\r\n",
           "GET /a\xff HTTP/1.1\r\nHost: a\r\n\r\n",
       }) {
    SCOPED_TRACE(testing::PrintToString(bad));
    auto b = RawClient::connect(weir.port());
    ASSERT_TRUE(b->send(bad));
    auto br = b->read_response(5s);
    ASSERT_TRUE(br);
    EXPECT_EQ(br->status, 400);
    EXPECT_TRUE(b->closed_by_peer(5s)) << "the connection must close";
  }
  // A chunked POST whose body hid a request: nothing at all reaches the upstream (the head was
  // forwarded before the bad chunk, so the upstream may see the head, never a second request).
  for (const std::string& h : up.heads())
    EXPECT_FALSE(contains(h, "GET /smuggled")) << h;
}

// ---------------------------------------------------------------------------------------------
// Resources

TEST(HardeningLimits, ClientConnectionsAreCappedAndTheRestWaitInTheBacklog) {
  DemoUpstream v1 = DemoUpstream::start("v1");
  Weir weir = Weir::start(one_route(v1.address(), "  max_client_connections: 20\n"));
  const uint16_t admin = weir.admin_port();
  std::vector<std::unique_ptr<RawClient>> idle;
  for (int i = 0; i < 200; ++i) {
    auto c = RawClient::connect(weir.port()); // the kernel completes the handshake (backlog)
    ASSERT_TRUE(c) << i;
    idle.push_back(std::move(c));
  }
  ASSERT_TRUE(wait_until([&] { return metric(admin, "weir_client_connections") == 20; }, 5s))
      << metric(admin, "weir_client_connections");
  // It holds there: nothing more is taken off the backlog while 20 are open.
  std::this_thread::sleep_for(300ms); // a check that something does NOT happen
  EXPECT_EQ(metric(admin, "weir_client_connections"), 20);
  // Closing connections lets the waiting ones in, and a new one is served.
  idle.clear();
  HttpResponse r;
  ASSERT_TRUE(wait_until(
      [&] {
        r = http_request(weir.port(), "GET", "/");
        return r.status == 200;
      },
      15s));
  EXPECT_EQ(r.header("x-served-by"), "v1");
  EXPECT_TRUE(weir.proc->running());
}

TEST(HardeningLimits, AReloadThatRaisesTheCapTakesTheWaitingConnectionsAtOnce) {
  DemoUpstream v1 = DemoUpstream::start("v1");
  Weir weir = Weir::start(one_route(v1.address(), "  max_client_connections: 5\n"));
  const uint16_t admin = weir.admin_port();
  std::vector<std::unique_ptr<RawClient>> clients;
  for (int i = 0; i < 8; ++i) {
    auto c = RawClient::connect(weir.port());
    ASSERT_TRUE(c) << i;
    clients.push_back(std::move(c));
  }
  ASSERT_TRUE(wait_until([&] { return metric(admin, "weir_client_connections") == 5; }, 5s));
  // No connection closes: only the new cap may let the three waiting ones in.
  std::string raised = one_route(v1.address(), "  max_client_connections: 20\n");
  std::string tmp = weir.config_path + ".next";
  ASSERT_TRUE(write_file(tmp, raised));
  ASSERT_EQ(::rename(tmp.c_str(), weir.config_path.c_str()), 0);
  weir.proc->signal(SIGHUP);
  EXPECT_TRUE(wait_until([&] { return metric(admin, "weir_client_connections") == 8; }, 5s))
      << metric(admin, "weir_client_connections");
  // And the last of them is served.
  ASSERT_TRUE(clients.back()->send("GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
  auto r = clients.back()->read_response(5s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST(HardeningLimits, SlowBodyIsCutOffByClientBodyTimeoutAndRequestTimeout) {
  DemoUpstream v1 = DemoUpstream::start("v1");
  Weir weir = Weir::start(one_route(v1.address(), "  client_body_timeout: 500ms\n"
                                                  "  request_timeout: 1500ms\n"));
  {
    // A body that stops: 408 after client_body_timeout, and the connection closes.
    auto c = RawClient::connect(weir.port());
    // The upstream answers only after 5 s: until then the answer is weir's to give.
    ASSERT_TRUE(c->send(
        "POST /?delay_ms=5000 HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n0123456789"));
    auto start = Clock::now();
    auto r = c->read_response(5s);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 408);
    long waited = ms_since(start);
    EXPECT_GE(waited, 400);
    EXPECT_LE(waited, 1500);
    EXPECT_TRUE(c->closed_by_peer(2s));
  }
  {
    // A byte every 200 ms resets no clock that matters: request_timeout ends it.
    auto c = RawClient::connect(weir.port());
    auto start = Clock::now();
    ASSERT_TRUE(c->send("POST /?delay_ms=5000 HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n"));
    bool closed = false;
    std::string got;
    for (int i = 0; i < 40 && !closed; ++i) {
      if (!c->send("x")) break;
      closed = c->closed_by_peer(200ms);
    }
    EXPECT_TRUE(closed || c->closed_by_peer(2s));
    long waited = ms_since(start);
    EXPECT_GE(waited, 1300);
    EXPECT_LE(waited, 3500);
    EXPECT_TRUE(contains(c->buffered(), "408")) << c->buffered();
  }
  EXPECT_EQ(http_request(weir.port(), "GET", "/").status, 200);
}

TEST(HardeningLimits, ATrickledBodyHoldsNoUpstreamConnectionUntilItIsIn) {
  RecordingUpstream up([](int, const std::string&) {
    return std::string("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  });
  Weir weir = Weir::start(one_route(up.address()));
  auto c = RawClient::connect(weir.port());
  ASSERT_TRUE(c->send("POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc"));
  for (char b : std::string("defghij")) {
    std::this_thread::sleep_for(50ms); // a client that trickles its body
    EXPECT_EQ(up.connections(), 0) << "an upstream connection was taken before the body was in";
    ASSERT_TRUE(c->send(std::string(1, b)));
  }
  auto r = c->read_response(5s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(up.connections(), 1);
  ASSERT_EQ(up.heads().size(), 1u);
  EXPECT_TRUE(contains(up.heads()[0], "Content-Length: 10\r\n")) << up.heads()[0];
}

TEST(HardeningLimits, ASlowReaderTimedOutIsResetSoTheKernelDropsWhatItLeft) {
  DemoUpstream v1 = DemoUpstream::start("v1");
  std::string yaml = one_route(v1.address());
  const std::string backends = "    backends: [{ service: v1/app, weight: 1 }]\n";
  yaml.replace(yaml.find(backends), backends.size(),
               backends + "    timeouts: { request: 500ms }\n");
  Weir weir = Weir::start(yaml);
  auto c = RawClient::connect(weir.port());
  // A client with a small window that reads nothing: weir's write stalls until the deadline.
  int small = 4096;
  ::setsockopt(c->fd(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  ASSERT_TRUE(c->send("GET /?bytes=50000000 HTTP/1.1\r\nHost: a\r\n\r\n"));
  // weir gives up on it once the write has stalled past the 500 ms deadline.
  const uint16_t admin = weir.admin_port();
  ASSERT_TRUE(wait_until([&] { return metric(admin, "weir_client_connections") == 0; }, 10s, 50ms));
  // Reading now finds the connection reset, not ended: the unsent rest was dropped.
  char buf[65536];
  int err = 0;
  auto deadline = Clock::now() + 10s;
  while (Clock::now() < deadline) {
    ssize_t n = ::recv(c->fd(), buf, sizeof buf, 0);
    if (n > 0) continue;
    err = n < 0 ? errno : 0;
    break;
  }
  EXPECT_EQ(err, ECONNRESET) << (err == 0 ? "ended with a FIN: the kernel kept the unsent bytes"
                                          : std::strerror(err));
  EXPECT_EQ(http_request(weir.port(), "GET", "/").status, 200);
}

TEST(HardeningLimits, UpstreamConnectionsPerEndpointQueueThen503WithRetryAfter) {
  DemoUpstream v1 = DemoUpstream::start("v1");
  Weir weir = Weir::start(one_route(v1.address(), "  max_upstream_connections: 1\n"
                                                  "  queue_timeout: 400ms\n"));
  // One slow request holds the endpoint's only connection for 600 ms.
  std::vector<std::thread> threads;
  struct Join {
    std::vector<std::thread>& t;
    ~Join() {
      for (auto& x : t)
        if (x.joinable()) x.join();
    }
  } join{threads};
  threads.emplace_back([&] {
    HttpResponse r = http_request(weir.port(), "GET", "/?delay_ms=600");
    EXPECT_EQ(r.status, 200);
  });
  // Wait until it is in flight (a second request now queues).
  const uint16_t admin = weir.admin_port();
  ASSERT_TRUE(wait_until(
      [&] { return metric_sum(admin, "weir_active_requests", "namespace=\"v1\"") == 1; }, 5s));
  auto start = Clock::now();
  HttpResponse queued = http_request(weir.port(), "GET", "/");
  long waited = ms_since(start);
  EXPECT_EQ(queued.status, 503);
  EXPECT_EQ(queued.header("retry-after"), "1");
  EXPECT_GE(waited, 350);
  EXPECT_LE(waited, 590);
  // A waiter whose turn comes within queue_timeout is served on the freed connection: the
  // slow request has under 200 ms left now.
  auto queued_at = Clock::now();
  HttpResponse waited_for = http_request(weir.port(), "GET", "/");
  EXPECT_EQ(waited_for.status, 200) << "after " << ms_since(queued_at) << " ms in line";
  for (auto& t : threads)
    t.join();
  EXPECT_EQ(http_request(weir.port(), "GET", "/").status, 200);
}

// Bytes of a TCP connection on 127.0.0.1 as the kernel holds them, from /proc/net/tcp: the
// unacknowledged and unsent bytes (tx_queue) of the socket bound to `local_port` and connected to
// `remote_port`; -1 when there is no such established socket.
long tx_queue_of(uint16_t local_port, uint16_t remote_port) {
  std::ifstream in("/proc/net/tcp");
  std::string line;
  std::getline(in, line);
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string slot, local, remote, state, queues;
    f >> slot >> local >> remote >> state >> queues;
    if (state != "01") continue;
    if (std::stoul(local.substr(local.find(':') + 1), nullptr, 16) != local_port ||
        std::stoul(remote.substr(remote.find(':') + 1), nullptr, 16) != remote_port)
      continue;
    return static_cast<long>(std::stoul(queues.substr(0, queues.find(':')), nullptr, 16));
  }
  return -1;
}

uint16_t local_port_of(int fd) {
  sockaddr_in a{};
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  return ntohs(a.sin_port);
}

// A client that reads nothing, with queued requests pipelined behind a response that leaves the
// socket's buffers (nearly) full: one queue-timeout 503 cannot go out. The next sweep must not
// answer it again (a second write over the pending one: an assertion in the sanitizer build,
// a leaked connection in a release build, the 503 re-sent every 100 ms); it resets the
// connection, as for any answer a client does not take.
TEST(HardeningLimits, AQueueTimeoutAnswerTheClientDoesNotTakeIsSentOnceThenReset) {
  DemoUpstream filler = DemoUpstream::start("filler");
  DemoUpstream held = DemoUpstream::start("held");
  const std::string yaml =
      "workers: 1\n"
      "listeners: [{ name: public, address: \"127.0.0.1:0\" }]\n"
      "admin: { address: \"127.0.0.1:0\" }\n"
      "services:\n"
      "  - { namespace: f, name: app, endpoints: [\"" +
      filler.address() +
      "\"], outlier_detection: { enabled: false } }\n"
      "  - { namespace: h, name: app, endpoints: [\"" +
      held.address() +
      "\"], outlier_detection: { enabled: false } }\n"
      "routes:\n"
      "  - { name: fill, listener: public, match: { path_prefix: /fill }, backends: "
      "[{ service: f/app }] }\n"
      "  - { name: queue, listener: public, backends: [{ service: h/app }] }\n"
      "limits:\n  max_upstream_connections: 1\n  queue_timeout: 20ms\n";
  Weir weir = Weir::start(yaml);
  const uint16_t admin = weir.admin_port();
  // The held endpoint's only connection is busy for 8 s: every other request to it queues.
  std::thread holder([&] { http_request(weir.port(), "GET", "/q?delay_ms=8000"); });
  struct Join {
    std::thread& t;
    ~Join() { t.join(); }
  } join{holder};
  ASSERT_TRUE(wait_until(
      [&] { return metric_sum(admin, "weir_active_requests", "namespace=\"h\"") == 1; }, 5s));

  // What a client with a small window that reads nothing holds, weir's side and its own.
  auto capacity = [&](RawClient& c, long& held_bytes) {
    long last = -2;
    return wait_until(
        [&] {
          int inq = 0;
          ::ioctl(c.fd(), FIONREAD, &inq);
          long tx = tx_queue_of(weir.port(), local_port_of(c.fd()));
          long now = tx < 0 ? -1 : tx + inq;
          bool still = now > 0 && now == last;
          last = now;
          held_bytes = now;
          return still;
        },
        10s, 300ms);
  };
  auto small_window = [](RawClient& c) {
    int small = 4096;
    ::setsockopt(c.fd(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  };
  long full = 0;
  {
    auto probe = RawClient::connect(weir.port());
    ASSERT_TRUE(probe);
    small_window(*probe);
    ASSERT_TRUE(probe->send("GET /fill?bytes=50000000 HTTP/1.1\r\nHost: a\r\n\r\n"));
    ASSERT_TRUE(capacity(*probe, full)) << full;
  }
  // The probe's upstream connection is the filler's only one: gone before the next request.
  ASSERT_TRUE(wait_until(
      [&] { return metric_sum(admin, "weir_active_requests", "namespace=\"f\"") == 0; }, 5s));
  // A response that leaves about 2 KB of room, then 100 queued requests of ~150-byte 503s.
  auto c = RawClient::connect(weir.port());
  ASSERT_TRUE(c);
  small_window(*c);
  const uint16_t port = local_port_of(c->fd());
  std::string pipeline =
      "GET /fill?bytes=" + std::to_string(full - 2500) + " HTTP/1.1\r\nHost: a\r\n\r\n";
  for (int i = 0; i < 100; ++i)
    pipeline += "GET /q HTTP/1.1\r\nHost: a\r\n\r\n";
  ASSERT_TRUE(c->send(pipeline));
  // weir resets the connection once a 503 stays unsent past a sweep.
  EXPECT_TRUE(wait_until([&] { return tx_queue_of(weir.port(), port) < 0; }, 30s, 20ms))
      << "the connection stayed open with " << tx_queue_of(weir.port(), port)
      << " bytes unsent by weir";
  char buf[65536];
  int err = 0;
  auto deadline = Clock::now() + 10s;
  while (Clock::now() < deadline) {
    ssize_t n = ::recv(c->fd(), buf, sizeof buf, 0);
    if (n > 0) continue;
    err = n < 0 ? errno : 0;
    break;
  }
  EXPECT_EQ(err, ECONNRESET);
  EXPECT_EQ(http_request(weir.port(), "GET", "/fill").status, 200);
}

// weir run under `ulimit -n fd_limit` (the Weir fixture cannot set one): its process and the
// public and admin ports it printed (0 when it did not start).
struct FdLimitedWeir {
  std::unique_ptr<Process> proc;
  uint16_t port = 0;
  uint16_t admin = 0;
};
FdLimitedWeir start_with_fd_limit(int fd_limit, const std::string& config_yaml) {
  FdLimitedWeir w;
  std::string config = temp_path("fd-limit", ".yaml");
  if (!write_file(config, config_yaml)) return w;
  w.proc = Process::start({"/bin/sh", "-c",
                           "ulimit -n " + std::to_string(fd_limit) + " && exec " +
                               std::string(WEIR_BIN) + " --config " + config});
  if (!w.proc || !w.proc->wait_for_line("ready", 10s)) return w;
  std::string out = w.proc->output();
  auto port_after = [&](std::string_view prefix) -> uint16_t {
    size_t at = out.find(prefix);
    return at == std::string::npos ? 0 : port_at_end(out.substr(at, out.find('\n', at) - at));
  };
  w.port = port_after("weir: listening public ");
  w.admin = port_after("weir: admin ");
  return w;
}

TEST(HardeningLimits, AcceptBacksOffOnEmfileAndRecovers) {
  DemoUpstream v1 = DemoUpstream::start("v1");
  // A descriptor limit of 64: the listener runs out long before the clients do.
  FdLimitedWeir w = start_with_fd_limit(64, one_route(v1.address()));
  ASSERT_TRUE(w.proc && w.port && w.admin) << (w.proc ? w.proc->output() : "no process");
  auto& proc = w.proc;
  uint16_t port = w.port, admin = w.admin;
  std::vector<std::unique_ptr<RawClient>> hogs;
  for (int i = 0; i < 150; ++i)
    if (auto c = RawClient::connect(port)) hogs.push_back(std::move(c));
  // The accept loop must not spin: CPU time over a second of EMFILE stays small.
  auto cpu = [&] {
    std::ifstream stat("/proc/" + std::to_string(proc->pid()) + "/stat");
    std::string s((std::istreambuf_iterator<char>(stat)), {});
    std::istringstream in(s.substr(s.rfind(')') + 2));
    std::string field;
    long ticks = 0;
    for (int i = 3; i <= 15 && in >> field; ++i)
      if (i == 14 || i == 15) ticks += std::stol(field);
    return ticks;
  };
  std::this_thread::sleep_for(200ms);
  long before = cpu();
  std::this_thread::sleep_for(1s); // measures what the process does meanwhile
  long spent = cpu() - before;
  EXPECT_LT(spent, 30) << "clock ticks of CPU in one second of EMFILE (100 = a whole core)";
  hogs.clear();
  HttpResponse r;
  ASSERT_TRUE(wait_until(
      [&] {
        r = http_request(port, "GET", "/");
        return r.status == 200;
      },
      10s));
  EXPECT_GT(metric(admin, "weir_accept_errors_total"), 0);
  proc->signal(SIGTERM);
  EXPECT_EQ(proc->wait_exit(10s), 0);
}

// weir out of descriptors when a request needs an upstream socket: its own 503 with Retry-After,
// not the endpoint's failure (a connect_refused run would eject a healthy endpoint).
TEST(HardeningLimits, NoDescriptorForAnUpstreamSocketIsWeirsOwn503NotTheEndpoints) {
  DemoUpstream v1 = DemoUpstream::start("v1");
  FdLimitedWeir w = start_with_fd_limit(40, one_route(v1.address()));
  ASSERT_TRUE(w.proc && w.port && w.admin) << (w.proc ? w.proc->output() : "no process");
  auto& proc = w.proc;
  uint16_t port = w.port, admin = w.admin;
  // More clients than descriptors: those weir accepted leave it none for an upstream socket.
  std::vector<std::unique_ptr<RawClient>> clients;
  for (int i = 0; i < 60; ++i)
    if (auto c = RawClient::connect(port)) clients.push_back(std::move(c));
  for (auto& c : clients)
    ASSERT_TRUE(c->send("GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
  int refused = 0, others = 0;
  for (size_t i = 0; i < clients.size(); ++i) {
    auto r = clients[i]->read_response(i == 0 ? 5s : 100ms); // the rest wait in the backlog
    if (!r) continue;
    if (r->status == 503 && r->header("retry-after") == "1")
      ++refused;
    else if (r->status != 200)
      ++others;
  }
  EXPECT_GT(refused, 0) << "no request met the shortage";
  EXPECT_EQ(others, 0) << "a shortage answered as the upstream's failure";
  clients.clear();
  ASSERT_TRUE(wait_until([&] { return http_request(port, "GET", "/").status == 200; }, 10s));
  EXPECT_EQ(metric_sum(admin, "weir_upstream_failures_total", ""), 0)
      << "weir's shortage counted against the endpoint";
  proc->signal(SIGTERM);
  EXPECT_EQ(proc->wait_exit(10s), 0);
}

TEST(HardeningLimits, AccessLogQueueIsBoundedAndCountsDrops) {
  DemoUpstream v1 = DemoUpstream::start("v1");
  // The access log goes to a FIFO that is opened but never read: the writer blocks at once.
  std::string fifo = temp_path("access", ".fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  int reader = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK);
  ASSERT_GE(reader, 0);
  Weir weir = Weir::start(one_route(v1.address(), "  max_access_log_queue_bytes: 4096\n",
                                    "access_log: { path: \"" + fifo + "\" }\n"));
  const uint16_t admin = weir.admin_port();
  long rss_start = weir.proc->rss_kib();
  auto c = RawClient::connect(weir.port());
  for (int i = 0; i < 3000; ++i) {
    ASSERT_TRUE(c->send("GET /" + std::string(200, 'p') + " HTTP/1.1\r\nHost: a\r\n\r\n"));
    auto r = c->read_response(5s);
    ASSERT_TRUE(r && r->status == 200) << i;
  }
  ASSERT_TRUE(wait_until([&] { return metric(admin, "weir_access_log_dropped_total") > 0; }, 5s));
  long rss_end = weir.proc->rss_kib();
  std::printf("[hardening] access log: %.0f lines dropped, RSS %ld -> %ld KiB\n",
              metric(admin, "weir_access_log_dropped_total"), rss_start, rss_end);
  EXPECT_LT(rss_end - rss_start, 8 * 1024);
  // Draining the FIFO unblocks the writer; stopping weir then exits cleanly.
  std::atomic<bool> stop{false};
  std::thread drain([&] {
    char buf[65536];
    while (!stop) {
      pollfd p{reader, POLLIN, 0};
      if (::poll(&p, 1, 50) > 0 && ::read(reader, buf, sizeof buf) <= 0) std::this_thread::yield();
    }
  });
  weir.proc->signal(SIGTERM);
  EXPECT_EQ(weir.proc->wait_exit(10s), 0);
  stop = true;
  drain.join();
  ::close(reader);
}

TEST(HardeningAccessLog, MethodAndPathSurviveTheBodyAndEveryLineIsJson) {
  DemoUpstream v1 = DemoUpstream::start("v1");
  const std::string log = temp_path("access", ".log");
  Weir weir = Weir::start(one_route(v1.address(), "", "access_log: { path: \"" + log + "\" }\n"));
  // A body larger than the read buffer: the buffer is reused for body bytes long before the
  // request is logged, and the body looks like a request line.
  std::string body;
  while (body.size() < 200 * 1024)
    body += "DELETE /from-the-body HTTP/1.1\r\n";
  auto c = RawClient::connect(weir.port());
  ASSERT_TRUE(c->send("POST /the-real-path?q=1 HTTP/1.1\r\nHost: a\r\nContent-Length: " +
                      std::to_string(body.size()) + "\r\n\r\n" + body));
  auto r = c->read_response(10s);
  ASSERT_TRUE(r && r->status == 200);
  ASSERT_TRUE(c->send("GET /second HTTP/1.1\r\nHost: a\r\n\r\n"));
  ASSERT_TRUE(c->read_response(5s));
  std::vector<json::Value> lines;
  ASSERT_TRUE(wait_until(
      [&] {
        lines.clear();
        std::istringstream in(read_file(log));
        for (std::string line; std::getline(in, line);) {
          auto parsed = json::parse(line);
          EXPECT_TRUE(parsed.value) << parsed.error << " in " << line;
          if (parsed.value) lines.push_back(*parsed.value);
        }
        return lines.size() >= 2;
      },
      5s));
  EXPECT_EQ(lines[0].get_string("method"), "POST");
  EXPECT_EQ(lines[0].get_string("path"), "/the-real-path?q=1");
  EXPECT_EQ(lines[1].get_string("method"), "GET");
  EXPECT_EQ(lines[1].get_string("path"), "/second");
}

TEST(HardeningLimits, AdminAnswersReadyWithAThousandIdleSocketsOpen) {
  DemoUpstream v1 = DemoUpstream::start("v1");
  Weir weir = Weir::start(one_route(v1.address()));
  const uint16_t admin = weir.admin_port();
  std::vector<std::unique_ptr<RawClient>> idle;
  for (int i = 0; i < 1000; ++i) {
    auto c = RawClient::connect(admin);
    ASSERT_TRUE(c) << i;
    idle.push_back(std::move(c));
  }
  for (int i = 0; i < 20; ++i) {
    auto start = Clock::now();
    HttpResponse r = http_request(admin, "GET", "/ready");
    EXPECT_EQ(r.status, 200) << i;
    EXPECT_LT(ms_since(start), 2000) << i;
  }
}

// ---------------------------------------------------------------------------------------------
// Ownership

TEST(HardeningOwnership, ASecondWeirOnTheSameAddressExitsOneNamingIt) {
  DemoUpstream v1 = DemoUpstream::start("v1");
  Weir first = Weir::start(one_route(v1.address()));
  const std::string address = "127.0.0.1:" + std::to_string(first.port());
  std::string config = temp_path("second", ".yaml");
  std::string yaml = one_route(v1.address());
  yaml.replace(yaml.find("127.0.0.1:0"), 11, address);
  const std::string admin_line = "admin: { address: \"127.0.0.1:0\" }\n";
  yaml.replace(yaml.find(admin_line), admin_line.size(), "");
  ASSERT_TRUE(write_file(config, yaml));
  auto second = Process::start({WEIR_BIN, "--config", config});
  ASSERT_TRUE(second);
  auto code = second->wait_exit(10s);
  ASSERT_TRUE(code);
  EXPECT_EQ(*code, 1);
  EXPECT_TRUE(contains(second->output(), address)) << second->output();
  EXPECT_TRUE(contains(second->output(), "in use")) << second->output();
  // The first one still serves every connection.
  for (int i = 0; i < 50; ++i)
    ASSERT_EQ(http_request(first.port(), "GET", "/").status, 200);
}

// ---------------------------------------------------------------------------------------------
// Policy

TEST(HardeningPolicy, ForwardingHeadersAreTrustedOnlyFromTrustedProxies) {
  RecordingUpstream up([](int, const std::string&) {
    return std::string("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  });
  const std::string request = "GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 6.6.6.6\r\n"
                              "X-Forwarded-Proto: https\r\nX_Forwarded_For: 6.6.6.6\r\n"
                              "x-request-id: <bad id>\r\n\r\n";
  {
    Weir weir = Weir::start(one_route(up.address()));
    auto c = RawClient::connect(weir.port());
    ASSERT_TRUE(c->send(request));
    ASSERT_TRUE(c->read_response(5s));
    std::string head = up.heads().back();
    EXPECT_TRUE(contains(head, "\r\nX-Forwarded-For: 127.0.0.1\r\n")) << head;
    EXPECT_TRUE(contains(head, "\r\nX-Forwarded-Proto: http\r\n")) << head;
    EXPECT_FALSE(contains(head, "6.6.6.6")) << head;
    EXPECT_FALSE(contains(head, "<bad id>")) << head;
  }
  {
    Weir weir = Weir::start(one_route(up.address(), "", "trusted_proxies: [127.0.0.0/8]\n"));
    auto c = RawClient::connect(weir.port());
    ASSERT_TRUE(c->send(request));
    ASSERT_TRUE(c->read_response(5s));
    std::string head = up.heads().back();
    EXPECT_TRUE(contains(head, "\r\nX-Forwarded-For: 6.6.6.6, 127.0.0.1\r\n")) << head;
    EXPECT_TRUE(contains(head, "\r\nX-Forwarded-Proto: https\r\n")) << head;
    EXPECT_FALSE(contains(head, "X_Forwarded_For")) << head;
  }
}

TEST(HardeningPolicy, ForcedRequestsNeedTheSecretAndNeverTripFastAbort) {
  DemoUpstream v1 = DemoUpstream::start("v1");
  DemoUpstream v2 = DemoUpstream::start("v2", {"--fail-rate", "1"});
  const std::string socket = temp_path("ctl", ".sock");
  Weir weir = Weir::start(
      "workers: 1\n"
      "listeners: [{ name: public, address: \"127.0.0.1:0\" }]\n"
      "admin: { address: \"127.0.0.1:0\" }\n"
      "control: { socket: \"" +
      socket +
      "\" }\n"
      "services:\n"
      "  - { namespace: v1, name: app, endpoints: [\"" +
      v1.address() +
      "\"], outlier_detection: { enabled: false } }\n"
      "  - { namespace: v2, name: app, endpoints: [\"" +
      v2.address() +
      "\"], outlier_detection: { enabled: false } }\n"
      "routes:\n"
      "  - name: r\n"
      "    listener: public\n"
      "    backends: [{ service: v1/app, weight: 100 }, { service: v2/app, weight: 0 }]\n"
      "    rollout:\n"
      "      stable: v1/app\n"
      "      canary: v2/app\n"
      "      require_ready: false\n"
      "      steps: [{ pause: {} }]\n"
      "      fast_abort: { consecutive_errors: 3 }\n"
      "      override: { header: x-weir-version, secret: op-secret-42 }\n");
  const uint16_t admin = weir.admin_port();
  auto rollout = [&](const std::string& command) {
    auto c = connect_control(socket);
    return c ? c->command(command) : json::Value();
  };
  ASSERT_TRUE(rollout("rollout start r").get_bool("ok"));
  // Without the secret the override is ignored: the canary (weight 0) is never reached.
  for (int i = 0; i < 20; ++i) {
    HttpResponse r = http_request(weir.port(), "GET", "/", {{"x-weir-version", "always"}});
    EXPECT_EQ(r.header("x-served-by"), "v1");
    r = http_request(weir.port(), "GET", "/", {{"Cookie", "x-weir-version=always:wrong-secret"}});
    EXPECT_EQ(r.header("x-served-by"), "v1");
  }
  // With it, every request reaches the failing canary, is counted apart, and feeds no analysis.
  for (int i = 0; i < 20; ++i) {
    HttpResponse r =
        http_request(weir.port(), "GET", "/", {{"x-weir-version", "always:op-secret-42"}});
    EXPECT_EQ(r.header("x-served-by"), "v2");
    EXPECT_EQ(r.status, 500);
  }
  EXPECT_TRUE(wait_until(
      [&] { return metric_sum(admin, "weir_forced_requests_total", "namespace=\"v2\"") == 20; },
      5s));
  EXPECT_EQ(metric_sum(admin, "weir_upstream_errors_total", "namespace=\"v2\""), 0);
  EXPECT_EQ(metric_sum(admin, "weir_backend_requests_total", "namespace=\"v2\""), 0);
  // Twenty canary errors in a row, threshold 3: fast abort never heard of them.
  json::Value status = rollout("rollout status r")["rollout"];
  EXPECT_NE(status.get_string("phase"), "Degraded") << rollout("rollout history r").get_string("x");
  EXPECT_NE(status.get_string("phase"), "Aborted");
}

} // namespace
} // namespace weir::test
