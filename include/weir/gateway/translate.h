#pragma once

#include "weir/config/config.h"

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace YAML {
class Node;
}

// Gateway API objects (gateway.networking.k8s.io v1 and v1beta1, and core v1 Services and
// Namespaces) parsed into plain structs, and their translation into weir's own config: listeners,
// services found through EndpointSlices, routes. One translator serves `weir import` (files) and
// the in-cluster controller (watched objects), so both build the same routes from the same
// objects.
//
// Thread contract: pure functions over values; any thread, no shared state.
namespace weir::gateway {

// Where an object came from and what identifies it. `source` is "FILE:LINE" for `weir import`
// and "" for objects from the API server.
struct ObjectMeta {
  std::string api_version; // "gateway.networking.k8s.io/v1"
  std::string kind;        // "HTTPRoute"
  std::string ns;          // metadata.namespace ("" when the input left it out: "default")
  std::string name;
  int64_t generation = 0;
  std::string creation_timestamp; // RFC 3339 as the API writes it; compares as text
  std::string resource_version;
  std::map<std::string, std::string> labels;
  std::string source;
  std::string id() const { return ns + "/" + name; } // "ns/name"
};

// Something weir cannot express, or input it cannot read. `object` is "HTTPRoute ns/name",
// `field` a path in it ("spec.rules[0].filters[1].type").
struct Problem {
  std::string object;
  std::string field;
  std::string message;
  std::string source; // the object's ObjectMeta::source
  // "HTTPRoute ns/name spec.rules[0]: message" (with "FILE:LINE: " first when from a file).
  std::string text() const;
};

struct GatewayClass {
  ObjectMeta meta;
  std::string controller_name; // spec.controllerName
};

// A metav1.LabelSelector: every matchLabels pair and every expression must hold.
struct LabelSelector {
  struct Expression {
    std::string key;
    std::string op; // In, NotIn, Exists, DoesNotExist
    std::vector<std::string> values;
  };
  std::map<std::string, std::string> match_labels;
  std::vector<Expression> match_expressions;
  bool matches(const std::map<std::string, std::string>& labels) const;
};

struct RouteGroupKind {
  std::string group = "gateway.networking.k8s.io";
  std::string kind;
};

struct GatewayListener {
  std::string name;
  uint16_t port = 0;
  std::string protocol; // HTTP, HTTPS, TLS, TCP, UDP
  std::string hostname; // "" any; "example.com" or "*.example.com"
  // allowedRoutes.namespaces.from: Same (the default), All or Selector.
  enum class From : uint8_t { same, all, selector } from = From::same;
  LabelSelector selector;            // from == selector
  std::vector<RouteGroupKind> kinds; // allowedRoutes.kinds; empty: HTTPRoute for HTTP(S)
};

struct Gateway {
  ObjectMeta meta;
  std::string class_name; // spec.gatewayClassName
  std::vector<GatewayListener> listeners;
};

// A reference from an HTTPRoute to its Gateway (or a listener of it).
struct ParentRef {
  std::string group = "gateway.networking.k8s.io";
  std::string kind = "Gateway";
  std::string ns; // "" = the route's namespace (kept as written; see effective_ns)
  std::string name;
  std::string section_name;     // "" any listener, else the listener's name
  std::optional<uint16_t> port; // only listeners on this port
  bool operator==(const ParentRef&) const = default;
};

// HTTPRoute's backendRef (also the one of a RequestMirror filter).
struct BackendRef {
  std::string group; // "" core
  std::string kind = "Service";
  std::string name;
  std::string ns; // "" = the route's namespace
  std::optional<uint16_t> port;
  uint32_t weight = 1;
  struct Filter; // below
  std::vector<Filter> filters;
};

// One entry of an HTTPRoute rule's (or backendRef's) filters, read into weir's structs where
// weir has the feature. `type` is as written; an unknown or unsupported one is kept so the
// translator can name it.
struct BackendRef::Filter {
  std::string type;               // RequestHeaderModifier, ResponseHeaderModifier, RequestRedirect,
                                  // URLRewrite, RequestMirror, ExtensionRef, CORS, ...
  config::HeaderModifier headers; // the two header modifiers
  config::Redirect redirect;      // RequestRedirect (enabled = true)
  config::Rewrite rewrite;        // URLRewrite
  BackendRef mirror_backend;      // RequestMirror's backendRef (its own filters unused)
  double mirror_percent = 100;    // RequestMirror's percent / fraction
  std::string field;              // where it stands: "spec.rules[0].filters[1]"
};
using Filter = BackendRef::Filter;

struct HTTPRouteRule {
  std::string name;                   // spec.rules[].name (v1.2), may be ""
  std::vector<config::Match> matches; // host always "" here; empty = PathPrefix "/"
  std::vector<Filter> filters;
  std::vector<BackendRef> backend_refs;
  std::optional<config::Duration> request_timeout;         // timeouts.request ("0s" = none)
  std::optional<config::Duration> backend_request_timeout; // timeouts.backendRequest
  // Fields weir cannot express, as paths ("spec.rules[0].sessionPersistence"), found when read.
  std::vector<std::string> unsupported_fields;
};

struct HTTPRoute {
  ObjectMeta meta;
  std::vector<ParentRef> parent_refs;
  std::vector<std::string> hostnames; // lower case
  std::vector<HTTPRouteRule> rules;
};

// Lets objects of `from` in a namespace refer to objects of `to` in the grant's namespace.
struct ReferenceGrant {
  ObjectMeta meta;
  struct From {
    std::string group;
    std::string kind;
    std::string ns;
  };
  struct To {
    std::string group; // "" core
    std::string kind;
    std::string name; // "" every object of the kind
  };
  std::vector<From> from;
  std::vector<To> to;
};

struct ServicePort {
  std::string name; // "" when the Service has one unnamed port
  uint16_t port = 0;
  uint16_t target_port_number = 0; // targetPort as a number (defaults to port) ...
  std::string target_port_name;    // ... or as the pod's port name
};

struct Service {
  ObjectMeta meta;
  std::vector<ServicePort> ports;
};

struct Namespace {
  ObjectMeta meta; // its labels are what listeners' allowedRoutes selectors look at
};

// Everything the translator looks at. Order does not matter: routes are ordered by
// creationTimestamp, then "ns/name".
struct Objects {
  std::vector<GatewayClass> gateway_classes;
  std::vector<Gateway> gateways;
  std::vector<HTTPRoute> http_routes;
  std::vector<ReferenceGrant> reference_grants;
  std::vector<Service> services;
  std::vector<Namespace> namespaces;
};

// Reads one Kubernetes object (a YAML or JSON map with apiVersion and kind; yaml-cpp reads
// both, so the controller passes YAML::Load(json_text) or a watch event's node["object"]) and
// adds it to `into`. Returns false, with a Problem in `problems`, when it is not one of the kinds
// above or cannot be read (the kind is then named, e.g. "ConfigMap ns/name: not a Gateway API
// object; ignored"). `source` fills ObjectMeta::source. Never throws.
bool parse_object(const YAML::Node& object, const std::string& source, Objects& into,
                  std::vector<Problem>& problems);

// Every document of a multi-document YAML text (a `kind: List`'s items too). False with a
// Problem when the text is not YAML at all; documents that are not wanted kinds only add notes.
bool parse_documents(std::string_view text, const std::string& file_name, Objects& into,
                     std::vector<Problem>& problems, std::vector<Problem>& notes);

struct Options {
  // Only Gateways of these GatewayClasses (spec.gatewayClassName); empty: every Gateway.
  std::set<std::string> gateway_classes;
  // Address of the weir listener made for a Gateway listener's port.
  std::string listen_host = "0.0.0.0";
  // A Gateway listener's port that weir already listens on, by the weir listener's name: routes
  // use it and no listener is made for the port (the controller's routes on the file's
  // listeners).
  std::map<uint16_t, std::string> existing_listeners;
  // Whether `Objects::services` holds every Service there is. True (the controller, or an import
  // given Services): a backendRef to a Service not among them is BackendNotFound. False (an
  // import without Services): every Service is assumed to exist with targetPort = port.
  bool services_complete = true;
  // Prefix of the weir route names: "<prefix><ns>-<route>-<rule index>".
  std::string route_name_prefix;
  // A rule none of whose backendRefs weir may send to (RefNotPermitted, BackendNotFound, ...;
  // Gateway API answers 500) becomes a route without backends, which weir answers with 503 —
  // its requests do not fall through to a less specific route. A config file cannot hold such a
  // route (`backends` must list one), so `weir import` sets this false: the rule is left out,
  // with a problem.
  bool routes_without_backends = true;
  // What weir's config checks said of each rule as it was written alone as a config file (the
  // text → "" or the refusal), kept by the caller between translations so that a rebuild checks
  // only the rules that changed (the controller's); nullptr: every rule is checked.
  std::map<std::string, std::string>* check_cache = nullptr;
};

struct Condition {
  bool status = true;
  std::string reason;  // Accepted | NotAllowedByListeners | NoMatchingListenerHostname |
                       // NoMatchingParent | UnsupportedValue; ResolvedRefs | RefNotPermitted |
                       // BackendNotFound | InvalidKind
  std::string message; // for people; "" when all is well
  bool operator==(const Condition&) const = default;
};

// status.parents[] of an HTTPRoute, one per parentRef that names a Gateway the translation
// covered (parentRefs to other Gateways are not weir's to answer).
struct ParentStatus {
  ParentRef ref; // as written, with ns filled in (the route's namespace when left out)
  Condition accepted;
  Condition resolved_refs;
};

struct RouteStatus {
  std::string ns;
  std::string name;
  int64_t generation = 0; // observedGeneration
  std::vector<ParentStatus> parents;
};

// weir's config for the objects. `listeners`, `services`, `routes` are in config order (routes:
// HTTPRoutes by creationTimestamp then "ns/name", rules in order; weir breaks match-precedence
// ties by config order). A route is named "<ns>-<route>-<rule index>", with "-<weir listener>"
// added when the route attaches to more than one weir listener.
struct Translation {
  std::vector<config::Listener> listeners;
  std::vector<config::Service> services; // namespace/name with kubernetes: {service, port}
  std::vector<config::Route> routes;
  std::vector<RouteStatus> route_statuses;
  std::vector<Problem> problems; // what weir could not express; empty: all of it
};

Translation translate(const Objects& objects, const Options& options);

// Whether a ReferenceGrant in `to_ns` lets HTTPRoutes of `from_ns` refer to the Service `name`
// (always true within one namespace is the caller's to decide: this looks at grants only).
bool reference_permitted(const Objects& objects, const std::string& from_ns,
                         const std::string& to_ns, const std::string& name);

// Hostnames an HTTPRoute may serve on a Gateway listener (the Gateway API's hostname
// intersection; "*.example.com" covers any number of labels before it): "" for any host;
// nullopt when they do not intersect.
std::optional<std::vector<std::string>> intersect_hostnames(const std::string& listener,
                                                            const std::vector<std::string>& route);

// How `weir import` writes the `kubernetes:` block (empty strings: left out, the in-cluster
// defaults apply).
struct RenderOptions {
  std::string kubernetes_api_server;
  std::string kubernetes_token_file;
  std::string kubernetes_ca_file;
};

// The translation as a weir config file (listeners, services, routes, kubernetes) that
// `weir --check-config` accepts as it is; a header comment says where it came from.
std::string render_yaml(const Translation& translation, const RenderOptions& options);

} // namespace weir::gateway
