// The control socket as an operator meets it: real weir and weir-demo-upstream processes, a
// Unix socket client, traffic on loopback ports chosen by the kernel. Live weights, drains,
// the state file across restarts and kill -9, socket permissions, hostile input and `watch`.
#include "support/client.h"
#include "support/control.h"
#include "support/load.h"
#include "support/process.h"
#include "support/upstream.h"
#include "support/wait.h"
#include "support/weir.h"
#include "weir/base/json.h"
#include "weir/control/state_file.h"

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <grp.h>
#include <gtest/gtest.h>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace weir::test {
namespace {

using namespace std::chrono_literals;

// --- helpers ---------------------------------------------------------------------------------

// "127.0.0.1:1, 127.0.0.1:2"
std::string addresses(const std::vector<const DemoUpstream*>& ups) {
  std::string out;
  for (const auto* u : ups)
    out += (out.empty() ? "" : ", ") + u->address();
  return out;
}

// A config with services app-v1/app and app-v2/app and one route "r" splitting between them.
struct ProxyConfig {
  std::string socket;
  std::string state_dir;
  std::string mode = "0600";
  int workers = 2;
  std::vector<const DemoUpstream*> v1;
  std::vector<const DemoUpstream*> v2;
  int w1 = 1;
  int w2 = 1;

  std::string yaml() const {
    std::string y = "workers: " + std::to_string(workers) + "\n";
    y += "control:\n  socket: " + socket + "\n  mode: \"" + mode + "\"\n";
    if (!state_dir.empty()) y += "state_dir: " + state_dir + "\n";
    y += "listeners:\n  - name: public\n    address: 127.0.0.1:0\n";
    y += "services:\n";
    y += "  - namespace: app-v1\n    name: app\n    endpoints: [" + addresses(v1) + "]\n";
    if (!v2.empty())
      y += "  - namespace: app-v2\n    name: app\n    endpoints: [" + addresses(v2) + "]\n";
    y += "routes:\n  - name: r\n    listener: public\n    backends:\n";
    y += "      - service: app-v1/app\n        weight: " + std::to_string(w1) + "\n";
    if (!v2.empty())
      y += "      - service: app-v2/app\n        weight: " + std::to_string(w2) + "\n";
    return y;
  }
};

// Sends a command that must succeed; returns its reply.
json::Value ok(ControlClient& c, const std::string& command) {
  json::Value reply = c.command(command);
  EXPECT_TRUE(reply["ok"].as_bool()) << command << " -> " << c.last_line();
  return reply;
}

const json::Value& route_named(const json::Value& show_routes, const std::string& name) {
  static const json::Value null;
  for (const auto& r : show_routes["routes"].as_array())
    if (r.get_string("name") == name) return r;
  return null;
}

// `show services` endpoint object for service/address.
const json::Value& endpoint_of(const json::Value& show_services, const std::string& service,
                               const std::string& address) {
  static const json::Value null;
  for (const auto& s : show_services["services"].as_array())
    if (s.get_string("service") == service)
      for (const auto& e : s["endpoints"].as_array())
        if (e.get_string("address") == address) return e;
  return null;
}

// A directory anyone may traverse (temp_dir() is 0700), removed on destruction.
struct OpenDir {
  std::string path;
  OpenDir() {
    char tmpl[] = "/tmp/weir-ctl-XXXXXX";
    if (char* made = ::mkdtemp(tmpl)) path = made;
    if (!path.empty()) ::chmod(path.c_str(), 0755);
  }
  ~OpenDir() {
    std::error_code ec;
    if (!path.empty()) std::filesystem::remove_all(path, ec);
  }
};

// connect() to `path` from a forked child running as nobody (uid and gid 65534): 0 when it
// connected, else its errno; -1 when the child could not switch user.
int connect_as_nobody(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), std::min(path.size() + 1, sizeof addr.sun_path - 1));
  pid_t pid = ::fork();
  if (pid == 0) {
    // Only async-signal-safe calls here: the parent has threads.
    if (::setgroups(0, nullptr) != 0 || ::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(255);
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0) ::_exit(254);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) ::_exit(0);
    ::_exit(errno < 250 ? errno : 253);
  }
  if (pid < 0) return -1;
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) >= 253) return -1;
  return WEXITSTATUS(status);
}

// --- tests -------------------------------------------------------------------------------------

