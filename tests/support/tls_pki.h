#pragma once

#include <string>

// A test PKI made with the openssl command line at test time, into fresh files under temp_dir():
// certificate authorities, server and client certificates they sign (current or already expired),
// and stray keys. Every failure is an ADD_FAILURE with openssl's output, and empty paths (ok()
// false), so a test can stop with ASSERT_TRUE(x.ok()).
// Thread contract: one TestCa is used from one thread at a time (openssl ca keeps a database).
namespace weir::test {

enum class KeyType {
  ecdsa_p256, // milliseconds to make
  rsa_2048,   // a noticeable share of a second to make
};

// What a certificate says and how long it holds.
struct LeafSpec {
  std::string common_name = "weir test";
  // As openssl writes them, comma-separated: "DNS:a.test,DNS:*.wild.test,IP:127.0.0.1". Empty:
  // no subjectAltName extension at all.
  std::string subject_alt_names;
  KeyType key = KeyType::ecdsa_p256;
  int days = 2;         // valid from now for this many days
  bool expired = false; // instead: valid only in January 2020 (so expired now); `days` ignored
};

// A certificate with its key and the certificate of the CA that signed it.
struct CertKey {
  std::string cert_file; // PEM, the leaf alone (no chain: the CA signs leaves directly)
  std::string key_file;  // PEM, unencrypted
  std::string ca_file;   // PEM, the issuing CA's certificate: what a peer trusts
  bool ok() const { return !cert_file.empty(); }
};

// A self-signed CA (ECDSA P-256, basicConstraints CA:TRUE) that signs any number of leaves.
// Two TestCa made with make() are unrelated: a leaf of one does not verify against the other.
class TestCa {
public:
  // "weir test CA" style name, used as the CA's CN. On failure: ADD_FAILURE, !ok().
  static TestCa make(const std::string& name);

  bool ok() const { return !cert_file_.empty(); }
  const std::string& name() const { return name_; }
  const std::string& cert_file() const { return cert_file_; } // what a peer trusts
  const std::string& key_file() const { return key_file_; }

  // A leaf for a TLS server: extendedKeyUsage serverAuth.
  CertKey server(const LeafSpec& spec);
  // A server leaf for these names (e.g. "DNS:a.test,DNS:*.wild.test"), CN = the first name.
  CertKey server(const std::string& subject_alt_names, KeyType key = KeyType::ecdsa_p256);
  // A leaf for a TLS client: extendedKeyUsage clientAuth. Its subject is "CN=<common_name>",
  // which nginx's $ssl_client_s_dn shows as "CN=<common_name>".
  CertKey client(const LeafSpec& spec);
  CertKey client(const std::string& common_name);

private:
  CertKey sign(const LeafSpec& spec, const std::string& extended_key_usage);

  std::string name_;
  std::string dir_; // the CA's own files: key, database, serial, config
  std::string cert_file_;
  std::string key_file_;
};

// A fresh private key (PEM) that belongs to no certificate: for "key does not match" cases.
// "" on failure (with ADD_FAILURE).
std::string make_key(KeyType key = KeyType::ecdsa_p256);

} // namespace weir::test
