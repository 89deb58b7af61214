#include "weir/control/upgrade.h"

#include "weir/base/build_id.h"
#include "weir/base/json.h"
#include "weir/base/log.h"
#include "weir/config/duration.h"
#include "weir/control/arguments.h"

#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cerrno>
#include <climits>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <optional>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace weir::control {

namespace asio = boost::asio;
using SteadyClock = std::chrono::steady_clock;

namespace {

std::string running_binary() {
  char buf[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return "";
  std::string path(buf, static_cast<size_t>(n));
  // The file was replaced since weir started (a package upgrade): the path is what counts.
  constexpr std::string_view kDeleted = " (deleted)";
  if (path.ends_with(kDeleted)) path.resize(path.size() - kDeleted.size());
  return path;
}

std::string seconds_text(SteadyClock::duration d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1fs", std::chrono::duration<double>(d).count());
  return buf;
}

// Starts `binary --config CONFIG --upgrade-fd 3` with `child_fd` as its descriptor 3, the
// signals it will handle at their defaults and none blocked. The pid, or why not.
Result<pid_t> spawn(const std::string& binary, const std::string& config, int child_fd) {
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&actions);
  posix_spawnattr_init(&attr);
  posix_spawn_file_actions_adddup2(&actions, child_fd, Upgrader::kChildFd);
  // Nothing else of this process: sockets Asio opened without close-on-exec (admin and control
  // sessions, health checks) would stay open in the new weir, and their peers would never see
  // this one close them.
  posix_spawn_file_actions_addclosefrom_np(&actions, Upgrader::kChildFd + 1);
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  for (int s : {SIGTERM, SIGINT, SIGHUP, SIGCHLD, SIGPIPE})
    sigaddset(&defaults, s);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  std::string fd_text = std::to_string(Upgrader::kChildFd);
  std::vector<char*> argv = {const_cast<char*>(binary.c_str()),
                             const_cast<char*>("--config"),
                             const_cast<char*>(config.c_str()),
                             const_cast<char*>("--upgrade-fd"),
                             fd_text.data(),
                             nullptr};
  pid_t pid = -1;
  int err = ::posix_spawn(&pid, binary.c_str(), &actions, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (err != 0)
    return Error{ErrorSource::config, "cannot start " + binary + ": " + std::strerror(err)};
  return pid;
}

std::string describe_status(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    const char* name = sigabbrev_np(WTERMSIG(status));
    return std::string("was killed by signal ") + (name ? std::string("SIG") + name : "") + " (" +
           std::to_string(WTERMSIG(status)) + ")";
  }
  return "ended";
}

} // namespace

struct Upgrader::Attempt {
  explicit Attempt(asio::io_context& io) : socket(io), timer(io), exit_timer(io) {}
  uint64_t id = 0;
  pid_t pid = -1;
  asio::posix::stream_descriptor socket; // this process's end of the pair
  asio::steady_timer timer;
  asio::steady_timer exit_timer;                    // watch_child()
  std::optional<SteadyClock::time_point> closed_at; // it closed its end of the socket
  handover::Receiver receiver;
  std::string binary;
  SteadyClock::time_point started;
  std::chrono::milliseconds timeout{0};
  bool handed = false; // the sockets and state went out
  int64_t new_pid = 0;
  std::string new_version, new_build;
  Done done;
};

Upgrader::Upgrader(asio::io_context& io, std::string config_path, Hooks hooks)
    : io_(io), config_path_(std::move(config_path)), hooks_(std::move(hooks)),
      own_binary_(running_binary()) {}

Upgrader::~Upgrader() {
  abandon("weir is stopping");
}

