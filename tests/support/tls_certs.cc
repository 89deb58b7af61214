#include "tls_certs.h"

#include "run.h"
#include "weir.h"

#include <gtest/gtest.h>
#include <vector>

namespace weir::test {

namespace {

bool openssl(const std::vector<std::string>& args) {
  std::vector<std::string> argv{"/usr/bin/openssl"};
  argv.insert(argv.end(), args.begin(), args.end());
  RunResult r = run_command(argv);
  if (r.exited && r.code == 0) return true;
  ADD_FAILURE() << "openssl " << args[0] << " failed (" << r.code << "): " << r.err;
  return false;
}

} // namespace

TestCerts make_test_certs(const std::string& subject_alt_names) {
  const std::string base = temp_path("tls");
  TestCerts c{base + "-ca.pem", base + "-server.pem", base + "-server.key"};
  const std::string ca_key = base + "-ca.key";
  const std::string csr = base + "-server.csr";
  const std::string ext = base + "-ext.cnf";
  // EC keys: a P-256 key takes milliseconds where RSA-2048 takes a noticeable share of a second.
  const bool ok =
      openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
               "-keyout", ca_key, "-out", c.ca_file, "-days", "2", "-subj", "/CN=weir test CA"}) &&
      openssl({"req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
               c.key_file, "-out", csr, "-subj", "/CN=weir test server"}) &&
      write_file(ext, "subjectAltName=" + subject_alt_names + "\n") &&
      openssl({"x509", "-req", "-in", csr, "-CA", c.ca_file, "-CAkey", ca_key, "-CAcreateserial",
               "-out", c.cert_file, "-days", "2", "-extfile", ext});
  if (!ok) return {};
  return c;
}

} // namespace weir::test
