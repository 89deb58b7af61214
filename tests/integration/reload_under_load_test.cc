// Reloads and live weight changes under steady load: real weir and weir-demo-upstream processes,
// a pool of keep-alive clients counting every response, the control socket driving changes.
// Not one request may fail, and after each change the traffic split follows the new weights.
#include "support/client.h"
#include "support/process.h"
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
#include <optional>
#include <poll.h>
#include <random>
#include <regex>
#include <set>
#include <string>
#include <sys/socket.h>
#include <sys/un.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace weir::test {
namespace {

using namespace std::chrono_literals;

// --- helpers (control_test.cc has the same: the support library is not ours) ---

// One control socket connection: a command line out, one JSON line back.
class ControlClient {
public:
  // nullptr if connect() fails; *err gets its errno.
  static std::unique_ptr<ControlClient> connect(const std::string& path, int* err = nullptr) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof addr.sun_path) {
      if (err) *err = ENAMETOOLONG;
      return nullptr;
    }
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      if (err) *err = errno;
      return nullptr;
    }
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      if (err) *err = errno;
      ::close(fd);
      return nullptr;
    }
    return std::unique_ptr<ControlClient>(new ControlClient(fd));
  }
  ControlClient(const ControlClient&) = delete;
  ControlClient& operator=(const ControlClient&) = delete;
  ~ControlClient() { ::close(fd_); }

  bool send(std::string_view bytes) {
    while (!bytes.empty()) {
      ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // The next line without its newline; nullopt on timeout or when the peer closed first.
  std::optional<std::string> read_line(std::chrono::milliseconds timeout = 10s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      size_t nl = buf_.find('\n');
      if (nl != std::string::npos) {
        std::string line = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        return line;
      }
      if (!fill(deadline)) return std::nullopt;
    }
  }

  // Sends `line` + "\n" and parses the reply line; a null Value when there is none or it is
  // not JSON (last_line() has the raw text).
  json::Value command(std::string_view line, std::chrono::milliseconds timeout = 10s) {
    last_.clear();
    if (!send(std::string(line) + "\n")) return {};
    auto reply = read_line(timeout);
    if (!reply) return {};
    last_ = *reply;
    auto parsed = json::parse(*reply);
    return parsed.value ? *parsed.value : json::Value();
  }

  // True once the peer closes (EOF or ECONNRESET) within `timeout`; data read meanwhile is kept.
  bool closed_by_peer(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (fill(deadline)) {
    }
    return eof_;
  }

  const std::string& last_line() const { return last_; }
  int fd() const { return fd_; }

private:
  explicit ControlClient(int fd) : fd_(fd) {}

  // Appends what arrives before `deadline`; false on timeout, EOF or error.
  bool fill(std::chrono::steady_clock::time_point deadline) {
    if (eof_) return false;
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() < 0) return false;
      pollfd p{fd_, POLLIN, 0};
      int r = ::poll(&p, 1, static_cast<int>(left.count()));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) return false;
      char chunk[8192];
      ssize_t n = ::read(fd_, chunk, sizeof chunk);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        eof_ = true;
        return false;
      }
      buf_.append(chunk, static_cast<size_t>(n));
      return true;
    }
  }

  int fd_;
  std::string buf_;
  std::string last_;
  bool eof_ = false;
};

// Keep-alive GET / from a pool of threads at a paced total rate, counting every status and
// every socket error. Responses are grouped by epoch: a request counts in the epoch that was
// current when it was sent, so after new_epoch() returns, the new epoch holds only requests sent
// after the caller's last change was acknowledged.
class LoadGen {
public:
  LoadGen(uint16_t port, int threads, double target_rps, std::string path = "/")
      : port_(port), path_(std::move(path)), started_(std::chrono::steady_clock::now()) {
    auto interval = std::chrono::duration<double>(threads / target_rps);
    for (int i = 0; i < threads; ++i)
      workers_.push_back(std::make_unique<Worker>());
    for (auto& w : workers_)
      w->thread = std::thread([this, w = w.get(), interval] { run(*w, interval); });
  }
  LoadGen(const LoadGen&) = delete;
  LoadGen& operator=(const LoadGen&) = delete;
  ~LoadGen() { stop(); }

  void stop() {
    if (stop_.exchange(true)) return;
    for (auto& w : workers_)
      w->thread.join();
    stopped_ = std::chrono::steady_clock::now();
  }

  int new_epoch() { return epoch_.fetch_add(1, std::memory_order_acq_rel) + 1; }

  // x-served-by of the 2xx responses to requests sent in `epoch`.
  std::map<std::string, uint64_t> served_by(int epoch) const {
    std::map<std::string, uint64_t> out;
    for (const auto& w : workers_) {
      std::lock_guard lock(w->mutex);
      auto it = w->by_epoch.find(epoch);
      if (it == w->by_epoch.end()) continue;
      for (const auto& [name, n] : it->second)
        out[name] += n;
    }
    return out;
  }
  uint64_t count(int epoch) const {
    uint64_t n = 0;
    for (const auto& [name, c] : served_by(epoch))
      n += c;
    return n;
  }
  // Waits (up to `timeout`) for `n` responses in `epoch`; false if they did not come.
  bool wait_for(int epoch, uint64_t n, std::chrono::milliseconds timeout = 20s) const {
    return wait_until([&] { return count(epoch) >= n; }, timeout);
  }

