// Framing safety end to end: malformed or ambiguous messages sent as raw bytes through a real
// weir to a real weir-demo-upstream. Every refused request gets its status from weir itself,
// the connection is closed, and nothing of it reaches the upstream. Evidence that it did not:
// the answer is weir's own (an upstream answer carries x-served-by), no second answer follows
// (a smuggled request would get one), and weir's access log lists as forwarded only the valid
// requests each case sends afterwards. Response framing from a misbehaving upstream (a raw
// socket in this process) must end in 502.
#include "support/client.h"
#include "support/process.h"
#include "support/upstream.h"
#include "support/wait.h"
#include "support/weir.h"

#include <arpa/inet.h>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <gtest/gtest.h>
#include <map>
#include <memory>
#include <netinet/in.h>
#include <poll.h>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace weir::test {
namespace {

using namespace std::chrono_literals;

constexpr uint32_t kMaxHeadBytes = 4096;
constexpr uint32_t kMaxLineBytes = 1024;
constexpr uint32_t kMaxHeaders = 20;
constexpr auto kHeaderTimeout = 500ms;
constexpr std::string_view kUpstreamName = "framing-upstream";

std::string file_contents(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Bytes as C-escaped text, for failure messages.
std::string printable(std::string_view bytes) {
  std::string out;
  for (char c : bytes) {
    unsigned char u = static_cast<unsigned char>(c);
    if (c == '\r') {
      out += "\\r";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\\') {
      out += "\\\\";
    } else if (u < 0x20 || u >= 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", u);
      out += buf;
    } else {
      out.push_back(c);
    }
  }
  if (out.size() > 300)
    out = out.substr(0, 300) + "...(" + std::to_string(bytes.size()) + " bytes)";
  return out;
}

// Targets of the requests weir forwarded to an upstream, in log order. A request refused before
// any byte of it was forwarded is logged with "backend":null.
std::vector<std::string> forwarded_targets(const std::string& log_path) {
  std::vector<std::string> out;
  std::istringstream in(file_contents(log_path));
  for (std::string line; std::getline(in, line);) {
    if (line.find("\"backend\":\"") == std::string::npos) continue;
    size_t p = line.find("\"path\":\"");
    if (p == std::string::npos) {
      out.push_back("<no path in: " + line + ">");
      continue;
    }
    p += 8;
    out.push_back(line.substr(p, line.find('"', p) - p));
  }
  return out;
}

// `text` with every {KEY} of `values` replaced.
std::string fill(std::string text, const std::map<std::string, std::string>& values) {
  for (const auto& [key, value] : values) {
    for (size_t at = text.find(key); at != std::string::npos;
         at = text.find(key, at + value.size()))
      text.replace(at, key.size(), value);
  }
  return text;
}

bool process_alive(Process& p) {
  return p.running() && ::kill(p.pid(), 0) == 0;
}

// ---------------------------------------------------------------------------------------------
// Request framing

class FramingTest : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    upstream_.reset(new DemoUpstream(DemoUpstream::start(std::string(kUpstreamName))));
    log_path_ = temp_dir() + "/framing-access.log";
    std::string yaml = fill(R"(workers: 1
listeners:
  - name: public
    address: 127.0.0.1:0
services:
  - namespace: framing
    name: app
    endpoints: [{UPSTREAM}]
routes:
  - name: framing-route
    listener: public
    backends: [{ service: framing/app }]
    timeouts: { connect: 2s, request: 5s, idle: 10s }
limits:
  max_request_head_bytes: {HEAD}
  max_request_line_bytes: {LINE}
  max_headers: {HEADERS}
  client_header_timeout: {HEADER_TIMEOUT}ms
access_log:
  path: {LOG}
drain_timeout: 1s
)",
                            {{"{UPSTREAM}", upstream_->address()},
                             {"{HEAD}", std::to_string(kMaxHeadBytes)},
                             {"{LINE}", std::to_string(kMaxLineBytes)},
                             {"{HEADERS}", std::to_string(kMaxHeaders)},
                             {"{HEADER_TIMEOUT}", std::to_string(kHeaderTimeout.count())},
                             {"{LOG}", log_path_}});
    weir_.reset(new Weir(Weir::start(yaml)));
  }

  static void TearDownTestSuite() {
    weir_.reset();
    upstream_.reset();
  }

  void SetUp() override {
    ASSERT_TRUE(weir_ && upstream_) << "weir or the demo upstream did not start";
  }

  void TearDown() override {
    if (weir_) {
      EXPECT_TRUE(process_alive(*weir_->proc)) << "weir died; output:\n" << weir_->proc->output();
    }
  }

  static uint16_t port() { return weir_->port(); }

  // Sends `bytes` on a fresh connection and expects exactly one answer, weir's own `status`,
  // then the connection closed; then checks nothing was forwarded and weir still serves.
  void expect_refused(std::string_view bytes, int status) {
    SCOPED_TRACE("request bytes: " + printable(bytes));
    size_t logged_before = forwarded_targets(log_path_).size();
    {
      auto client = RawClient::connect(port());
      ASSERT_TRUE(client) << "cannot connect to weir";
      client->send(bytes); // weir may close before everything is written
      std::optional<HttpResponse> response = client->read_response(5s);
      EXPECT_TRUE(response.has_value())
          << "no response; expected " << status << "; connection "
          << (client->closed_by_peer(1s) ? "closed by weir" : "still open");
      if (response) {
        EXPECT_EQ(response->status, status) << "body: " << response->body;
        EXPECT_TRUE(response->complete);
        EXPECT_FALSE(response->has_header("x-served-by"))
            << "the answer came from the upstream: the request was forwarded";
        EXPECT_EQ(response->header("connection"), "close");
        std::string rest = client->read_until_close(3s);
        EXPECT_EQ(printable(rest), "") << "bytes after the " << status << " answer";
        EXPECT_TRUE(client->closed_by_peer(1s)) << "connection left open after " << status;
      }
    }
    expect_serving_and_nothing_forwarded(logged_before);
  }

  // A valid request still gets the upstream's answer, and the access log lists it as the only
  // request routed to an upstream since it had `logged_before` such lines.
  void expect_serving_and_nothing_forwarded(size_t logged_before) {
    std::string target = "/ok/" + std::to_string(++valid_sent_);
    auto client = RawClient::connect(port());
    ASSERT_TRUE(client);
    ASSERT_TRUE(client->send("GET " + target + " HTTP/1.1\r\nHost: framing.test\r\n\r\n"));
    std::optional<HttpResponse> response = client->read_response(5s);
    ASSERT_TRUE(response.has_value()) << "no answer to a valid request";
    EXPECT_EQ(response->status, 200);
    EXPECT_EQ(response->header("x-served-by"), kUpstreamName);
    std::vector<std::string> forwarded;
    ASSERT_TRUE(wait_until(
        [&] {
          forwarded = forwarded_targets(log_path_);
          return !forwarded.empty() && forwarded.back() == target;
        },
        5s))
        << "access log " << log_path_ << ":\n"
        << file_contents(log_path_);
    std::vector<std::string> since(forwarded.begin() + static_cast<ptrdiff_t>(logged_before),
                                   forwarded.end());
    EXPECT_EQ(since, std::vector<std::string>{target})
        << "a refused request was routed to the upstream; access log:\n"
        << file_contents(log_path_);
  }

  static inline std::unique_ptr<DemoUpstream> upstream_;
  static inline std::unique_ptr<Weir> weir_;
  static inline std::string log_path_;
  static inline int valid_sent_ = 0;
};

