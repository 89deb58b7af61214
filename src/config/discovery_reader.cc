#include "discovery_reader.h"

#include "weir/net/url.h"

#include <algorithm>
#include <cctype>

namespace weir::config::yaml {

namespace {

bool all_digits_or_dots(std::string_view s) {
  for (char c : s)
    if (!std::isdigit(static_cast<unsigned char>(c)) && c != '.') return false;
  return true;
}

std::string absolute(const std::string& base_dir, const std::string& path) {
  if (path.empty() || path[0] == '/' || base_dir.empty()) return path;
  return base_dir + "/" + path;
}

} // namespace

std::string host_name_error(std::string_view text) {
  std::string_view s = text;
  if (s.ends_with('.')) s.remove_suffix(1); // a fully qualified name
  if (s.empty()) return "the host name is empty";
  if (s.size() > kMaxHostLength)
    return "the host name is longer than " + std::to_string(kMaxHostLength) + " characters";
  if (all_digits_or_dots(s)) return "is neither an IPv4 address nor a host name";
  size_t start = 0;
  while (start <= s.size()) {
    size_t end = s.find('.', start);
    if (end == std::string_view::npos) end = s.size();
    std::string_view label = s.substr(start, end - start);
    if (label.empty()) return "the host name has an empty label";
    if (label.size() > kMaxLabelLength)
      return "a label of the host name is longer than " + std::to_string(kMaxLabelLength) +
             " characters";
    for (char c : label)
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_')
        return "the host name holds " + quote(std::string(1, c)) +
               " (letters, digits, \"-\" and \".\" only)";
    if (label.front() == '-' || label.back() == '-')
      return "a label of the host name starts or ends with \"-\"";
    start = end + 1;
  }
  return "";
}

void read_resolver(Checker& c, const Item& item, Resolver& resolver) {
  if (!c.expect_map(item)) return;
  Fields f(c, item, {"servers", "min_ttl", "max_ttl"});
  if (auto s = f.get("servers")) {
    if (auto list = c.nonempty_list(*s, "server")) {
      for (const Item& element : *list) {
        // A bare address means port 53.
        if (element.node.IsScalar() && element.node.Scalar().find(':') == std::string::npos &&
            element.node.Scalar().find('[') == std::string::npos) {
          auto a = parse_address(element.node.Scalar() + ":53", false);
          if (!a)
            c.fail(element, a.error().message);
          else
            resolver.servers.push_back(*a);
          continue;
        }
        if (auto a = c.address(element, false)) resolver.servers.push_back(*a);
      }
    }
  }
  if (auto m = f.get("min_ttl")) {
    if (auto v = c.duration(*m, true)) resolver.min_ttl = *v;
  }
  if (auto m = f.get("max_ttl")) {
    if (auto v = c.duration(*m, true)) resolver.max_ttl = *v;
  }
  if (resolver.max_ttl < resolver.min_ttl)
    c.fail(item, "max_ttl (" + format_duration(resolver.max_ttl) + ") is below min_ttl (" +
                     format_duration(resolver.min_ttl) + ")");
}

void read_kubernetes(Checker& c, const Item& item, const std::string& base_dir,
                     Kubernetes& kubernetes) {
  if (item.node.IsNull()) return; // `kubernetes:` alone, or {}: every default
  if (!c.expect_map(item)) return;
  Fields f(c, item, {"api_server", "token_file", "ca_file"});
  if (auto a = f.get("api_server")) {
    if (auto v = c.string(*a)) {
      auto url = net::parse_url(*v);
      // Plain http only to this host (kubectl proxy): the bearer token must not cross a network
      // in the clear. A name is not trusted to be local, except "localhost".
      const bool loopback =
          url && ((url->numeric && (url->host.starts_with("127.") || url->host == "::1")) ||
                  url->host == "localhost");
      if (!url)
        c.fail(*a, "expected an https:// URL: " + url.error().message);
      else if (!url->tls && !loopback)
        c.fail(*a, "expected an https:// URL (http:// only to a loopback address, as "
                   "kubectl proxy), got " +
                       quote(*v));
      else if (url->target.find('?') != std::string::npos)
        c.fail(*a, "the API server's URL takes a path prefix but no query, got " + quote(*v));
      else
        kubernetes.api_server = *v;
    }
  }
  for (auto [key, into] : {std::pair{"token_file", &kubernetes.token_file},
                           std::pair{"ca_file", &kubernetes.ca_file}}) {
    if (auto t = f.get(key)) {
      if (auto v = c.string(*t)) {
        if (v->empty())
          c.fail(*t, "expected a file path, got \"\"");
        else
          *into = absolute(base_dir, *v);
      }
    }
  }
}

void read_gateway(Checker& c, const Item& item, Gateway& gateway) {
  gateway.enabled = true;
  if (item.node.IsNull()) return; // `gateway:` alone: class "weir"
  if (!c.expect_map(item)) return;
  Fields f(c, item, {"class_name"});
  if (auto n = f.get("class_name")) {
    if (auto v = c.string(*n)) {
      // A GatewayClass is a cluster-scoped object: its name is a DNS subdomain.
      std::string why = v->size() > 253 ? "longer than 253 characters" : "";
      for (char ch : *v)
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '.'))
          why = "not lower-case letters, digits, \"-\" and \".\"";
      if (v->empty()) why = "empty";
      if (why.empty() &&
          (v->front() == '-' || v->front() == '.' || v->back() == '-' || v->back() == '.'))
        why = "starting or ending with \"-\" or \".\"";
      if (why.empty())
        gateway.class_name = *v;
      else
        c.fail(*n, "expected a GatewayClass name (a DNS subdomain), got " + quote(*v) + ": " + why);
    }
  }
}