class ControlSocket : public ::testing::Test {
protected:
  void SetUp() override {
    v1_ = DemoUpstream::start("v1");
    v2_ = DemoUpstream::start("v2");
    setup_.socket = temp_path("ctl", ".sock");
    setup_.v1 = {&v1_};
    setup_.v2 = {&v2_};
  }

  DemoUpstream v1_;
  DemoUpstream v2_;
  ProxyConfig setup_;
};

TEST_F(ControlSocket, SetWeightAppliesToTheVeryNextRequest) {
  Weir weir = Weir::start(setup_.yaml());
  auto c = connect_control(setup_.socket);
  ASSERT_TRUE(c);
  // A keep-alive connection opened before any change: its next request must not keep the
  // weights it started with.
  auto kept = RawClient::connect(weir.port());
  ASSERT_TRUE(kept);
  const std::string request = build_request("GET", "/", {}, {});
  for (int i = 0; i < 20; ++i) {
    bool to_v2 = i % 2 == 0;
    std::string cmd = to_v2 ? "set weight r app-v2/app=100 app-v1/app=0"
                            : "set weight r app-v1/app=100 app-v2/app=0";
    json::Value reply = ok(*c, cmd);
    EXPECT_EQ(
        backend_field(reply["route"], to_v2 ? "app-v2/app" : "app-v1/app", "weight").as_number(),
        100);
    const std::string want = to_v2 ? "v2" : "v1";
    ASSERT_TRUE(kept->send(request));
    auto r = kept->read_response(5s);
    ASSERT_TRUE(r) << "no response on the kept connection, round " << i;
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->header("x-served-by"), want) << "kept connection, round " << i;
    HttpResponse fresh = http_request(weir.port(), "GET", "/");
    EXPECT_EQ(fresh.status, 200);
    EXPECT_EQ(fresh.header("x-served-by"), want) << "new connection, round " << i;
  }
}

TEST_F(ControlSocket, AReloadThatChangesOnlyLimitsOrAServiceSaysSoRatherThanNoChanges) {
  Weir weir = Weir::start(setup_.yaml());
  auto c = connect_control(setup_.socket);
  ASSERT_TRUE(c);
  std::string yaml = setup_.yaml() + "limits:\n  client_header_timeout: 7s\n";
  ASSERT_TRUE(write_file(weir.config_path, yaml));
  json::Value reply = ok(*c, "reload");
  ASSERT_EQ(reply["changes"]["settings_changed"].as_array().size(), 1u) << c->last_line();
  EXPECT_EQ(reply["changes"]["settings_changed"].as_array()[0].as_string(), "limits");
  EXPECT_TRUE(reply["changes"]["services_changed"].as_array().empty()) << c->last_line();
  // A service's idle-connection cap: the service is named as changed.
  const std::string before = "name: app\n";
  size_t at = yaml.find(before);
  ASSERT_NE(at, std::string::npos);
  yaml.insert(at + before.size(), "    max_idle_connections: 3\n");
  ASSERT_TRUE(write_file(weir.config_path, yaml));
  reply = ok(*c, "reload");
  ASSERT_EQ(reply["changes"]["services_changed"].as_array().size(), 1u) << c->last_line();
  EXPECT_TRUE(reply["changes"]["settings_changed"].as_array().empty()) << c->last_line();
  EXPECT_EQ(http_request(weir.port(), "GET", "/").status, 200);
}

TEST_F(ControlSocket, FileIsPrivateAndOtherUsersAreRefused) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to run a client as another user";
  OpenDir dir;
  ASSERT_FALSE(dir.path.empty());
  setup_.socket = dir.path + "/private.sock";
  Weir weir = Weir::start(setup_.yaml());
  struct stat st {};
  ASSERT_EQ(::lstat(setup_.socket.c_str(), &st), 0) << std::strerror(errno);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0600u) << std::oct << (st.st_mode & 07777);
  int err = connect_as_nobody(setup_.socket);
  ASSERT_NE(err, -1) << "the child could not switch to uid 65534";
  EXPECT_EQ(err, EACCES) << "connect as nobody: " << (err ? std::strerror(err) : "connected");

  // The control for the check above: with mode 0666 in the same directory, nobody gets in, so
  // the refusal came from the socket's mode and not from the path.
  ProxyConfig open = setup_;
  open.socket = dir.path + "/open.sock";
  open.mode = "0666";
  Weir open_weir = Weir::start(open.yaml());
  ASSERT_EQ(::lstat(open.socket.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0666u) << std::oct << (st.st_mode & 07777);
  EXPECT_EQ(connect_as_nobody(open.socket), 0);

  // Root itself is still served on the private one.
  auto c = connect_control(setup_.socket);
  ASSERT_TRUE(c);
  ok(*c, "help");
}

