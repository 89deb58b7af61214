#pragma once

#include "weir/config/config.h"

#include <memory>
#include <openssl/types.h>
#include <string>

namespace weir::tls {

// TLS to one service's endpoints: the trusted CAs, the client certificate for mutual TLS, and the
// name sent (SNI) and verified. Built on the control thread, immutable, shared with the workers
// (their upstream connections) and the health checker.
class ClientContext {
public:
  static std::shared_ptr<const ClientContext> build(const config::UpstreamTls& tls,
                                                    std::string* error);
  ~ClientContext();
  ClientContext(const ClientContext&) = delete;
  ClientContext& operator=(const ClientContext&) = delete;

  // A client-side SSL for a connection to `endpoint_ip`: SNI is the configured name, and what is
  // verified is that name, else the endpoint's address. nullptr when OpenSSL is out of memory.
  SSL* new_ssl(const std::string& endpoint_ip) const;
  SSL_CTX* native() const { return ctx_; }
  bool verify() const { return verify_; }
  const std::string& sni() const { return sni_; }
  // Every file it was built from (CA, client certificate and key), to notice changes.
  std::vector<std::string> files() const;

private:
  ClientContext() = default;
  SSL_CTX* ctx_ = nullptr;
  std::string sni_;
  bool verify_ = true;
  std::vector<std::string> files_;
};

} // namespace weir::tls
