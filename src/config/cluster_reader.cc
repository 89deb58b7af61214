// The `cluster` block: replicas with the same name on the same store are one weir.
#include "cluster_reader.h"

#include "weir/net/url.h"

#include <unistd.h>

namespace weir::config::yaml {

namespace {

// A fleet's and a replica's name become parts of store keys and Kubernetes object names: the
// syntax of a DNS label keeps both safe.
std::string label_error(const std::string& v) {
  if (v.empty()) return "empty";
  if (v.size() > 63) return "longer than 63 characters";
  for (char ch : v)
    if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-'))
      return "not lower-case letters, digits and \"-\"";
  if (v.front() == '-' || v.back() == '-') return "starting or ending with \"-\"";
  return "";
}

std::string host_name() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) return "";
  // The whole name, dots as "-": two machines named edge1.fra… and edge1.ams… must not both be
  // replica "edge1" (they would take each other's entries). Lower case; at most 63 characters.
  std::string out;
  for (const char* p = buf; *p; ++p) {
    char ch = *p;
    out += ch == '.' ? '-' : (ch >= 'A' && ch <= 'Z') ? static_cast<char>(ch - 'A' + 'a') : ch;
  }
  if (out.size() > 63) out.resize(63);
  while (!out.empty() && out.back() == '-')
    out.pop_back();
  return out;
}

void read_etcd(Checker& c, const Item& item, Cluster::Etcd& etcd) {
  if (!c.expect_map(item)) return;
  Fields f(c, item, {"endpoints", "prefix"});
  if (auto e = f.require("endpoints")) {
    if (auto list = c.nonempty_list(*e, "etcd endpoint")) {
      for (const Item& el : *list) {
        auto v = c.string(el);
        if (!v) continue;
        auto url = net::parse_url(*v);
        if (!url)
          c.fail(el, "expected an http:// URL of an etcd member, got " + quote(*v) + ": " +
                         url.error().message);
        else if (url->tls)
          c.fail(el, "https to etcd is not supported yet: use http:// on a private network or "
                     "a loopback etcd gateway, got " +
                         quote(*v));
        else if (url->target != "/" && !url->target.empty())
          c.fail(el, "expected http://HOST:PORT without a path, got " + quote(*v));
        else
          etcd.endpoints.push_back(*v);
      }
    }
  }
  if (auto p = f.get("prefix")) {
    if (auto v = c.string(*p)) {
      if (v->empty() || v->front() != '/' || v->back() != '/')
        c.fail(*p, "expected a key prefix that starts and ends with \"/\", got " + quote(*v));
      else
        etcd.prefix = *v;
    }
  }
}

} // namespace

void read_cluster(Checker& c, const Item& item, Cluster& cluster) {
  if (!c.expect_map(item)) return;
  Fields f(c, item, {"name", "replica", "lease_ttl", "store"});
  if (auto n = f.require("name")) {
    if (auto v = c.string(*n)) {
      if (std::string why = label_error(*v); why.empty())
        cluster.name = *v;
      else
        c.fail(*n, "expected a fleet name (a DNS label), got " + quote(*v) + ": " + why);
    }
  }
  if (auto r = f.get("replica")) {
    if (auto v = c.string(*r)) {
      if (std::string why = label_error(*v); why.empty())
        cluster.replica = *v;
      else
        c.fail(*r, "expected a replica name (a DNS label), got " + quote(*v) + ": " + why);
    }
  } else {
    cluster.replica = host_name();
    if (!label_error(cluster.replica).empty())
      c.fail(item, "the host name " + quote(cluster.replica) +
                       " is no DNS label: give this replica a name (`replica:`)");
  }
  if (auto t = f.get("lease_ttl")) {
    if (auto d = c.duration(*t, true)) {
      if (*d < Duration(1000) || *d > Duration(60000))
        c.fail(*t, "expected a lease TTL from 1s to 60s, got " + format_duration(*d));
      else
        cluster.lease_ttl = *d;
    }
  }
  if (auto s = f.require("store")) {
    if (!c.expect_map(*s)) return;
    Fields sf(c, *s, {"etcd", "kubernetes"});
    auto etcd = sf.get("etcd");
    auto kube = sf.get("kubernetes");
    if (etcd && kube) {
      c.fail(*s, "a fleet has one store: etcd or kubernetes, not both");
    } else if (etcd) {
      read_etcd(c, *etcd, cluster.etcd.emplace());
    } else if (kube) {
      auto& k = cluster.kubernetes.emplace();
      if (c.expect_map(*kube)) {
        Fields kf(c, *kube, {"namespace"});
        if (auto n = kf.require("namespace"))
          if (auto v = c.string(*n)) {
            if (std::string why = label_error(*v); why.empty())
              k.ns = *v;
            else
              c.fail(*n, "expected a Kubernetes namespace, got " + quote(*v) + ": " + why);
          }
      }
    } else {
      c.fail(*s, "expected `etcd: {endpoints, prefix}` or `kubernetes: {namespace}`");
    }
  }
}

} // namespace weir::config::yaml
