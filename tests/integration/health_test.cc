// Health checks, synthetic probes, outlier ejection and retries end to end (issue #5): the real
// weir and weir-demo-upstream binaries on loopback ports chosen by the kernel, the control
// socket, and small raw TCP servers run by the test for upstreams that misbehave in ways the demo
// cannot (hold a request forever, reset after the head, truncate, answer 500 and count).
// Intervals come from the configs (200 ms checks), so every wait is a condition with a deadline.
// Thresholds over rounds of checks, the jittered interval and ejection times are unit tests on a
// ManualClock (tests/unit/health/checker_test.cc, tests/unit/control/ejections_test.cc); here
// each feature runs once in real time.
#include "support/client.h"
#include "support/control.h"
#include "support/load.h"
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
#include <gtest/gtest.h>
#include <map>
#include <memory>
#include <mutex>
#include <netinet/in.h>
#include <optional>
#include <poll.h>
#include <sstream>
#include <string>
#include <sys/socket.h>
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

// ---------------------------------------------------------------------------------------------
// Control socket

// One command on a fresh connection to the control socket: the parsed reply and its raw line.
struct Reply {
  json::Value value;
  std::string raw;
  bool ok() const { return value.get_bool("ok"); }
};

Reply control(const std::string& socket, const std::string& command) {
  Reply reply;
  auto c = connect_control(socket);
  if (!c) return reply;
  reply.value = c->command(command);
  reply.raw = c->last_line();
  return reply;
}

const json::Value& service_in(const json::Value& reply, const std::string& id) {
  static const json::Value null;
  for (const auto& s : reply["services"].as_array())
    if (s.get_string("service") == id) return s;
  return null;
}

// The `show services` object of one endpoint (null when absent).
const json::Value& endpoint_in(const json::Value& reply, const std::string& service,
                               const std::string& address) {
  static const json::Value null;
  const json::Value& s = service_in(reply, service);
  if (!s.is_object()) return null;
  for (const auto& e : s["endpoints"].as_array())
    if (e.get_string("address") == address) return e;
  return null;
}

// A probe of `show probes` (null when absent).
const json::Value& probe_in(const json::Value& reply, const std::string& service,
                            const std::string& name) {
  static const json::Value null;
  const json::Value& s = service_in(reply, service);
  if (!s.is_object()) return null;
  for (const auto& p : s["probes"].as_array())
    if (p.get_string("name") == name) return p;
  return null;
}

std::string endpoint_health(const std::string& socket, const std::string& service,
                            const std::string& address) {
  return endpoint_in(control(socket, "show services").value, service, address).get_string("health");
}

bool endpoint_ejected(const std::string& socket, const std::string& service,
                      const std::string& address) {
  return endpoint_in(control(socket, "show services").value, service, address).get_bool("ejected");
}

// ---------------------------------------------------------------------------------------------
// Upstreams

std::string address_of(uint16_t port) {
  return "127.0.0.1:" + std::to_string(port);
}

// weir-demo-upstream on a given port: how a killed endpoint comes back at the same address.
DemoUpstream start_demo_on(uint16_t port, const std::string& name,
                           std::vector<std::string> extra = {}) {
  std::vector<std::string> argv = {DEMO_UPSTREAM_BIN, "--listen", address_of(port), "--name", name};
  argv.insert(argv.end(), extra.begin(), extra.end());
  DemoUpstream up;
  up.proc = Process::start(argv);
  if (!up.proc) throw std::runtime_error("cannot start demo upstream");
  auto line = up.proc->wait_for_line("listening on", 10s);
  if (line) up.port = port_at_end(*line);
  if (!line || up.port != port) {
    ADD_FAILURE() << "weir-demo-upstream " << name << " did not listen on port " << port << ":\n"
                  << up.proc->output();
    throw std::runtime_error("demo upstream did not start");
  }
  return up;
}

// A raw TCP upstream run by one test thread, counting what it sees. Thread contract: the
// counters may be read from any thread; everything else belongs to the owner's thread.
class RawServer {
public:
  enum class Mode {
    hold,             // read requests and never answer (a hung upstream)
    reset_at_once,    // accept, then close with an RST before reading anything
    reset_after_head, // read the request head, then close with an RST
    respond,          // read the request head, write `response`, close
  };

  explicit RawServer(Mode mode, std::string response = {})
      : mode_(mode), response_(std::move(response)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::listen(listen_fd_, 512) != 0 ||
        ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0)
      throw std::runtime_error(std::string("raw server: ") + std::strerror(errno));
    port_ = ntohs(a.sin_port);
    if (::pipe2(wake_, O_CLOEXEC) != 0) throw std::runtime_error("raw server: pipe");
    thread_ = std::thread([this] { loop(); });
  }
  RawServer(const RawServer&) = delete;
  RawServer& operator=(const RawServer&) = delete;
  ~RawServer() {
    char c = 0;
    (void)!::write(wake_[1], &c, 1);
    thread_.join();
    for (auto& [fd, buf] : clients_)
      ::close(fd);
    ::close(listen_fd_);
    ::close(wake_[0]);
    ::close(wake_[1]);
  }

  uint16_t port() const { return port_; }
  std::string address() const { return address_of(port_); }
  uint64_t connections() const { return connections_.load(); }
  uint64_t heads() const { return heads_.load(); } // request heads read
  // Request heads other than weir's health checks (GET /healthz).
  uint64_t user_heads() const { return user_heads_.load(); }

