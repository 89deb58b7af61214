#pragma once

#include "weir/base/result.h"
#include "weir/config/config.h"
#include "weir/tls/client_context.h"
#include "weir/tls/server_context.h"

#include <ctime>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace weir::tls {

class TicketKeys;

// Every TLS context a config asks for: its TLS listeners' and its TLS services'. Built on the
// control thread when a config is loaded and when certificate files change, and kept across the
// snapshots that only change weights or health (building one reads files and parses keys).
struct Contexts {
  std::map<std::string, std::shared_ptr<const ServerContext>> listeners; // by listener name
  std::map<std::string, std::shared_ptr<const ClientContext>> services;  // by "namespace/name"

  // All or nothing: the error names the listener or service, the file and the reason.
  static Result<Contexts> build(const config::Config& config,
                                const std::shared_ptr<TicketKeys>& ticket_keys, std::time_t now);
  // Every file the contexts were built from.
  std::vector<std::string> files() const;
  // Every TLS file `config` names (certificates, keys, CAs), in the config's order: what is
  // looked at for changes, before a build, so a change during one is seen at the next look.
  static std::vector<std::string> files_of(const config::Config& config);
};

} // namespace weir::tls
