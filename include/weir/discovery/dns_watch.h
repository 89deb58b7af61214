#pragma once

#include "weir/config/config.h"
#include "weir/discovery/dns_resolver.h"
#include "weir/discovery/source.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace weir::discovery {

// When a name is asked again: after its answer's TTL clamped to [min_ttl, max_ttl]; after a
// failure, min_ttl doubled per failure in a row, up to max(min_ttl, 10 s). Pure.
std::chrono::milliseconds next_resolve_after(uint32_t ttl_seconds, const config::Resolver& r);
std::chrono::milliseconds retry_after(uint64_t failures_in_a_row, const config::Resolver& r);

// One DNS name of a service, kept resolved: every A and AAAA record is an endpoint on the
// name's port. A failed or empty answer keeps the last good addresses (and is counted and
// logged). Control thread only; `changed` runs on it when addresses() changed.
class DnsWatch {
public:
  using Changed = std::function<void()>;
  DnsWatch(boost::asio::io_context& io, DnsResolver& resolver, config::DnsName name,
           config::Resolver settings, Changed changed);
  ~DnsWatch();
  DnsWatch(const DnsWatch&) = delete;
  DnsWatch& operator=(const DnsWatch&) = delete;

  void start();
  const config::DnsName& name() const { return name_; }
  const std::vector<config::Address>& addresses() const { return addresses_; } // sorted
  const SourceStatus& status() const { return status_; }

private:
  void resolve();
  void on_answer(DnsAnswer answer);
  void schedule(std::chrono::milliseconds after);

  DnsResolver& resolver_;
  config::DnsName name_;
  config::Resolver settings_;
  Changed changed_;
  std::vector<config::Address> addresses_;
  uint64_t failures_in_a_row_ = 0;
  boost::asio::steady_timer timer_;
  SourceStatus status_;
  std::shared_ptr<bool> alive_;
};

} // namespace weir::discovery
