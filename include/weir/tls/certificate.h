#pragma once

#include <cstdint>
#include <ctime>
#include <memory>
#include <openssl/x509.h>
#include <string>
#include <vector>

namespace weir::tls {

// What a certificate says about itself: the names SNI picks it by, and what `weirctl show certs`
// and weir_tls_certificate_expiry_seconds show.
struct CertificateInfo {
  std::string cert_file;
  std::string key_file;
  std::vector<std::string> names; // subjectAltName DNS names (lowercase); the CN when it has none
  std::string subject;
  std::string issuer;
  int64_t not_before = 0; // Unix seconds
  int64_t not_after = 0;
  // The first name: the certificate's label in metrics and listings.
  const std::string& primary_name() const;
};

// A certificate (with the chain that followed it in its file) and its private key, loaded and
// checked: both files readable and PEM, the key the certificate's, the certificate valid at the
// time given. Owns its OpenSSL objects.
class LoadedCertificate {
public:
  LoadedCertificate() = default;
  LoadedCertificate(LoadedCertificate&&) noexcept;
  LoadedCertificate& operator=(LoadedCertificate&&) noexcept;
  ~LoadedCertificate();

  X509* leaf() const { return leaf_; }
  STACK_OF(X509) * chain() const { return chain_; }
  EVP_PKEY* key() const { return key_; }
  const CertificateInfo& info() const { return info_; }

private:
  friend bool load_certificate(const std::string&, const std::string&, std::time_t,
                               LoadedCertificate&, std::string*);
  X509* leaf_ = nullptr;
  STACK_OF(X509) * chain_ = nullptr;
  EVP_PKEY* key_ = nullptr;
  CertificateInfo info_;
};

// Loads and checks `cert_file` (PEM: the certificate, then its intermediates) and `key_file`.
// False with `error` naming the file and the reason: unreadable, not PEM, a key that does not
// match, a certificate not yet valid or expired at `now`.
bool load_certificate(const std::string& cert_file, const std::string& key_file, std::time_t now,
                      LoadedCertificate& out, std::string* error);

// A CA bundle file (PEM, one or more certificates): readable and holding at least one.
bool check_ca_file(const std::string& file, std::string* error);

// OpenSSL's queued errors as one line (and the queue emptied): "reason; reason".
std::string take_openssl_errors();

// A DNS name `name` matches the certificate name `pattern`: equal, or `pattern` is "*.rest" and
// `name` is one label followed by ".rest" (RFC 6125: the wildcard covers one whole label).
bool name_matches(const std::string& pattern, const std::string& name);

} // namespace weir::tls