private:
  static void reset(int fd) {
    linger l{1, 0}; // close() now sends an RST
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    ::close(fd);
  }

  void loop() {
    for (;;) {
      std::vector<pollfd> fds{{wake_[0], POLLIN, 0}, {listen_fd_, POLLIN, 0}};
      for (const auto& [fd, buf] : clients_)
        fds.push_back({fd, POLLIN, 0});
      if (::poll(fds.data(), fds.size(), -1) < 0 && errno != EINTR) return;
      if (fds[0].revents) return;
      if (fds[1].revents & POLLIN) {
        for (;;) {
          int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
          if (fd < 0) break;
          ++connections_;
          if (mode_ == Mode::reset_at_once)
            reset(fd);
          else
            clients_[fd];
        }
      }
      for (size_t i = 2; i < fds.size(); ++i) {
        if (!fds[i].revents) continue;
        int fd = fds[i].fd;
        char chunk[16384];
        ssize_t n = ::read(fd, chunk, sizeof chunk);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
        if (n <= 0) {
          ::close(fd);
          clients_.erase(fd);
          continue;
        }
        std::string& buf = clients_[fd];
        buf.append(chunk, static_cast<size_t>(n));
        size_t end = buf.find("\r\n\r\n");
        if (end == std::string::npos) continue;
        ++heads_;
        if (buf.compare(0, 13, "GET /healthz ") != 0) ++user_heads_;
        buf.erase(0, end + 4);
        if (mode_ == Mode::hold) continue;
        if (mode_ == Mode::respond) {
          std::string_view out = response_;
          while (!out.empty()) {
            ssize_t w = ::send(fd, out.data(), out.size(), MSG_NOSIGNAL);
            if (w <= 0) break;
            out.remove_prefix(static_cast<size_t>(w));
          }
          ::shutdown(fd, SHUT_WR);
          ::close(fd);
        } else {
          reset(fd);
        }
        clients_.erase(fd);
      }
    }
  }

  Mode mode_;
  std::string response_;
  int listen_fd_ = -1;
  int wake_[2] = {-1, -1};
  uint16_t port_ = 0;
  std::map<int, std::string> clients_; // loop thread only
  std::atomic<uint64_t> connections_{0};
  std::atomic<uint64_t> heads_{0};
  std::atomic<uint64_t> user_heads_{0};
  std::thread thread_;
};

// ---------------------------------------------------------------------------------------------
// Client load

// Requests on one keep-alive connection, a new one after weir said "Connection: close". A
// request without a complete answer within 5 s is status 0 (never sent again: that would hide a
// hang or a dropped connection).
class Getter {
public:
  explicit Getter(uint16_t port) : port_(port) {}
  HttpResponse get(const std::string& path = "/") {
    return exchange(build_request("GET", path, {}, {}));
  }
  HttpResponse exchange(const std::string& request) {
    if (!client_) client_ = RawClient::connect(port_);
    if (!client_) return {};
    std::optional<HttpResponse> r;
    if (client_->send(request)) r = client_->read_response(5s);
    if (!r || !r->complete || iequals(r->header("connection"), "close")) client_.reset();
    if (!r) return {};
    return *r;
  }

private:
  uint16_t port_;
  std::unique_ptr<RawClient> client_;
};

// ---------------------------------------------------------------------------------------------
// Configs

std::string header(const std::string& socket, int workers) {
  return "workers: " + std::to_string(workers) + "\ncontrol:\n  socket: " + socket +
         "\nlisteners:\n  - name: public\n    address: 127.0.0.1:0\n";
}

const char* kFastChecks = "    health_check: { interval: 200ms, timeout: 150ms, "
                          "healthy_threshold: 2, unhealthy_threshold: 3 }\n";

std::string service(const std::string& id, const std::vector<std::string>& endpoints,
                    const std::string& extra = "") {
  std::string ns = id.substr(0, id.find('/'));
  std::string name = id.substr(id.find('/') + 1);
  std::string list;
  for (const auto& e : endpoints)
    list += (list.empty() ? "" : ", ") + e;
  return "  - namespace: " + ns + "\n    name: " + name + "\n    endpoints: [" + list + "]\n" +
         extra;
}

// The admin port from the "weir: admin" line, 0 when this build has no admin listener.

// Sum of every sample of a metric family in a Prometheus text exposition; nullopt if absent.
std::optional<double> metric_sum(const std::string& text, const std::string& name,
                                 const std::string& label_part = "") {
  std::istringstream in(text);
  std::string line;
  std::optional<double> sum;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    if (line.compare(0, name.size(), name) != 0) continue;
    if (line.size() > name.size() && line[name.size()] != '{' && line[name.size()] != ' ') continue;
    if (!label_part.empty() && line.find(label_part) == std::string::npos) continue;
    sum = sum.value_or(0) + std::strtod(line.c_str() + line.rfind(' ') + 1, nullptr);
  }
  return sum;
}

// =============================================================================================
// 1. Active checks under load: a killed endpoint costs no request and comes back.