constexpr std::string_view kSmuggled = "GET /smuggled HTTP/1.1\r\nHost: framing.test\r\n\r\n";

std::string post(std::string_view framing_headers, std::string_view body) {
  std::string out = "POST /bad HTTP/1.1\r\nHost: framing.test\r\n";
  out += framing_headers;
  out += "\r\n";
  out += body;
  return out;
}

TEST_F(FramingTest, ContentLengthAndTransferEncoding) {
  expect_refused(post("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
                      "0\r\n\r\n" + std::string(kSmuggled)),
                 400);
  expect_refused(post("Transfer-Encoding: chunked\r\nContent-Length: 5\r\n",
                      "0\r\n\r\n" + std::string(kSmuggled)),
                 400);
}

TEST_F(FramingTest, TwoDifferingContentLengths) {
  expect_refused(post("Content-Length: 5\r\nContent-Length: 6\r\n", "hello!"), 400);
}

TEST_F(FramingTest, TwoEqualContentLengths) {
  expect_refused(post("Content-Length: 5\r\nContent-Length: 5\r\n", "hello"), 400);
}

TEST_F(FramingTest, ContentLengthList) {
  expect_refused(post("Content-Length: 1, 1\r\n", "x"), 400);
}

TEST_F(FramingTest, MalformedContentLength) {
  for (std::string_view value : {"abc", "-1", "+5", "5x", "0x5", ""}) {
    SCOPED_TRACE(std::string("Content-Length: ") + std::string(value));
    expect_refused(post("Content-Length: " + std::string(value) + "\r\n", "hello"), 400);
  }
}

