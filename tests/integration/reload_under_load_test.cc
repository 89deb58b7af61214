// Reloads and live weight changes under steady load: real weir and weir-demo-upstream processes,
// a pool of keep-alive clients counting every response, the control socket driving changes.
// Not one request may fail, and after each change the traffic split follows the new weights.
#include "support/client.h"
#include "support/control.h"
#include "support/load.h"
#include "support/process.h"
#include "support/release_only.h"
#include "support/upstream.h"
#include "support/wait.h"
#include "support/weir.h"
#include "weir/base/json.h"

#include <algorithm>
#include <arpa/inet.h>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <gtest/gtest.h>
#include <map>
#include <memory>
#include <mutex>
#include <netinet/in.h>
#include <random>
#include <regex>
#include <set>
#include <string>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace weir::test {
namespace {

using namespace std::chrono_literals;

// --- helpers ---------------------------------------------------------------------------------

// Whether a JSON array holds the string `value`.
bool contains(const json::Value& array, const std::string& value) {
  for (const auto& v : array.as_array())
    if (v.is_string() && v.as_string() == value) return true;
  return false;
}

// The config both tests reload: services app-v1/app (endpoints v1) and app-v2/app (v2), route
// "split" on listener "public"; with extra_port, also listener "extra" on that port and route
// "to-extra" sending it to app-v2/app.
struct Layout {
  std::string socket;
  std::vector<const DemoUpstream*> v1;
  std::vector<const DemoUpstream*> v2;
  int w1 = 1;
  int w2 = 1;
  uint16_t extra_port = 0;

  std::string yaml() const {
    auto list = [](const std::vector<const DemoUpstream*>& ups) {
      std::string out;
      for (const auto* u : ups)
        out += (out.empty() ? "" : ", ") + u->address();
      return out;
    };
    std::string y = "workers: 2\ncontrol:\n  socket: " + socket + "\n  mode: \"0600\"\n";
    y += "listeners:\n  - name: public\n    address: 127.0.0.1:0\n";
    if (extra_port)
      y += "  - name: extra\n    address: 127.0.0.1:" + std::to_string(extra_port) + "\n";
    y += "services:\n";
    y += "  - namespace: app-v1\n    name: app\n    endpoints: [" + list(v1) + "]\n";
    y += "  - namespace: app-v2\n    name: app\n    endpoints: [" + list(v2) + "]\n";
    y += "routes:\n";
    y += "  - name: split\n    listener: public\n    backends:\n";
    y += "      - service: app-v1/app\n        weight: " + std::to_string(w1) + "\n";
    y += "      - service: app-v2/app\n        weight: " + std::to_string(w2) + "\n";
    if (extra_port)
      y += "  - name: to-extra\n    listener: extra\n    backends:\n"
           "      - service: app-v2/app\n";
    return y;
  }
};

// Writes the file whole (temp + rename), so a reload never reads half of it.
void replace_file(const std::string& path, const std::string& text) {
  std::string tmp = path + ".next";
  ASSERT_TRUE(write_file(tmp, text));
  ASSERT_EQ(::rename(tmp.c_str(), path.c_str()), 0) << std::strerror(errno);
}

// A port that was free a moment ago (bind to port 0, read it, close).
uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  uint16_t port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
    port = ntohs(addr.sin_port);
  ::close(fd);
  return port;
}

// errno of a TCP connect to 127.0.0.1:port, 0 if it connected.
int connect_errno(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  int err = rc == 0 ? 0 : errno;
  ::close(fd);
  return err;
}

class ReloadUnderLoad : public ::testing::Test {
protected:
  void SetUp() override {
    u1_ = DemoUpstream::start("u1");
    u2_ = DemoUpstream::start("u2");
    u3_ = DemoUpstream::start("u3");
    w1_ = DemoUpstream::start("w1");
    socket_ = temp_path("ctl", ".sock");
    // A: v1=90 on [u1, u2], v2=10. B: v1=10 on [u2, u3], v2=90.
    a_ = Layout{socket_, {&u1_, &u2_}, {&w1_}, 90, 10, 0};
    b_ = Layout{socket_, {&u2_, &u3_}, {&w1_}, 10, 90, 0};
  }

