#pragma once

// Certificates for the unit tests, made by the openssl command line into a fresh directory
// (removed with the object): a CA, and server certificates it signs.
#include <cstdlib>
#include <fstream>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <string>
#include <utility>

namespace weir::tls {

// A directory with a CA and server certificates made by the openssl CLI.
class Certs {
public:
  Certs() {
    char tmpl[] = "/tmp/weir-tls-unit-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout " + dir_ +
        "/ca.key -out " + dir_ + "/ca.pem -days 2 -subj /CN=unit-CA");
  }
  ~Certs() { std::system(("rm -rf " + dir_).c_str()); }
  // A server certificate for `sans` ("DNS:a.test,DNS:*.b.test"): cert and key paths.
  std::pair<std::string, std::string> server(const std::string& name, const std::string& sans) {
    const std::string base = dir_ + "/" + name;
    run("openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout " + base +
        ".key -out " + base + ".csr -subj /CN=" + name);
    std::ofstream(base + ".ext") << "subjectAltName=" << sans << "\n";
    run("openssl x509 -req -in " + base + ".csr -CA " + dir_ + "/ca.pem -CAkey " + dir_ +
        "/ca.key -CAcreateserial -out " + base + ".pem -days 2 -extfile " + base + ".ext");
    return {base + ".pem", base + ".key"};
  }
  const std::string& dir() const { return dir_; }
  std::string ca() const { return dir_ + "/ca.pem"; }

private:
  static void run(const std::string& command) {
    ASSERT_EQ(std::system((command + " 2>/dev/null").c_str()), 0) << command;
  }
  std::string dir_;
};

} // namespace weir::tls