TEST_F(FramingTest, TransferEncodingWithoutFinalChunkedIsRefused) {
  // gzip alone leaves the body length unknowable (RFC 9112 6.3): 400, not 501.
  expect_refused(post("Transfer-Encoding: gzip\r\n", "hello"), 400);
}

TEST_F(FramingTest, TransferEncodingGzipThenChunkedIsNotImplemented) {
  // A valid coding list ending in chunked, but weir does not decode gzip (RFC 9112 6.1: 501).
  expect_refused(post("Transfer-Encoding: gzip, chunked\r\n", "5\r\nhello\r\n0\r\n\r\n"), 501);
}

TEST_F(FramingTest, TransferEncodingChunkedNotLast) {
  expect_refused(post("Transfer-Encoding: chunked, gzip\r\n", "5\r\nhello\r\n0\r\n\r\n"), 400);
}

TEST_F(FramingTest, TransferEncodingUnknownToken) {
  expect_refused(post("Transfer-Encoding: xchunked\r\n", "5\r\nhello\r\n0\r\n\r\n"), 400);
}

TEST_F(FramingTest, TransferEncodingTwice) {
  expect_refused(post("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", "0\r\n\r\n"),
                 400);
}

TEST_F(FramingTest, BadChunkSize) {
  expect_refused(post("Transfer-Encoding: chunked\r\n", "zz\r\nhello\r\n0\r\n\r\n"), 400);
}

TEST_F(FramingTest, ChunkSizeOverflow) {
  expect_refused(post("Transfer-Encoding: chunked\r\n", "1ffffffffffffffff\r\nhello\r\n0\r\n\r\n"),
                 400);
}

TEST_F(FramingTest, BareLfLineEndings) {
  expect_refused("GET /bad HTTP/1.1\nHost: framing.test\n\n", 400);
  expect_refused("GET /bad HTTP/1.1\r\nHost: framing.test\nX-A: b\r\n\r\n", 400);
}

TEST_F(FramingTest, BareCr) {
  expect_refused("GET /bad HTTP/1.1\r\nHost: framing.test\rX-A: b\r\n\r\n", 400);
  expect_refused("GET /bad HTTP/1.1\rHost: framing.test\r\n\r\n", 400);
}

TEST_F(FramingTest, ObsoleteLineFolding) {
  expect_refused("GET /bad HTTP/1.1\r\nHost: framing.test\r\nX-A: a\r\n  b\r\n\r\n", 400);
  expect_refused("GET /bad HTTP/1.1\r\nHost: framing.test\r\nX-A: a\r\n\tb\r\n\r\n", 400);
}

TEST_F(FramingTest, WhitespaceBeforeColon) {
  expect_refused(post("Content-Length : 5\r\n", "hello"), 400);
  expect_refused("GET /bad HTTP/1.1\r\nHost: framing.test\r\nX-A\t: b\r\n\r\n", 400);
}

TEST_F(FramingTest, ControlCharacterInHeaderName) {
  expect_refused("GET /bad HTTP/1.1\r\nHost: framing.test\r\nX-\x01"
                 "A: b\r\n\r\n",
                 400);
  expect_refused("GET /bad HTTP/1.1\r\nHost: framing.test\r\nX-\x7f"
                 "A: b\r\n\r\n",
                 400);
}

TEST_F(FramingTest, ControlCharacterInHeaderValue) {
  expect_refused("GET /bad HTTP/1.1\r\nHost: framing.test\r\nX-A: a\x01"
                 "b\r\n\r\n",
                 400);
  expect_refused("GET /bad HTTP/1.1\r\nHost: framing.test\r\nX-A: a\x7f"
                 "b\r\n\r\n",
                 400);
}