  uint64_t responses() const {
    uint64_t n = 0;
    for (const auto& w : workers_) {
      std::lock_guard lock(w->mutex);
      n += w->responses;
    }
    return n;
  }
  uint64_t failures() const {
    uint64_t n = 0;
    for (const auto& w : workers_) {
      std::lock_guard lock(w->mutex);
      n += w->failures;
    }
    return n;
  }
  // Status counts, socket errors and the first few failures, for messages.
  std::string report() const {
    std::map<int, uint64_t> statuses;
    uint64_t socket_errors = 0;
    std::string notes;
    for (const auto& w : workers_) {
      std::lock_guard lock(w->mutex);
      for (const auto& [s, n] : w->statuses)
        statuses[s] += n;
      socket_errors += w->socket_errors;
      for (const auto& note : w->notes)
        notes.append("  ").append(note).append("\n");
    }
    std::string out = "statuses:";
    for (const auto& [s, n] : statuses)
      out.append(" ").append(std::to_string(s)).append("=").append(std::to_string(n));
    out.append("; socket errors: ").append(std::to_string(socket_errors)).append("\n");
    out.append(notes);
    return out;
  }
  // Responses per second from construction to stop() (or now).
  double rate() const {
    auto end = stop_.load() ? stopped_ : std::chrono::steady_clock::now();
    double secs = std::chrono::duration<double>(end - started_).count();
    return secs > 0 ? static_cast<double>(responses()) / secs : 0;
  }

private:
  struct Worker {
    std::thread thread;
    mutable std::mutex mutex;
    std::map<int, std::map<std::string, uint64_t>> by_epoch;
    std::map<int, uint64_t> statuses;
    uint64_t responses = 0;
    uint64_t failures = 0;
    uint64_t socket_errors = 0;
    std::vector<std::string> notes; // the first failures
  };

  void run(Worker& w, std::chrono::duration<double> interval) {
    const std::string request = build_request("GET", path_, {}, {});
    std::unique_ptr<RawClient> client;
    auto next = std::chrono::steady_clock::now();
    auto fail = [&](const std::string& what) {
      std::lock_guard lock(w.mutex);
      ++w.failures;
      if (w.notes.size() < 5) w.notes.push_back(what);
    };
    while (!stop_.load()) {
      next += std::chrono::duration_cast<std::chrono::steady_clock::duration>(interval);
      auto now = std::chrono::steady_clock::now();
      if (next > now)
        std::this_thread::sleep_until(next); // pacing, not synchronisation
      else if (now - next > 100ms)
        next = now; // fell behind: do not burst to catch up
      int epoch = epoch_.load(std::memory_order_acquire);
      bool fresh = false;
      if (!client) {
        client = RawClient::connect(port_);
        fresh = true;
        if (!client) {
          {
            std::lock_guard lock(w.mutex);
            ++w.socket_errors;
          }
          fail("connect to port " + std::to_string(port_) + " failed");
          continue;
        }
      }
      std::optional<HttpResponse> resp;
      if (client->send(request)) resp = client->read_response(5s);
      if (!resp || resp->status == 0 || !resp->complete) {
        {
          std::lock_guard lock(w.mutex);
          ++w.socket_errors;
        }
        fail(std::string("no complete response on a ") + (fresh ? "new" : "reused") +
             " connection");
        client.reset();
        continue;
      }
      {
        std::lock_guard lock(w.mutex);
        ++w.responses;
        ++w.statuses[resp->status];
        if (resp->status >= 200 && resp->status < 300)
          ++w.by_epoch[epoch][resp->header("x-served-by")];
      }
      if (resp->status < 200 || resp->status >= 300)
        fail("status " + std::to_string(resp->status) + ": " + resp->body.substr(0, 200));
      if (iequals(resp->header("connection"), "close")) client.reset();
    }
  }

  uint16_t port_;
  std::string path_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::atomic<bool> stop_{false};
  std::atomic<int> epoch_{0};
  std::chrono::steady_clock::time_point started_;
  std::chrono::steady_clock::time_point stopped_;
};

std::unique_ptr<ControlClient> connect_control(const std::string& socket) {
  int err = 0;
  auto c = ControlClient::connect(socket, &err);
  EXPECT_TRUE(c) << "cannot connect to " << socket << ": " << std::strerror(err);
  return c;
}

const json::Value& backend_field(const json::Value& route, const std::string& service,
                                 const std::string& field) {
  static const json::Value null;
  for (const auto& b : route["backends"].as_array())
    if (b.get_string("service") == service) return b[field];
  return null;
}

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
      if (edit.from.empty()) {
        text += edit.to;
      } else {
        size_t at = text.find(edit.from);
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
        size_t pos = text.find(edit.at, edit.from.empty() ? text.size() - edit.to.size() : 0);
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
