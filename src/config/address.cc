#include "weir/config/address.h"

#include <algorithm>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string>

namespace weir::config {
namespace {

constexpr std::string_view kNotNumeric =
    "expected a numeric IP address and port, e.g. 127.0.0.1:8080";

Error fail(std::string message) {
  return Error{ErrorSource::config, std::move(message)};
}

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

} // namespace

std::string Address::text() const {
  const bool v6 = host.find(':') != std::string::npos;
  std::string out;
  out.reserve(host.size() + 8);
  if (v6) out.push_back('[');
  out.append(host);
  if (v6) out.push_back(']');
  out.push_back(':');
  out.append(std::to_string(port));
  return out;
}

Result<Address> parse_address(std::string_view text, bool allow_port_zero) {
  std::string_view host;
  std::string_view port;
  bool v6 = false;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return fail(std::string(kNotNumeric));
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
    v6 = true;
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return fail(std::string(kNotNumeric));
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos)
      return fail("IPv6 addresses must be in brackets, e.g. [::1]:8080");
  }

  Address address;
  if (v6) {
    in6_addr a6{};
    char buf[INET6_ADDRSTRLEN];
    if (inet_pton(AF_INET6, std::string(host).c_str(), &a6) != 1 ||
        inet_ntop(AF_INET6, &a6, buf, sizeof buf) == nullptr)
      return fail(std::string(kNotNumeric));
    address.host = buf;
  } else {
    in_addr a4{};
    if (inet_pton(AF_INET, std::string(host).c_str(), &a4) != 1)
      return fail(std::string(kNotNumeric));
    address.host = std::string(host);
  }

  if (!all_digits(port)) return fail(std::string(kNotNumeric));
  const unsigned min_port = allow_port_zero ? 0 : 1;
  unsigned long value = port.size() > 5 ? 65536 : std::stoul(std::string(port));
  if (value < min_port || value > 65535)
    return fail("port must be between " + std::to_string(min_port) + " and 65535, got " +
                std::string(port));
  address.port = static_cast<uint16_t>(value);
  return address;
}

Result<Cidr> parse_cidr(std::string_view text) {
  Cidr net;
  net.text = std::string(text);
  std::string_view host = text;
  std::string_view bits;
  if (size_t slash = text.find('/'); slash != std::string_view::npos) {
    host = text.substr(0, slash);
    bits = text.substr(slash + 1);
  }
  std::string h(host);
  if (inet_pton(AF_INET, h.c_str(), net.bytes) == 1) {
    net.v6 = false;
  } else if (inet_pton(AF_INET6, h.c_str(), net.bytes) == 1) {
    net.v6 = true;
  } else {
    return fail("expected a network like 10.0.0.0/8 or fd00::/8, got \"" + net.text + "\"");
  }
  const unsigned max = net.v6 ? 128 : 32;
  unsigned prefix = max;
  if (!bits.empty() || text.find('/') != std::string_view::npos) {
    if (!all_digits(bits) || bits.size() > 3 || std::stoul(std::string(bits)) > max)
      return fail("the prefix length must be 0 to " + std::to_string(max) + ", got \"" + net.text +
                  "\"");
    prefix = static_cast<unsigned>(std::stoul(std::string(bits)));
  }
  net.prefix = static_cast<uint8_t>(prefix);
  for (unsigned bit = prefix; bit < max; ++bit) {
    if (net.bytes[bit / 8] & (0x80 >> (bit % 8)))
      return fail("host bits are set below the /" + std::to_string(prefix) + " prefix in \"" +
                  net.text + "\"");
  }
  return net;
}

bool cidr_contains(const Cidr& net, bool v6, const unsigned char* bytes) {
  static constexpr unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (v6 && !net.v6 && std::equal(kMapped, kMapped + 12, bytes)) {
    v6 = false;
    bytes += 12;
  }
  if (v6 != net.v6) return false;
  unsigned full = net.prefix / 8;
  if (!std::equal(net.bytes, net.bytes + full, bytes)) return false;
  unsigned rest = net.prefix % 8;
  if (rest == 0) return true;
  unsigned char mask = static_cast<unsigned char>(0xff << (8 - rest));
  return (net.bytes[full] & mask) == (bytes[full] & mask);
}

} // namespace weir::config
