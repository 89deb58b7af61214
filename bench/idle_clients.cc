// idle_clients: opens N keep-alive connections to a proxy, sends one GET on each and reads its
// response, then keeps every connection open and idle until SIGTERM or SIGINT.
// bench/run.sh measures the proxy's resident memory before and after, to price one idle
// keep-alive client connection. Prints "idle N" on stdout once all N are idle.
//
// With --flood SECONDS (bench/idle_cap.sh) it tries N such connections at once instead, all
// non-blocking, and keeps going whatever happens to each: connects that wait (the proxy's
// listen backlog is full), requests that wait (accepted by the kernel, not yet by a proxy at its
// connection cap), connections the proxy closes (idle timeout) and connects that fail are
// counted, not fatal. A closed connection is not reopened. It prints a status line every second
// and, after SECONDS (or on SIGTERM/SIGINT), a summary with how long answered requests waited.
//
// usage: idle_clients HOST PORT N [PATH]
//        idle_clients --flood SECONDS HOST PORT N [PATH]
#include <algorithm>
#include <arpa/inet.h>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string>
#include <string_view>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

namespace {

// Case-insensitive search for "\r\ncontent-length:" in a head; -1 when absent.
long content_length(std::string_view head) {
  constexpr std::string_view kName = "\r\ncontent-length:";
  for (size_t i = 0; i + kName.size() <= head.size(); ++i) {
    size_t j = 0;
    while (j < kName.size() && std::tolower(static_cast<unsigned char>(head[i + j])) == kName[j])
      ++j;
    if (j != kName.size()) continue;
    size_t p = i + j;
    while (p < head.size() && (head[p] == ' ' || head[p] == '\t'))
      ++p;
    long n = 0;
    auto [end, ec] = std::from_chars(head.data() + p, head.data() + head.size(), n);
    return ec == std::errc() ? n : -1;
  }
  return -1;
}

// True once `data` holds one complete response (Content-Length or chunked framing).
bool response_complete(std::string_view data) {
  const size_t head_end = data.find("\r\n\r\n");
  if (head_end == std::string_view::npos) return false;
  const std::string_view head = data.substr(0, head_end + 2);
  const std::string_view body = data.substr(head_end + 4);
  const long len = content_length(head);
  if (len >= 0) return body.size() >= static_cast<size_t>(len);
  return body.size() >= 5 && body.substr(body.size() - 5) == "0\r\n\r\n";
}

int connect_one(const sockaddr_in& addr) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// One request and its whole response, with a 5 s deadline per read.
bool exchange(int fd, const std::string& request) {
  if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(request.size()))
    return false;
  std::string data;
  char buf[4096];
  while (!response_complete(data)) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 5000) <= 0) return false;
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return false;
    data.append(buf, static_cast<size_t>(n));
  }
  return data.rfind("HTTP/1.1 200", 0) == 0 || data.rfind("HTTP/1.0 200", 0) == 0;
}

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) {
  g_stop = 1;
}

using Clock = std::chrono::steady_clock;

// One connection of the flood, from connect to idle or closed.
struct FloodConn {
  enum class State { connecting, sending, waiting, idle, closed, failed };
  int fd = -1;
  State state = State::connecting;
  size_t sent = 0;
  std::string data;
  Clock::time_point started;
};

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Value at quantile q (0..1) of sorted v; 0 when empty.
double quantile(const std::vector<double>& v, double q) {
  if (v.empty()) return 0;
  return v[std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())))];
}

