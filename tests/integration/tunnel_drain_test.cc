// Long-lived connections at cutover, end to end (the Cutover tests below: a promotion, safe to
// delete). TunnelDrain: 20 WebSocket clients through the real weir (two
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
#include <mutex>
#include <optional>
#include <set>
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

// A WebSocket through weir, its 101 read; `served_by`: the version that answered it.
std::unique_ptr<RawClient> open_websocket(uint16_t port, std::string* served_by = nullptr) {
  auto c = RawClient::connect(port);
  if (!c || !c->send(ws_upgrade_request("/chat"))) return nullptr;
  auto r = c->read_response(10s);
  if (!r || r->status != 101) return nullptr;
  if (served_by) *served_by = r->header("x-served-by");
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

// Route "chat" over chat-v1 (serving) and chat-v2 with a rollout plan: `plan`'s lines after its
// stable and canary.
std::string two_chat_versions(const std::string& socket, const DemoUpstream& v1,
                              const DemoUpstream& v2, const std::string& plan) {
  return "workers: 2\n"
         "listeners: [{ name: public, address: 127.0.0.1:0 }]\n"
         "services:\n"
         "  - { namespace: chat-v1, name: chat, endpoints: [" +
         v1.address() +
         "] }\n"
         "  - { namespace: chat-v2, name: chat, endpoints: [" +
         v2.address() +
         "] }\n"
         "routes:\n"
         "  - name: chat\n    listener: public\n"
         "    backends: [{ service: chat-v1/chat, weight: 100 }, { service: chat-v2/chat, weight: "
         "0 }]\n"
         "    rollout:\n      stable: chat-v1/chat\n      canary: chat-v2/chat\n" +
         plan + "admin: { address: 127.0.0.1:0 }\ncontrol: { socket: " + socket + " }\n";
}

// The cutover of issue #18: 100 WebSocket clients connected to the old version before a
// blue/green promotion. After the switch weir closes their tunnels one by one over
// tunnels.drain_over, each with a Close between two messages; each client answers it,
// reconnects, and lands on the new version. None is cut mid-message or without a Close.
TEST(Cutover, HundredWebSocketsEndOnTheNewVersionWithinDrainOver) {
  constexpr int kMany = 100;
  DemoUpstream v1 = DemoUpstream::start("chat-v1");
  DemoUpstream v2 = DemoUpstream::start("chat-v2");
  const std::string socket = temp_path("control", ".sock");
  Weir weir = Weir::start(two_chat_versions(socket, v1, v2,
                                            "      strategy: blue_green\n"
                                            "      preview: { header: x-preview, secret: "
                                            "chat-preview-1 }\n"
                                            "      tunnels: { drain_over: 3s }\n"));
  const uint16_t admin = weir.admin_port();
  auto control = connect_control(socket);
  ASSERT_TRUE(control);

  std::vector<std::unique_ptr<RawClient>> clients;
  for (int i = 0; i < kMany; ++i) {
    std::string served_by;
    clients.push_back(open_websocket(weir.port(), &served_by));
    ASSERT_TRUE(clients.back()) << "WebSocket " << i;
    ASSERT_EQ(served_by, "chat-v1");
  }
  ASSERT_TRUE(wait_until([&] { return metric(admin, kSeries) == kMany; }, 10s))
      << metric(admin, kSeries);

  // Each client chats until weir's Close, then reconnects and checks where it landed.
  std::vector<Outcome> outcomes(kMany);
  std::vector<std::string> landed(kMany);
  std::vector<Clock::time_point> landed_at(kMany);
  std::vector<std::thread> threads;
  std::atomic<bool> stop{false};
  for (int i = 0; i < kMany; ++i)
    threads.emplace_back([&, i] {
      chat(*clients[i], i, stop, outcomes[i]);
      clients[i].reset(); // a client closes its socket once the server ended the connection
      if (!outcomes[i].closed) return;
      auto again = open_websocket(weir.port(), &landed[i]);
      landed_at[i] = Clock::now();
      if (!again || !again->send(ws_frame(kText, "hello again", 0x0a0b0c0d))) {
        landed[i] = "no reconnect";
        return;
      }
      auto echo = read_ws_frame(*again, 10s);
      if (!echo || echo->payload != "hello again") landed[i] = "no echo after the reconnect";
      again->send(ws_frame(kClose, std::string("\x03\xe8", 2), 0x01020304));
      again->closed_by_peer(5s);
    });
  auto join = [&] {
    for (auto& t : threads)
      if (t.joinable()) t.join();
  };
  bool chatting = wait_until(
      [&] {
        for (const Outcome& o : outcomes)
          if (o.messages < 1 && !o.failed) return false;
        return true;
      },
      30s, 10ms);
  if (!chatting) {
    stop = true;
    join();
  }
  ASSERT_TRUE(chatting);

  const Clock::time_point promoted_at = Clock::now();
  json::Value started = control->command("rollout start chat");
  ASSERT_TRUE(started.get_bool("ok")) << control->last_line();
  ASSERT_EQ(started["rollout"].get_string("phase"), "Healthy") << control->last_line();
  join();

  auto ms = [](Clock::duration d) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
  };
  Clock::time_point last{};
  for (int i = 0; i < kMany; ++i) {
    const Outcome& o = outcomes[i];
    EXPECT_TRUE(o.problem.empty()) << o.problem;
    EXPECT_TRUE(o.closed) << "client " << i << " was cut without a Close";
    EXPECT_EQ(o.close_code, 1012) << "client " << i;
    EXPECT_TRUE(o.peer_ended) << "client " << i;
    EXPECT_EQ(landed[i], "chat-v2") << "client " << i;
    last = std::max(last, landed_at[i]);
  }
  // All on the new version within drain_over (3 s), plus the close of the last one (a message's
  // round trip to its boundary, the handshake, the reconnect; slower under sanitizers).
  EXPECT_LT(ms(last - promoted_at), 3000 + 2000) << ms(last - promoted_at) << " ms";
  json::Value history = control->command("rollout history chat");
  std::string events = control->last_line();
  EXPECT_NE(events.find("100 tunnels to chat-v1/chat close one by one over 3 s"), std::string::npos)
      << events;
  EXPECT_TRUE(wait_until([&] { return metric(admin, kSeries) == 0; }, 10s))
      << metric(admin, kSeries);
}