TEST_F(ControlSocket, ASecondWeirIsRefusedAndAfterKillNineTheStaleSocketIsReplaced) {
  const std::string yaml = setup_.yaml();
  Weir first = Weir::start(yaml);
  auto c = connect_control(setup_.socket);
  ASSERT_TRUE(c);
  ok(*c, "help");

  // A second weir on the same socket stops with a clear error before taking anything over.
  std::string second_config = temp_path("second", ".yaml");
  ASSERT_TRUE(write_file(second_config, yaml));
  auto second = Process::start({WEIR_BIN, "--config", second_config});
  ASSERT_TRUE(second);
  auto code = second->wait_exit(10s);
  ASSERT_TRUE(code) << "the second weir is still running; output:\n" << second->output();
  EXPECT_EQ(*code, 1) << second->output();
  EXPECT_NE(second->output().find("control socket " + setup_.socket +
                                  ": another running weir is listening on it"),
            std::string::npos)
      << second->output();
  // The first one keeps its socket and its traffic.
  ok(*c, "help");
  auto c2 = connect_control(setup_.socket);
  ASSERT_TRUE(c2);
  ok(*c2, "show routes");
  EXPECT_EQ(http_request(first.port(), "GET", "/").status, 200);

  // kill -9 leaves the socket file behind; the next start replaces it. (Collecting the exit tells
  // Weir's destructor this weir is dealt with: no clean SIGTERM exit is expected of it.)
  c.reset();
  c2.reset();
  first.proc->signal(SIGKILL);
  ASSERT_TRUE(first.proc->wait_exit(10s));
  struct stat st {};
  ASSERT_EQ(::lstat(setup_.socket.c_str(), &st), 0) << "kill -9 should leave the socket file";
  ASSERT_TRUE(S_ISSOCK(st.st_mode));
  int err = 0;
  EXPECT_FALSE(ControlClient::connect(setup_.socket, &err));
  EXPECT_EQ(err, ECONNREFUSED);

  Weir third = Weir::start(yaml);
  EXPECT_TRUE(third.proc->wait_for_line("weir: control socket " + setup_.socket, 1s))
      << third.proc->output();
  auto c3 = connect_control(setup_.socket);
  ASSERT_TRUE(c3);
  ok(*c3, "help");
  EXPECT_EQ(http_request(third.port(), "GET", "/").status, 200);
}

