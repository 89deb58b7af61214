#include "weir/discovery/dns_resolver.h"

#include <ares.h>
#include <arpa/inet.h>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <mutex>
#include <netinet/in.h>

namespace weir::discovery {

namespace asio = boost::asio;

// One socket c-ares asked us to watch. The descriptor is c-ares's: released, never closed here.
struct DnsResolver::Watched {
  explicit Watched(asio::io_context& io, int fd) : descriptor(io, fd) {}
  asio::posix::stream_descriptor descriptor;
  bool want_read = false;
  bool want_write = false;
  bool read_armed = false;
  bool write_armed = false;
  bool gone = false;
};

struct DnsResolver::Lookup {
  DnsResolver* resolver;
  std::shared_ptr<bool> alive;
  Done done;
};

namespace {
std::once_flag library_once;
int library_status = ARES_SUCCESS;
} // namespace

DnsResolver::DnsResolver(asio::io_context& io, const config::Resolver& config)
    : io_(io), timer_(io), alive_(std::make_shared<bool>(true)) {
  std::call_once(library_once, [] { library_status = ares_library_init(ARES_LIB_INIT_ALL); });
  if (library_status != ARES_SUCCESS) {
    setup_error_ = std::string("c-ares: ") + ares_strerror(library_status);
    return;
  }
  ares_options options{};
  int mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES;
  options.sock_state_cb = &DnsResolver::on_socket_state;
  options.sock_state_cb_data = this;
  // c-ares's own defaults (5 s, 4 tries, doubling) report a silent server only after more than
  // a minute, all of it with /ready saying nothing of why: 1 s and 3 tries say it in seconds.
  options.timeout = 1000;
  options.tries = 3;
  // Servers named in the config are the whole truth: /etc/hosts is not read then.
  std::string lookups = "b";
  if (!config.servers.empty()) {
    options.lookups = lookups.data();
    mask |= ARES_OPT_LOOKUPS;
  }
  ares_channel channel = nullptr;
  if (int s = ares_init_options(&channel, &options, mask); s != ARES_SUCCESS) {
    setup_error_ = std::string("c-ares: ") + ares_strerror(s);
    return;
  }
  channel_ = channel;
  if (!config.servers.empty()) {
    std::string csv;
    for (const auto& a : config.servers) {
      if (!csv.empty()) csv += ',';
      csv += a.text();
    }
    if (int s = ares_set_servers_ports_csv(channel, csv.c_str()); s != ARES_SUCCESS)
      setup_error_ = "resolver servers " + csv + ": " + ares_strerror(s);
  }
}

DnsResolver::~DnsResolver() {
  *alive_ = false;
  timer_.cancel();
  // Pending lookups are answered with ARES_EDESTRUCTION (ignored: alive_ is false) and their
  // sockets reported closed, which releases our descriptors.
  if (channel_) ares_destroy(static_cast<ares_channel>(channel_));
  for (auto& [fd, w] : sockets_) {
    w->gone = true;
    boost::system::error_code ignored;
    w->descriptor.cancel(ignored);
    w->descriptor.release();
  }
}

void DnsResolver::resolve(const std::string& host, Done done) {
  if (!channel_ || !setup_error_.empty()) {
    asio::post(io_, [done = std::move(done), error = setup_error_] {
      DnsAnswer a;
      a.error = error;
      done(std::move(a));
    });
    return;
  }
  auto* lookup = new Lookup{this, alive_, std::move(done)};
  ares_addrinfo_hints hints{};
  hints.ai_family = AF_UNSPEC; // A and AAAA
  hints.ai_flags = ARES_AI_NOSORT;
  ares_getaddrinfo(static_cast<ares_channel>(channel_), host.c_str(), nullptr, &hints,
                   &DnsResolver::on_answer, lookup);
  schedule_timeout();
}

void DnsResolver::on_answer(void* arg, int status, int, ares_addrinfo* result) {
  std::unique_ptr<Lookup> lookup(static_cast<Lookup*>(arg));
  DnsAnswer answer;
  if (status != ARES_SUCCESS) {
    answer.error = ares_strerror(status);
  } else if (result) {
    bool first = true;
    for (ares_addrinfo_node* n = result->nodes; n; n = n->ai_next) {
      char text[INET6_ADDRSTRLEN] = {};
      if (n->ai_family == AF_INET)
        inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(n->ai_addr)->sin_addr, text,
                  sizeof text);
      else if (n->ai_family == AF_INET6)
        inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(n->ai_addr)->sin6_addr, text,
                  sizeof text);
      else
        continue;
      std::string a = text;
      bool seen = false;
      for (const auto& x : answer.addresses)
        seen = seen || x == a;
      if (!seen) answer.addresses.push_back(std::move(a));
      const uint32_t ttl = n->ai_ttl < 0 ? 0 : static_cast<uint32_t>(n->ai_ttl);
      answer.ttl = first ? ttl : std::min(answer.ttl, ttl);
      first = false;
    }
  }
  if (result) ares_freeaddrinfo(result);
  if (!*lookup->alive) return;
  // Never inside the caller's resolve() or c-ares's processing: a callback may resolve again.
  DnsResolver* self = lookup->resolver;
  asio::post(self->io_, [alive = lookup->alive, done = std::move(lookup->done),
                         answer = std::move(answer)]() mutable {
    if (*alive) done(std::move(answer));
  });
}