void read_endpoints(Checker& c, const Item& item, Service& service) {
  auto list = c.nonempty_list(item, "endpoint");
  if (!list) return;
  for (const Item& element : *list) {
    auto text = c.string(element);
    if (!text) continue;
    auto address = parse_address(*text, false);
    if (address) {
      if (std::find(service.endpoints.begin(), service.endpoints.end(), *address) !=
          service.endpoints.end()) {
        c.fail(element, "endpoint " + address->text() + " is listed twice");
        continue;
      }
      service.endpoints.push_back(*address);
      continue;
    }
    // Not an address: a host name with a port, or a mistake in an address.
    const size_t colon = text->rfind(':');
    std::string_view host = colon == std::string::npos ? std::string_view(*text)
                                                       : std::string_view(*text).substr(0, colon);
    if (host.find(':') != std::string_view::npos || host.starts_with('[') ||
        all_digits_or_dots(host)) {
      c.fail(element, address.error().message);
      continue;
    }
    if (colon == std::string::npos) {
      c.fail(element, "endpoint " + quote(*text) +
                          " has no port: write an address or a host name with its port, e.g. " +
                          "10.0.0.5:8080 or app.internal:8080");
      continue;
    }
    if (std::string e = host_name_error(host); !e.empty()) {
      c.fail(element, "endpoint " + quote(*text) + ": " + e);
      continue;
    }
    auto port = parse_address("0.0.0.0" + text->substr(colon), false);
    if (!port) {
      c.fail(element, "endpoint " + quote(*text) + ": " + port.error().message);
      continue;
    }
    DnsName name;
    for (char ch : host)
      name.host += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (name.host.ends_with('.')) name.host.pop_back();
    name.port = port->port;
    if (std::find(service.dns_names.begin(), service.dns_names.end(), name) !=
        service.dns_names.end()) {
      c.fail(element, "endpoint " + name.text() + " is listed twice");
      continue;
    }
    service.dns_names.push_back(std::move(name));
  }
}

void read_kubernetes_ref(Checker& c, const Item& item, const std::string& ns, KubernetesRef& ref) {
  if (!c.expect_map(item)) return;
  if (!ns.empty() && (ns.size() > kMaxLabelLength || !host_name_error(ns).empty() ||
                      ns.find_first_of("._") != std::string::npos ||
                      std::any_of(ns.begin(), ns.end(), [](char ch) {
                        return std::isupper(static_cast<unsigned char>(ch));
                      })))
    c.fail(item, "the service's namespace " + quote(ns) +
                     " is not a Kubernetes namespace name (lower-case letters, digits and \"-\")");
  Fields f(c, item, {"service", "port"});
  if (auto s = f.require("service")) {
    if (auto v = c.string(*s)) {
      if (std::string e = host_name_error(*v);
          !e.empty() || v->find('.') != std::string::npos || v->size() > kMaxLabelLength)
        c.fail(*s, "expected a Kubernetes Service name (a DNS label), got " + quote(*v));
      else
        ref.service = *v;
    }
  }
  if (auto p = f.require("port")) {
    if (auto v = c.string(*p)) {
      if (!v->empty() && all_digits_or_dots(*v) && v->find('.') == std::string::npos) {
        if (auto n = c.integer(*p, 1, 65535)) ref.port_number = static_cast<uint16_t>(*n);
      } else if (v->empty() || v->size() > 15 || !host_name_error(*v).empty() ||
                 v->find('.') != std::string::npos) {
        c.fail(*p, "expected a port number or the name of the Service's port, got " + quote(*v));
      } else {
        ref.port_name = *v;
      }
    }
  }
}

} // namespace weir::config::yaml