std::string Upgrader::start(std::string binary, std::chrono::milliseconds timeout, Done done) {
  if (!refusal_.empty()) return refusal_;
  if (attempt_)
    return "an upgrade is under way already (to " + attempt_->binary + ", pid " +
           std::to_string(attempt_->pid) + ", started " +
           seconds_text(SteadyClock::now() - attempt_->started) + " ago); wait for its reply";
  if (binary.empty()) binary = own_binary_;
  if (binary.empty()) return "cannot tell the running binary's path; use --binary PATH";
  if (binary[0] != '/') return "--binary: give an absolute path, got \"" + binary + "\"";
  if (::access(binary.c_str(), X_OK) != 0)
    return "cannot run " + binary + ": " + std::strerror(errno);
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, pair) != 0)
    return std::string("socketpair: ") + std::strerror(errno);
  // dup2 onto the same number would leave close-on-exec set: keep the child's end off 3.
  if (pair[1] == kChildFd) {
    int moved = ::fcntl(pair[1], F_DUPFD_CLOEXEC, kChildFd + 1);
    ::close(pair[1]);
    pair[1] = moved;
  }
  auto pid = spawn(binary, config_path_, pair[1]);
  ::close(pair[1]);
  if (!pid.ok()) {
    ::close(pair[0]);
    return pid.error().message;
  }
  static uint64_t next_id = 0;
  attempt_ = std::make_unique<Attempt>(io_);
  attempt_->id = ++next_id;
  attempt_->pid = *pid;
  attempt_->socket.assign(pair[0]);
  attempt_->binary = binary;
  attempt_->started = SteadyClock::now();
  attempt_->timeout = timeout;
  attempt_->done = std::move(done);
  log::info("upgrade: started " + binary + " (pid " + std::to_string(*pid) + ")");
  attempt_->timer.expires_after(timeout);
  attempt_->timer.async_wait([this, id = attempt_->id](const boost::system::error_code& ec) {
    if (ec || !attempt_ || attempt_->id != id) return;
    fail("the new weir was not ready within " + config::format_duration(attempt_->timeout) +
         " (stopped)");
  });
  wait_readable();
  watch_child();
  return "";
}

void Upgrader::wait_readable() {
  attempt_->socket.async_wait(asio::posix::stream_descriptor::wait_read,
                              [this, id = attempt_->id](const boost::system::error_code& ec) {
                                if (ec || !attempt_ || attempt_->id != id) return;
                                on_readable();
                              });
}

void Upgrader::on_readable() {
  const uint64_t id = attempt_->id;
  for (;;) {
    handover::Message m;
    std::string error;
    switch (attempt_->receiver.read(attempt_->socket.native_handle(), m, error)) {
    case handover::Receiver::Status::message:
      handover::close_fds(m); // the new process sends none
      on_message(std::move(m));
      if (!attempt_ || attempt_->id != id) return; // it ended
      continue;
    case handover::Receiver::Status::more:
      return wait_readable();
    case handover::Receiver::Status::closed:
      // It is exiting, or has: watch_child() reports how (or, should it live on without its
      // end of the socket, that it closed it).
      attempt_->closed_at = SteadyClock::now();
      return;
    case handover::Receiver::Status::error:
      return fail(error);
    }
  }
}

void Upgrader::on_message(handover::Message m) {
  auto parsed = json::parse(m.json);
  if (!parsed.value || !parsed.value->is_object())
    return fail("the new binary sent something that is not a JSON object");
  const json::Value& v = *parsed.value;
  const std::string type = v.get_string("type");
  Attempt& a = *attempt_;
  if (type == "failed") {
    std::string reason = v.get_string("reason", "no reason given");
    return fail("the new weir refused to take over: " + reason);
  }
  if (type == "hello") {
    if (a.handed) return fail("the new weir said hello twice");
    if (v.get_number("protocol") != handover::kProtocol)
      return fail("the new weir speaks upgrade protocol " +
                  std::to_string(static_cast<int>(v.get_number("protocol"))) + ", this one " +
                  std::to_string(handover::kProtocol));
    a.new_pid = static_cast<int64_t>(v.get_number("pid"));
    a.new_version = v.get_string("version");
    a.new_build = v.get_string("build");
    auto offer = hooks_.offer();
    if (!offer.ok()) return fail(offer.error().message);
    auto sent = handover::send(a.socket.native_handle(), *offer,
                               SteadyClock::now() + std::chrono::seconds(2));
    handover::close_fds(*offer);
    a.handed = true;
    if (!sent.ok()) return fail(sent.error().message);
    return;
  }
  if (type == "ready") {
    if (!a.handed) return fail("the new weir said ready before it had the sockets");
    const bool adopted = v.get_bool("control_adopted");
    // The commit: from here this process lets go (handed_over runs before anything else does on
    // this thread), and the new one accepts.
    json::Writer commit;
    commit.begin_object().key("type").value("commit").key("state").raw(hooks_.state());
    auto sent = handover::send(a.socket.native_handle(), {commit.end_object().take(), {}},
                               SteadyClock::now() + std::chrono::seconds(2));
    if (!sent.ok()) return fail(sent.error().message);
    json::Writer w;
    w.begin_object().key("old_pid").value(static_cast<int64_t>(::getpid()));
    w.key("new_pid").value(a.new_pid);
    w.key("old_version").value(WEIR_VERSION).key("new_version").value(a.new_version);
    w.key("old_build").value(build_id()).key("new_build").value(a.new_build);
    w.key("binary").value(a.binary);
    w.key("took_ms").value(static_cast<int64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - a.started)
            .count()));
    std::string fields = w.end_object().take();
    log::info("upgrade: pid " + std::to_string(a.new_pid) + " (" + a.binary + ", build " +
              a.new_build + ") serves; this process stops accepting and drains");
    // The new process runs on without us: it is not reaped here (when this process exits, it
    // goes to the init process or the service manager, which follows it by MAINPID).
    Done done = std::move(a.done);
    const int64_t a_new_pid = a.new_pid;
    boost::system::error_code ignored;
    a.socket.close(ignored);
    a.timer.cancel();
    a.exit_timer.cancel();
    attempt_.reset();
    refusal_ = "this weir has handed over to pid " + std::to_string(a_new_pid);
    hooks_.handed_over(adopted);
    done(std::move(fields));
    return;
  }
  fail("the new binary sent an unknown message \"" + type.substr(0, 40) + "\"");
}