TEST_F(ControlSocket, MalformedOverlongAndBinaryInputGetErrorsWhileTrafficFlows) {
  Weir weir = Weir::start(setup_.yaml());
  LoadGen load(weir.port(), 2, 400);
  auto c = connect_control(setup_.socket);
  ASSERT_TRUE(c);

  struct Case {
    std::string line;
    std::string error_has;
  };
  for (const Case& k : std::vector<Case>{
           {"set weight", "usage: set weight ROUTE"},
           {"set weight r x", "bad weight \"x\""},
           {"set weight r app-v1/app=-1", "bad weight"},
           {"set weight r app-v1/app=1000001", "bad weight"},
           {"set weight nosuch app-v1/app=1", "unknown route"},
           {"set weight r app-v9/app=1", "has no backend"},
           {"frobnicate", "unknown command \"frobnicate\""},
           {"show nothing", "did you mean one of"},
           {"drain app-v1/app", "usage: drain"},
           {"drain app-v1/app 127.0.0.1:1", "has no endpoint"},
           {"watch", "usage: watch"},
           {"", "empty command"},
       }) {
    json::Value reply = c->command(k.line);
    EXPECT_TRUE(reply.is_object()) << "\"" << k.line << "\" -> " << c->last_line();
    EXPECT_FALSE(reply["ok"].as_bool()) << "\"" << k.line << "\" -> " << c->last_line();
    EXPECT_NE(reply.get_string("error").find(k.error_has), std::string::npos)
        << "\"" << k.line << "\" -> " << c->last_line();
  }
  // None of those changed anything.
  json::Value routes = ok(*c, "show routes");
  EXPECT_FALSE(backend_field(route_named(routes, "r"), "app-v1/app", "override").as_bool());
  ok(*c, "help");

  // 70,000 bytes without a newline: one error line, then the server closes.
  {
    auto longc = connect_control(setup_.socket);
    ASSERT_TRUE(longc);
    longc->send(std::string(70000, 'a')); // may fail part-way once the server has closed
    auto line = longc->read_line(10s);
    ASSERT_TRUE(line) << "no reply to an over-long line";
    auto parsed = json::parse(*line);
    ASSERT_TRUE(parsed.value) << *line;
    EXPECT_FALSE((*parsed.value)["ok"].as_bool()) << *line;
    EXPECT_NE(parsed.value->get_string("error").find("longer than"), std::string::npos) << *line;
    EXPECT_TRUE(longc->closed_by_peer(10s)) << "the connection stayed open";
  }

  // Random bytes with NULs: one error line per line of garbage, and the session goes on.
  {
    auto binc = connect_control(setup_.socket);
    ASSERT_TRUE(binc);
    std::mt19937 rng(12345);
    std::string garbage;
    constexpr int kLines = 5;
    for (int i = 0; i < kLines; ++i) {
      std::string line(300, '\0');
      for (auto& ch : line) {
        ch = static_cast<char>(rng() & 0xff);
        if (ch == '\n') ch = '\0';
      }
      line[rng() % line.size()] = '\0';
      garbage += line + "\n";
    }
    ASSERT_TRUE(binc->send(garbage));
    for (int i = 0; i < kLines; ++i) {
      auto line = binc->read_line(10s);
      ASSERT_TRUE(line) << "no reply to binary line " << i;
      auto parsed = json::parse(*line);
      ASSERT_TRUE(parsed.value) << *line;
      EXPECT_FALSE((*parsed.value)["ok"].as_bool()) << *line;
      EXPECT_FALSE(parsed.value->get_string("error").empty()) << *line;
    }
    ok(*binc, "help");
    // Binary without any newline, then the client goes away: nothing to answer, no harm done.
    auto gone = connect_control(setup_.socket);
    ASSERT_TRUE(gone);
    gone->send(std::string("\0\xff\xfe\x01", 4));
  }

  // Weir still answers on its socket and still serves requests.
  auto after = connect_control(setup_.socket);
  ASSERT_TRUE(after);
  ok(*after, "help");
  int epoch = load.new_epoch();
  EXPECT_TRUE(load.wait_for(epoch, 200)) << load.report();
  EXPECT_EQ(http_request(weir.port(), "GET", "/").status, 200);
  load.stop();
  EXPECT_EQ(load.failures(), 0u) << load.report();
  EXPECT_TRUE(weir.proc->running());
}

TEST_F(ControlSocket, StalledClientDoesNotBlockOthers) {
  Weir weir = Weir::start(setup_.yaml());
  auto silent = connect_control(setup_.socket); // connects and never sends
  auto partial = connect_control(setup_.socket);
  ASSERT_TRUE(silent && partial);
  ASSERT_TRUE(partial->send("show rou")); // half a command, never finished
  // One that sends commands but never reads the replies.
  auto deaf = connect_control(setup_.socket);
  ASSERT_TRUE(deaf);
  std::string many;
  for (int i = 0; i < 100; ++i)
    many += "show config\n";
  ASSERT_TRUE(deaf->send(many));

  for (int i = 0; i < 5; ++i) {
    auto c = connect_control(setup_.socket);
    ASSERT_TRUE(c);
    auto started = std::chrono::steady_clock::now();
    ok(*c, "help");
    ok(*c, "set weight r app-v1/app=" + std::to_string(i + 1));
    json::Value routes = ok(*c, "show routes");
    auto took = std::chrono::steady_clock::now() - started;
    EXPECT_EQ(backend_field(route_named(routes, "r"), "app-v1/app", "weight").as_number(), i + 1);
    EXPECT_LT(took, 2s) << "a stalled client held up the others";
  }
  EXPECT_EQ(http_request(weir.port(), "GET", "/").status, 200);
}