TEST_F(FramingTest, NulInHeaderValue) {
  using namespace std::string_literals;
  expect_refused("GET /bad HTTP/1.1\r\nHost: framing.test\r\nX-A: a\0b\r\n\r\n"s, 400);
}

TEST_F(FramingTest, RequestLineTooLong) {
  std::string target = "/bad/" + std::string(kMaxLineBytes, 'a');
  expect_refused("GET " + target + " HTTP/1.1\r\nHost: framing.test\r\n\r\n", 414);
}

TEST_F(FramingTest, RequestLineAtTheLimitIsServed) {
  // "GET " + target + " HTTP/1.1" is exactly max_request_line_bytes: still accepted.
  std::string target = "/ok/limit-";
  target += std::string(kMaxLineBytes - 13 - target.size(), 'a');
  auto client = RawClient::connect(port());
  ASSERT_TRUE(client);
  ASSERT_TRUE(client->send("GET " + target + " HTTP/1.1\r\nHost: framing.test\r\n\r\n"));
  auto response = client->read_response(5s);
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->header("x-served-by"), kUpstreamName);
  // Logged before the next test counts the log's lines.
  EXPECT_TRUE(wait_until(
      [&] {
        auto forwarded = forwarded_targets(log_path_);
        return !forwarded.empty() && forwarded.back() == target;
      },
      5s));
}

TEST_F(FramingTest, HeadTooLarge) {
  std::string headers;
  for (int i = 0; headers.size() <= kMaxHeadBytes; ++i)
    headers += "X-Filler-" + std::to_string(i) + ": " + std::string(500, 'v') + "\r\n";
  expect_refused("GET /bad HTTP/1.1\r\nHost: framing.test\r\n" + headers + "\r\n", 431);
}

TEST_F(FramingTest, TooManyHeaders) {
  std::string headers;
  for (uint32_t i = 0; i < kMaxHeaders; ++i)
    headers += "X-H-" + std::to_string(i) + ": v\r\n";
  // Host plus kMaxHeaders more: one over the limit.
  expect_refused("GET /bad HTTP/1.1\r\nHost: framing.test\r\n" + headers + "\r\n", 431);
}

TEST_F(FramingTest, HeadStalledHalfWayTimesOut) {
  size_t logged_before = forwarded_targets(log_path_).size();
  auto client = RawClient::connect(port());
  ASSERT_TRUE(client);
  auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(client->send("GET /bad HTTP/1.1\r\nHost: framing.test\r\nX-Half: "));
  std::optional<HttpResponse> response = client->read_response(5s);
  auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(response.has_value()) << "no 408 within 5 s";
  EXPECT_EQ(response->status, 408);
  EXPECT_FALSE(response->has_header("x-served-by"));
  EXPECT_GE(elapsed, kHeaderTimeout - 50ms);
  EXPECT_LT(elapsed, kHeaderTimeout + 2s);
  EXPECT_EQ(client->read_until_close(3s), "");
  EXPECT_TRUE(client->closed_by_peer(1s));
  expect_serving_and_nothing_forwarded(logged_before);
}

TEST_F(FramingTest, Http2RequestLine) {
  expect_refused("GET /bad HTTP/2.0\r\nHost: framing.test\r\n\r\n", 505);
}

TEST_F(FramingTest, PipelinedRequestAfterARefusedOneIsNeverAnswered) {
  // expect_refused requires exactly one answer and then the close.
  expect_refused("GET /bad HTTP/1.1\r\nHost: framing.test\r\nContent-Length: abc\r\n\r\n" +
                     std::string(kSmuggled),
                 400);
  expect_refused("GET /bad HTTP/1.1\nHost: framing.test\n\n" + std::string(kSmuggled), 400);
  expect_refused(post("Content-Length: 6\r\nTransfer-Encoding: chunked\r\n",
                      "0\r\n\r\n" + std::string(kSmuggled)),
                 400);
}

