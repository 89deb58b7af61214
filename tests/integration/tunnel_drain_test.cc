// Long-lived connections at cutover, end to end: 20 WebSocket clients through the real weir (two
// workers) to weir-demo-upstream, which echoes every frame. They are counted live (/metrics,
// `show services`); `tunnels drain` closes them one by one over its window while each client
// keeps sending fragmented messages with a ping between the fragments, and every client gets a
// Close between two messages, never inside one, every echo it got whole. A tunnel opened after
// the command stays open.
#include "support/client.h"
#include "support/control.h"
#include "support/upstream.h"
#include "support/wait.h"
#include "support/websocket.h"
#include "support/weir.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <gtest/gtest.h>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace weir::test {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kClients = 20;
constexpr uint8_t kText = 0x1, kCont = 0x0, kClose = 0x8, kPing = 0x9, kPong = 0xa;
const std::string kSeries = "weir_tunnels_open{namespace=\"chat-v1\",service=\"chat\"}";

// The value of one series in /metrics; -1 when it is not there.
double metric(uint16_t admin, const std::string& series) {
  HttpResponse r = http_request(admin, "GET", "/metrics");
  std::istringstream in(r.body);
  std::string line;
  while (std::getline(in, line))
    if (line.starts_with(series + " ")) return std::stod(line.substr(series.size() + 1));
  return -1;
}

// A field of chat-v1/chat in `show services`; -1 when it is not there.
double service_field(ControlClient& c, const std::string& field) {
  json::Value v = c.command("show services");
  for (const json::Value& s : v["services"].as_array())
    if (s.get_string("service") == "chat-v1/chat") return s.get_number(field, -1);
  return -1;
}

// A WebSocket through weir, its 101 read.
std::unique_ptr<RawClient> open_websocket(uint16_t port) {
  auto c = RawClient::connect(port);
  if (!c || !c->send(ws_upgrade_request("/chat"))) return nullptr;
  auto r = c->read_response(10s);
  if (!r || r->status != 101) return nullptr;
  return c;
}

// What one client saw. The counters are read by the test's thread while the client runs; the
// rest only after it ended.
struct Outcome {
  std::atomic<int> messages{0}; // echoed whole and equal to what was sent
  std::atomic<bool> failed{false};
  bool closed = false;
  int close_code = 0;
  Clock::time_point close_at;
  bool peer_ended = false; // the connection ended after the closing handshake
  std::string problem;     // the first thing that went wrong
};

// Sends messages until weir's Close comes: each in two fragments, a ping between them, the
// second sent once the first's echo is back and a moment later (so the echoes often stand
// inside a message when the drain reaches the tunnel). Checks every echo; answers the Close.
void chat(RawClient& c, int id, const std::atomic<bool>& stop, Outcome& out) {
  auto fail = [&](const std::string& why) {
    if (out.problem.empty()) out.problem = "client " + std::to_string(id) + ": " + why;
    out.failed = true;
  };
  // A whole frame back (a timeout would lose a partial one: the wait is long).
  auto next = [&] { return read_ws_frame(c, 10s); };
  // A Close arrived: `inside` says whether part of the message had come back already.
  auto on_close = [&](const WsFrame& f, bool inside) {
    out.closed = true;
    out.close_at = Clock::now();
    if (f.payload.size() >= 2)
      out.close_code =
          (static_cast<uint8_t>(f.payload[0]) << 8) | static_cast<uint8_t>(f.payload[1]);
    if (inside) fail("Close inside message " + std::to_string(out.messages));
    if (!c.send(ws_frame(kClose, std::string("\x03\xe8", 2), 0x0badcafe)))
      return fail("cannot answer the Close");
    out.peer_ended = c.closed_by_peer(10s);
  };
  for (int k = 0;; ++k) {
    if (stop) return fail("stopped");
    // 1000 to ~70000 bytes: 16- and 64-bit lengths, several reads each.
    const size_t size = 1000 + static_cast<size_t>((id * 7919 + k * 4099) % 69000);
    std::string payload(size, '\0');
    for (size_t i = 0; i < size; ++i)
      payload[i] = static_cast<char>('a' + (id + k + i) % 26);
    const std::string first = payload.substr(0, size / 3), second = payload.substr(size / 3);
    const uint32_t mask = 0x01020304u * static_cast<uint32_t>(k + 1) + static_cast<uint32_t>(id);
    if (!c.send(ws_frame(kText, first, mask, false))) return fail("send failed");
    auto f = next();
    if (!f) return fail("no echo and no Close");
    if (f->opcode == kClose) return on_close(*f, false);
    if (f->opcode != kText || f->fin || f->payload != first) return fail("bad first fragment");
    std::this_thread::sleep_for(10ms); // the echo stands inside the message meanwhile
    if (!c.send(ws_frame(kPing, "k" + std::to_string(k), mask ^ 0xffu) +
                ws_frame(kCont, second, mask ^ 0xff00u, true)))
      return fail("send failed");
    f = next();
    if (!f) return fail("no pong and no Close");
    if (f->opcode == kClose) return on_close(*f, true);
    if (f->opcode != kPong || f->payload != "k" + std::to_string(k)) return fail("bad pong");
    f = next();
    if (!f) return fail("no last fragment and no Close");
    if (f->opcode == kClose) return on_close(*f, true);
    if (f->opcode != kCont || !f->fin || f->payload != second) return fail("bad last fragment");
    ++out.messages;
  }
}