  // Waits for 1,000 responses in `epoch` and checks that app-v1/app got w1 / (w1 + w2) of them
  // (within 3 points) and only from `endpoints`.
  void expect_split(LoadGen& load, int epoch, int w1, int w2, const std::set<std::string>& v1_names,
                    const std::string& when) {
    SCOPED_TRACE(when);
    ASSERT_TRUE(load.wait_for(epoch, 1000)) << load.report();
    uint64_t v1 = 0, total = 0;
    for (const auto& [name, n] : load.served_by(epoch)) {
      total += n;
      if (name == "w1") continue;
      EXPECT_TRUE(v1_names.count(name)) << n << " requests went to " << name;
      v1 += n;
    }
    double share = static_cast<double>(v1) / static_cast<double>(total);
    double want = static_cast<double>(w1) / static_cast<double>(w1 + w2);
    EXPECT_NEAR(share, want, 0.03) << "weights " << w1 << "/" << w2 << ", " << total << " requests";
  }

  DemoUpstream u1_;
  DemoUpstream u2_;
  DemoUpstream u3_;
  DemoUpstream w1_;
  std::string socket_;
  Layout a_;
  Layout b_;
};

// One invalid edit of a valid config: `from` (first occurrence) becomes `to`; an empty `from`
// appends `to`. The reply must name `key` at the line and column of `at` (when not empty).
struct BadEdit {
  std::string from;
  std::string to;
  std::string key;
  std::string at;
};

