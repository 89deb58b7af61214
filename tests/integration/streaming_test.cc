// Bodies and connections that are not one small request and one small response: pipelining,
// chunked framing both ways, 100-continue, gigabyte transfers in bounded memory, WebSocket.
#include "support/client.h"
#include "support/process.h"
#include "support/upstream.h"
#include "support/wait.h"
#include "support/websocket.h"
#include "support/weir.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <gtest/gtest.h>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace weir::test {
namespace {

// weir-demo-upstream's ?bytes=N body: byte i is kLine[i % 64]. Uploads use the same pattern so
// one checker serves both directions.
constexpr std::string_view kLine =
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-\n";
constexpr uint64_t kGiB = 1024ull * 1024 * 1024;
constexpr long kRssSlackKib = 16 * 1024;

std::string pattern(size_t n, uint64_t offset = 0) {
  std::string out(n, '\0');
  for (size_t i = 0; i < n; ++i)
    out[i] = kLine[(offset + i) % kLine.size()];
  return out;
}

// Checks streamed pieces against the pattern; remembers the first mismatch.
class PatternChecker {
public:
  PatternChecker() : reference_(pattern(kSpan + kLine.size())) {}
  void operator()(std::string_view piece) {
    while (!piece.empty()) {
      size_t n = std::min(piece.size(), kSpan);
      if (mismatch_ < 0 &&
          std::memcmp(piece.data(), reference_.data() + offset_ % kLine.size(), n) != 0) {
        for (size_t i = 0; i < n; ++i)
          if (piece[i] != kLine[(offset_ + i) % kLine.size()]) {
            mismatch_ = static_cast<int64_t>(offset_ + i);
            break;
          }
      }
      offset_ += n;
      piece.remove_prefix(n);
    }
  }
  uint64_t bytes() const { return offset_; }
  int64_t first_mismatch() const { return mismatch_; }

private:
  static constexpr size_t kSpan = 64 * 1024;
  std::string reference_;
  uint64_t offset_ = 0;
  int64_t mismatch_ = -1;
};

// Samples a process's RSS until stopped; keeps the maximum.
class RssSampler {
public:
  explicit RssSampler(const Process& p) : proc_(p) {
    thread_ = std::thread([this] {
      while (!stop_.load()) {
        long kib = proc_.rss_kib();
        if (kib > max_.load()) max_.store(kib);
        std::unique_lock lock(mutex_);
        cv_.wait_for(lock, 10ms, [this] { return stop_.load(); });
      }
    });
  }
  ~RssSampler() { stop(); }
  long stop() {
    {
      std::lock_guard lock(mutex_);
      stop_.store(true);
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
    return max_.load();
  }

private:
  const Process& proc_;
  std::atomic<bool> stop_{false};
  std::atomic<long> max_{0};
  std::mutex mutex_;
  std::condition_variable cv_;
  std::thread thread_;
};

std::string config(const DemoUpstream& v1, const DemoUpstream& v2, int w1, int w2) {
  return "workers: 2\n"
         "listeners:\n  - name: public\n    address: 127.0.0.1:0\n"
         "services:\n"
         "  - namespace: app-v1\n    name: app\n    endpoints: [" +
         v1.address() +
         "]\n"
         "  - namespace: app-v2\n    name: app\n    endpoints: [" +
         v2.address() +
         "]\n"
         "routes:\n"
         "  - name: main\n    listener: public\n    backends:\n"
         "      - service: app-v1/app\n        weight: " +
         std::to_string(w1) +
         "\n"
         "      - service: app-v2/app\n        weight: " +
         std::to_string(w2) + "\n";
}

class Streaming : public ::testing::Test {
protected:
  void SetUp() override {
    v1_ = DemoUpstream::start("v1");
    v2_ = DemoUpstream::start("v2");
  }
  Weir start_weir(int w1 = 1, int w2 = 0) { return Weir::start(config(v1_, v2_, w1, w2)); }

