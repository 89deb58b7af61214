#include "weir/tls/certificate.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

namespace weir::tls {

namespace {

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
  });
  return s;
}

std::string one_line(const X509_NAME* name) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio) return {};
  X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  return n > 0 ? std::string(data, static_cast<size_t>(n)) : std::string();
}

int64_t unix_time(const ASN1_TIME* t) {
  struct tm tm {};
  if (ASN1_TIME_to_tm(t, &tm) != 1) return 0;
  return static_cast<int64_t>(timegm(&tm));
}

// Opens `file` for reading; the reason in `error` when it cannot be (errno's words, which say
// more than OpenSSL's "system lib").
BioPtr open_file(const std::string& file, std::string* error) {
  errno = 0;
  BioPtr bio(BIO_new_file(file.c_str(), "r"));
  if (!bio) {
    const int e = errno;
    ERR_clear_error();
    *error = file + ": cannot read: " + (e != 0 ? std::strerror(e) : "unknown error");
  }
  return bio;
}

std::vector<std::string> dns_names(X509* cert) {
  std::vector<std::string> names;
  auto* sans =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (sans) {
    for (int i = 0; i < sk_GENERAL_NAME_num(sans); ++i) {
      const GENERAL_NAME* n = sk_GENERAL_NAME_value(sans, i);
      if (n->type != GEN_DNS) continue;
      const ASN1_IA5STRING* s = n->d.dNSName;
      names.push_back(lower(std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                                        static_cast<size_t>(ASN1_STRING_length(s)))));
    }
    GENERAL_NAMES_free(sans);
  }
  if (names.empty()) {
    // No DNS subjectAltName: the common name, as clients did before SANs.
    char cn[256] = {};
    if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof cn) > 0)
      names.push_back(lower(cn));
  }
  return names;
}

} // namespace

const std::string& CertificateInfo::primary_name() const {
  static const std::string kNone;
  return names.empty() ? kNone : names.front();
}

LoadedCertificate::LoadedCertificate(LoadedCertificate&& o) noexcept
    : leaf_(o.leaf_), chain_(o.chain_), key_(o.key_), info_(std::move(o.info_)) {
  o.leaf_ = nullptr;
  o.chain_ = nullptr;
  o.key_ = nullptr;
}

LoadedCertificate& LoadedCertificate::operator=(LoadedCertificate&& o) noexcept {
  if (this != &o) {
    this->~LoadedCertificate();
    new (this) LoadedCertificate(std::move(o));
  }
  return *this;
}

LoadedCertificate::~LoadedCertificate() {
  X509_free(leaf_);
  sk_X509_pop_free(chain_, X509_free);
  EVP_PKEY_free(key_);
}

std::string take_openssl_errors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    const char* reason = ERR_reason_error_string(e);
    if (!out.empty()) out += "; ";
    out += reason ? reason : "error " + std::to_string(e);
  }
  return out.empty() ? "unknown error" : out;
}

bool load_certificate(const std::string& cert_file, const std::string& key_file, std::time_t now,
                      LoadedCertificate& out, std::string* error) {
  LoadedCertificate c;
  c.info_.cert_file = cert_file;
  c.info_.key_file = key_file;
  {
    BioPtr bio = open_file(cert_file, error);
    if (!bio) return false;
    c.leaf_ = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr);
    if (!c.leaf_) {
      ERR_clear_error();
      *error = cert_file + ": no PEM certificate in it";
      return false;
    }
    c.chain_ = sk_X509_new_null();
    while (X509* extra = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr))
      sk_X509_push(c.chain_, extra);
    ERR_clear_error(); // the end of the file reads as an error
  }
  {
    BioPtr bio = open_file(key_file, error);
    if (!bio) return false;
    // No passphrase callback of OpenSSL's own: it would prompt on a terminal and block.
    pem_password_cb* no_passphrase = [](char*, int, int, void*) { return 0; };
    c.key_ = PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr);
    if (!c.key_) {
      ERR_clear_error();
      *error = key_file + ": no PEM private key in it (or one protected by a passphrase)";
      return false;
    }
  }
  if (X509_check_private_key(c.leaf_, c.key_) != 1) {
    ERR_clear_error();
    *error = key_file + ": the private key does not match the certificate in " + cert_file;
    return false;
  }
  c.info_.names = dns_names(c.leaf_);
  c.info_.subject = one_line(X509_get_subject_name(c.leaf_));
  c.info_.issuer = one_line(X509_get_issuer_name(c.leaf_));
  c.info_.not_before = unix_time(X509_get0_notBefore(c.leaf_));
  c.info_.not_after = unix_time(X509_get0_notAfter(c.leaf_));
  if (c.info_.names.empty()) {
    *error = cert_file + ": the certificate names no host (no DNS subjectAltName and no CN)";
    return false;
  }
  if (X509_cmp_time(X509_get0_notAfter(c.leaf_), &now) <= 0) {
    *error = cert_file + ": the certificate expired (not after " +
             std::string(std::to_string(c.info_.not_after)) + ")";
    char when[64];
    const std::time_t t = static_cast<std::time_t>(c.info_.not_after);
    struct tm tm {};
    if (gmtime_r(&t, &tm) && std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm))
      *error = cert_file + ": the certificate expired at " + when;
    return false;
  }
  if (X509_cmp_time(X509_get0_notBefore(c.leaf_), &now) > 0) {
    *error = cert_file + ": the certificate is not valid yet";
    return false;
  }
  out = std::move(c);
  return true;
}

bool check_ca_file(const std::string& file, std::string* error) {
  BioPtr bio = open_file(file, error);
  if (!bio) return false;
  int count = 0;
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    X509_free(cert);
    ++count;
  }
  ERR_clear_error();
  if (count == 0) {
    *error = file + ": no PEM certificate in it";
    return false;
  }
  return true;
}

bool name_matches(const std::string& pattern, const std::string& name) {
  if (pattern == name) return true;
  if (!pattern.starts_with("*.")) return false;
  const size_t dot = name.find('.');
  if (dot == std::string::npos || dot == 0) return false;
  return std::string_view(name).substr(dot) == std::string_view(pattern).substr(1);
}

} // namespace weir::tls
