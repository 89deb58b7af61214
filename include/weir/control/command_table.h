#pragma once

#include "weir/base/json.h"
#include "weir/control/arguments.h"

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace weir::control {

// One control client's reply channel. Control thread only.
class Responder {
public:
  virtual ~Responder() = default;
  // The command's one reply line (a JSON object). The client may send the next command.
  virtual void reply(std::string json_line) = 0;
  // One line of a stream (`watch`): the client stays attached until it disconnects.
  virtual void stream(std::string json_line) = 0;
  virtual bool open() const = 0;
  // Who sent the command, for the record ("uid 1000, pid 4242" on the Unix socket; "" unknown).
  virtual std::string peer() const { return ""; }
};

using Args = std::vector<std::string>;
using Handler = std::function<void(const Args& args, std::shared_ptr<Responder> responder)>;

// A control command: `help` and the docs are generated from these.
struct Command {
  std::string name;  // one or two words, e.g. "reload", "set weight"
  std::string usage; // arguments after the name, e.g. "ROUTE NS/SVC=W [NS/SVC=W ...]"
  std::string help;  // one sentence
  Handler handler;
};

// What a weir that has handed over to its successor (`upgrade`) answers every command with;
// weirctl connects again once on it.
inline constexpr const char* kHandedOver =
    "this weir has handed over to its successor: connect again";

// Every command of the control socket, in one table (house rule 8).
class CommandTable {
public:
  void add(Command command);
  // Replaces the handler of the command `name` with wrap(its handler): a fleet sends a
  // follower's rollout commands to the leader (cluster/fleet.h). False when there is no such
  // command.
  bool wrap(const std::string& name, const std::function<Handler(Handler)>& wrap);
  // What a placeholder of the usage texts stands for ("ROUTE": a route of the running config):
  // a command given a name that is not known is refused before its handler runs.
  void set_name_check(std::string placeholder, NameCheck check) {
    checks_[std::move(placeholder)] = std::move(check);
  }
  // Splits the line into words, finds the command (two-word names first), checks the arguments
  // against its usage (control/arguments.h: missing or extra arguments, unknown flags, unknown
  // names) and runs it; unknown commands and empty lines get an error reply that points at
  // `help`.
  void dispatch(std::string_view line, std::shared_ptr<Responder> responder) const;
  const std::vector<Command>& commands() const { return commands_; }
  // From now on every command is refused with `why` (a weir that has handed over to its
  // successor: a change made here would be lost).
  void refuse_all(std::string why) { refusal_ = std::move(why); }

private:
  std::vector<Command> commands_;
  NameChecks checks_;
  std::string refusal_;
};

// Reply helpers: {"ok":true,...} with fields written by `fill`, and {"ok":false,"error":...}.
std::string ok_reply(const std::function<void(json::Writer&)>& fill = nullptr);
std::string error_reply(std::string_view message);
std::vector<std::string> split_words(std::string_view line);

} // namespace weir::control
