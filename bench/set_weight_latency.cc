// How long `set weight` takes from the operator's side: the time from sending the command on
// the control socket to reading its reply, which weir sends only after every worker has applied
// the new weights (and the state file, if any, is written). Alternates two weightings of a
// route's backends N times and prints p50/p90/p99/max.
//
//   set_weight_latency --socket PATH --route ROUTE --a NS/SVC --b NS/SVC [--n 1000] [--warmup 20]
#include "weir/base/json.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <poll.h>
#include <string>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <vector>

namespace {

constexpr const char* kUsage =
    "usage: set_weight_latency --socket PATH --route ROUTE --a NS/SVC --b NS/SVC [--n 1000] "
    "[--warmup 20]\n"
    "Sends N `set weight` commands alternating A=90 B=10 and A=10 B=90 and prints the time from\n"
    "sending each command to reading its reply.\n";

struct Options {
  std::string socket;
  std::string route;
  std::string a;
  std::string b;
  int n = 1000;
  int warmup = 20;
};

bool parse_count(const char* text, int& out) {
  char* end = nullptr;
  errno = 0;
  long v = std::strtol(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || v < 0 || v > 10000000) return false;
  out = static_cast<int>(v);
  return true;
}

std::optional<Options> parse_args(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "set_weight_latency: %s needs a value\n%s", arg.c_str(), kUsage);
      return std::nullopt;
    }
    const char* value = argv[++i];
    if (arg == "--socket") {
      o.socket = value;
    } else if (arg == "--route") {
      o.route = value;
    } else if (arg == "--a") {
      o.a = value;
    } else if (arg == "--b") {
      o.b = value;
    } else if (arg == "--n" || arg == "--warmup") {
      if (!parse_count(value, arg == "--n" ? o.n : o.warmup)) {
        std::fprintf(stderr, "set_weight_latency: %s: expected a count, got '%s'\n", arg.c_str(),
                     value);
        return std::nullopt;
      }
    } else {
      std::fprintf(stderr, "set_weight_latency: unknown argument '%s'\n%s", arg.c_str(), kUsage);
      return std::nullopt;
    }
  }
  if (o.socket.empty() || o.route.empty() || o.a.empty() || o.b.empty() || o.n == 0) {
    std::fputs(kUsage, stderr);
    return std::nullopt;
  }
  return o;
}

class Connection {
public:
  ~Connection() {
    if (fd_ >= 0) ::close(fd_);
  }

  std::string open(const std::string& path) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof addr.sun_path) return "socket path too long";
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return std::strerror(errno);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
      return std::strerror(errno);
    return "";
  }

  bool send_all(std::string_view bytes) {
    while (!bytes.empty()) {
      ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // One reply line; nullopt after 10 s or when weir closed the connection.
  std::optional<std::string> read_line() {
    for (;;) {
      size_t nl = buf_.find('\n');
      if (nl != std::string::npos) {
        std::string line = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        return line;
      }
      pollfd p{fd_, POLLIN, 0};
      int r = ::poll(&p, 1, 10000);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) return std::nullopt;
      char chunk[65536];
      ssize_t n = ::read(fd_, chunk, sizeof chunk);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return std::nullopt;
      buf_.append(chunk, static_cast<size_t>(n));
    }
  }

private:
  int fd_ = -1;
  std::string buf_;
};

double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t i = static_cast<size_t>(p * static_cast<double>(sorted.size() - 1) + 0.5);
  return sorted[std::min(i, sorted.size() - 1)];
}

} // namespace

int main(int argc, char** argv) {
  auto options = parse_args(argc, argv);
  if (!options) return 2;
  const Options& o = *options;
  Connection c;
  if (std::string err = c.open(o.socket); !err.empty()) {
    std::fprintf(stderr, "set_weight_latency: cannot connect to %s: %s\n", o.socket.c_str(),
                 err.c_str());
    return 1;
  }
  const std::string commands[2] = {
      "set weight " + o.route + " " + o.a + "=90 " + o.b + "=10\n",
      "set weight " + o.route + " " + o.a + "=10 " + o.b + "=90\n",
  };
  std::vector<double> micros;
  micros.reserve(static_cast<size_t>(o.n));
  for (int i = 0; i < o.warmup + o.n; ++i) {
    const std::string& command = commands[i % 2];
    auto start = std::chrono::steady_clock::now();
    if (!c.send_all(command)) {
      std::fprintf(stderr, "set_weight_latency: send failed: %s\n", std::strerror(errno));
      return 1;
    }
    auto reply = c.read_line();
    auto end = std::chrono::steady_clock::now();
    if (!reply) {
      std::fprintf(stderr, "set_weight_latency: no reply to command %d\n", i);
      return 1;
    }
    auto parsed = weir::json::parse(*reply);
    if (!parsed.value || !(*parsed.value)["ok"].as_bool()) {
      std::fprintf(stderr, "set_weight_latency: command %d failed: %s\n", i, reply->c_str());
      return 1;
    }
    if (i >= o.warmup)
      micros.push_back(std::chrono::duration<double, std::micro>(end - start).count());
  }
  std::sort(micros.begin(), micros.end());
  double sum = 0;
  for (double m : micros)
    sum += m;
  std::printf("set weight (%zu commands, route %s): p50 %.0f us  p90 %.0f us  p99 %.0f us  "
              "max %.0f us  mean %.0f us\n",
              micros.size(), o.route.c_str(), percentile(micros, 0.50), percentile(micros, 0.90),
              percentile(micros, 0.99), micros.back(), sum / static_cast<double>(micros.size()));
  return 0;
}