class ControlState : public ::testing::Test {
protected:
  void SetUp() override {
    a1_ = DemoUpstream::start("a1");
    a2_ = DemoUpstream::start("a2");
    b1_ = DemoUpstream::start("b1");
    setup_.socket = temp_path("ctl", ".sock");
    setup_.state_dir = temp_path("state");
    std::filesystem::create_directories(setup_.state_dir);
    setup_.v1 = {&a1_, &a2_};
    setup_.v2 = {&b1_};
    setup_.w1 = 50;
    setup_.w2 = 50;
  }

  std::string state_file() const { return setup_.state_dir + "/" + control::kStateFileName; }

  DemoUpstream a1_;
  DemoUpstream a2_;
  DemoUpstream b1_;
  ProxyConfig setup_;
};

TEST_F(ControlState, OverridesAndDrainsSurviveARestart) {
  const std::string yaml = setup_.yaml();
  {
    Weir weir = Weir::start(yaml);
    auto c = connect_control(setup_.socket);
    ASSERT_TRUE(c);
    ok(*c, "set weight r app-v1/app=30 app-v2/app=70");
    ok(*c, "drain app-v1/app " + a1_.address());
    c.reset();
    weir.proc->signal(SIGTERM);
    auto code = weir.proc->wait_exit(20s);
    ASSERT_TRUE(code) << weir.proc->output();
    EXPECT_EQ(*code, 0) << weir.proc->output();
  }
  auto saved = control::from_json(read_file(state_file()), nullptr);
  ASSERT_TRUE(saved) << read_file(state_file());

  Weir weir = Weir::start(yaml);
  auto c = connect_control(setup_.socket);
  ASSERT_TRUE(c);
  const json::Value routes = ok(*c, "show routes");
  const json::Value& route = route_named(routes, "r");
  EXPECT_EQ(backend_field(route, "app-v1/app", "weight").as_number(), 30);
  EXPECT_TRUE(backend_field(route, "app-v1/app", "override").as_bool());
  EXPECT_EQ(backend_field(route, "app-v1/app", "configured_weight").as_number(), 50);
  EXPECT_EQ(backend_field(route, "app-v2/app", "weight").as_number(), 70);
  EXPECT_TRUE(backend_field(route, "app-v2/app", "override").as_bool());
  json::Value services = ok(*c, "show services");
  EXPECT_TRUE(endpoint_of(services, "app-v1/app", a1_.address())["drained"].as_bool())
      << c->last_line();
  EXPECT_FALSE(endpoint_of(services, "app-v1/app", a2_.address())["drained"].as_bool())
      << c->last_line();
  EXPECT_FALSE(endpoint_of(services, "app-v2/app", b1_.address())["drained"].as_bool())
      << c->last_line();

  // Traffic follows: one keep-alive connection is one worker's smooth round robin, exact per
  // 100 requests; the drained endpoint gets nothing.
  auto counts = served_by(weir.port(), 1000);
  EXPECT_EQ(counts["a1"], 0);
  EXPECT_EQ(counts["a2"], 300);
  EXPECT_EQ(counts["b1"], 700);

  // And undoing both works after the restart.
  ok(*c, "undrain app-v1/app " + a1_.address());
  ok(*c, "clear weight r");
  counts = served_by(weir.port(), 200);
  EXPECT_EQ(counts["a1"], 50);
  EXPECT_EQ(counts["a2"], 50);
  EXPECT_EQ(counts["b1"], 100);
}

