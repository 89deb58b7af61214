#pragma once

#include "weir/base/result.h"
#include "weir/config/config.h"
#include "weir/control/handover.h"
#include "weir/runtime/worker_group.h"

#include <chrono>
#include <string>
#include <vector>

// What an upgrade hands from the running weir to the new one (the conversation is in
// control/upgrade.h): the old side's offer and the new side's taking of it.
namespace weir::control {

// The sockets the old process listens on, as the offer names them.
struct Listening {
  std::vector<runtime::ListenerSockets> listeners;
  std::string control_path; // "" when no control socket
  int control_fd = -1;
  config::Address admin; // as configured when it was opened
  int admin_fd = -1;     // -1 when no admin listener
};

// Old side: the handover message. Every descriptor is a duplicate (the caller's stay open and
// in use until the new process is ready); `state` is Controller::handover_state().
// An error when a socket cannot be duplicated (out of descriptors): an offer without it would
// leave the connections in its queue to be reset when this process drains.
Result<handover::Message> make_offer(const Listening& listening, const std::string& state);

// New side: descriptor `fd` of `weir --upgrade-fd`, from the old process. Blocking, with
// deadlines: weir is starting, nothing else runs yet.
class Takeover {
public:
  explicit Takeover(int fd) : fd_(fd) {}
  ~Takeover();
  Takeover(const Takeover&) = delete;
  Takeover& operator=(const Takeover&) = delete;

  // Says hello (the config is loaded and checked) and waits up to `timeout` for the offer.
  // The sockets come back owned by the caller.
  struct Taken {
    Listening listening;
    std::string state;
    int64_t old_pid = 0;
  };
  Result<Taken> hello(std::chrono::milliseconds timeout);
  // The workers are set up on the sockets (accepting nothing yet): the old process may let go.
  // False when it could not be told.
  bool ready(bool control_adopted);
  // Waits up to `timeout` for the old process's commit: it has stopped accepting and changes
  // nothing more; the state as it left it (Controller::handover_state) comes with it. Without a
  // commit (the old process called the upgrade off, or is gone) this process must not serve.
  // Closes the connection.
  Result<std::string> wait_commit(std::chrono::milliseconds timeout);
  // This process will not take over (bad config, a socket it cannot use...): the old one serves
  // on and replies with `reason`. Closes the connection.
  void failed(const std::string& reason);

private:
  void say(const std::string& json);
  int fd_;
};

} // namespace weir::control
