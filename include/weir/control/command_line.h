#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace weir::control {

// The command lines of weir and weirctl, parsed apart from main() so that every case is a unit
// test. Pure functions; any thread. Errors say which flag or argument is wrong or missing; the
// callers add the usage line and exit 2.

// weir --config FILE | --check-config FILE | --version | --help
struct WeirArgs {
  enum class Action { run, check, help, version, usage_error };
  Action action = Action::run;
  std::string config_path;
  // --upgrade-fd N: started by `weirctl upgrade` on a running weir, which waits on descriptor N
  // to hand over its sockets and state (control/upgrade.h). -1: a plain start.
  int upgrade_fd = -1;
  std::string error; // for usage_error: "--config needs a file path"
};
WeirArgs parse_weir_args(const std::vector<std::string>& args);

// weirctl [FLAGS] COMMAND [ARG...] [FLAGS]: weirctl's own flags (--socket, --json, --timeout,
// --help, --version) may stand anywhere, before or after the command and its arguments; "--"
// ends them (every later word belongs to the command). Any other "--flag" belongs to the command
// and is passed on (where it stands, or after the command's words when it came before them), so
// weir names it if the command has no such flag. An unknown one-dash option is weirctl's own
// usage error.
struct WeirctlArgs {
  enum class Action { run, help, version, usage_error };
  Action action = Action::run;
  std::string socket;
  bool json = false;
  std::chrono::milliseconds timeout{10000};
  bool timeout_given = false;     // --timeout was on the command line (`upgrade` passes it on)
  std::vector<std::string> words; // the command and its arguments, sent joined by spaces
  std::string error;              // for usage_error
};
// `default_socket`: $WEIR_SOCKET when set and not empty, else /run/weir/weir.sock.
WeirctlArgs parse_weirctl_args(const std::vector<std::string>& args, std::string default_socket);

} // namespace weir::control
