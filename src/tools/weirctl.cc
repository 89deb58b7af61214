// weirctl: the operator's command line for a running weir. It sends one command over the
// control socket and prints the reply as a table (or the raw JSON with --json); `watch` shows a
// live view on a terminal and one line per update elsewhere.
#include "weir/base/json.h"
#include "weir/control/client.h"
#include "weir/control/command_line.h"
#include "weir/control/render.h"
#include "weir/control/server.h"

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <optional>
#include <poll.h>
#include <string>
#include <string_view>
#include <sys/ioctl.h>
#include <unistd.h>
#include <vector>

namespace {

using namespace weir;
using control::Client;

constexpr const char* kDefaultSocket = "/run/weir/weir.sock";

constexpr const char* kUsage =
    R"(usage: weirctl [OPTIONS] COMMAND [ARG...] [OPTIONS]

Sends COMMAND (the words other than the options, joined with spaces) to a running weir over
its control socket and prints the reply. Options may stand before or after the command and its
arguments; "--" ends them. A command's own flags (such as --force) go anywhere too.

Options:
  -s, --socket PATH   the control socket (default: $WEIR_SOCKET, else /run/weir/weir.sock)
  --json              print the reply line(s) exactly as weir sent them (JSON)
  --timeout DURATION  how long to wait for weir to answer, with a unit: 5s, 500ms, 2m
                      (default 10s)
  -h, --help          show this text
  --version           show weirctl's version

"weirctl help" lists the commands the server understands, for example:
  weirctl show routes
  weirctl set weight ROUTE NS/SVC=W [NS/SVC=W ...]
  weirctl watch ROUTE [INTERVAL]     live view, e.g. every 2s (default 1s); Ctrl-C ends it
  weirctl rollout watch ROUTE        live view of a rollout: steps, time left, weights, analysis
  weirctl tunnels drain ROUTE NS/SVC --over 30s
                                     close the route's WebSockets to a service one by one over
                                     30s, each between two messages (clients reconnect)
  weirctl upgrade [--binary PATH] [--timeout 30s]
                                     replace the running weir with a new binary, dropping no
                                     connection (--timeout: how long the new one has to be ready)

Exit status: 0 done; 1 weir refused the command (its message goes to stderr) or answered
badly; 2 usage error or no connection to weir.
)";

constexpr int kExitOk = 0;
constexpr int kExitRefused = 1;
constexpr int kExitUsage = 2;

using Options = control::WeirctlArgs;

int usage_error(const std::string& message) {
  std::fprintf(stderr,
               "weirctl: %s\nusage: weirctl [--socket PATH] [--json] [--timeout DURATION] "
               "COMMAND [ARG...]   (weirctl --help for more)\n",
               message.c_str());
  return kExitUsage;
}

// Parses the command line; returns an exit status when weirctl should stop right away.
std::optional<int> parse_args(int argc, char** argv, Options& opt) {
  const char* env = std::getenv("WEIR_SOCKET");
  opt = control::parse_weirctl_args(std::vector<std::string>(argv + 1, argv + argc),
                                    env && *env ? env : kDefaultSocket);
  switch (opt.action) {
  case Options::Action::help:
    std::fputs(kUsage, stdout);
    return kExitOk;
  case Options::Action::version:
    std::printf("weirctl %s\n", WEIR_VERSION);
    return kExitOk;
  case Options::Action::usage_error:
    return usage_error(opt.error);
  case Options::Action::run:
    break;
  }
  return std::nullopt;
}

std::string join(const std::vector<std::string>& words) {
  std::string line;
  for (const auto& w : words) {
    if (!line.empty()) line.push_back(' ');
    line += w;
  }
  return line;
}

