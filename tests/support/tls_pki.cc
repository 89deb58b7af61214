#include "tls_pki.h"

#include "run.h"
#include "weir.h"

#include <filesystem>
#include <gtest/gtest.h>
#include <vector>

namespace weir::test {

namespace {

bool openssl(const std::vector<std::string>& args) {
  std::vector<std::string> argv{"/usr/bin/openssl"};
  argv.insert(argv.end(), args.begin(), args.end());
  RunResult r = run_command(argv);
  if (r.exited && r.code == 0) return true;
  std::string command;
  for (const auto& a : argv)
    command += a + " ";
  ADD_FAILURE() << command << "failed (" << r.code << "):\n" << r.err << r.out;
  return false;
}

std::vector<std::string> new_key_args(KeyType key) {
  if (key == KeyType::rsa_2048) return {"-newkey", "rsa:2048"};
  return {"-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"};
}

bool write_or_fail(const std::string& path, const std::string& contents) {
  if (write_file(path, contents)) return true;
  ADD_FAILURE() << "cannot write " << path;
  return false;
}

// The config `openssl ca` needs: its database (so one CA signs many leaves, each with a fresh
// serial) and a policy that takes whatever subject the request has.
std::string ca_config(const std::string& dir) {
  return "[ca]\n"
         "default_ca = test_ca\n"
         "[test_ca]\n"
         "dir = " +
         dir +
         "\n"
         "database = $dir/index.txt\n"
         "new_certs_dir = $dir\n"
         "serial = $dir/serial\n"
         "default_md = sha256\n"
         "policy = take_subject\n"
         "copy_extensions = none\n"
         "unique_subject = no\n"
         "[take_subject]\n"
         "commonName = supplied\n";
}

} // namespace

TestCa TestCa::make(const std::string& name) {
  TestCa ca;
  const std::string dir = temp_path("ca");
  std::error_code ec;
  if (!std::filesystem::create_directory(dir, ec)) {
    ADD_FAILURE() << "cannot create " << dir << ": " << ec.message();
    return ca;
  }
  const std::string req_config = dir + "/req.cnf";
  const std::string cert = dir + "/ca.pem";
  const std::string key = dir + "/ca.key";
  // Our own req config, so the CA's extensions do not depend on the system's openssl.cnf.
  const std::string req = "[req]\n"
                          "distinguished_name = dn\n"
                          "x509_extensions = v3_ca\n"
                          "prompt = no\n"
                          "[dn]\n"
                          "CN = " +
                          name +
                          "\n"
                          "[v3_ca]\n"
                          "basicConstraints = critical,CA:TRUE\n"
                          "keyUsage = critical,keyCertSign,cRLSign\n"
                          "subjectKeyIdentifier = hash\n"
                          "authorityKeyIdentifier = keyid:always\n";
  std::vector<std::string> args{"req", "-x509", "-config", req_config, "-nodes", "-keyout",
                                key,   "-out",  cert,      "-days",    "30"};
  const auto key_args = new_key_args(KeyType::ecdsa_p256);
  args.insert(args.begin() + 2, key_args.begin(), key_args.end());
  const bool ok = write_or_fail(req_config, req) && write_or_fail(dir + "/index.txt", "") &&
                  write_or_fail(dir + "/ca.cnf", ca_config(dir)) &&
                  openssl({"rand", "-hex", "-out", dir + "/serial", "16"}) && openssl(args);
  if (!ok) return ca;
  ca.name_ = name;
  ca.dir_ = dir;
  ca.cert_file_ = cert;
  ca.key_file_ = key;
  return ca;
}

CertKey TestCa::sign(const LeafSpec& spec, const std::string& extended_key_usage) {
  if (!ok()) {
    ADD_FAILURE() << "TestCa: signing with a CA that was not made";
    return {};
  }
  const std::string base = temp_path("leaf");
  CertKey c{base + ".pem", base + ".key", cert_file_};
  const std::string csr = base + ".csr";
  const std::string ext = base + "-ext.cnf";
  std::string extensions = "[leaf]\n"
                           "basicConstraints = critical,CA:FALSE\n"
                           "subjectKeyIdentifier = hash\n"
                           "authorityKeyIdentifier = keyid\n"
                           "extendedKeyUsage = " +
                           extended_key_usage + "\n";
  // keyEncipherment only means something for RSA keys (RSA key exchange).
  extensions += spec.key == KeyType::rsa_2048
                    ? "keyUsage = critical,digitalSignature,keyEncipherment\n"
                    : "keyUsage = critical,digitalSignature\n";
  if (!spec.subject_alt_names.empty())
    extensions += "subjectAltName = " + spec.subject_alt_names + "\n";

  std::vector<std::string> req{"req",     "-new",     "-nodes",
                               "-keyout", c.key_file, "-out",
                               csr,       "-subj",    "/CN=" + spec.common_name};
  const auto key_args = new_key_args(spec.key);
  req.insert(req.begin() + 2, key_args.begin(), key_args.end());
  std::vector<std::string> sign{
      "ca",       "-batch",      "-notext", "-config", dir_ + "/ca.cnf", "-cert",     cert_file_,
      "-keyfile", key_file_,     "-in",     csr,       "-out",           c.cert_file, "-extfile",
      ext,        "-extensions", "leaf"};
  if (spec.expired) {
    sign.insert(sign.end(), {"-startdate", "20200101000000Z", "-enddate", "20200201000000Z"});
  } else {
    sign.insert(sign.end(), {"-days", std::to_string(spec.days)});
  }
  if (!(write_or_fail(ext, extensions) && openssl(req) && openssl(sign))) return {};
  return c;
}

CertKey TestCa::server(const LeafSpec& spec) {
  return sign(spec, "serverAuth");
}

CertKey TestCa::server(const std::string& subject_alt_names, KeyType key) {
  LeafSpec spec;
  spec.subject_alt_names = subject_alt_names;
  spec.key = key;
  // The CN is the first name without its "DNS:"/"IP:" tag; clients go by the SAN anyway.
  std::string first = subject_alt_names.substr(0, subject_alt_names.find(','));
  if (!first.empty()) spec.common_name = first.substr(first.find(':') + 1);
  return server(spec);
}

CertKey TestCa::client(const LeafSpec& spec) {
  return sign(spec, "clientAuth");
}

CertKey TestCa::client(const std::string& common_name) {
  LeafSpec spec;
  spec.common_name = common_name;
  return client(spec);
}

std::string make_key(KeyType key) {
  const std::string path = temp_path("stray", ".key");
  const bool ok = key == KeyType::rsa_2048 ? openssl({"genpkey", "-algorithm", "RSA", "-pkeyopt",
                                                      "rsa_keygen_bits:2048", "-out", path})
                                           : openssl({"genpkey", "-algorithm", "EC", "-pkeyopt",
                                                      "ec_paramgen_curve:P-256", "-out", path});
  return ok ? path : std::string();
}

} // namespace weir::test