class TunnelDrain : public ::testing::Test {
protected:
  void SetUp() override {
    upstream_ = DemoUpstream::start("chat-v1");
    socket_ = temp_path("control", ".sock");
    weir_ = Weir::start("workers: 2\n"
                        "listeners: [{ name: public, address: 127.0.0.1:0 }]\n"
                        "services:\n"
                        "  - { namespace: chat-v1, name: chat, endpoints: [" +
                        upstream_.address() +
                        "] }\n"
                        "routes:\n"
                        "  - { name: chat, listener: public, backends: [{ service: chat-v1/chat, "
                        "weight: 1 }] }\n"
                        "admin: { address: 127.0.0.1:0 }\n"
                        "control: { socket: " +
                        socket_ + " }\n");
    admin_ = weir_.admin_port();
    control_ = connect_control(socket_);
    ASSERT_TRUE(control_);
  }

  DemoUpstream upstream_;
  std::string socket_;
  Weir weir_;
  uint16_t admin_ = 0;
  std::unique_ptr<ControlClient> control_;
};

TEST_F(TunnelDrain, WebSocketsCloseOneByOneBetweenMessagesAndLaterOnesStay) {
  std::vector<std::unique_ptr<RawClient>> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.push_back(open_websocket(weir_.port()));
    ASSERT_TRUE(clients.back()) << "WebSocket " << i;
  }
  ASSERT_TRUE(wait_until([&] { return metric(admin_, kSeries) == kClients; }, 10s))
      << metric(admin_, kSeries);
  EXPECT_EQ(service_field(*control_, "tunnels"), kClients);
  EXPECT_EQ(service_field(*control_, "upstream_connections"), kClients); // one each

  std::vector<Outcome> outcomes(kClients);
  std::vector<std::thread> threads;
  std::atomic<bool> stop{false};
  for (int i = 0; i < kClients; ++i)
    threads.emplace_back([&, i] { chat(*clients[i], i, stop, outcomes[i]); });
  auto join = [&] {
    for (auto& t : threads)
      if (t.joinable()) t.join();
    // The clients close their sockets, as a WebSocket client does once the server has ended
    // the connection: the tunnels end.
    clients.clear();
  };
  // Every client has messages going both ways before the drain.
  bool chatting = wait_until(
      [&] {
        for (const Outcome& o : outcomes)
          if (o.messages < 2 && !o.failed) return false;
        return true;
      },
      20s, 10ms);
  if (!chatting) {
    stop = true;
    join();
  }
  ASSERT_TRUE(chatting);

  const Clock::time_point drained_at = Clock::now();
  json::Value reply = control_->command("tunnels drain chat chat-v1/chat --over 2s");
  EXPECT_TRUE(reply.get_bool("ok")) << control_->last_line();
  EXPECT_EQ(reply.get_number("tunnels"), kClients) << control_->last_line();
  EXPECT_EQ(reply.get_string("over"), "2s");
  // A tunnel opened after the command goes where the weights say, and stays.
  auto late = open_websocket(weir_.port());
  EXPECT_TRUE(late);
  join();

  std::vector<Clock::time_point> closes;
  for (const Outcome& o : outcomes) {
    EXPECT_TRUE(o.problem.empty()) << o.problem;
    EXPECT_TRUE(o.closed);
    EXPECT_TRUE(o.close_code == 1001 || o.close_code == 1012) << o.close_code;
    EXPECT_TRUE(o.peer_ended) << "the closing handshake did not end the connection";
    EXPECT_GE(o.messages, 2);
    if (o.closed) closes.push_back(o.close_at);
  }
  ASSERT_EQ(closes.size(), static_cast<size_t>(kClients));
  std::sort(closes.begin(), closes.end());
  auto ms = [](Clock::duration d) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
  };
  // Spread over the window, not all at once: the first and last are more than a second apart
  // (about 1.9 s when the drain runs to plan), and the first 400 ms saw at most half of them.
  EXPECT_GE(ms(closes.back() - closes.front()), 1000)
      << "first " << ms(closes.front() - drained_at) << " ms, last "
      << ms(closes.back() - drained_at) << " ms after the command";
  EXPECT_LT(ms(closes.back() - drained_at), 2000 + 5000); // the window and a boundary's cap
  const auto early = std::count_if(closes.begin(), closes.end(),
                                   [&](Clock::time_point t) { return t < drained_at + 400ms; });
  EXPECT_LE(early, kClients / 2);

  // Only the late tunnel is left; it still echoes, past the window.
  ASSERT_TRUE(late);
  EXPECT_TRUE(wait_until([&] { return metric(admin_, kSeries) == 1; }, 10s))
      << metric(admin_, kSeries);
  EXPECT_EQ(service_field(*control_, "tunnels"), 1);
  EXPECT_EQ(service_field(*control_, "upstream_connections"), 1);
  ASSERT_TRUE(late->send(ws_frame(kText, "still here", 0x11223344)));
  auto echo = read_ws_frame(*late, 5s);
  ASSERT_TRUE(echo);
  EXPECT_EQ(echo->opcode, kText);
  EXPECT_EQ(echo->payload, "still here");
  // Its own closing handshake ends it, and nothing is left open.
  ASSERT_TRUE(late->send(ws_frame(kClose, std::string("\x03\xe8", 2), 0x55667788)));
  auto close = read_ws_frame(*late, 5s);
  ASSERT_TRUE(close);
  EXPECT_EQ(close->opcode, kClose);
  EXPECT_TRUE(late->closed_by_peer(5s));
  late.reset(); // the client closes its socket once the server has ended the connection
  EXPECT_TRUE(wait_until([&] { return metric(admin_, kSeries) == 0; }, 10s))
      << metric(admin_, kSeries);
  EXPECT_EQ(service_field(*control_, "tunnels"), 0);
}