void write_out(std::string_view text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

// The parsed reply, or an exit status after telling the user what went wrong. ok:false prints
// the server's message.
std::optional<json::Value> check_reply(const std::string& line, int& status) {
  auto parsed = json::parse(line);
  if (!parsed.value || !parsed.value->is_object()) {
    std::fprintf(stderr, "weirctl: weir sent a reply that is not a JSON object (%s): %.200s\n",
                 parsed.value ? "another JSON value" : parsed.error.c_str(), line.c_str());
    status = kExitRefused;
    return std::nullopt;
  }
  if (!parsed.value->get_bool("ok")) {
    std::string error = parsed.value->get_string("error", "the command failed (no message)");
    std::fprintf(stderr, "weirctl: %s\n", error.c_str());
    status = kExitRefused;
    return std::nullopt;
  }
  return std::move(*parsed.value);
}

// SIGINT/SIGTERM during `watch` end the view cleanly: the handler only writes to this pipe,
// which the read loop polls next to the socket.
int g_wake_pipe[2] = {-1, -1};

extern "C" void on_stop_signal(int) {
  int saved = errno;
  char b = 1;
  [[maybe_unused]] ssize_t n = ::write(g_wake_pipe[1], &b, 1);
  errno = saved;
}

bool install_stop_handlers() {
  if (::pipe2(g_wake_pipe, O_CLOEXEC | O_NONBLOCK) != 0) return false;
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;
  return ::sigaction(SIGINT, &sa, nullptr) == 0 && ::sigaction(SIGTERM, &sa, nullptr) == 0 &&
         ::sigaction(SIGHUP, &sa, nullptr) == 0;
}

// Redraws a block of lines in place on a terminal: cursor up over the last frame, clear to the
// end of the screen, write the new one. Lines are cut to the terminal width so none wraps
// (a wrapped line would throw the cursor-up count off).
class LiveView {
public:
  ~LiveView() { finish(); }

  void draw(const std::string& frame) {
    unsigned short cols = 80, rows = 24;
    winsize ws{};
    if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) {
      cols = ws.ws_col;
      rows = ws.ws_row > 0 ? ws.ws_row : rows;
    }
    std::string out;
    if (!started_) out += "\x1b[?25l"; // hide the cursor while redrawing
    if (drawn_ > 0) out += "\x1b[" + std::to_string(drawn_) + "A\r";
    out += "\x1b[J";
    size_t lines = 0;
    size_t start = 0;
    while (start < frame.size() && lines + 1 < rows) {
      size_t nl = frame.find('\n', start);
      if (nl == std::string::npos) nl = frame.size();
      out += control::render::truncate_to_width(std::string_view(frame).substr(start, nl - start),
                                                cols > 1 ? cols - 1u : 1u);
      out += '\n';
      ++lines;
      start = nl + 1;
    }
    drawn_ = lines;
    started_ = true;
    write_out(out);
  }

  void finish() {
    if (started_) write_out("\x1b[?25h");
    started_ = false;
  }

private:
  size_t drawn_ = 0;
  bool started_ = false;
};

int run_watch(Client& client, const Options& opt, const std::string& line) {
  if (auto sent = client.send_line(line, opt.timeout); !sent) {
    std::fprintf(stderr, "weirctl: cannot send the command: %s\n", sent.error().message.c_str());
    return kExitRefused;
  }
  if (!install_stop_handlers()) {
    std::perror("weirctl: signal handlers");
    return kExitRefused;
  }
  const bool live = !opt.json && ::isatty(STDOUT_FILENO);
  LiveView view;
  bool first = true;
  for (;;) {
    std::string update;
    // The first line answers the command (or refuses it) at once; later ones come each interval,
    // which may be up to an hour.
    auto status = client.read_line(update, first ? opt.timeout : std::chrono::milliseconds(-1),
                                   g_wake_pipe[0]);
    switch (status) {
    case Client::Status::line:
      break;
    case Client::Status::interrupted:
      view.finish();
      return kExitOk;
    case Client::Status::closed:
      view.finish();
      if (first) {
        std::fputs("weirctl: weir closed the connection without a reply\n", stderr);
        return kExitRefused;
      }
      std::fputs("weirctl: weir closed the connection; watch ended\n", stderr);
      return kExitOk;
    case Client::Status::timeout:
      view.finish();
      std::fprintf(stderr, "weirctl: no reply from weir within %lldms\n",
                   static_cast<long long>(opt.timeout.count()));
      return kExitRefused;
    case Client::Status::error:
      view.finish();
      std::fprintf(stderr, "weirctl: reading from weir: %s\n", client.error().c_str());
      return kExitRefused;
    }
    int exit_status = kExitOk;
    if (opt.json) {
      // Raw lines pass through, but a refusal still sets the exit status.
      write_out(update + "\n");
      if (first && !check_reply(update, exit_status)) return exit_status;
    } else {
      auto value = check_reply(update, exit_status);
      if (!value) {
        view.finish();
        return exit_status;
      }
      if (live)
        view.draw(control::render::watch_frame(*value) + "(Ctrl-C to quit)\n");
      else
        write_out(control::render::watch_line(*value));
    }
    first = false;
  }
}