TEST(HealthChecks, KilledEndpointUnderLoadLosesNoRequestAndReturnsAfterRestart) {
  DemoUpstream a = DemoUpstream::start("a");
  DemoUpstream b = DemoUpstream::start("b");
  const uint16_t a_port = a.port;
  const std::string socket = temp_path("ctl", ".sock");
  // Outlier ejection is short (1 s) so that only the health checks keep the dead endpoint out
  // by the time it comes back.
  std::string yaml =
      header(socket, 2) + "services:\n" +
      service("app-v1/app", {a.address(), b.address()},
              std::string(kFastChecks) +
                  "    outlier_detection: { consecutive_failures: 5, base_ejection_time: 1s }\n") +
      "routes:\n  - name: r\n    listener: public\n    backends: [{ service: app-v1/app }]\n"
      "    retries: { attempts: 2 }\n";
  Weir weir = Weir::start(yaml);
  ASSERT_TRUE(wait_until(
      [&] {
        auto r = control(socket, "show services").value;
        return endpoint_in(r, "app-v1/app", a.address()).get_string("health") == "up" &&
               endpoint_in(r, "app-v1/app", b.address()).get_string("health") == "up";
      },
      5s))
      << control(socket, "show services").raw;

  LoadGen load(weir.port(), 4, 300);
  auto served = [&](int epoch, const std::string& name) { return load.served_by(epoch)[name]; };
  ASSERT_TRUE(wait_until([&] { return served(0, "a") >= 30 && served(0, "b") >= 30; }, 10s))
      << load.report();

  a.proc->signal(SIGKILL);
  ASSERT_TRUE(a.proc->wait_exit(5s));
  auto killed = Clock::now();
  ASSERT_TRUE(
      wait_until([&] { return endpoint_health(socket, "app-v1/app", a.address()) == "down"; }, 5s))
      << control(socket, "show services").raw;
  long down_ms = ms_since(killed);
  // interval x unhealthy_threshold + one timeout, plus the ±10 % jitter and scheduling slack.
  EXPECT_LE(down_ms, 200 * 3 + 150 + 600) << "marked down after " << down_ms << " ms";
  {
    auto e = endpoint_in(control(socket, "show services").value, "app-v1/app", a.address());
    EXPECT_FALSE(e.get_bool("available")) << e.get_string("health");
    EXPECT_NE(e.get_string("last_error"), "");
  }
  // Traffic goes on, all of it to b.
  int after_down = load.new_epoch();
  ASSERT_TRUE(wait_until([&] { return served(after_down, "b") >= 60; }, 10s)) << load.report();
  EXPECT_EQ(served(after_down, "a"), 0u);

  // Back on the same port: in rotation again once healthy_threshold checks passed.
  DemoUpstream again = start_demo_on(a_port, "a");
  auto restarted = Clock::now();
  int after_restart = load.new_epoch();
  ASSERT_TRUE(wait_until([&] { return served(after_restart, "a") > 0; }, 8s))
      << load.report() << control(socket, "show services").raw;
  long back_ms = ms_since(restarted);
  EXPECT_EQ(endpoint_health(socket, "app-v1/app", a.address()), "up");
  EXPECT_LE(back_ms, 5000) << "traffic back " << back_ms << " ms after the restart";

  load.stop();
  EXPECT_EQ(load.failures(), 0u) << load.report() << weir.proc->output();
  EXPECT_GE(load.rate(), 200.0) << load.report();
}

// =============================================================================================
// 2. Passive outlier detection: ejection, return after the ejection time, the cap.

