#include "dnsmasq.h"

#include "upstream.h"
#include "wait.h"
#include "weir.h"

#include <algorithm>
#include <arpa/inet.h>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <random>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

namespace weir::test {
namespace {

constexpr const char* kDnsmasqBin = "/usr/sbin/dnsmasq";
constexpr size_t kHeaderSize = 12;
constexpr uint16_t kClassIn = 1;
constexpr uint16_t kFlagResponse = 0x8000;
constexpr uint16_t kFlagRecursionDesired = 0x0100;

// Closes a socket when the scope ends, whatever way it ends.
struct Fd {
  int fd = -1;
  explicit Fd(int fd) : fd(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

// A loopback port free for both UDP and TCP right now (dnsmasq takes both); 0 if none was had.
// Another process may take it before dnsmasq does: start() then tries another.
uint16_t free_udp_and_tcp_port() {
  Fd udp(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  Fd tcp(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (udp.fd < 0 || tcp.fd < 0) return 0;
  sockaddr_in a = loopback_address(0);
  socklen_t len = sizeof a;
  if (::bind(udp.fd, reinterpret_cast<sockaddr*>(&a), len) != 0 ||
      ::getsockname(udp.fd, reinterpret_cast<sockaddr*>(&a), &len) != 0)
    return 0;
  // SO_REUSEADDR, as dnsmasq's own TCP listener has: a port some load test's connection left
  // in TIME_WAIT is free for it (without this, three tries in a row failed under load).
  int one = 1;
  ::setsockopt(tcp.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(tcp.fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return 0;
  return ntohs(a.sin_port);
}

void put16(std::string& out, uint16_t v) {
  out.push_back(static_cast<char>(v >> 8));
  out.push_back(static_cast<char>(v & 0xff));
}

// The question datagram (RFC 1035 4.1): header, then QNAME as length-prefixed labels, QTYPE,
// QCLASS. nullopt for a name DNS cannot carry (an empty label inside, one over 63 bytes).
std::optional<std::string> question_packet(uint16_t id, const std::string& name, DnsType type) {
  std::string out;
  put16(out, id);
  put16(out, kFlagRecursionDesired);
  put16(out, 1); // QDCOUNT
  put16(out, 0); // ANCOUNT
  put16(out, 0); // NSCOUNT
  put16(out, 0); // ARCOUNT
  std::string trimmed = name;
  if (!trimmed.empty() && trimmed.back() == '.') trimmed.pop_back();
  size_t begin = 0;
  while (begin <= trimmed.size()) {
    size_t dot = trimmed.find('.', begin);
    if (dot == std::string::npos) dot = trimmed.size();
    size_t len = dot - begin;
    if (len == 0 || len > 63) return std::nullopt;
    out.push_back(static_cast<char>(len));
    out.append(trimmed, begin, len);
    begin = dot + 1;
  }
  out.push_back('\0');
  put16(out, static_cast<uint16_t>(type));
  put16(out, kClassIn);
  return out;
}

// Bounds-checked reading of an answer: any read past the end leaves ok false.
struct Reader {
  const unsigned char* data;
  size_t size;
  size_t pos = 0;
  bool ok = true;

  bool has(size_t n) {
    if (size - pos < n) ok = false;
    return ok;
  }
  uint16_t u16() {
    if (!has(2)) return 0;
    uint16_t v = static_cast<uint16_t>(data[pos] << 8 | data[pos + 1]);
    pos += 2;
    return v;
  }
  uint32_t u32() {
    uint32_t hi = u16();
    return hi << 16 | u16();
  }
  void skip(size_t n) {
    if (has(n)) pos += n;
  }
  // A name is labels up to a zero byte, or up to a compression pointer (two bytes, top bits
  // 11) to an earlier name: either way its end in this record is found without following it.
  void skip_name() {
    while (has(1)) {
      unsigned char len = data[pos++];
      if (len == 0) return;
      if ((len & 0xc0) == 0xc0) return skip(1);
      if ((len & 0xc0) != 0) {
        ok = false;
        return;
      }
      skip(len);
    }
  }
};

std::optional<DnsAnswer> parse_answer(const unsigned char* data, size_t size, DnsType type) {
  Reader in{data, size};
  in.u16(); // id, checked by the caller
  uint16_t flags = in.u16();
  uint16_t questions = in.u16();
  uint16_t answers = in.u16();
  in.skip(4); // NSCOUNT, ARCOUNT: not read
  if (!in.ok || !(flags & kFlagResponse)) return std::nullopt;
  DnsAnswer answer;
  answer.rcode = flags & 0xf;
  for (uint16_t i = 0; i < questions && in.ok; ++i) {
    in.skip_name();
    in.skip(4); // QTYPE, QCLASS
  }
  bool first = true;
  for (uint16_t i = 0; i < answers && in.ok; ++i) {
    in.skip_name();
    uint16_t rr_type = in.u16();
    uint16_t rr_class = in.u16();
    uint32_t ttl = in.u32();
    uint16_t rdlength = in.u16();
    if (!in.has(rdlength)) break;
    const unsigned char* rdata = data + in.pos;
    in.skip(rdlength);
    // A CNAME on the way (none from a hosts file, but a resolver's answer may have one) is
    // passed over like anything else that is not the asked type.
    if (rr_type != static_cast<uint16_t>(type) || rr_class != kClassIn) continue;
    int family = type == DnsType::a ? AF_INET : AF_INET6;
    size_t expected = type == DnsType::a ? 4 : 16;
    char text[INET6_ADDRSTRLEN];
    if (rdlength != expected || !::inet_ntop(family, rdata, text, sizeof text)) return std::nullopt;
    answer.addresses.emplace_back(text);
    answer.min_ttl = first ? ttl : std::min(answer.min_ttl, ttl);
    first = false;
  }
  if (!in.ok) return std::nullopt;
  std::sort(answer.addresses.begin(), answer.addresses.end());
  return answer;
}

uint16_t next_query_id() {
  static std::atomic<uint16_t> id{static_cast<uint16_t>(std::random_device{}())};
  return id.fetch_add(1, std::memory_order_relaxed);
}

} // namespace

std::optional<DnsAnswer> query_dns(uint16_t port, const std::string& name, DnsType type,
                                   std::chrono::milliseconds timeout) {
  uint16_t id = next_query_id();
  auto packet = question_packet(id, name, type);
  if (!packet) return std::nullopt;
  // Connected, so an ICMP port-unreachable (no server) ends the wait with ECONNREFUSED at once.
  Fd sock(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  sockaddr_in server = loopback_address(port);
  if (sock.fd < 0 || ::connect(sock.fd, reinterpret_cast<sockaddr*>(&server), sizeof server) != 0 ||
      ::send(sock.fd, packet->data(), packet->size(), 0) != static_cast<ssize_t>(packet->size()))
    return std::nullopt;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  unsigned char buf[4096];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() < 0) return std::nullopt;
    pollfd pfd{sock.fd, POLLIN, 0};
    int ready = ::poll(&pfd, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) return std::nullopt;
    ssize_t n = ::recv(sock.fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return std::nullopt;
    // A late answer to an earlier question of this process cannot reach this socket (its own
    // port), but a stray datagram could: only the one with our id counts.
    if (static_cast<size_t>(n) < kHeaderSize || (buf[0] << 8 | buf[1]) != id) continue;
    return parse_answer(buf, static_cast<size_t>(n), type);
  }
}

std::unique_ptr<Dnsmasq> Dnsmasq::start(const std::string& hosts, int ttl_seconds) {
  if (::access(kDnsmasqBin, X_OK) != 0) {
    ADD_FAILURE() << kDnsmasqBin << " is not installed (./dev deps installs it)";
    return nullptr;
  }
  std::unique_ptr<Dnsmasq> dns(new Dnsmasq());
  dns->ttl_seconds_ = ttl_seconds;
  dns->dir_ = temp_path("dnsmasq-hosts");
  std::error_code ec;
  if (!std::filesystem::create_directory(dns->dir_, ec) || !dns->set_hosts(hosts)) {
    ADD_FAILURE() << "cannot write the hosts file in " << dns->dir_;
    return nullptr;
  }
  // The port is free when chosen but may be taken before dnsmasq binds it: a few tries.
  for (int attempt = 0; attempt < 10; ++attempt) {
    dns->port_ = free_udp_and_tcp_port();
    if (dns->port_ != 0 && dns->launch()) return dns;
  }
  ADD_FAILURE() << "dnsmasq did not answer on 127.0.0.1:" << dns->port_ << ":\n" << dns->output();
  return nullptr;
}

Dnsmasq::~Dnsmasq() {
  if (proc_ && proc_->running()) {
    proc_->signal(SIGTERM);
    proc_->wait_exit(2s);
  }
}

std::string Dnsmasq::address() const {
  return "127.0.0.1:" + std::to_string(port_);
}

bool Dnsmasq::set_hosts(const std::string& hosts) {
  // dnsmasq's inotify watch skips names starting with '.', so it never sees the file half
  // written; the rename is one IN_MOVED_TO for "hosts", which it reads whole.
  std::string temp = dir_ + "/.hosts.tmp";
  return write_file(temp, hosts) && std::rename(temp.c_str(), (dir_ + "/hosts").c_str()) == 0;
}

std::optional<DnsAnswer> Dnsmasq::query(const std::string& name, DnsType type,
                                        std::chrono::milliseconds timeout) const {
  return query_dns(port_, name, type, timeout);
}

bool Dnsmasq::wait_answers(const std::string& name, const std::vector<std::string>& addresses,
                           std::chrono::milliseconds timeout, DnsType type) const {
  std::vector<std::string> expected = addresses;
  std::sort(expected.begin(), expected.end());
  return wait_until(
      [&] {
        auto answer = query(name, type, 200ms);
        return answer && answer->addresses == expected;
      },
      timeout, 20ms);
}

void Dnsmasq::kill() {
  if (!proc_) return;
  proc_->signal(SIGKILL);
  proc_->wait_exit(5s);
}

bool Dnsmasq::restart() {
  if (proc_ && proc_->running()) kill();
  // While it was down, the port may have been taken for a moment: it is in the ephemeral range,
  // where the kernel picks other tests' client ports (and port-0 listeners). Such a holder is
  // short-lived; a few tries over 3 s see it go.
  for (int attempt = 0; attempt < 6; ++attempt) {
    if (launch()) return true;
    if (output().find("Address already in use") == std::string::npos) break;
    if (proc_ && proc_->running()) kill();
    std::this_thread::sleep_for(500ms); // nothing to wait on: the holder is someone else
  }
  ADD_FAILURE() << "dnsmasq did not answer again on " << address() << ":\n" << output();
  return false;
}

std::string Dnsmasq::output() const {
  return proc_ ? proc_->output() : "";
}

bool Dnsmasq::launch() {
  proc_ = Process::start({
      kDnsmasqBin,
      "--keep-in-foreground",
      "--conf-file=/dev/null", // not /etc/dnsmasq.conf nor its conf-dir
      "--pid-file=",           // none
      // As root it would switch to user dnsmasq, which cannot read the test's 0700 temp dir.
      "--user=root",
      "--bind-interfaces",
      "--listen-address=127.0.0.1",
      "--port=" + std::to_string(port_),
      "--no-resolv",
      "--no-hosts",
      "--local=/#/", // every name is ours: a name not in the file is NXDOMAIN, not REFUSED
      "--hostsdir=" + dir_,
      "--local-ttl=" + std::to_string(ttl_seconds_),
      "--log-facility=-", // stderr, into the Process's output
      "--log-queries",
  });
  if (!proc_) return false;
  // Any answer, NXDOMAIN included, means it listens with the hosts file read (it reads it
  // before its first poll).
  return wait_until(
             [this] {
               return query("weir-dnsmasq-ready.invalid", DnsType::a, 100ms) || !proc_->running();
             },
             5s, 10ms) &&
         proc_->running();
}

} // namespace weir::test