void Upgrader::watch_child() {
  attempt_->exit_timer.expires_after(std::chrono::milliseconds(20));
  attempt_->exit_timer.async_wait([this, id = attempt_->id](const boost::system::error_code& ec) {
    if (ec || !attempt_ || attempt_->id != id) return;
    Attempt& a = *attempt_;
    int status = 0;
    if (::waitpid(a.pid, &status, WNOHANG) == a.pid) {
      a.pid = -1;
      return fail("the new binary " + describe_status(status) + " before it was ready" +
                  (a.handed ? "" : " (is it weir? its output is in this weir's log)"));
    }
    if (a.closed_at && SteadyClock::now() - *a.closed_at > std::chrono::seconds(2))
      return fail("the new binary closed the upgrade socket before it was ready");
    watch_child();
  });
}

void Upgrader::fail(std::string why, std::string why_prefix) {
  Attempt& a = *attempt_;
  if (a.pid > 0) {
    ::kill(a.pid, SIGKILL);
    int status = 0;
    while (::waitpid(a.pid, &status, 0) < 0 && errno == EINTR) {
    }
  }
  log::error("upgrade to " + a.binary + " failed, this weir serves on: " + why);
  Done done = std::move(a.done);
  boost::system::error_code ignored;
  a.socket.close(ignored);
  a.timer.cancel();
  a.exit_timer.cancel();
  attempt_.reset();
  if (done) done(Error{ErrorSource::config, why_prefix + why});
}

void Upgrader::abandon(const std::string& why) {
  if (refusal_.empty()) refusal_ = why;
  if (attempt_) fail(why, "upgrade called off: ");
}

void Upgrader::register_commands(CommandTable& table) {
  table.add(
      {"upgrade", "[--binary PATH] [--timeout DURATION]",
       "replace this weir with a new binary (default: this one's path, read again) without "
       "dropping a connection: it takes the listening sockets and the live state; replies once "
       "it serves",
       [this](const Args& args, std::shared_ptr<Responder> responder) {
         std::string binary;
         std::chrono::milliseconds timeout = kDefaultTimeout;
         for (size_t i = 0; i + 1 < args.size(); ++i) {
           if (args[i] == "--binary")
             binary = args[++i];
           else if (args[i] == "--timeout") {
             auto d = parse_duration_argument("--timeout", args[++i]);
             if (!d.ok()) return responder->reply(error_reply(d.error().message));
             timeout = std::chrono::duration_cast<std::chrono::milliseconds>(*d);
             if (timeout.count() <= 0)
               return responder->reply(error_reply("--timeout: must be more than 0"));
           }
         }
         std::string refused = start(binary, timeout, [responder](Result<std::string> r) {
           if (!responder->open()) return;
           if (!r.ok()) return responder->reply(error_reply(r.error().message));
           responder->reply(ok_reply([&](json::Writer& w) { w.key("upgrade").raw(*r); }));
         });
         if (!refused.empty()) responder->reply(error_reply("upgrade: " + refused));
       }});
}

} // namespace weir::control