TEST_F(ControlState, KillNineDuringStateWritesLeavesOldOrNewState) {
  const std::string yaml = setup_.yaml();
  auto weir = std::make_unique<Weir>(Weir::start(yaml));
  std::mt19937 rng(std::random_device{}());
  constexpr int kRounds = 10;
  int mid_write = 0; // kills that left weir's temp file behind: they hit a write
  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    // Weights are unique across rounds, so the saved one tells which command it came from.
    const uint32_t base = static_cast<uint32_t>(round) * 100000u + 1u;
    std::atomic<uint32_t> last_sent{0};
    std::atomic<uint32_t> last_acked{0};
    std::atomic<bool> bad_reply{false};
    std::string bad_text;
    auto c = connect_control(setup_.socket);
    ASSERT_TRUE(c);
    // Commands go out 4 at a time, so weir always has the next one queued and spends its time
    // writing the state file rather than waiting for this thread.
    std::thread spammer([&] {
      constexpr uint32_t kBatch = 4;
      for (uint32_t k = base; k + kBatch < base + 99999; k += kBatch) {
        std::string batch;
        for (uint32_t j = k; j < k + kBatch; ++j)
          batch += "set weight r app-v1/app=" + std::to_string(j) + " app-v2/app=1\n";
        last_sent.store(k + kBatch - 1);
        if (!c->send(batch)) return; // killed
        for (uint32_t j = k; j < k + kBatch; ++j) {
          auto line = c->read_line(10s);
          if (!line) return; // killed
          auto reply = json::parse(*line);
          if (!reply.value || !(*reply.value)["ok"].as_bool()) {
            bad_text = *line;
            bad_reply.store(true);
            return;
          }
          last_acked.store(j);
        }
      }
    });
    const uint32_t acks = 3 + static_cast<uint32_t>(rng() % 60);
    bool reached = wait_until([&] { return last_acked.load() >= base + acks || bad_reply; }, 20s);
    // A random moment after that: the kill may land anywhere in a write, fsync or rename.
    std::this_thread::sleep_for(std::chrono::microseconds(rng() % 3000));
    // kill -9 on purpose (wait_exit collects it, so Weir's destructor expects no clean exit);
    // the last weir of the test is stopped with SIGTERM and checked below.
    weir->proc->signal(SIGKILL);
    auto code = weir->proc->wait_exit(10s);
    spammer.join();
    ASSERT_TRUE(reached) << "only " << last_acked.load() << " acknowledged";
    ASSERT_FALSE(bad_reply.load()) << bad_text;
    ASSERT_TRUE(code);
    EXPECT_EQ(*code, 128 + SIGKILL);
    const uint32_t acked = last_acked.load();
    const uint32_t sent = last_sent.load();
    const std::string tmp = state_file() + ".tmp." + std::to_string(weir->proc->pid());
    if (std::filesystem::exists(tmp)) ++mid_write;

    // The file is whole: the last acknowledged weight, or one sent after it.
    std::string text = read_file(state_file());
    std::string error;
    auto state = control::from_json(text, &error);
    ASSERT_TRUE(state) << error << "\n" << text;
    uint32_t saved = state->weight_overrides["r"]["app-v1/app"];
    EXPECT_GE(saved, acked);
    EXPECT_LE(saved, sent);
    EXPECT_FALSE(std::filesystem::exists(setup_.state_dir + "/" + control::kCorruptStateFileName));

    // Restart over the stale socket: the saved weight is live again.
    c.reset();
    weir = std::make_unique<Weir>(Weir::start(yaml));
    EXPECT_EQ(weir->proc->output().find("state file unreadable"), std::string::npos)
        << weir->proc->output();
    auto check = connect_control(setup_.socket);
    ASSERT_TRUE(check);
    const json::Value routes = ok(*check, "show routes");
    const json::Value& route = route_named(routes, "r");
    EXPECT_EQ(backend_field(route, "app-v1/app", "weight").as_number(), saved);
    EXPECT_TRUE(backend_field(route, "app-v1/app", "override").as_bool());
  }
  std::printf("[          ] %d of %d kills landed between creating and renaming the temp file\n",
              mid_write, kRounds);
  weir->proc->signal(SIGTERM);
  EXPECT_EQ(weir->proc->wait_exit(20s), std::optional<int>(0));
}

