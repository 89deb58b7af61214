#pragma once

#include "yaml_checker.h"

namespace weir::config::yaml {

// Reads the top-level `resolver` block: nameservers and the TTL clamp.
void read_resolver(Checker& checker, const Item& item, Resolver& resolver);

// Reads the top-level `kubernetes` block: where the API server is and the ServiceAccount files.
// Relative paths are taken from `base_dir`; the files are read when discovery runs, not here
// (a token file exists only in the pod).
void read_kubernetes(Checker& checker, const Item& item, const std::string& base_dir,
                     Kubernetes& kubernetes);

// Reads the top-level `gateway: {class_name}` block: weir then serves the Gateway API objects of
// that GatewayClass (gateway/gateway_controller.h), through the `kubernetes` settings (or their
// in-cluster defaults).
void read_gateway(Checker& checker, const Item& item, Gateway& gateway);

// Reads a service's `endpoints`: numeric addresses into `service.endpoints`, host names
// ("app.internal:9001") into `service.dns_names`; a name is checked as DNS syntax (RFC 1123
// labels), never resolved here.
void read_endpoints(Checker& checker, const Item& item, Service& service);

// Reads a service's `kubernetes: {service, port}`; `ns`, the service's namespace, must then be a
// Kubernetes namespace name (a DNS label).
void read_kubernetes_ref(Checker& checker, const Item& item, const std::string& ns,
                         KubernetesRef& ref);

// "" or why `text` is not a DNS host name weir resolves: letters, digits and "-" in labels of 1
// to 63 characters, at most 253 in all, and not all digits (that would be an address). Pure.
std::string host_name_error(std::string_view text);

} // namespace weir::config::yaml