TEST_F(ReloadUnderLoad, HundredReloadsTenInvalidAndHundredSetWeightsLoseNoRequest) {
  WEIR_RELEASE_ONLY();
  Weir weir = Weir::start(a_.yaml());
  auto c = connect_control(socket_);
  ASSERT_TRUE(c);
  LoadGen load(weir.port(), 4, 2000);
  const std::set<std::string> a_names = {"u1", "u2"};
  const std::set<std::string> b_names = {"u2", "u3"};
  expect_split(load, load.new_epoch(), 90, 10, a_names, "at start");

  const std::vector<BadEdit> bad = {
      {"weight: 90", "weight: abc", "routes[0].backends[0].weight", "abc"},
      {"weight: 10", "weight: -10", "routes[0].backends[1].weight", "-10"},
      {"", "frobnicate: 1\n", "frobnicate", "frobnicate"},
      {"listener: public\n    backends", "listener: nosuch\n    backends", "routes[0].listener",
       "nosuch"},
      {"service: app-v2/app", "service: app-v9/app", "routes[0].backends[1].service", "app-v9"},
      {"endpoints: [", "endpoints: [not-an-address, ", "services[0].endpoints[0]",
       "not-an-address"},
      {"workers: 2", "workers: 0", "workers", ""},
      {"endpoints: [", "endpoints: [[", "", ""}, // YAML syntax error
      {"    backends:", "    match: { path_prefix: nope }\n    backends:",
       "routes[0].match.path_prefix", "nope"},
      {"  - name: public", "  - name: public\n    adress: 127.0.0.1:0", "listeners[0].adress",
       "adress"},
  };
  std::mt19937 rng(20240611);
  int w1 = 90, w2 = 10;
  bool overridden = false;
  int invalid_done = 0, set_done = 0;
  for (int i = 0; i < 100; ++i) {
    SCOPED_TRACE("iteration " + std::to_string(i));
    const Layout& next = i % 2 == 0 ? b_ : a_;
    const auto& names = i % 2 == 0 ? b_names : a_names;
    replace_file(weir.config_path, next.yaml());
    json::Value reply = c->command("reload");
    ASSERT_TRUE(reply["ok"].as_bool()) << c->last_line();
    EXPECT_TRUE(contains(reply["changes"]["routes_changed"], "split")) << c->last_line();
    EXPECT_EQ(contains(reply["changes"]["overrides_dropped"], "split"), overridden)
        << c->last_line();
    w1 = next.w1;
    w2 = next.w2;
    overridden = false;
    if (i % 10 == 0) expect_split(load, load.new_epoch(), w1, w2, names, "after reload");

    int a = static_cast<int>(rng() % 101), b = static_cast<int>(rng() % 101);
    if (a == 0 && b == 0) a = 1;
    reply = c->command("set weight split app-v1/app=" + std::to_string(a) +
                       " app-v2/app=" + std::to_string(b));
    ASSERT_TRUE(reply["ok"].as_bool()) << c->last_line();
    ++set_done;
    EXPECT_EQ(backend_field(reply["route"], "app-v1/app", "weight").as_number(), a);
    EXPECT_EQ(backend_field(reply["route"], "app-v2/app", "weight").as_number(), b);
    w1 = a;
    w2 = b;
    overridden = true;
    if (i % 10 == 5 || a == 0 || b == 0)
      expect_split(load, load.new_epoch(), w1, w2, names, "after set weight");

    if (i % 10 == 9) {
      const BadEdit& edit = bad[static_cast<size_t>(i / 10)];
      std::string text = next.yaml();
      size_t edited_at = text.size(); // where the edit starts: edit.at is looked up from there
      if (edit.from.empty()) {
        text += edit.to;
      } else {
        size_t at = text.find(edit.from);
        edited_at = at;
        ASSERT_NE(at, std::string::npos) << edit.from;
        text.replace(at, edit.from.size(), edit.to);
      }
      c->command("show routes");
      const std::string before_routes = c->last_line();
      double generation = c->command("show config")["config"].get_number("generation");
      replace_file(weir.config_path, text);
      reply = c->command("reload");
      ASSERT_TRUE(reply.is_object()) << c->last_line();
      EXPECT_FALSE(reply["ok"].as_bool()) << c->last_line();
      ++invalid_done;
      // Every line is FILE:LINE:COL: key: message.
      const std::string error = reply.get_string("error");
      EXPECT_FALSE(error.empty()) << c->last_line();
      const std::string prefix = weir.config_path + ":";
      const std::regex form(R"(\d+:\d+: .+)");
      size_t start = 0;
      while (start < error.size()) {
        size_t end = error.find('\n', start);
        if (end == std::string::npos) end = error.size();
        std::string line = error.substr(start, end - start);
        EXPECT_TRUE(line.starts_with(prefix) && std::regex_match(line.substr(prefix.size()), form))
            << "not FILE:LINE:COL: message: " << line;
        start = end + 1;
      }
      if (!edit.key.empty()) {
        EXPECT_NE(error.find(": " + edit.key + ": "), std::string::npos) << error;
      }
      if (!edit.at.empty()) {
        // From the edit on: a temporary path earlier in the file may hold the same characters
        // (a socket path with "-10" put the expected place on line 3).
        size_t pos = text.find(edit.at, edited_at);
        size_t line = 1 + static_cast<size_t>(std::count(
                              text.begin(), text.begin() + static_cast<std::ptrdiff_t>(pos), '\n'));
        size_t col = pos - (pos == 0 ? 0 : text.rfind('\n', pos - 1) + 1) + 1;
        std::string where = weir.config_path + ":" + std::to_string(line) + ":" +
                            std::to_string(col) + ": " + edit.key + ": ";
        EXPECT_NE(error.find(where), std::string::npos) << "want " << where << "\ngot " << error;
      }
      // Nothing changed: same routes, same generation, same traffic split.
      c->command("show routes");
      EXPECT_EQ(c->last_line(), before_routes);
      EXPECT_EQ(c->command("show config")["config"].get_number("generation"), generation);
      expect_split(load, load.new_epoch(), w1, w2, names, "after invalid reload: " + edit.to);
    }
  }
  load.stop();
  EXPECT_EQ(invalid_done, 10);
  EXPECT_EQ(set_done, 100);
  EXPECT_EQ(load.failures(), 0u) << load.report();
  EXPECT_GE(load.rate(), 1000.0) << load.responses() << " responses";
  std::printf("[          ] %llu responses at %.0f/s, %s",
              static_cast<unsigned long long>(load.responses()), load.rate(),
              load.report().c_str());
  EXPECT_TRUE(weir.proc->running());
}