TEST(HealthOutlier, FailingEndpointIsEjectedComesBackAndTheCapHolds) {
  DemoUpstream good = DemoUpstream::start("good");
  DemoUpstream bad = DemoUpstream::start("bad", {"--status", "500"});
  DemoUpstream bad1 = DemoUpstream::start("bad1", {"--status", "500"});
  DemoUpstream bad2 = DemoUpstream::start("bad2", {"--status", "500"});
  const std::string socket = temp_path("ctl", ".sock");
  std::string yaml =
      header(socket, 1) + "services:\n" +
      service("app-v1/app", {good.address(), bad.address()},
              "    outlier_detection: { consecutive_failures: 3, base_ejection_time: 1s }\n") +
      service("both/bad", {bad1.address(), bad2.address()},
              "    outlier_detection: { consecutive_failures: 3, base_ejection_time: 1s, "
              "max_ejection_percent: 50 }\n") +
      "routes:\n  - name: r\n    listener: public\n    backends: [{ service: app-v1/app }]\n"
      "  - name: two\n    listener: public\n    match: { path_prefix: /two }\n"
      "    backends: [{ service: both/bad }]\n";
  Weir weir = Weir::start(yaml);
  Getter client(weir.port());

  // Round robin sends every other request to the bad endpoint; after three 500s in a row it
  // is out.
  int bad_answers = 0;
  bool ejected = false;
  for (int i = 0; i < 40 && !ejected; ++i) {
    HttpResponse r = client.get();
    ASSERT_TRUE(r.status == 200 || r.status == 500) << r.status << " " << r.body;
    if (r.status == 500) {
      EXPECT_EQ(r.header("x-served-by"), "bad");
      ++bad_answers;
    }
    ejected = endpoint_ejected(socket, "app-v1/app", bad.address());
  }
  ASSERT_TRUE(ejected) << control(socket, "show services").raw;
  auto ejected_at = Clock::now();
  EXPECT_GE(bad_answers, 3);
  EXPECT_LE(bad_answers, 4) << "ejection took more failures than consecutive_failures";
  {
    auto r = control(socket, "show services").value;
    auto e = endpoint_in(r, "app-v1/app", bad.address());
    EXPECT_EQ(e.get_number("ejections"), 1) << control(socket, "show services").raw;
    EXPECT_FALSE(e.get_bool("available"));
    EXPECT_FALSE(endpoint_in(r, "app-v1/app", good.address()).get_bool("ejected"));
  }
  for (int i = 0; i < 20; ++i) {
    HttpResponse r = client.get();
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.header("x-served-by"), "good");
  }

  // Back after base_ejection_time.
  ASSERT_TRUE(
      wait_until([&] { return !endpoint_ejected(socket, "app-v1/app", bad.address()); }, 5s));
  long first_ms = ms_since(ejected_at);
  EXPECT_GE(first_ms, 900);
  EXPECT_LE(first_ms, 2500);
  bool bad_again = false;
  for (int i = 0; i < 10 && !bad_again; ++i)
    bad_again = client.get().header("x-served-by") == "bad";
  EXPECT_TRUE(bad_again) << "the endpoint got no traffic after its ejection ended";

  // Still failing: ejected again (for base × 2: that arithmetic, the return on time and the cap
  // are unit tests in tests/unit/control/ejections_test.cc).
  ASSERT_TRUE(wait_until(
      [&] {
        client.get();
        return endpoint_ejected(socket, "app-v1/app", bad.address());
      },
      5s));
  EXPECT_EQ(endpoint_in(control(socket, "show services").value, "app-v1/app", bad.address())
                .get_number("ejections"),
            2);

  // The cap: both endpoints fail, max_ejection_percent 50 of 2 → never both out.
  int most = 0;
  bool any = false;
  for (int i = 0; i < 30; ++i) {
    HttpResponse r = client.get("/two");
    EXPECT_EQ(r.status, 500) << r.body;
    auto s = control(socket, "show services").value;
    int now = 0;
    for (const auto& e : service_in(s, "both/bad")["endpoints"].as_array())
      now += e.get_bool("ejected") ? 1 : 0;
    most = std::max(most, now);
    any = any || now > 0;
  }
  EXPECT_TRUE(any) << control(socket, "show services").raw;
  EXPECT_LE(most, 1) << control(socket, "show services").raw;
  EXPECT_TRUE(weir.proc->wait_for_line("not ejected", 2s)) << weir.proc->output();
}

// =============================================================================================
// 3. Synthetic probes and readiness gate `set weight`.

std::string probes_yaml(const std::string& socket, const DemoUpstream& v1, uint16_t v2_port,
                        const DemoUpstream& v3, const DemoUpstream& v4,
                        const std::string& v3_contains, const std::string& v4_status) {
  const std::string timing = "        interval: 200ms\n        timeout: 1s\n"
                             "        ready_after: 2\n";
  return header(socket, 1) + "services:\n" + service("app-v1/app", {v1.address()}) +
         service("app-v2/app", {address_of(v2_port)},
                 "    probes:\n"
                 "      - name: synthetic\n"
                 "        request: { method: GET, path: /echo-headers }\n"
                 "        expect: { status: [200], body_contains: \"x-weir-synthetic: 1\" }\n" +
                     timing +
                     "      - name: fast\n"
                     "        request: { path: / }\n"
                     "        expect: { max_latency: 100ms }\n" +
                     timing) +
         service("app-v3/app", {v3.address()},
                 "    probes:\n"
                 "      - name: body\n"
                 "        request: { path: /, headers: { accept: text/plain } }\n"
                 "        expect: { body_contains: \"" +
                     v3_contains + "\" }\n" + timing) +
         service("app-v4/app", {v4.address()},
                 "    probes:\n"
                 "      - name: status\n"
                 "        expect: { status: [" +
                     v4_status + "] }\n" + timing) +
         "routes:\n  - name: r\n    listener: public\n    backends:\n"
         "      - { service: app-v1/app, weight: 1 }\n"
         "      - { service: app-v2/app, weight: 0 }\n"
         "      - { service: app-v3/app, weight: 0 }\n"
         "      - { service: app-v4/app, weight: 0 }\n";
}