// `rollout watch ROUTE`: `rollout status` once a second, drawn in place on a terminal.
int run_rollout_watch(Client& client, const Options& opt, const std::string& route) {
  if (!install_stop_handlers()) {
    std::perror("weirctl: signal handlers");
    return kExitRefused;
  }
  const bool live = !opt.json && ::isatty(STDOUT_FILENO);
  LiveView view;
  for (;;) {
    auto reply = client.call("rollout status " + route, opt.timeout);
    if (!reply) {
      view.finish();
      std::fprintf(stderr, "weirctl: %s\n", reply.error().message.c_str());
      return kExitRefused;
    }
    int status = kExitOk;
    auto value = check_reply(*reply, status);
    if (!value) {
      view.finish();
      return status;
    }
    if (opt.json)
      write_out(*reply + "\n");
    else if (live)
      view.draw(control::render::rollout((*value)["rollout"]) + "(Ctrl-C to quit)\n");
    else
      write_out(control::render::rollout((*value)["rollout"]) + "\n");
    pollfd p{g_wake_pipe[0], POLLIN, 0};
    if (::poll(&p, 1, 1000) > 0) {
      view.finish();
      return kExitOk;
    }
  }
}

int run(const Options& opt) {
  std::string line = join(opt.words);
  if (line.size() >= control::Server::kMaxLine)
    return usage_error("the command is longer than " + std::to_string(control::Server::kMaxLine) +
                       " bytes");
  auto connected = Client::connect(opt.socket, opt.timeout);
  if (!connected) {
    std::fprintf(stderr,
                 "weirctl: cannot connect to %s: %s \u2014 is weir running? use --socket PATH "
                 "(or set WEIR_SOCKET)\n",
                 opt.socket.c_str(), connected.error().message.c_str());
    return kExitUsage;
  }
  Client& client = *connected;
  if (opt.words[0] == "watch") return run_watch(client, opt, line);
  if (opt.words.size() >= 2 && opt.words[0] == "rollout" && opt.words[1] == "watch") {
    // weirctl's own command: its argument errors are said here, as weir says its commands'.
    if (opt.words.size() != 3) {
      std::fprintf(stderr, "weirctl: rollout watch: %s (usage: rollout watch ROUTE)\n",
                   opt.words.size() < 3
                       ? "missing ROUTE"
                       : ("unexpected argument \"" + opt.words[3].substr(0, 80) + "\"").c_str());
      return kExitUsage;
    }
    return run_rollout_watch(client, opt, opt.words[2]);
  }

  std::chrono::milliseconds wait = opt.timeout;
  if (opt.words[0] == "upgrade") {
    // `--timeout` is how long the new weir has to be ready: weir's to enforce (it stops the new
    // binary and says why), so it goes to weir, and weirctl waits a while longer for the reply.
    std::chrono::milliseconds limit = std::chrono::seconds(30); // weir's default
    if (opt.timeout_given) {
      limit = opt.timeout;
      line += " --timeout " + std::to_string(limit.count()) + "ms";
    }
    wait = limit + std::chrono::seconds(15);
  }
  auto reply = client.call(line, wait);
  if (reply && reply->find(control::kHandedOver) != std::string::npos) {
    // The weir that answered has just handed over to its successor (`upgrade`), which listens on
    // the same socket: ask it. The command was not run.
    auto again = Client::connect(opt.socket, opt.timeout);
    if (again) reply = again->call(line, wait);
  }
  if (!reply) {
    std::fprintf(stderr, "weirctl: %s\n", reply.error().message.c_str());
    return kExitRefused;
  }
  int status = kExitOk;
  if (opt.json) {
    write_out(*reply + "\n");
    check_reply(*reply, status);
    return status;
  }
  auto value = check_reply(*reply, status);
  if (!value) return status;
  write_out(control::render::reply(*value));
  return kExitOk;
}

} // namespace

int main(int argc, char** argv) {
  Options opt;
  if (auto status = parse_args(argc, argv, opt)) return *status;
  return run(opt);
}