TEST_F(TunnelDrain, CommandArguments) {
  // No tunnel: nothing to close, said so.
  json::Value none = control_->command("tunnels drain chat chat-v1/chat --after 1s --over 0s");
  EXPECT_TRUE(none.get_bool("ok")) << control_->last_line();
  EXPECT_EQ(none.get_number("tunnels", -1), 0);
  EXPECT_EQ(none.get_string("after"), "1s");
  json::Value stop = control_->command("tunnels stop chat chat-v1/chat");
  EXPECT_TRUE(stop.get_bool("ok")) << control_->last_line();
  for (const char* bad :
       {"tunnels drain chat chat-v1/chat --over 2", "tunnels drain chat nosuch/svc",
        "tunnels drain nosuch chat-v1/chat", "tunnels drain chat chat-v1/chat --over",
        "tunnels drain chat", "tunnels drain chat chat-v1/chat --over 25h"}) {
    json::Value r = control_->command(bad);
    EXPECT_FALSE(r.get_bool("ok", true)) << bad << ": " << control_->last_line();
    EXPECT_FALSE(r.get_string("error").empty()) << bad;
  }
}

// A drain with no window closes every tunnel at once, each with its closing handshake.
TEST_F(TunnelDrain, NoWindowClosesEveryTunnelAtOnce) {
  std::vector<std::unique_ptr<RawClient>> clients;
  for (int i = 0; i < 4; ++i) {
    clients.push_back(open_websocket(weir_.port()));
    ASSERT_TRUE(clients.back());
  }
  ASSERT_TRUE(wait_until([&] { return metric(admin_, kSeries) == 4; }, 10s));
  json::Value reply = control_->command("tunnels drain chat chat-v1/chat");
  EXPECT_EQ(reply.get_number("tunnels"), 4) << control_->last_line();
  for (auto& c : clients) {
    auto f = read_ws_frame(*c, 5s);
    ASSERT_TRUE(f);
    EXPECT_EQ(f->opcode, kClose);
    ASSERT_TRUE(c->send(ws_frame(kClose, std::string("\x03\xe8", 2), 0x01010101)));
    EXPECT_TRUE(c->closed_by_peer(10s));
    c.reset();
  }
  EXPECT_TRUE(wait_until([&] { return metric(admin_, kSeries) == 0; }, 10s));
}

} // namespace
} // namespace weir::test