TEST(HealthProbes, NotReadyVersionGetsNoShareUntilItsProbesPass) {
  DemoUpstream v1 = DemoUpstream::start("v1");
  DemoUpstream v2 = DemoUpstream::start("v2", {"--delay-ms", "300"});
  DemoUpstream v3 = DemoUpstream::start("v3");
  DemoUpstream v4 = DemoUpstream::start("v4");
  const uint16_t v2_port = v2.port;
  const std::string socket = temp_path("ctl", ".sock");
  Weir weir = Weir::start(probes_yaml(socket, v1, v2_port, v3, v4, "nope", "201"));

  auto probes = [&] { return control(socket, "show probes").value; };
  // The synthetic marker reached the upstream: /echo-headers returned it, the probe passed.
  ASSERT_TRUE(wait_until(
      [&] { return probe_in(probes(), "app-v2/app", "synthetic").get_bool("ready"); }, 5s))
      << control(socket, "show probes").raw;
  // Slow, wrong body, wrong status: each fails with its reason.
  ASSERT_TRUE(wait_until(
      [&] {
        auto p = probes();
        return probe_in(p, "app-v2/app", "fast").get_number("failures") >= 1 &&
               probe_in(p, "app-v3/app", "body").get_number("failures") >= 1 &&
               probe_in(p, "app-v4/app", "status").get_number("failures") >= 1;
      },
      5s))
      << control(socket, "show probes").raw;
  {
    auto p = probes();
    const auto& fast = probe_in(p, "app-v2/app", "fast");
    EXPECT_EQ(fast.get_string("last"), "fail");
    EXPECT_NE(fast.get_string("last_failure").find("latency"), std::string::npos)
        << fast.get_string("last_failure");
    EXPECT_FALSE(fast.get_bool("ready"));
    EXPECT_EQ(probe_in(p, "app-v3/app", "body").get_string("last_failure"),
              "body does not contain \"nope\"");
    EXPECT_EQ(probe_in(p, "app-v4/app", "status").get_string("last_failure"), "status 200");
    EXPECT_FALSE(service_in(p, "app-v2/app").get_bool("ready", true));
    EXPECT_TRUE(service_in(p, "app-v1/app").get_bool("ready"));
    // `show probes NS/SVC` lists that service alone.
    auto one = control(socket, "show probes app-v3/app").value;
    EXPECT_EQ(one["services"].as_array().size(), 1u)
        << control(socket, "show probes app-v3/app").raw;
    auto s = control(socket, "show services").value;
    EXPECT_FALSE(service_in(s, "app-v2/app").get_bool("ready", true));
    EXPECT_FALSE(service_in(s, "app-v3/app").get_bool("ready", true));
    EXPECT_FALSE(service_in(s, "app-v4/app").get_bool("ready", true));
    EXPECT_TRUE(service_in(s, "app-v1/app").get_bool("ready"));
  }

  // A share for a version that is not ready is refused, with the reason.
  Reply refused = control(socket, "set weight r app-v2/app=10");
  EXPECT_FALSE(refused.ok()) << refused.raw;
  std::string why = refused.value.get_string("error");
  EXPECT_NE(why.find("not ready"), std::string::npos) << why;
  EXPECT_NE(why.find("fast"), std::string::npos) << why;
  EXPECT_NE(why.find("latency"), std::string::npos) << why;
  Reply refused3 = control(socket, "set weight r app-v1/app=5 app-v3/app=1");
  EXPECT_FALSE(refused3.ok()) << refused3.raw;
  EXPECT_NE(refused3.value.get_string("error").find("body does not contain"), std::string::npos)
      << refused3.raw;
  // Refused means unchanged; weight 0 stays allowed.
  for (int i = 0; i < 10; ++i)
    EXPECT_EQ(http_request(weir.port(), "GET", "/").header("x-served-by"), "v1");
  EXPECT_TRUE(control(socket, "set weight r app-v4/app=0").ok());

  // --force overrides.
  Reply forced = control(socket, "set weight r app-v1/app=0 app-v3/app=1 --force");
  EXPECT_TRUE(forced.ok()) << forced.raw;
  EXPECT_EQ(http_request(weir.port(), "GET", "/").header("x-served-by"), "v3");
  ASSERT_TRUE(control(socket, "set weight r app-v1/app=1 app-v3/app=0").ok());
  EXPECT_EQ(http_request(weir.port(), "GET", "/").header("x-served-by"), "v1");

  // v2 comes back fast on the same port: its slow probe passes, it becomes ready.
  v2.proc->signal(SIGKILL);
  ASSERT_TRUE(v2.proc->wait_exit(5s));
  DemoUpstream v2_fast = start_demo_on(v2_port, "v2");
  ASSERT_TRUE(wait_until(
      [&] {
        return service_in(control(socket, "show services").value, "app-v2/app").get_bool("ready");
      },
      5s))
      << control(socket, "show probes app-v2/app").raw;
  Reply accepted = control(socket, "set weight r app-v1/app=0 app-v2/app=1");
  EXPECT_TRUE(accepted.ok()) << accepted.raw;
  EXPECT_EQ(http_request(weir.port(), "GET", "/").header("x-served-by"), "v2");

  // A reload whose expectations match makes v3 and v4 ready too.
  ASSERT_TRUE(
      write_file(weir.config_path, probes_yaml(socket, v1, v2_port, v3, v4, "v3", "200-299")));
  Reply reloaded = control(socket, "reload");
  ASSERT_TRUE(reloaded.ok()) << reloaded.raw;
  ASSERT_TRUE(wait_until(
      [&] {
        auto p = probes();
        return service_in(p, "app-v3/app").get_bool("ready") &&
               service_in(p, "app-v4/app").get_bool("ready");
      },
      5s))
      << control(socket, "show probes").raw;
  Reply v3_weight = control(socket, "set weight r app-v2/app=0 app-v3/app=1 app-v4/app=0");
  EXPECT_TRUE(v3_weight.ok()) << v3_weight.raw;
  EXPECT_EQ(http_request(weir.port(), "GET", "/").header("x-served-by"), "v3");
}

// =============================================================================================
// 4. Manual health overrides.