int run_flood(const sockaddr_in& addr, long n, double seconds, const std::string& request) {
  const int ep = ::epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) {
    std::perror("idle_clients: epoll_create1");
    return 1;
  }
  std::vector<FloodConn> conns(static_cast<size_t>(n));
  long connect_errors = 0, closed_before_answer = 0, closed_after_answer = 0;
  std::map<std::string, long> statuses; // status code -> answers
  std::vector<double> answer_waits;     // connect start -> complete response, in seconds
  const Clock::time_point start = Clock::now();

  auto finish = [&](FloodConn& c, FloodConn::State state) {
    if (c.state == FloodConn::State::idle)
      ++closed_after_answer;
    else if (state == FloodConn::State::closed)
      ++closed_before_answer;
    ::epoll_ctl(ep, EPOLL_CTL_DEL, c.fd, nullptr);
    ::close(c.fd);
    c.fd = -1;
    c.state = state;
    c.data.clear();
    c.data.shrink_to_fit();
  };
  // Sends what is left of the request; true while the connection goes on.
  auto send_rest = [&](FloodConn& c, size_t i) {
    while (c.sent < request.size()) {
      const ssize_t w =
          ::send(c.fd, request.data() + c.sent, request.size() - c.sent, MSG_NOSIGNAL);
      if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
      if (w <= 0) return false;
      c.sent += static_cast<size_t>(w);
    }
    c.state = FloodConn::State::waiting;
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP;
    ev.data.u64 = i;
    ::epoll_ctl(ep, EPOLL_CTL_MOD, c.fd, &ev);
    return true;
  };

  for (long i = 0; i < n && !g_stop; ++i) {
    FloodConn& c = conns[static_cast<size_t>(i)];
    c.started = Clock::now();
    c.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c.fd < 0) {
      std::fprintf(stderr, "idle_clients: socket #%ld: %s\n", i, std::strerror(errno));
      c.state = FloodConn::State::failed;
      ++connect_errors;
      continue;
    }
    const int one = 1;
    ::setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (::connect(c.fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0 &&
        errno != EINPROGRESS) {
      ::close(c.fd);
      c.fd = -1;
      c.state = FloodConn::State::failed;
      ++connect_errors;
      continue;
    }
    epoll_event ev{};
    ev.events = EPOLLOUT | EPOLLIN | EPOLLRDHUP;
    ev.data.u64 = static_cast<uint64_t>(i);
    ::epoll_ctl(ep, EPOLL_CTL_ADD, c.fd, &ev);
  }

  std::vector<epoll_event> events(1024);
  char buf[4096];
  long next_report = 1;
  for (;;) {
    const double t = seconds_since(start);
    if (g_stop || t >= seconds) break;
    const int k = ::epoll_wait(ep, events.data(), static_cast<int>(events.size()), 100);
    for (int e = 0; e < k; ++e) {
      const size_t i = events[e].data.u64;
      FloodConn& c = conns[i];
      if (c.fd < 0) continue;
      if (c.state == FloodConn::State::connecting) {
        int err = 0;
        socklen_t len = sizeof err;
        ::getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0) {
          ++connect_errors;
          finish(c, FloodConn::State::failed);
          continue;
        }
        if (!(events[e].events & EPOLLOUT)) continue;
        c.state = FloodConn::State::sending;
      }
      if (c.state == FloodConn::State::sending) {
        if (!send_rest(c, i)) finish(c, FloodConn::State::closed);
        continue;
      }
      // waiting or idle: read the response, or notice the close.
      const ssize_t r = ::recv(c.fd, buf, sizeof buf, 0);
      if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) continue;
      if (r <= 0) {
        finish(c, FloodConn::State::closed);
        continue;
      }
      if (c.state == FloodConn::State::waiting) {
        c.data.append(buf, static_cast<size_t>(r));
        if (response_complete(c.data)) {
          answer_waits.push_back(seconds_since(c.started));
          ++statuses[c.data.substr(9, 3)];
          c.state = FloodConn::State::idle;
          c.data.clear();
          c.data.shrink_to_fit();
        }
      }
    }
    if (seconds_since(start) >= static_cast<double>(next_report)) {
      long counts[6] = {};
      for (const FloodConn& c : conns)
        ++counts[static_cast<int>(c.state)];
      std::printf("t=%ld connecting=%ld sending=%ld waiting=%ld idle=%ld closed=%ld failed=%ld\n",
                  next_report, counts[0], counts[1], counts[2], counts[3], counts[4], counts[5]);
      std::fflush(stdout);
      ++next_report;
    }
  }

  long still[6] = {};
  for (FloodConn& c : conns) {
    ++still[static_cast<int>(c.state)];
    if (c.fd >= 0) ::close(c.fd);
  }
  ::close(ep);
  std::sort(answer_waits.begin(), answer_waits.end());
  std::string status_list;
  for (const auto& [code, count] : statuses)
    status_list += (status_list.empty() ? "" : ",") + code + ":" + std::to_string(count);
  std::printf(
      "flood: attempted=%ld answered=%zu statuses=%s wait_p50=%.3f wait_p99=%.3f wait_max=%.3f "
      "closed_after_answer=%ld closed_before_answer=%ld connect_errors=%ld "
      "at_end_connecting=%ld at_end_waiting=%ld at_end_idle=%ld\n",
      n, answer_waits.size(), status_list.empty() ? "-" : status_list.c_str(),
      quantile(answer_waits, 0.5), quantile(answer_waits, 0.99),
      answer_waits.empty() ? 0.0 : answer_waits.back(), closed_after_answer, closed_before_answer,
      connect_errors, still[0], still[1] + still[2], still[3]);
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  double flood_seconds = -1;
  if (argc > 2 && std::string_view(argv[1]) == "--flood") {
    flood_seconds = std::atof(argv[2]);
    argc -= 2;
    argv += 2;
  }
  if (argc < 4) {
    std::fprintf(stderr, "usage: idle_clients HOST PORT N [PATH]\n"
                         "       idle_clients --flood SECONDS HOST PORT N [PATH]\n");
    return 2;
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  if (::inet_pton(AF_INET, argv[1], &addr.sin_addr) != 1) {
    std::fprintf(stderr, "idle_clients: bad IPv4 address '%s'\n", argv[1]);
    return 2;
  }
  addr.sin_port = htons(static_cast<uint16_t>(std::atoi(argv[2])));
  const long n = std::atol(argv[3]);
  const std::string path = argc > 4 ? argv[4] : "/";
  const std::string request =
      "GET " + path + " HTTP/1.1\r\nHost: bench.local\r\nUser-Agent: idle_clients\r\n\r\n";

  std::signal(SIGTERM, on_signal);
  std::signal(SIGINT, on_signal);
  std::signal(SIGPIPE, SIG_IGN);
  if (flood_seconds >= 0) return run_flood(addr, n, flood_seconds, request);

  std::vector<int> fds;
  fds.reserve(static_cast<size_t>(n));
  for (long i = 0; i < n; ++i) {
    const int fd = connect_one(addr);
    if (fd < 0) {
      std::fprintf(stderr, "idle_clients: connect #%ld: %s\n", i, std::strerror(errno));
      return 1;
    }
    if (!exchange(fd, request)) {
      std::fprintf(stderr, "idle_clients: request on connection #%ld failed\n", i);
      return 1;
    }
    fds.push_back(fd);
  }
  std::printf("idle %ld\n", n);
  std::fflush(stdout);

  // Stay idle; a closed connection (proxy timeout) is reported, since it voids the measurement.
  std::vector<pollfd> polls;
  polls.reserve(fds.size());
  for (int fd : fds)
    polls.push_back({fd, POLLIN, 0});
  while (!g_stop) {
    const int r = ::poll(polls.data(), polls.size(), 1000);
    if (r < 0 && errno != EINTR) break;
    if (r <= 0) continue;
    for (size_t i = 0; i < polls.size(); ++i) {
      if (polls[i].revents == 0) continue;
      std::fprintf(stderr, "idle_clients: connection #%zu closed by the proxy\n", i);
      polls[i].fd = -1;
    }
  }
  for (int fd : fds)
    ::close(fd);
  return 0;
}
