#pragma once

#include "weir/base/result.h"
#include "weir/control/command_table.h"
#include "weir/control/handover.h"

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <sys/types.h>

namespace weir::control {

// `weirctl upgrade` on the running weir (the old process): starts the new binary with
// `--upgrade-fd 3` (a SOCK_SEQPACKET socket, control/handover.h); when it says hello, hands it
// the listening sockets and the live state (the hooks' offer); when it says ready, commits:
// sends the state as it is then, lets go (handed_over: stop accepting, drain) and replies with
// both pids, versions and build ids. Until then the old process serves as if nothing happened:
// a new binary that cannot start, refuses its config, exits or is not ready within the timeout
// is stopped (SIGKILL) and reaped, and the reply says why. One upgrade at a time. Control
// thread only.
//
// The conversation, one JSON message each way (new → old unless marked):
//   {"type":"hello","protocol":1,"pid":N,"version":V,"build":B}  config loaded and checked
//   old → new: {"type":"handover","protocol":1,...} + descriptors (control/takeover.h)
//   {"type":"ready","control_adopted":bool}              workers set up, accepting nothing
//   old → new: {"type":"commit","state":STATE}           the old one has let go: it accepts
//                                                        and changes nothing more
//   {"type":"failed","reason":TEXT}                      at any point before ready
// Until the commit the new process has accepted nothing, so killing it loses nothing; after it
// the old one never kills it. A new process that hears no commit exits without serving, unless
// the old one died (then nobody else serves).
class Upgrader {
public:
  struct Hooks {
    // The handover message as of now; its descriptors are the caller's duplicates, closed by the
    // upgrader once sent.
    std::function<Result<handover::Message>()> offer;
    // The live state as of now, sent with the commit (it may have changed since the offer).
    std::function<std::string()> state;
    // The new process serves: stop accepting, drain and exit. `control_adopted`: it listens on
    // this process's control socket now (do not unlink its file).
    std::function<void(bool control_adopted)> handed_over;
  };
  using Done = std::function<void(Result<std::string>)>; // reply fields (JSON) or why not

  Upgrader(boost::asio::io_context& io, std::string config_path, Hooks hooks);
  ~Upgrader(); // an upgrade still under way is abandoned
  Upgrader(const Upgrader&) = delete;
  Upgrader& operator=(const Upgrader&) = delete;

  void register_commands(CommandTable& table);
  // Starts an upgrade to `binary` ("" = the running binary's path, read from disk again): ""
  // when it started (`done` runs once, later), else why it cannot (and `done` never runs).
  std::string start(std::string binary, std::chrono::milliseconds timeout, Done done);
  bool in_progress() const { return attempt_ != nullptr; }
  // weir is stopping: an upgrade under way fails with `why` and its new process is killed;
  // later ones are refused with `why`.
  void abandon(const std::string& why);
  // The path of the running binary (as it was at start; " (deleted)" never).
  const std::string& own_binary() const { return own_binary_; }

  static constexpr std::chrono::milliseconds kDefaultTimeout{30'000};
  static constexpr int kChildFd = 3; // where the new process finds its end of the socket pair

private:
  struct Attempt;
  void wait_readable();
  void on_readable();
  void on_message(handover::Message m);
  // Ends the attempt with an error: kills and reaps the new process first.
  void fail(std::string why,
            std::string why_prefix = "upgrade failed, the running weir serves on: ");
  // Every 20 ms while an attempt runs: has the new process exited (reaped, with its status)?
  // Its exit is what tells, not its socket: a wrapper's child may hold that open.
  void watch_child();

  boost::asio::io_context& io_;
  std::string config_path_;
  Hooks hooks_;
  std::string own_binary_;
  std::unique_ptr<Attempt> attempt_;
  std::string refusal_; // set once weir is stopping
};

} // namespace weir::control