  DemoUpstream v1_;
  DemoUpstream v2_;
};

TEST_F(Streaming, PipelinedRequestsAreAnsweredInOrder) {
  Weir weir = start_weir(1, 1);
  auto client = RawClient::connect(weir.port());
  ASSERT_TRUE(client);
  // The first is the slowest, so answers produced out of order would show.
  ASSERT_TRUE(client->send("GET /p1?bytes=11&delay_ms=150 HTTP/1.1\r\nHost: localhost\r\n\r\n"
                           "POST /p2 HTTP/1.1\r\nHost: localhost\r\nContent-Length: 6\r\n\r\n"
                           "second"
                           "GET /p3?bytes=33&chunked=1 HTTP/1.1\r\nHost: localhost\r\n\r\n"
                           "GET /echo-headers HTTP/1.1\r\nHost: localhost\r\nX-Seq: 4\r\n\r\n"
                           "GET /p5?status=404 HTTP/1.1\r\nHost: localhost\r\n\r\n"));
  std::vector<HttpResponse> got;
  for (int i = 0; i < 5; ++i) {
    auto r = client->read_response(10s);
    ASSERT_TRUE(r) << "response " << i + 1 << " missing; got " << got.size();
    ASSERT_TRUE(r->complete) << "response " << i + 1;
    got.push_back(std::move(*r));
  }
  EXPECT_EQ(got[0].status, 200);
  EXPECT_EQ(got[0].body, pattern(11));
  EXPECT_EQ(got[1].status, 200);
  EXPECT_EQ(got[1].body, "second");
  EXPECT_EQ(got[2].status, 200);
  EXPECT_TRUE(got[2].chunked);
  EXPECT_EQ(got[2].body, pattern(33));
  EXPECT_EQ(got[3].status, 200);
  EXPECT_NE(got[3].body.find("X-Seq: 4\n"), std::string::npos) << got[3].body;
  EXPECT_EQ(got[4].status, 404);
  for (const auto& r : got) {
    std::string by = r.header("x-served-by");
    EXPECT_TRUE(by == "v1" || by == "v2") << by;
  }
  EXPECT_EQ(client->buffered(), "");
}

TEST_F(Streaming, ChunkedRequestBodyIsEchoedIntact) {
  Weir weir = start_weir();
  auto client = RawClient::connect(weir.port());
  ASSERT_TRUE(client);
  // Small chunks with an extension, the head and pieces in separate writes.
  ASSERT_TRUE(client->send(
      "POST /upload HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n"));
  ASSERT_TRUE(client->send("6\r\nhello \r\n"));
  ASSERT_TRUE(client->send("8;ext=1\r\nchunked \r\n5\r\nwo"));
  ASSERT_TRUE(client->send("rld\r\n0\r\n\r\n"));
  auto r = client->read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_TRUE(r->complete);
  EXPECT_EQ(r->body, "hello chunked world");

  // 300 kB of binary in random chunk sizes, on the same connection.
  std::mt19937 rng(42);
  std::string data(300'000, '\0');
  for (auto& c : data)
    c = static_cast<char>(rng());
  std::string wire = "PUT /big HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (size_t at = 0; at < data.size();) {
    size_t n = std::min<size_t>(data.size() - at, 1 + rng() % 40'000);
    char size[20];
    std::snprintf(size, sizeof size, "%zx\r\n", n);
    wire += size;
    wire.append(data, at, n);
    wire += "\r\n";
    at += n;
  }
  wire += "0\r\n\r\n";
  std::thread writer([&] { EXPECT_TRUE(client->send(wire)); });
  auto big = client->read_response(20s);
  writer.join();
  ASSERT_TRUE(big);
  EXPECT_EQ(big->status, 200);
  EXPECT_TRUE(big->complete);
  EXPECT_EQ(big->body.size(), data.size());
  EXPECT_TRUE(big->body == data) << "echoed chunked body differs";
}

TEST_F(Streaming, ChunkedResponsesAreReassembled) {
  Weir weir = start_weir();
  auto client = RawClient::connect(weir.port());
  ASSERT_TRUE(client);
  ASSERT_TRUE(client->send("GET /?chunked=1 HTTP/1.1\r\nHost: localhost\r\n\r\n"));
  auto small = client->read_response();
  ASSERT_TRUE(small);
  EXPECT_EQ(small->status, 200);
  EXPECT_TRUE(small->chunked);
  EXPECT_TRUE(small->complete);
  EXPECT_EQ(small->body, "v1\n");

  ASSERT_TRUE(client->send("GET /?bytes=100000&chunked=1 HTTP/1.1\r\nHost: localhost\r\n\r\n"));
  auto big = client->read_response();
  ASSERT_TRUE(big);
  EXPECT_EQ(big->status, 200);
  EXPECT_TRUE(big->chunked);
  EXPECT_TRUE(big->complete);
  EXPECT_EQ(big->body.size(), 100000u);
  EXPECT_TRUE(big->body == pattern(100000)) << "reassembled chunked body differs";
}

TEST_F(Streaming, ExpectContinueGets100ThenTheEcho) {
  Weir weir = start_weir();
  auto client = RawClient::connect(weir.port());
  ASSERT_TRUE(client);
  ASSERT_TRUE(client->send("POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 11\r\n"
                           "Expect: 100-continue\r\n\r\n"));
  auto interim = client->read_response(5s);
  ASSERT_TRUE(interim) << "no 100 Continue before the body was sent";
  EXPECT_EQ(interim->status, 100);
  ASSERT_TRUE(client->send("hello world"));
  auto final_response = client->read_response();
  ASSERT_TRUE(final_response);
  EXPECT_EQ(final_response->status, 200);
  EXPECT_EQ(final_response->body, "hello world");
  EXPECT_EQ(final_response->header("x-served-by"), "v1");
}

TEST_F(Streaming, OneGibUploadIsEchoedInBoundedMemory) {
  Weir weir = start_weir();
  ASSERT_EQ(http_request(weir.port(), "POST", "/warmup", {}, "x").status, 200);
  long start_rss = weir.proc->rss_kib();
  ASSERT_GT(start_rss, 0);
  auto client = RawClient::connect(weir.port());
  ASSERT_TRUE(client);
  RssSampler rss(*weir.proc);
  ASSERT_TRUE(client->send("POST /upload HTTP/1.1\r\nHost: localhost\r\nContent-Length: " +
                           std::to_string(kGiB) + "\r\n\r\n"));
  std::atomic<uint64_t> sent{0};
  std::atomic<bool> send_failed{false};
  std::thread writer([&] {
    const std::string block = pattern(256 * 1024); // a multiple of 64: the phase stays 0
    while (sent.load() < kGiB) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(block.size(), kGiB - sent.load()));
      if (!client->send(std::string_view(block).substr(0, n))) {
        send_failed = true;
        return;
      }
      sent += n;
    }
  });
  PatternChecker check;
  auto r = client->read_response_streaming(std::ref(check), 90s);
  writer.join();
  long max_rss = rss.stop();
  EXPECT_FALSE(send_failed) << "send failed after " << sent.load() << " bytes";
  EXPECT_EQ(sent.load(), kGiB);
  ASSERT_TRUE(r) << "no response head";
  EXPECT_EQ(r->status, 200);
  EXPECT_TRUE(r->complete) << "echo ended after " << check.bytes() << " bytes";
  EXPECT_EQ(check.bytes(), kGiB);
  EXPECT_EQ(check.first_mismatch(), -1) << "echoed body differs at byte " << check.first_mismatch();
  RecordProperty("start_rss_kib", std::to_string(start_rss));
  RecordProperty("max_rss_kib", std::to_string(max_rss));
  EXPECT_LE(max_rss, start_rss + kRssSlackKib)
      << "weir RSS grew from " << start_rss << " KiB to " << max_rss << " KiB";
}

TEST_F(Streaming, OneGibDownloadInBoundedMemory) {
  Weir weir = start_weir();
  ASSERT_EQ(http_request(weir.port(), "GET", "/warmup").status, 200);
  long start_rss = weir.proc->rss_kib();
  ASSERT_GT(start_rss, 0);
  auto client = RawClient::connect(weir.port());
  ASSERT_TRUE(client);
  RssSampler rss(*weir.proc);
  ASSERT_TRUE(client->send("GET /download?bytes=" + std::to_string(kGiB) +
                           " HTTP/1.1\r\nHost: localhost\r\n\r\n"));
  PatternChecker check;
  auto r = client->read_response_streaming(std::ref(check), 90s);
  long max_rss = rss.stop();
  ASSERT_TRUE(r) << "no response head";
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->header("content-length"), std::to_string(kGiB));
  EXPECT_TRUE(r->complete) << "download ended after " << check.bytes() << " bytes";
  EXPECT_EQ(check.bytes(), kGiB);
  EXPECT_EQ(check.first_mismatch(), -1) << "body differs at byte " << check.first_mismatch();
  RecordProperty("start_rss_kib", std::to_string(start_rss));
  RecordProperty("max_rss_kib", std::to_string(max_rss));
  EXPECT_LE(max_rss, start_rss + kRssSlackKib)
      << "weir RSS grew from " << start_rss << " KiB to " << max_rss << " KiB";
  // The connection is still good for another request.
  ASSERT_TRUE(client->send("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"));
  auto next = client->read_response();
  ASSERT_TRUE(next);
  EXPECT_EQ(next->body, "v1\n");
}

