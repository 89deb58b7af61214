#include "weir/discovery/dns_watch.h"

#include "weir/base/log.h"
#include "weir/config/address.h"

#include <algorithm>

namespace weir::discovery {

std::chrono::milliseconds next_resolve_after(uint32_t ttl_seconds, const config::Resolver& r) {
  std::chrono::milliseconds ttl = std::chrono::seconds(ttl_seconds);
  return std::clamp(ttl, r.min_ttl, r.max_ttl);
}

std::chrono::milliseconds retry_after(uint64_t failures_in_a_row, const config::Resolver& r) {
  const std::chrono::milliseconds cap =
      std::max<std::chrono::milliseconds>(r.min_ttl, std::chrono::seconds(10));
  std::chrono::milliseconds d = r.min_ttl;
  for (uint64_t i = 1; i < failures_in_a_row && d < cap; ++i)
    d *= 2;
  return std::min(d, cap);
}

DnsWatch::DnsWatch(boost::asio::io_context& io, DnsResolver& resolver, config::DnsName name,
                   config::Resolver settings, Changed changed)
    : resolver_(resolver), name_(std::move(name)), settings_(std::move(settings)),
      changed_(std::move(changed)), timer_(io), alive_(std::make_shared<bool>(true)) {
  status_.kind = "dns";
  status_.what = name_.text();
}

DnsWatch::~DnsWatch() {
  *alive_ = false;
  timer_.cancel();
}

void DnsWatch::start() {
  resolve();
}

void DnsWatch::resolve() {
  resolver_.resolve(name_.host, [this, alive = alive_](DnsAnswer a) {
    if (*alive) on_answer(std::move(a));
  });
}

void DnsWatch::on_answer(DnsAnswer answer) {
  std::vector<config::Address> next;
  for (const auto& a : answer.addresses) {
    auto parsed = config::parse_address((a.find(':') != std::string::npos ? "[" + a + "]" : a) +
                                            ":" + std::to_string(name_.port),
                                        false);
    if (parsed) next.push_back(*parsed);
  }
  if (!answer.error.empty() || next.empty()) {
    ++status_.failures;
    ++failures_in_a_row_;
    std::string error = answer.error.empty() ? "no A or AAAA record" : answer.error;
    if (error != status_.last_error)
      log::warn("discovery: " + name_.text() + ": " + error +
                (status_.answered ? " (last good addresses kept)" : ""));
    status_.last_error = std::move(error);
    return schedule(retry_after(failures_in_a_row_, settings_));
  }
  std::sort(next.begin(), next.end(), address_less);
  failures_in_a_row_ = 0;
  if (!status_.last_error.empty()) log::info("discovery: " + name_.text() + ": resolves again");
  status_.last_error.clear();
  status_.answered = true;
  schedule(next_resolve_after(answer.ttl, settings_));
  if (next == addresses_) return;
  addresses_ = std::move(next);
  status_.endpoints = addresses_.size();
  ++status_.updates;
  changed_();
}

void DnsWatch::schedule(std::chrono::milliseconds after) {
  timer_.expires_after(after);
  timer_.async_wait([this, alive = alive_](const boost::system::error_code& ec) {
    if (!ec && *alive) resolve();
  });
}

} // namespace weir::discovery