TEST_F(FramingTest, GarbageNeverTakesTheWorkerDown) {
  std::mt19937 rng(20240611);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<size_t> length(1, 600);
  // Random bytes alone, after a request line, after part of a head, and as the body of a valid
  // chunked head (which weir routes before it reads the body, so that one may reach the
  // upstream; the others must not).
  const std::string prefixes[] = {
      "", "GET / HTTP/1.1\r\n", "POST /x HTTP/1.1\r\nHost: a\r\n",
      "POST /garbage-body HTTP/1.1\r\nHost: framing.test\r\nTransfer-Encoding: chunked\r\n\r\n"};
  size_t logged_before = forwarded_targets(log_path_).size();
  for (int i = 0; i < 200; ++i) {
    std::string bytes = prefixes[i % 4];
    for (size_t n = length(rng); n > 0; --n)
      bytes.push_back(static_cast<char>(byte(rng)));
    auto client = RawClient::connect(port());
    ASSERT_TRUE(client) << "connection " << i << " refused";
    client->send(bytes);
    // End the request so weir never waits for more; it must answer or close, nothing else.
    client->shutdown_write();
    std::string answer = client->read_until_close(5s);
    ASSERT_TRUE(client->closed_by_peer(1s))
        << "connection " << i << " left open; sent " << printable(bytes);
    if (i % 4 != 3) {
      EXPECT_EQ(answer.find("x-served-by"), std::string::npos)
          << "garbage reached the upstream: " << printable(bytes);
    }
    ASSERT_TRUE(process_alive(*weir_->proc)) << "weir died on " << printable(bytes) << "\n"
                                             << weir_->proc->output();
  }
  std::string target = "/ok/after-garbage";
  auto client = RawClient::connect(port());
  ASSERT_TRUE(client);
  ASSERT_TRUE(client->send("GET " + target + " HTTP/1.1\r\nHost: framing.test\r\n\r\n"));
  std::optional<HttpResponse> response = client->read_response(5s);
  ASSERT_TRUE(response.has_value()) << "no answer to a valid request after the garbage";
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->header("x-served-by"), kUpstreamName);
  std::vector<std::string> forwarded;
  ASSERT_TRUE(wait_until(
      [&] {
        forwarded = forwarded_targets(log_path_);
        return !forwarded.empty() && forwarded.back() == target;
      },
      5s));
  for (size_t i = logged_before; i + 1 < forwarded.size(); ++i)
    EXPECT_EQ(forwarded[i], "/garbage-body") << "garbage routed to the upstream";
}

// ---------------------------------------------------------------------------------------------
// Response framing from an upstream no real server would be

// A raw TCP origin on 127.0.0.1 that answers each connection's first request with fixed bytes
// chosen by its target, then ends the connection. One thread; connections in turn.
class ScriptedUpstream {
public:
  explicit ScriptedUpstream(std::map<std::string, std::string> replies)
      : replies_(std::move(replies)) {
    listen_fd_ = listen_loopback(port_, 16);
    if (listen_fd_ < 0 || ::pipe2(wake_, O_CLOEXEC) != 0) {
      ADD_FAILURE() << "scripted upstream: " << std::strerror(errno);
      return;
    }
    thread_ = std::thread([this] { run(); });
  }

  ~ScriptedUpstream() {
    if (thread_.joinable()) {
      char c = 0;
      (void)!::write(wake_[1], &c, 1);
      thread_.join();
    }
    for (int fd : {listen_fd_, wake_[0], wake_[1]})
      if (fd >= 0) ::close(fd);
  }

  uint16_t port() const { return port_; }
  int requests() const { return requests_.load(); }

private:
  // Waits until fd is readable or the test ends; false when it ends or `timeout` passes.
  bool wait_readable(int fd, std::chrono::milliseconds timeout) {
    pollfd fds[2] = {{fd, POLLIN, 0}, {wake_[0], POLLIN, 0}};
    int n = ::poll(fds, 2, static_cast<int>(timeout.count()));
    return n > 0 && !(fds[1].revents & POLLIN) && fds[0].revents;
  }

  void run() {
    for (;;) {
      if (!wait_readable(listen_fd_, std::chrono::hours(1))) return;
      int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      serve(fd);
      ::close(fd);
    }
  }