TEST_F(Streaming, WebSocketUpgradeAndEcho) {
  Weir weir = start_weir();
  auto client = RawClient::connect(weir.port());
  ASSERT_TRUE(client);
  ASSERT_TRUE(client->send("GET /chat HTTP/1.1\r\nHost: localhost\r\n"
                           "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                           "Sec-WebSocket-Version: 13\r\n\r\n"));
  auto r = client->read_response(5s);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 101);
  EXPECT_TRUE(iequals(r->header("upgrade"), "websocket")) << r->header("upgrade");
  EXPECT_EQ(r->header("sec-websocket-accept"), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  EXPECT_EQ(r->header("x-served-by"), "v1");

  ASSERT_TRUE(client->send(ws_frame(0x1, "hello through weir", 0x37fa213d)));
  auto f = read_ws_frame(*client, 5s);
  ASSERT_TRUE(f) << "no echo frame";
  EXPECT_TRUE(f->fin);
  EXPECT_FALSE(f->masked) << "server frames must not be masked";
  EXPECT_EQ(f->opcode, 0x1);
  EXPECT_EQ(f->payload, "hello through weir");

  // A 100 kB binary frame (64-bit length) exercises the tunnel with more than one read.
  std::string big = pattern(100'000);
  ASSERT_TRUE(client->send(ws_frame(0x2, big, 0x01020304)));
  auto fb = read_ws_frame(*client, 10s);
  ASSERT_TRUE(fb) << "no echo of the binary frame";
  EXPECT_EQ(fb->opcode, 0x2);
  EXPECT_TRUE(fb->payload == big);

  // Close handshake: the echo server answers close with close.
  ASSERT_TRUE(client->send(ws_frame(0x8, std::string("\x03\xe8", 2), 0xdeadbeef)));
  auto fc = read_ws_frame(*client, 5s);
  ASSERT_TRUE(fc) << "no close frame back";
  EXPECT_EQ(fc->opcode, 0x8);
  EXPECT_TRUE(client->closed_by_peer(5s));
}

} // namespace
} // namespace weir::test
