#pragma once

#include "process.h"

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace weir::test {

enum class DnsType : uint16_t { a = 1, aaaa = 28 };

// What a DNS server said to one question.
struct DnsAnswer {
  int rcode = 0;                      // 0 NOERROR, 3 NXDOMAIN, 5 REFUSED...
  std::vector<std::string> addresses; // the records of the asked type, as text, sorted
  uint32_t min_ttl = 0;               // the smallest TTL among them (0 without any)
};

// One question (`name`, IN, `type`) in one UDP datagram to 127.0.0.1:port, written and parsed
// here by hand: nothing between the test and the server. nullopt when no answer arrives within
// `timeout` (a server that is gone refuses at once through ICMP) or the answer is malformed.
std::optional<DnsAnswer> query_dns(uint16_t port, const std::string& name, DnsType type,
                                   std::chrono::milliseconds timeout);

// A real DNS server for tests: Debian's dnsmasq in the foreground on 127.0.0.1 (UDP and TCP on
// one port), answering only from one hosts file in a directory of its own that it watches with
// inotify (--hostsdir: a rename over the file is read at once). No /etc/hosts, no
// /etc/resolv.conf, no upstream: any other name is NXDOMAIN. Every answer carries the TTL given
// to start, so a resolver that honours it asks again that often.
// Thread contract: port, address, query and wait_answers may be called from any thread; the
// others only from the thread that owns the object.
class Dnsmasq {
public:
  // `hosts`: lines "ADDRESS NAME" (IPv4 or IPv6), as in /etc/hosts. Waits (5 s) until the server
  // answers. On failure: ADD_FAILURE with dnsmasq's output, and nullptr.
  static std::unique_ptr<Dnsmasq> start(const std::string& hosts, int ttl_seconds = 1);

  Dnsmasq(const Dnsmasq&) = delete;
  Dnsmasq& operator=(const Dnsmasq&) = delete;
  ~Dnsmasq(); // SIGTERM, then the Process's SIGKILL if it lingers

  uint16_t port() const { return port_; }
  std::string address() const; // "127.0.0.1:PORT"

  // Replaces the hosts file whole (written beside it under a dot name dnsmasq ignores, then
  // renamed over it), so dnsmasq never reads half a file. Returns at once; dnsmasq reads it
  // within milliseconds: tests wait for the change with wait_answers. False if it cannot write.
  bool set_hosts(const std::string& hosts);

  std::optional<DnsAnswer> query(const std::string& name, DnsType type = DnsType::a,
                                 std::chrono::milliseconds timeout = 500ms) const;
  // Asks again and again until the records of `type` for `name` are exactly `addresses` (in any
  // order) or `timeout` passes. An empty `addresses` is met by an answer without such records
  // (NXDOMAIN or none of that type), never by silence.
  bool wait_answers(const std::string& name, const std::vector<std::string>& addresses,
                    std::chrono::milliseconds timeout, DnsType type = DnsType::a) const;

  // SIGKILL, and the exit collected: from now on nothing answers on port().
  void kill();
  // Starts dnsmasq again on the same port with the current hosts file (after kill, or to stop a
  // running one first) and waits (5 s) until it answers. On failure: ADD_FAILURE with its
  // output, and false.
  bool restart();

  // What dnsmasq wrote (it logs every query), for a failing test's message.
  std::string output() const;

private:
  Dnsmasq() = default;
  // Runs dnsmasq on port_ and waits until it answers or exits. False with proc_ kept for its
  // output when it does not answer.
  bool launch();

  std::string dir_; // the --hostsdir, holding only `hosts`
  int ttl_seconds_ = 1;
  uint16_t port_ = 0;
  std::unique_ptr<Process> proc_;
};

} // namespace weir::test
