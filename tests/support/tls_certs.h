#pragma once

#include <string>

namespace weir::test {

// A throwaway certificate authority and one server certificate it signed, made with the openssl
// command line into fresh files under temp_dir(), for HTTPS tests of weir's client.
struct TestCerts {
  std::string ca_file;   // the CA's certificate (PEM): what a client trusts
  std::string cert_file; // the server's certificate (PEM)
  std::string key_file;  // the server's private key (PEM)
};

// `subject_alt_names` as openssl writes them, e.g. "DNS:localhost" or "IP:127.0.0.1". On
// failure: ADD_FAILURE with openssl's output, and empty paths.
TestCerts make_test_certs(const std::string& subject_alt_names);

} // namespace weir::test