TEST(HealthOverride, DownTakesAnEndpointOutAndAutoBringsItBack) {
  DemoUpstream a = DemoUpstream::start("a");
  DemoUpstream b = DemoUpstream::start("b");
  const std::string socket = temp_path("ctl", ".sock");
  Weir weir = Weir::start(
      header(socket, 2) + "services:\n" +
      service("app-v1/app", {a.address(), b.address()}, kFastChecks) +
      "routes:\n  - name: r\n    listener: public\n    backends: [{ service: app-v1/app }]\n");
  ASSERT_TRUE(
      wait_until([&] { return endpoint_health(socket, "app-v1/app", a.address()) == "up"; }, 5s));

  Reply down = control(socket, "set health app-v1/app " + a.address() + " down");
  ASSERT_TRUE(down.ok()) << down.raw;
  {
    auto e = endpoint_in(control(socket, "show services").value, "app-v1/app", a.address());
    EXPECT_EQ(e.get_string("health"), "down (override)");
    EXPECT_FALSE(e.get_bool("available"));
  }
  for (int i = 0; i < 30; ++i) {
    HttpResponse r = http_request(weir.port(), "GET", "/");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.header("x-served-by"), "b");
  }

  Reply back = control(socket, "set health app-v1/app " + a.address() + " auto");
  ASSERT_TRUE(back.ok()) << back.raw;
  EXPECT_EQ(endpoint_health(socket, "app-v1/app", a.address()), "up");
  std::map<std::string, int> seen;
  for (int i = 0; i < 20; ++i)
    ++seen[http_request(weir.port(), "GET", "/").header("x-served-by")];
  EXPECT_GE(seen["a"], 5) << "a got no traffic after `set health ... auto`";
  EXPECT_GE(seen["b"], 5);

  // Unknown endpoints and bad states are refused.
  EXPECT_FALSE(control(socket, "set health app-v1/app 127.0.0.1:1 down").ok());
  EXPECT_FALSE(control(socket, "set health app-v1/app " + a.address() + " sideways").ok());
}

// =============================================================================================
// 5. No healthy endpoint: 503 at once, or the other backend takes all.

TEST(HealthUnavailable, NoHealthyEndpointIs503AtOnceAndOtherBackendTakesAll) {
  // `hold` accepts and never answers: a request there would hang, so a quick 503 proves weir
  // did not try it. Its http check times out; a tcp check (connect only) passes.
  RawServer hung(RawServer::Mode::hold);
  RawServer hung_tcp(RawServer::Mode::hold);
  DemoUpstream good = DemoUpstream::start("good");
  const ClosedPort closed;
  const uint16_t dead = closed.port();
  const std::string socket = temp_path("ctl", ".sock");
  Weir weir = Weir::start(
      header(socket, 2) + "services:\n" +
      service("only/app", {hung.address(), address_of(dead)}, kFastChecks) +
      service("sick/app", {address_of(dead)},
              "    health_check: { type: tcp, interval: 200ms, timeout: 150ms }\n") +
      service("well/app", {good.address()}, kFastChecks) +
      service("tcp/app", {hung_tcp.address()},
              "    health_check: { type: tcp, interval: 200ms, timeout: 150ms, "
              "healthy_threshold: 2 }\n") +
      "routes:\n  - name: only-route\n    listener: public\n    match: { path_prefix: /only }\n"
      "    backends: [{ service: only/app }]\n    timeouts: { request: 5s }\n"
      "  - name: split\n    listener: public\n    match: { path_prefix: /split }\n"
      "    backends: [{ service: sick/app, weight: 50 }, { service: well/app, weight: 50 }]\n");
  ASSERT_TRUE(wait_until(
      [&] {
        auto s = control(socket, "show services").value;
        return endpoint_in(s, "only/app", hung.address()).get_string("health") == "down" &&
               endpoint_in(s, "only/app", address_of(dead)).get_string("health") == "down" &&
               endpoint_in(s, "sick/app", address_of(dead)).get_string("health") == "down" &&
               endpoint_in(s, "tcp/app", hung_tcp.address()).get_string("health") == "up";
      },
      5s))
      << control(socket, "show services").raw;
  EXPECT_EQ(service_in(control(socket, "show services").value, "only/app")
                .get_number("endpoints_available", -1),
            0);

  uint64_t held_before = hung.user_heads();
  for (int i = 0; i < 5; ++i) {
    auto t = Clock::now();
    HttpResponse r = http_request(weir.port(), "GET", "/only/x");
    long took = ms_since(t);
    EXPECT_EQ(r.status, 503) << r.body;
    EXPECT_NE(r.body.find("only-route"), std::string::npos) << r.body;
    EXPECT_LT(took, 100) << "503 took " << took << " ms";
  }
  // Nothing but health checks reached the hung endpoint.
  EXPECT_EQ(hung.user_heads() - held_before, 0u);

  std::map<std::string, int> seen;
  for (int i = 0; i < 40; ++i) {
    HttpResponse r = http_request(weir.port(), "GET", "/split");
    EXPECT_EQ(r.status, 200) << r.body;
    ++seen[r.header("x-served-by")];
  }
  EXPECT_EQ(seen["good"], 40);
}

// =============================================================================================
// 6. Retries: what is replayed, where, and the budget.

