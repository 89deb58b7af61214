#pragma once

#include "weir/config/config.h"
#include "weir/tls/certificate.h"

#include <ctime>
#include <memory>
#include <openssl/types.h>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace weir::tls {

class TicketKeys;

// A TLS listener's OpenSSL state: one SSL_CTX per certificate, all alike but for the certificate,
// and the SNI choice among them (an exact name, then a wildcard, then the first certificate).
// Built on the control thread from the config (files read once, here), immutable afterwards and
// shared with the workers through the snapshot; a changed certificate builds a new one, so
// handshakes under way keep the one they started with.
//
// Thread contract: build() anywhere; new_ssl() and the OpenSSL callbacks on any worker at once
// (SSL_CTX is safe to share once set up; its session cache has its own lock).
class ServerContext {
public:
  // Everything or nothing: `error` names the file and reason of the first problem.
  static std::shared_ptr<const ServerContext> build(const std::string& listener,
                                                    const config::ListenerTls& tls,
                                                    std::shared_ptr<TicketKeys> ticket_keys,
                                                    std::time_t now, std::string* error);
  ~ServerContext();
  ServerContext(const ServerContext&) = delete;
  ServerContext& operator=(const ServerContext&) = delete;

  // A server-side SSL for one accepted connection (nullptr when OpenSSL is out of memory).
  SSL* new_ssl() const;
  // The certificate SNI picks for `server_name` (lowercase): an index into certificates().
  size_t pick(std::string_view server_name) const;
  const std::vector<CertificateInfo>& certificates() const { return infos_; }
  const std::string& listener() const { return listener_; }
  // Every file it was built from (certificates, keys, client CA), to notice changes.
  std::vector<std::string> files() const;

private:
  ServerContext() = default;
  static int on_server_name(SSL* ssl, int* alert, void* arg);
  static int on_alpn(SSL* ssl, const unsigned char** out, unsigned char* out_len,
                     const unsigned char* in, unsigned int in_len, void* arg);

  std::string listener_;
  std::vector<SSL_CTX*> contexts_; // same order as the config's certificates
  std::vector<CertificateInfo> infos_;
  std::unordered_map<std::string, size_t> exact_;    // name → first certificate naming it
  std::unordered_map<std::string, size_t> wildcard_; // "example.com" of "*.example.com" → index
  std::string alpn_wire_; // the ALPN protocols weir offers, in the wire format
  std::string client_ca_;
  std::shared_ptr<TicketKeys> ticket_keys_;
};

// weir's TLS 1.2 cipher suites for "default": ECDHE key exchange and AEAD ciphers only (Mozilla's
// intermediate profile without finite-field DHE).
extern const char* const kDefaultCiphers;

} // namespace weir::tls