// Safe to delete (issue #18): after a promotion the old version is reported safe to delete only
// once its last request, connection, tunnel and sticky client are gone, plus the grace period.
// Each is kept alive in turn; `rollout status` names it as pending; a poller reading the status
// every 50 ms never sees "safe" while anything was pending in the grace period before.
TEST(Cutover, SafeToDeleteOnlyAfterTheLastUseAndTheGracePeriod) {
  DemoUpstream v1 = DemoUpstream::start("chat-v1");
  DemoUpstream v2 = DemoUpstream::start("chat-v2");
  const std::string socket = temp_path("control", ".sock");
  Weir weir = Weir::start(
      two_chat_versions(socket, v1, v2,
                        "      steps: [{ set_weight: 100 }]\n"
                        "      affinity: { cookie: weir-version }\n"
                        "      tunnels: { drain_over: 0s }\n" // left open: the test closes it
                        "      cleanup: { grace_period: 2s }\n"));
  const uint16_t admin = weir.admin_port();
  auto control = connect_control(socket);
  ASSERT_TRUE(control);

  // Before the promotion: a tunnel and a slow request to the old version.
  std::string served_by;
  auto tunnel = open_websocket(weir.port(), &served_by);
  ASSERT_TRUE(tunnel);
  ASSERT_EQ(served_by, "chat-v1");
  HttpResponse slow;
  std::thread slow_request([&] { slow = http_request(weir.port(), "GET", "/?delay_ms=2500"); });
  auto in_flight = [&] {
    json::Value v = control->command("show services");
    for (const json::Value& s : v["services"].as_array())
      if (s.get_string("service") == "chat-v1/chat")
        return s["endpoints"].as_array()[0].get_number("active");
    return -1.0;
  };
  ASSERT_TRUE(wait_until([&] { return in_flight() >= 2; }, 5s)) << in_flight();
  ASSERT_TRUE(control->command("rollout start chat").get_bool("ok")) << control->last_line();

  // A poller keeps every status it reads.
  using Clock = std::chrono::steady_clock;
  struct Seen {
    Clock::time_point at;
    std::set<std::string> pending;
    bool safe = false;
  };
  std::vector<Seen> seen;
  std::mutex seen_mutex;
  std::atomic<bool> polling{true};
  std::thread poller([&] {
    auto c = connect_control(socket);
    while (c && polling) {
      json::Value st = c->command("rollout status chat")["rollout"]["cleanup"];
      Seen s{Clock::now(), {}, st.get_bool("safe_to_delete")};
      for (const json::Value& p : st["pending"].as_array())
        s.pending.insert(p.get_string("condition"));
      {
        std::lock_guard lock(seen_mutex);
        seen.push_back(std::move(s));
      }
      std::this_thread::sleep_for(50ms); // the poll's pace, not a wait for a condition
    }
  });
  auto pending_now = [&] {
    std::set<std::string> out;
    json::Value st = control->command("rollout status chat")["rollout"]["cleanup"];
    for (const json::Value& p : st["pending"].as_array())
      out.insert(p.get_string("condition"));
    return out;
  };
  auto stop_polling = [&] {
    polling = false;
    if (poller.joinable()) poller.join();
    if (slow_request.joinable()) slow_request.join();
  };

  // 1. The slow request, the tunnel and their connections.
  std::set<std::string> first = pending_now();
  EXPECT_TRUE(first.contains("requests")) << control->last_line();
  EXPECT_TRUE(first.contains("tunnels")) << control->last_line();
  EXPECT_TRUE(first.contains("connections")) << control->last_line();
  json::Value services = control->command("show services");
  EXPECT_NE(control->last_line().find("\"cleanup\":{\"version\":\"chat-v1/chat\""),
            std::string::npos)
      << "show services says it too";
  // 2. The slow request ends: the tunnel still holds the version.
  slow_request.join();
  EXPECT_EQ(slow.status, 200);
  EXPECT_EQ(slow.header("x-served-by"), "chat-v1");
  EXPECT_TRUE(wait_until([&] { return !pending_now().contains("requests"); }, 5s));
  EXPECT_TRUE(pending_now().contains("tunnels")) << control->last_line();
  // 3. The tunnel ends with its closing handshake; weir closes the idle connections left.
  ASSERT_TRUE(tunnel->send(ws_frame(kClose, std::string("\x03\xe8", 2), 0x01020304)));
  auto close = read_ws_frame(*tunnel, 5s);
  EXPECT_TRUE(close && close->opcode == kClose);
  EXPECT_TRUE(tunnel->closed_by_peer(5s));
  tunnel.reset();
  EXPECT_TRUE(wait_until(
      [&] {
        auto p = pending_now();
        return !p.contains("tunnels") && !p.contains("connections");
      },
      10s))
      << control->last_line();
  // 4. A sticky client: an operator's weight still gives the old version some buckets.
  ASSERT_TRUE(control->command("set weight chat chat-v1/chat=5 chat-v2/chat=95").get_bool("ok"))
      << control->last_line();
  EXPECT_TRUE(wait_until([&] { return pending_now().contains("sticky"); }, 5s))
      << control->last_line();
  ASSERT_TRUE(control->command("clear weight chat").get_bool("ok")) << control->last_line();
  // 5. Nothing left: safe once the grace period has passed.
  ASSERT_TRUE(wait_until(
      [&] {
        return control->command("rollout status chat")["rollout"]["cleanup"].get_bool(
            "safe_to_delete");
      },
      10s))
      << control->last_line();
  EXPECT_TRUE(wait_until(
      [&] {
        std::lock_guard lock(seen_mutex);
        return !seen.empty() && seen.back().safe;
      },
      5s));
  stop_polling();

  std::optional<Clock::time_point> last_pending, first_safe;
  std::set<std::string> ever;
  for (const Seen& s : seen) {
    ever.insert(s.pending.begin(), s.pending.end());
    EXPECT_FALSE(s.safe && !s.pending.empty()) << "safe while something was pending";
    if (!s.pending.empty()) last_pending = s.at;
    if (s.safe && !first_safe) first_safe = s.at;
  }
  EXPECT_EQ(ever, (std::set<std::string>{"connections", "requests", "sticky", "tunnels"}));
  ASSERT_TRUE(last_pending && first_safe);
  EXPECT_GE(*first_safe - *last_pending, 2s - 100ms) << "the grace period came first";
  EXPECT_NE(http_request(admin, "GET", "/metrics")
                .body.find("weir_version_safe_to_delete{namespace=\"chat-v1\",service=\"chat\"} 1"),
            std::string::npos);
  control->command("rollout history chat");
  EXPECT_NE(control->last_line().find("\"type\":\"safe_to_delete\""), std::string::npos)
      << control->last_line();
}

} // namespace
} // namespace weir::test
