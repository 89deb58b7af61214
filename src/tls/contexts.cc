#include "weir/tls/contexts.h"

namespace weir::tls {

Result<Contexts> Contexts::build(const config::Config& config,
                                 const std::shared_ptr<TicketKeys>& ticket_keys, std::time_t now) {
  Contexts out;
  std::string error;
  for (const config::Listener& l : config.listeners) {
    if (!l.tls) continue;
    auto ctx = ServerContext::build(l.name, *l.tls, ticket_keys, now, &error);
    if (!ctx) return Error{ErrorSource::config, "listener " + l.name + ": " + error};
    out.listeners.emplace(l.name, std::move(ctx));
  }
  for (const config::Service& s : config.services) {
    if (!s.tls.enabled) continue;
    auto ctx = ClientContext::build(s.tls, &error);
    if (!ctx) return Error{ErrorSource::config, "service " + s.id() + ": " + error};
    out.services.emplace(s.id(), std::move(ctx));
  }
  return out;
}

std::vector<std::string> Contexts::files_of(const config::Config& config) {
  std::vector<std::string> out;
  for (const config::Listener& l : config.listeners) {
    if (!l.tls) continue;
    for (const config::TlsCertificate& c : l.tls->certificates) {
      out.push_back(c.cert);
      out.push_back(c.key);
    }
    if (!l.tls->client_ca.empty()) out.push_back(l.tls->client_ca);
  }
  for (const config::Service& s : config.services) {
    if (!s.tls.enabled) continue;
    for (const std::string* f : {&s.tls.ca, &s.tls.client_cert, &s.tls.client_key})
      if (!f->empty()) out.push_back(*f);
  }
  return out;
}

std::vector<std::string> Contexts::files() const {
  std::vector<std::string> out;
  for (const auto& [name, ctx] : listeners)
    for (std::string& f : ctx->files())
      out.push_back(std::move(f));
  for (const auto& [id, ctx] : services)
    for (std::string& f : ctx->files())
      out.push_back(std::move(f));
  return out;
}

} // namespace weir::tls