TEST_F(ReloadUnderLoad, ListenersAddedAndRemovedWhileAnUnchangedOneKeepsAccepting) {
  uint16_t extra = free_port();
  ASSERT_NE(extra, 0);
  Layout with = a_;
  with.extra_port = extra;
  Weir weir = Weir::start(a_.yaml());
  const uint16_t public_port = weir.port();
  auto c = connect_control(socket_);
  ASSERT_TRUE(c);
  LoadGen load(public_port, 2, 1000);
  // New connections to the unchanged listener all through the reloads.
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> fresh_ok{0};
  std::mutex notes_mutex;
  std::vector<std::string> fresh_failures;
  std::thread connector([&] {
    while (!stop.load()) {
      HttpResponse r = http_request(public_port, "GET", "/");
      if (r.status == 200) {
        ++fresh_ok;
        continue;
      }
      std::lock_guard lock(notes_mutex);
      fresh_failures.push_back(r.status == 0 ? "no response (refused or reset)"
                                             : "status " + std::to_string(r.status));
    }
  });

  struct JoinOnExit { // also when an ASSERT returns early
    std::atomic<bool>& stop;
    std::thread& thread;
    ~JoinOnExit() {
      stop = true;
      if (thread.joinable()) thread.join();
    }
  } join_on_exit{stop, connector};

  EXPECT_EQ(connect_errno(extra), ECONNREFUSED);
  for (int i = 0; i < 50; ++i) {
    SCOPED_TRACE("reload " + std::to_string(i));
    // Each reload overlaps fresh connections to the unchanged listener.
    uint64_t connected = fresh_ok.load();
    ASSERT_TRUE(wait_until([&] { return fresh_ok.load() >= connected + 5; }, 10s));
    bool add = i % 2 == 0;
    replace_file(weir.config_path, add ? with.yaml() : a_.yaml());
    json::Value reply = c->command("reload");
    ASSERT_TRUE(reply["ok"].as_bool()) << c->last_line();
    const std::string listed = "extra 127.0.0.1:" + std::to_string(extra);
    EXPECT_TRUE(contains(reply["changes"][add ? "listeners_added" : "listeners_removed"], listed))
        << c->last_line();
    EXPECT_TRUE(contains(reply["changes"][add ? "routes_added" : "routes_removed"], "to-extra"))
        << c->last_line();
    if (add) {
      HttpResponse r = http_request(extra, "GET", "/");
      EXPECT_EQ(r.status, 200);
      EXPECT_EQ(r.header("x-served-by"), "w1");
      json::Value config = c->command("show config");
      EXPECT_TRUE(contains(config["config"]["listeners"], listed)) << c->last_line();
    } else {
      int err = connect_errno(extra);
      EXPECT_EQ(err, ECONNREFUSED) << (err ? std::strerror(err) : "connected");
    }
    // The unchanged listener kept its port.
    json::Value config = c->command("show config");
    EXPECT_TRUE(
        contains(config["config"]["listeners"], "public 127.0.0.1:" + std::to_string(public_port)))
        << c->last_line();
  }
  uint64_t before = fresh_ok.load();
  EXPECT_TRUE(wait_until([&] { return fresh_ok.load() >= before + 5; }, 10s));
  stop = true;
  connector.join();
  load.stop();
  EXPECT_TRUE(fresh_failures.empty())
      << fresh_failures.size() << " failed new connections, first: " << fresh_failures.front();
  EXPECT_GT(fresh_ok.load(), 0u);
  EXPECT_EQ(load.failures(), 0u) << load.report();
}

} // namespace
} // namespace weir::test