TEST(HealthRetries, OnlySafeRequestsAreRetriedOnAnotherEndpoint) {
  RawServer reset_a(RawServer::Mode::reset_after_head);
  RawServer reset_b(RawServer::Mode::reset_after_head);
  const std::string truncated = "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789";
  RawServer trunc_a(RawServer::Mode::respond, truncated);
  RawServer trunc_b(RawServer::Mode::respond, truncated);
  DemoUpstream live = DemoUpstream::start("live");
  const ClosedPort closed;
  const uint16_t dead = closed.port();
  const std::string socket = temp_path("ctl", ".sock");
  const std::string no_outliers = "    outlier_detection: { enabled: false }\n";
  // budget 100%: every request earns a retry, so the budget plays no part here.
  const std::string retries = "    retries: { attempts: 2, budget: 100%, max_body: 1KiB }\n";
  Weir weir =
      Weir::start(header(socket, 1) + "services:\n" +
                  service("reset/app", {reset_a.address(), reset_b.address()}, no_outliers) +
                  service("trunc/app", {trunc_a.address(), trunc_b.address()}, no_outliers) +
                  service("half/app", {address_of(dead), live.address()}, no_outliers) +
                  "routes:\n"
                  "  - name: reset\n    listener: public\n    match: { path_prefix: /reset }\n"
                  "    backends: [{ service: reset/app }]\n" +
                  retries +
                  "  - name: trunc\n    listener: public\n    match: { path_prefix: /trunc }\n"
                  "    backends: [{ service: trunc/app }]\n" +
                  retries +
                  "  - name: half\n    listener: public\n    match: { path_prefix: /half }\n"
                  "    backends: [{ service: half/app }]\n" +
                  retries);
  auto reset_connections = [&] { return reset_a.connections() + reset_b.connections(); };

  // A control case: an idempotent PUT with a small Content-Length body is replayed, each time
  // on another endpoint (a, b, a), until the attempts run out.
  {
    uint64_t before_a = reset_a.connections(), before_b = reset_b.connections();
    HttpResponse r = http_request(weir.port(), "PUT", "/reset", {}, std::string(100, 'p'));
    EXPECT_EQ(r.status, 502) << r.body;
    EXPECT_EQ(reset_connections() - before_a - before_b, 3u);
    EXPECT_GE(reset_a.connections() - before_a, 1u);
    EXPECT_GE(reset_b.connections() - before_b, 1u);
  }
  // POST, streamed with chunked framing: the upstream may have acted on it; not retried.
  {
    uint64_t before = reset_connections();
    auto c = RawClient::connect(weir.port());
    ASSERT_TRUE(c);
    ASSERT_TRUE(c->send("POST /reset HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                        "5\r\nhello\r\n"));
    auto r = c->read_response(5s);
    ASSERT_TRUE(r) << "no response to a streamed POST whose upstream reset";
    EXPECT_EQ(r->status, 502) << r->body;
    EXPECT_EQ(reset_connections() - before, 1u) << "a streamed POST was sent again";
  }
  // Even an idempotent PUT is not replayed when its body was chunked (not held by weir)...
  {
    uint64_t before = reset_connections();
    auto c = RawClient::connect(weir.port());
    ASSERT_TRUE(c);
    ASSERT_TRUE(c->send("PUT /reset HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                        "5\r\nhello\r\n0\r\n\r\n"));
    auto r = c->read_response(5s);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 502) << r->body;
    EXPECT_EQ(reset_connections() - before, 1u) << "a chunked PUT was sent again";
  }
  // ... or larger than max_body.
  {
    uint64_t before = reset_connections();
    HttpResponse r = http_request(weir.port(), "PUT", "/reset", {}, std::string(2000, 'p'));
    EXPECT_EQ(r.status, 502) << r.body;
    EXPECT_EQ(reset_connections() - before, 1u) << "a PUT over max_body was sent again";
  }
  // A POST that reached the upstream is never replayed, whatever its framing.
  {
    uint64_t before = reset_connections();
    HttpResponse r = http_request(weir.port(), "POST", "/reset", {}, "small");
    EXPECT_EQ(r.status, 502) << r.body;
    EXPECT_EQ(reset_connections() - before, 1u) << "a POST was sent again";
  }

  // A response already started is not retried: the client sees it cut short, and the upstream
  // side saw exactly one request.
  {
    auto c = RawClient::connect(weir.port());
    ASSERT_TRUE(c);
    ASSERT_TRUE(c->send(build_request("GET", "/trunc", {}, {})));
    auto r = c->read_response(5s);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_FALSE(r->complete);
    EXPECT_EQ(r->body, "0123456789");
    EXPECT_TRUE(c->closed_by_peer(5s));
    EXPECT_EQ(trunc_a.heads() + trunc_b.heads(), 1u);
  }

  // Connection refused: nothing was sent, so any method goes to the other endpoint.
  Getter client(weir.port());
  for (int i = 0; i < 20; ++i) {
    HttpResponse r = client.get("/half");
    EXPECT_EQ(r.status, 200) << i << ": " << r.body;
    EXPECT_EQ(r.header("x-served-by"), "live");
  }
  for (int i = 0; i < 6; ++i) {
    std::string body = "post-" + std::to_string(i);
    HttpResponse r = client.exchange(build_request("POST", "/half", {}, body));
    EXPECT_EQ(r.status, 200) << i << ": " << r.body;
    EXPECT_EQ(r.body, body);
  }
}

TEST(HealthRetries, RetryOnOtherBackendMasksAFailingCanary) {
  const std::string fail =
      "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 5\r\nConnection: close\r\n\r\n"
      "fail\n";
  RawServer canary(RawServer::Mode::respond, fail);
  DemoUpstream stable = DemoUpstream::start("stable");
  const std::string socket = temp_path("ctl", ".sock");
  std::string yaml =
      header(socket, 1) + "admin: { address: 127.0.0.1:0 }\nservices:\n" +
      service("stable/app", {stable.address()}, "    outlier_detection: { enabled: false }\n") +
      service("canary/app", {canary.address()}, "    outlier_detection: { enabled: false }\n") +
      "routes:\n  - name: r\n    listener: public\n    backends:\n"
      "      - { service: canary/app, weight: 10 }\n"
      "      - { service: stable/app, weight: 90 }\n"
      "    retries: { attempts: 1, on: [500, 502, 503], retry_other_backend: true }\n";
  Weir weir = Weir::start(yaml);

  constexpr int kThreads = 4, kEach = 250;
  std::atomic<int> failed{0}, ok{0};
  std::mutex notes_mutex;
  std::vector<std::string> notes;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&] {
      Getter g(weir.port());
      for (int i = 0; i < kEach; ++i) {
        HttpResponse r = g.get();
        if (r.status == 200 && r.header("x-served-by") == "stable") {
          ++ok;
          continue;
        }
        ++failed;
        std::lock_guard lock(notes_mutex);
        if (notes.size() < 5) notes.push_back(std::to_string(r.status) + " " + r.body);
      }
    });
  for (auto& t : threads)
    t.join();
  std::string why;
  for (const auto& n : notes)
    why += n + "\n";
  EXPECT_EQ(failed.load(), 0) << why;
  EXPECT_EQ(ok.load(), kThreads * kEach);
  // The canary was asked its share (10 % of 1,000 with one worker's smooth round robin) and
  // every one of those failed attempts was retried on stable.
  EXPECT_GE(canary.heads(), 90u);
  EXPECT_LE(canary.heads(), 110u);

  // Masked failures still count against the canary (when this build has the admin listener).
  if (uint16_t admin = weir.admin_port()) {
    std::string text = http_request(admin, "GET", "/metrics").body;
    auto errors = metric_sum(text, "weir_upstream_errors_total", "namespace=\"canary\"");
    ASSERT_TRUE(errors) << text;
    EXPECT_EQ(*errors, static_cast<double>(canary.heads())) << text;
  }
}

TEST(HealthRetries, BudgetLimitsRetriesDuringATotalOutage) {
  // Every endpoint accepts and resets at once: each attempt is one accepted connection, so the
  // upstream side counts attempts exactly.
  RawServer a(RawServer::Mode::reset_at_once);
  RawServer b(RawServer::Mode::reset_at_once);
  const std::string socket = temp_path("ctl", ".sock");
  Weir weir = Weir::start(
      header(socket, 1) + "services:\n" +
      service("down/app", {a.address(), b.address()},
              "    outlier_detection: { enabled: false }\n") +
      "routes:\n  - name: r\n    listener: public\n    backends: [{ service: down/app }]\n"
      // min_concurrency 0: one request at a time would always be under the floor.
      "    retries: { attempts: 2, budget: 20%, min_concurrency: 0 }\n");
  constexpr int kRequests = 500;
  Getter client(weir.port());
  for (int i = 0; i < kRequests; ++i) {
    HttpResponse r = client.get();
    // 502 (reset after connecting), or 503 when the reset beat weir's connect completion.
    ASSERT_TRUE(r.status == 502 || r.status == 503) << i << ": " << r.status << " " << r.body;
  }
  uint64_t attempts = a.connections() + b.connections();
  ASSERT_GE(attempts, static_cast<uint64_t>(kRequests));
  uint64_t retries = attempts - kRequests;
  // Start balance 10, 20 % of a token per request: 10 + 0.2 x 500 = 110 at most (2 of slack);
  // without the budget there would be 2 x 500.
  EXPECT_LE(retries, 112u) << "attempts " << attempts;
  // And the budget does grant what it holds.
  EXPECT_GE(retries, 100u) << "attempts " << attempts;
}

TEST(HealthRetries, BudgetLimitsRetriesWhenConnectionsAreRefused) {
  const ClosedPort closed1, closed2;
  const uint16_t dead1 = closed1.port(), dead2 = closed2.port();
  const std::string socket = temp_path("ctl", ".sock");
  Weir weir = Weir::start(
      header(socket, 1) + "admin: { address: 127.0.0.1:0 }\nservices:\n" +
      service("down/app", {address_of(dead1), address_of(dead2)},
              "    outlier_detection: { enabled: false }\n") +
      "routes:\n  - name: r\n    listener: public\n    backends: [{ service: down/app }]\n"
      "    retries: { attempts: 2, min_concurrency: 0 }\n");
  uint16_t admin = weir.admin_port();
  if (admin == 0) GTEST_SKIP() << "this build has no admin listener to count retries with";
  constexpr int kRequests = 500;
  Getter client(weir.port());
  for (int i = 0; i < kRequests; ++i) {
    HttpResponse r = client.get();
    ASSERT_EQ(r.status, 503) << i << ": " << r.body;
  }
  std::string text = http_request(admin, "GET", "/metrics").body;
  // weir_retries_total if the writer has it; otherwise every attempt is one backend request.
  double retries = 0;
  if (auto r = metric_sum(text, "weir_retries_total")) {
    retries = *r;
  } else {
    auto requests = metric_sum(text, "weir_backend_requests_total");
    ASSERT_TRUE(requests) << text;
    retries = *requests - kRequests;
  }
  EXPECT_LE(retries, 10 + 0.2 * kRequests + 2) << text;
  EXPECT_GE(retries, 10 + 0.2 * kRequests - 10) << text;
}

} // namespace
} // namespace weir::test