  void serve(int fd) {
    std::string in;
    char buf[4096];
    while (in.find("\r\n\r\n") == std::string::npos) {
      if (!wait_readable(fd, 5s)) return;
      ssize_t n = ::read(fd, buf, sizeof buf);
      if (n <= 0) return;
      in.append(buf, static_cast<size_t>(n));
    }
    ++requests_;
    size_t sp = in.find(' ');
    std::string target = in.substr(sp + 1, in.find(' ', sp + 1) - sp - 1);
    auto it = replies_.find(target);
    std::string reply =
        it != replies_.end()
            ? it->second
            : "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    (void)!::write(fd, reply.data(), reply.size());
    ::shutdown(fd, SHUT_WR);
    // Close only once weir has: closing with its bytes unread would reset the connection and
    // could discard the reply before weir reads it.
    while (wait_readable(fd, 5s) && ::read(fd, buf, sizeof buf) > 0) {
    }
  }

  std::map<std::string, std::string> replies_;
  int listen_fd_ = -1;
  int wake_[2] = {-1, -1};
  uint16_t port_ = 0;
  std::atomic<int> requests_{0};
  std::thread thread_;
};

class FramingResponseTest : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    upstream_.reset(new ScriptedUpstream({
        {"/ok", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"},
        {"/cl-te", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n"
                   "Connection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n"},
        {"/te-cl", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n"
                   "Connection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n"},
        {"/bare-lf", "HTTP/1.1 200 OK\nContent-Length: 5\nConnection: close\n\nhello"},
        {"/bare-lf-header", "HTTP/1.1 200 OK\r\nContent-Length: 5\nConnection: close\r\n\r\nhello"},
        {"/te-gzip",
         "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nConnection: close\r\n\r\nhello"},
        {"/te-chunked-gzip", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n"
                             "Connection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n"},
    }));
    std::string yaml = fill(R"(workers: 1
listeners:
  - name: public
    address: 127.0.0.1:0
services:
  - namespace: scripted
    name: app
    endpoints: [127.0.0.1:{PORT}]
    max_idle_connections: 0
routes:
  - name: scripted-route
    listener: public
    backends: [{ service: scripted/app }]
    timeouts: { connect: 2s, request: 5s, idle: 10s }
drain_timeout: 1s
)",
                            {{"{PORT}", std::to_string(upstream_->port())}});
    weir_.reset(new Weir(Weir::start(yaml)));
  }

  static void TearDownTestSuite() {
    weir_.reset();
    upstream_.reset();
  }

  void SetUp() override { ASSERT_TRUE(weir_ && upstream_); }

  void TearDown() override {
    if (weir_) {
      EXPECT_TRUE(process_alive(*weir_->proc)) << "weir died; output:\n" << weir_->proc->output();
    }
  }

  // GET target through weir; the answer.
  static std::optional<HttpResponse> get(const std::string& target) {
    auto client = RawClient::connect(weir_->port());
    if (!client) return std::nullopt;
    client->send("GET " + target + " HTTP/1.1\r\nHost: scripted.test\r\n\r\n");
    return client->read_response(5s);
  }

  void expect_bad_gateway(const std::string& target) {
    SCOPED_TRACE("upstream reply for " + target);
    int before = upstream_->requests();
    std::optional<HttpResponse> response = get(target);
    ASSERT_TRUE(response.has_value()) << "no answer";
    EXPECT_EQ(response->status, 502) << "body: " << printable(response->body);
    EXPECT_EQ(response->body.find("hello"), std::string::npos);
    EXPECT_EQ(upstream_->requests(), before + 1) << "the request did not reach the upstream";
  }

  static inline std::unique_ptr<ScriptedUpstream> upstream_;
  static inline std::unique_ptr<Weir> weir_;
};

TEST_F(FramingResponseTest, ValidReplyIsRelayed) {
  std::optional<HttpResponse> response = get("/ok");
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "ok");
}

TEST_F(FramingResponseTest, ContentLengthAndTransferEncoding) {
  expect_bad_gateway("/cl-te");
  expect_bad_gateway("/te-cl");
}

TEST_F(FramingResponseTest, BareLf) {
  expect_bad_gateway("/bare-lf");
  expect_bad_gateway("/bare-lf-header");
}

TEST_F(FramingResponseTest, TransferEncodingNotEndingInChunked) {
  expect_bad_gateway("/te-gzip");
  expect_bad_gateway("/te-chunked-gzip");
}

} // namespace
} // namespace weir::test