TEST_F(ControlState, DrainStopsNewRequestsLetsInFlightOnesFinishAndUndrainReturnsTraffic) {
  setup_.v2.clear(); // one service, endpoints a1 and a2
  Weir weir = Weir::start(setup_.yaml());
  auto c = connect_control(setup_.socket);
  ASSERT_TRUE(c);
  LoadGen load(weir.port(), 2, 500);
  int epoch = load.new_epoch();
  ASSERT_TRUE(load.wait_for(epoch, 200)) << load.report();
  auto before = load.served_by(epoch);
  EXPECT_GT(before["a1"], 50u);
  EXPECT_GT(before["a2"], 50u);

  // Slow requests in flight on both endpoints (per-worker round robin over 16 requests).
  constexpr int kSlow = 16;
  std::vector<std::unique_ptr<RawClient>> slow;
  for (int i = 0; i < kSlow; ++i) {
    slow.push_back(RawClient::connect(weir.port()));
    ASSERT_TRUE(slow.back());
    ASSERT_TRUE(slow.back()->send(build_request("GET", "/?delay_ms=500", {}, {})));
  }
  auto slow_sent = std::chrono::steady_clock::now();
  // They have reached the upstreams once weir counts them as active.
  uint64_t active = 0;
  ASSERT_TRUE(wait_until(
      [&] {
        json::Value s = c->command("show services");
        active = static_cast<uint64_t>(
            endpoint_of(s, "app-v1/app", a1_.address())["active"].as_number() +
            endpoint_of(s, "app-v1/app", a2_.address())["active"].as_number());
        return active >= kSlow;
      },
      5s))
      << "active: " << active;

  ok(*c, "drain app-v1/app " + a1_.address());
  auto drained_at = std::chrono::steady_clock::now();
  int drained_epoch = load.new_epoch();
  json::Value services = ok(*c, "show services");
  EXPECT_TRUE(endpoint_of(services, "app-v1/app", a1_.address())["drained"].as_bool());
  EXPECT_FALSE(endpoint_of(services, "app-v1/app", a2_.address())["drained"].as_bool());

  // In-flight requests finish, the ones on the drained endpoint too.
  std::map<std::string, int> slow_by;
  for (auto& s : slow) {
    auto r = s->read_response(10s);
    ASSERT_TRUE(r) << "a slow request did not finish";
    EXPECT_EQ(r->status, 200);
    EXPECT_TRUE(r->complete);
    ++slow_by[r->header("x-served-by")];
  }
  EXPECT_LT(drained_at - slow_sent, 500ms) << "the drain came after the slow requests ended";
  EXPECT_GT(slow_by["a1"], 0) << "no slow request was on the drained endpoint";

  // No new request reaches the drained endpoint.
  ASSERT_TRUE(load.wait_for(drained_epoch, 1000)) << load.report();
  auto during = load.served_by(drained_epoch);
  EXPECT_EQ(during["a1"], 0u);
  EXPECT_GE(during["a2"], 1000u);
  auto direct = served_by(weir.port(), 50);
  EXPECT_EQ(direct["a1"], 0);

  ok(*c, "undrain app-v1/app " + a1_.address());
  int undrained_epoch = load.new_epoch();
  ASSERT_TRUE(load.wait_for(undrained_epoch, 400)) << load.report();
  auto after = load.served_by(undrained_epoch);
  uint64_t total = after["a1"] + after["a2"];
  EXPECT_NEAR(static_cast<double>(after["a1"]) / static_cast<double>(total), 0.5, 0.05);
  services = ok(*c, "show services");
  EXPECT_FALSE(endpoint_of(services, "app-v1/app", a1_.address())["drained"].as_bool());

  load.stop();
  EXPECT_EQ(load.failures(), 0u) << load.report();
}

TEST_F(ControlState, WatchStreamsIncreasingRequestCounters) {
  Weir weir = Weir::start(setup_.yaml());
  LoadGen load(weir.port(), 2, 400);
  auto c = connect_control(setup_.socket);
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->send("watch r 1s\n"));
  std::vector<uint64_t> totals;
  constexpr int kLines = 4;
  for (int i = 0; i < kLines; ++i) {
    auto line = c->read_line(5s);
    ASSERT_TRUE(line) << "no watch line " << i << " within 5 s";
    auto parsed = json::parse(*line);
    ASSERT_TRUE(parsed.value) << *line;
    const json::Value& v = *parsed.value;
    ASSERT_TRUE(v["ok"].as_bool()) << *line;
    EXPECT_EQ(v.get_string("route"), "r");
    EXPECT_FALSE(v.get_string("time").empty());
    uint64_t sum = 0;
    for (const auto& b : v["backends"].as_array())
      sum += static_cast<uint64_t>(b.get_number("requests"));
    EXPECT_EQ(v["backends"].as_array().size(), 2u) << *line;
    if (!totals.empty()) {
      EXPECT_GE(sum, totals.back()) << *line;
    }
    totals.push_back(sum);
    if (i == kLines - 1) {
      for (const auto& b : v["backends"].as_array())
        EXPECT_GT(b.get_number("rps"), 0) << *line;
    }
  }
  EXPECT_GT(totals.back(), totals.front()) << "the request counters did not move";
  // The stream is per connection: other clients still get answers.
  auto other = connect_control(setup_.socket);
  ASSERT_TRUE(other);
  ok(*other, "help");
  load.stop();
  EXPECT_EQ(load.failures(), 0u) << load.report();
}

} // namespace
} // namespace weir::test