void DnsResolver::on_socket_state(void* arg, int fd, int readable, int writable) {
  static_cast<DnsResolver*>(arg)->watch(fd, readable != 0, writable != 0);
}

void DnsResolver::watch(int fd, bool readable, bool writable) {
  auto it = sockets_.find(fd);
  if (!readable && !writable) { // c-ares closes it next
    if (it == sockets_.end()) return;
    it->second->gone = true;
    boost::system::error_code ignored;
    it->second->descriptor.cancel(ignored);
    it->second->descriptor.release();
    sockets_.erase(it);
    return;
  }
  if (it == sockets_.end()) it = sockets_.emplace(fd, std::make_shared<Watched>(io_, fd)).first;
  it->second->want_read = readable;
  it->second->want_write = writable;
  arm(it->second);
}

void DnsResolver::arm(const std::shared_ptr<Watched>& w) {
  if (w->want_read && !w->read_armed) wait(w, true);
  if (w->want_write && !w->write_armed) wait(w, false);
}

void DnsResolver::wait(const std::shared_ptr<Watched>& w, bool for_read) {
  (for_read ? w->read_armed : w->write_armed) = true;
  const auto type =
      for_read ? asio::posix::descriptor_base::wait_read : asio::posix::descriptor_base::wait_write;
  w->descriptor.async_wait(
      type, [this, w, for_read, alive = alive_](const boost::system::error_code& ec) {
        (for_read ? w->read_armed : w->write_armed) = false;
        if (!*alive || w->gone || ec) return;
        const int fd = w->descriptor.native_handle();
        process(for_read ? fd : ARES_SOCKET_BAD, for_read ? ARES_SOCKET_BAD : fd);
        if (!w->gone) arm(w);
      });
}

void DnsResolver::process(int read_fd, int write_fd) {
  ares_process_fd(static_cast<ares_channel>(channel_), read_fd, write_fd);
  schedule_timeout();
}

void DnsResolver::schedule_timeout() {
  timeval tv{};
  timeval* next = ares_timeout(static_cast<ares_channel>(channel_), nullptr, &tv);
  if (!next) {
    timer_.cancel();
    return;
  }
  timer_.expires_after(std::chrono::seconds(next->tv_sec) +
                       std::chrono::microseconds(next->tv_usec));
  timer_.async_wait([this, alive = alive_](const boost::system::error_code& ec) {
    if (ec || !*alive) return;
    process(ARES_SOCKET_BAD, ARES_SOCKET_BAD); // runs c-ares's retries and timeouts
  });
}

} // namespace weir::discovery
