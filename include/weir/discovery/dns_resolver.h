#pragma once

#include "weir/config/config.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

struct ares_addrinfo;

namespace weir::discovery {

// What a name resolved to: numeric addresses (IPv6 without brackets) and the smallest TTL of
// the records, in seconds.
struct DnsAnswer {
  std::vector<std::string> addresses;
  uint32_t ttl = 0;
  std::string error; // "" when the query was answered (addresses may still be empty)
};

// Asynchronous A + AAAA lookups with c-ares, driven by the control thread's io_context: c-ares
// says which sockets it wants watched, Asio watches them, and a timer drives its retries. No
// thread, nothing blocks. `servers` empty: the nameservers of /etc/resolv.conf (and, as the
// system does, /etc/hosts first); given: only those servers are asked.
// Control thread only; callbacks run on it, never inside resolve().
class DnsResolver {
public:
  using Done = std::function<void(DnsAnswer)>;
  DnsResolver(boost::asio::io_context& io, const config::Resolver& config);
  ~DnsResolver(); // pending lookups end without their callbacks
  DnsResolver(const DnsResolver&) = delete;
  DnsResolver& operator=(const DnsResolver&) = delete;

  // "" or why the resolver cannot work (every lookup then fails with it).
  const std::string& setup_error() const { return setup_error_; }
  void resolve(const std::string& host, Done done);

private:
  struct Watched;
  struct Lookup;
  static void on_socket_state(void* self, int fd, int readable, int writable);
  static void on_answer(void* lookup, int status, int timeouts, ::ares_addrinfo* result);
  void watch(int fd, bool readable, bool writable);
  // Waits for what c-ares wants of the socket (readable, writable), each wait once at a time.
  void arm(const std::shared_ptr<Watched>& w);
  void wait(const std::shared_ptr<Watched>& w, bool for_read);
  void process(int read_fd, int write_fd);
  void schedule_timeout();

  boost::asio::io_context& io_;
  void* channel_ = nullptr; // ares_channel
  std::string setup_error_;
  std::map<int, std::shared_ptr<Watched>> sockets_;
  boost::asio::steady_timer timer_;
  std::shared_ptr<bool> alive_;
};

} // namespace weir::discovery
