#include "tls_peer.h"

#include "run.h"
#include "wait.h"
#include "weir.h"

#include <algorithm>
#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <functional>
#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <regex>
#include <sstream>
#include <sys/socket.h>
#include <unistd.h>

namespace weir::test {

namespace {

using Clock = std::chrono::steady_clock;

bool starts_with(const std::string& s, std::string_view prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

// s_client's line once its side of the handshake is done (or has failed: "(NONE)").
const std::regex kHandshakeLine(R"(^(New|Reused), (\S+), Cipher is (\S+)$)");

// Where the handshake report (from "New, ..." or "Reused, ..." to its closing "---") ends in
// s_client's stdout; npos until it is all there.
size_t handshake_report_end(const std::string& out) {
  // The first such line is s_client's own (a reply may hold others: s_server -www's does).
  size_t line = std::min(out.find("\nNew, "), out.find("\nReused, "));
  if (line == std::string::npos) return std::string::npos;
  size_t end = out.find("\n---\n", line + 1);
  return end == std::string::npos ? std::string::npos : end + 5;
}

// The subject CN and the subjectAltName entries of a PEM certificate.
void read_certificate(const std::string& pem, std::string& cn, std::vector<std::string>& sans) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* cert = bio ? PEM_read_bio_X509(bio, nullptr, nullptr, nullptr) : nullptr;
  BIO_free(bio);
  if (!cert) return;
  X509_NAME* subject = X509_get_subject_name(cert);
  int index = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  if (index >= 0) {
    unsigned char* utf8 = nullptr;
    int n =
        ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, index)));
    if (n >= 0) cn.assign(reinterpret_cast<char*>(utf8), static_cast<size_t>(n));
    OPENSSL_free(utf8);
  }
  auto* names =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  for (int i = 0; names && i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
    if (name->type == GEN_DNS) {
      const ASN1_STRING* s = name->d.dNSName;
      sans.push_back("DNS:" + std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                                          static_cast<size_t>(ASN1_STRING_length(s))));
    } else if (name->type == GEN_IPADD) {
      const ASN1_OCTET_STRING* ip = name->d.iPAddress;
      char text[INET6_ADDRSTRLEN] = {};
      int family = ASN1_STRING_length(ip) == 4 ? AF_INET : AF_INET6;
      if (::inet_ntop(family, ASN1_STRING_get0_data(ip), text, sizeof text))
        sans.push_back(std::string("IP:") + text);
    }
  }
  GENERAL_NAMES_free(names);
  X509_free(cert);
}

// What s_client printed after its handshake report that is not the server's data: the report of
// each TLS 1.3 ticket, "read R BLOCK" when a read found no application data, "closed" at the
// server's close_notify.
std::string strip_s_client_notes(std::string data) {
  const std::string ticket = "---\nPost-Handshake New Session Ticket arrived:\n";
  for (bool again = true; again;) {
    again = false;
    if (starts_with(data, "read R BLOCK\n")) {
      data.erase(0, 13);
      again = true;
    } else if (starts_with(data, ticket)) {
      size_t end = data.find("\n---\n", ticket.size() - 1);
      data.erase(0, end == std::string::npos ? data.size() : end + 5);
      again = true;
    }
  }
  for (const std::string tail : {"closed\n", "read R BLOCK\n"}) {
    if (data.size() >= tail.size() &&
        data.compare(data.size() - tail.size(), tail.size(), tail) == 0)
      data.erase(data.size() - tail.size());
  }
  return data;
}

std::string openssl_version_flag(TlsVersion v) {
  switch (v) {
  case TlsVersion::tls1:
    return "-tls1";
  case TlsVersion::tls1_1:
    return "-tls1_1";
  case TlsVersion::tls1_2:
    return "-tls1_2";
  case TlsVersion::tls1_3:
    return "-tls1_3";
  case TlsVersion::any:
    break;
  }
  return "";
}

bool is_old_version(TlsVersion v) {
  return v == TlsVersion::tls1 || v == TlsVersion::tls1_1;
}

} // namespace

void parse_s_client_output(SClientResult& r) {
  const std::vector<std::string> lines = lines_of(r.out);
  bool seen_handshake = false;
  bool in_report = false; // between the handshake line and its closing "---"
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string& line = lines[i];
    std::smatch m;
    if (!seen_handshake && std::regex_match(line, m, kHandshakeLine)) {
      seen_handshake = in_report = true;
      r.reused = m[1] == "Reused";
      if (m[3] != "(NONE)") {
        r.handshake_ok = true;
        r.protocol = m[2]; // the cipher's version: right for TLS 1.3, replaced below for 1.2
        r.cipher = m[3];
      }
      continue;
    }
    if (in_report) {
      if (line == "---") {
        in_report = false;
      } else if (starts_with(line, "    Protocol  : ")) {
        r.protocol = line.substr(16);
      } else if (starts_with(line, "ALPN protocol: ")) {
        r.alpn = line.substr(15);
      }
    }
    static const std::regex verify(R"(^\s*Verify return code: (\d+) \((.*)\)$)");
    if (r.verify_code < 0 && std::regex_match(line, m, verify)) {
      r.verify_code = std::stoi(m[1]);
      r.verify_message = m[2];
    }
    if (line == "Post-Handshake New Session Ticket arrived:") r.session_ticket = true;
    if (r.peer_cert_pem.empty() && line == "Server certificate") {
      for (size_t j = i + 1; j < lines.size(); ++j) {
        r.peer_cert_pem += lines[j] + "\n";
        if (lines[j] == "-----END CERTIFICATE-----") break;
      }
    }
  }
  if (!r.peer_cert_pem.empty()) read_certificate(r.peer_cert_pem, r.peer_cn, r.peer_sans);
  for (const std::string& line : lines_of(r.err)) {
    const bool errno_line =
        (starts_with(line, "read:errno=") || starts_with(line, "write:errno=")) &&
        line.find("errno=0") == std::string::npos;
    if (line.find(":error:") != std::string::npos || errno_line)
      r.errors += (r.errors.empty() ? "" : "\n") + line;
  }
  if (r.handshake_ok) {
    size_t data = handshake_report_end("\n" + r.out);
    if (data != std::string::npos && data - 1 < r.out.size())
      r.response = strip_s_client_notes(r.out.substr(data - 1));
  }
}

SClientResult s_client(uint16_t port, const std::string& servername,
                       const SClientOptions& options) {
  // stdbuf -o0: s_client writes its reports through stdio and the server's data with write(2);
  // unbuffered, they arrive in the order it handled them, so the data can be told apart.
  std::vector<std::string> argv{"/usr/bin/stdbuf", "-o0",      "/usr/bin/openssl",
                                "s_client",        "-connect", "127.0.0.1:" + std::to_string(port)};
  if (servername.empty()) {
    argv.push_back("-noservername");
  } else {
    argv.insert(argv.end(), {"-servername", servername});
  }
  if (!options.ca_file.empty()) argv.insert(argv.end(), {"-CAfile", options.ca_file});
  if (options.version != TlsVersion::any) argv.push_back(openssl_version_flag(options.version));
  std::string cipher = options.cipher;
  if (cipher.empty() && is_old_version(options.version)) cipher = "DEFAULT@SECLEVEL=0";
  if (!cipher.empty()) argv.insert(argv.end(), {"-cipher", cipher});
  if (!options.ciphersuites.empty())
    argv.insert(argv.end(), {"-ciphersuites", options.ciphersuites});
  if (!options.sess_out.empty()) argv.insert(argv.end(), {"-sess_out", options.sess_out});
  if (!options.sess_in.empty()) argv.insert(argv.end(), {"-sess_in", options.sess_in});
  if (!options.cert_file.empty()) argv.insert(argv.end(), {"-cert", options.cert_file});
  if (!options.key_file.empty()) argv.insert(argv.end(), {"-key", options.key_file});
  if (!options.alpn.empty()) argv.insert(argv.end(), {"-alpn", options.alpn});
  // With a request: keep reading after stdin's EOF, until the server closes.
  if (options.request) argv.push_back("-ign_eof");

  std::optional<Clock::time_point> handshake_done;
  auto close_input = [&](const std::string& out, const std::string& err) {
    if (options.request) return true; // written already; -ign_eof keeps the reading going
    if (handshake_report_end("\n" + out) == std::string::npos) return false;
    if (!handshake_done) handshake_done = Clock::now();
    if (out.find("\nNew, TLSv1.3,") == std::string::npos &&
        out.find("\nReused, TLSv1.3,") == std::string::npos)
      return true; // up to TLS 1.2, all the server had to say was in the handshake
    return out.find("Post-Handshake New Session Ticket arrived:") != std::string::npos ||
           err.find(":error:") != std::string::npos ||
           Clock::now() - *handshake_done >= options.post_handshake_wait;
  };
  RunOptions run_options;
  run_options.input = options.request.value_or("");
  run_options.close_input = close_input;
  run_options.timeout = options.timeout;
  RunResult run = run_command(argv, run_options);
  SClientResult r;
  r.exited = run.exited;
  r.exit_code = run.code;
  r.out = std::move(run.out);
  r.err = std::move(run.err);
  parse_s_client_output(r);
  if (!options.request) r.response.clear();
  return r;
}

CurlResult curl_https(uint16_t port, const std::string& host, const std::string& path,
                      const CurlOptions& options) {
  const std::string head_file = temp_path("curl", ".head");
  const std::string body_file = temp_path("curl", ".body");
  const std::string authority = host + ":" + std::to_string(port);
  const double seconds = std::chrono::duration<double>(options.timeout).count();
  std::vector<std::string> argv{"/usr/bin/curl",
                                "-v",
                                "-sS",
                                "--max-time",
                                std::to_string(seconds),
                                "--resolve",
                                authority + ":127.0.0.1",
                                "-D",
                                head_file,
                                "-o",
                                body_file,
                                "-w",
                                "%{http_code}"};
  if (!options.ca_file.empty()) argv.insert(argv.end(), {"--cacert", options.ca_file});
  if (options.insecure) argv.push_back("-k");
  if (!options.cert_file.empty()) argv.insert(argv.end(), {"--cert", options.cert_file});
  if (!options.key_file.empty()) argv.insert(argv.end(), {"--key", options.key_file});
  switch (options.version) {
  case TlsVersion::tls1:
    argv.insert(argv.end(), {"--tlsv1.0", "--tls-max", "1.0", "--ciphers", "DEFAULT@SECLEVEL=0"});
    break;
  case TlsVersion::tls1_1:
    argv.insert(argv.end(), {"--tlsv1.1", "--tls-max", "1.1", "--ciphers", "DEFAULT@SECLEVEL=0"});
    break;
  case TlsVersion::tls1_2:
    argv.insert(argv.end(), {"--tlsv1.2", "--tls-max", "1.2"});
    break;
  case TlsVersion::tls1_3:
    argv.insert(argv.end(), {"--tlsv1.3", "--tls-max", "1.3"});
    break;
  case TlsVersion::any:
    break;
  }
  if (options.http1_1) argv.push_back("--http1.1");
  for (const auto& h : options.headers)
    argv.insert(argv.end(), {"-H", h});
  argv.insert(argv.end(), options.extra_args.begin(), options.extra_args.end());
  argv.push_back("https://" + authority + path);

  RunOptions run_options;
  run_options.timeout = options.timeout + 2s; // curl's own --max-time ends it first
  RunResult run = run_command(argv, run_options);
  CurlResult r;
  r.exited = run.exited;
  r.exit_code = run.code;
  r.err = std::move(run.err);
  r.status = std::atoi(run.out.c_str());
  r.headers = read_file(head_file);
  r.body = read_file(body_file);
  static const std::regex connection(R"(^\* SSL connection using (\S+) / (\S+))");
  for (const std::string& line : lines_of(r.err)) {
    std::smatch m;
    if (std::regex_search(line, m, connection)) {
      r.protocol = m[1];
      r.cipher = m[2];
    } else if (starts_with(line, "*  subject: ")) {
      r.peer_subject = line.substr(12);
    } else if (starts_with(line, "*  issuer: ")) {
      r.peer_issuer = line.substr(11);
    } else if (starts_with(line, "* ALPN: server accepted ")) {
      r.alpn = line.substr(24);
    }
  }
  return r;
}

void parse_sslscan_output(SslScanResult& r) {
  static const std::regex protocol(R"(^(SSLv2|SSLv3|TLSv1\.[0-3])\s+(enabled|disabled)\s*$)");
  static const std::regex cipher(R"(^(Preferred|Accepted)\s+(\S+)\s+(\d+) bits\s+(\S+))");
  const std::vector<std::string> lines = lines_of(r.out);
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string& line = lines[i];
    std::smatch m;
    if (starts_with(line, "Connected to ")) {
      r.connected = true;
    } else if (std::regex_match(line, m, protocol)) {
      r.protocols[m[1]] = m[2] == "enabled";
    } else if (std::regex_search(line, m, cipher)) {
      r.ciphers.push_back({m[2], std::stoi(m[3]), m[4], m[1] == "Preferred"});
    } else if (line.find("TLS renegotiation:") != std::string::npos && i + 1 < lines.size()) {
      r.renegotiation = lines[i + 1];
    } else if (line.find("vulnerable to heartbleed") != std::string::npos &&
               line.find("not vulnerable") == std::string::npos) {
      r.heartbleed_vulnerable = true;
    }
  }
}

std::vector<std::string> SslScanResult::enabled_protocols() const {
  std::vector<std::string> enabled;
  for (const char* name : {"SSLv2", "SSLv3", "TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3"}) {
    auto it = protocols.find(name);
    if (it != protocols.end() && it->second) enabled.push_back(name);
  }
  return enabled;
}

std::vector<std::string> SslScanResult::weak_ciphers() const {
  std::vector<std::string> weak;
  for (const auto& c : ciphers) {
    std::string reason = weak_cipher_reason(c);
    if (!reason.empty()) weak.push_back(c.protocol + " " + c.name + ": " + reason);
  }
  return weak;
}

std::string weak_cipher_reason(const ScannedCipher& c) {
  const std::string& n = c.name;
  auto has = [&](std::string_view part) { return n.find(part) != std::string::npos; };
  if (c.protocol != "TLSv1.2" && c.protocol != "TLSv1.3")
    return "offered under " + c.protocol + " (below TLS 1.2)";
  if (c.bits < 128) return std::to_string(c.bits) + " bits (below 128)";
  if (starts_with(n, "TLS_")) return ""; // TLS 1.3 suites: all AEAD with forward secrecy
  if (has("RC4")) return "RC4";
  if (has("DES")) return "DES/3DES";
  if (has("NULL")) return "NULL encryption";
  if (has("EXP")) return "export grade";
  if (has("ADH") || has("AECDH") || has("anon")) return "anonymous key exchange";
  if (has("MD5")) return "MD5 MAC";
  if (!starts_with(n, "ECDHE-") && !starts_with(n, "DHE-"))
    return "no forward secrecy (static key exchange)";
  if (n.size() >= 4 && n.compare(n.size() - 4, 4, "-SHA") == 0) return "CBC with a SHA-1 MAC";
  return "";
}

SslScanResult sslscan(uint16_t port, const std::string& servername,
                      std::chrono::milliseconds timeout) {
  std::vector<std::string> argv{"/usr/bin/sslscan", "--no-colour"};
  if (!servername.empty()) argv.push_back("--sni-name=" + servername);
  argv.push_back("127.0.0.1:" + std::to_string(port));
  RunOptions run_options;
  run_options.timeout = timeout;
  RunResult run = run_command(argv, run_options);
  SslScanResult r;
  r.exited = run.exited;
  r.exit_code = run.code;
  r.out = std::move(run.out);
  r.err = std::move(run.err);
  if (r.exit_code == 127 && r.out.empty())
    ADD_FAILURE() << "cannot run /usr/bin/sslscan (Debian package sslscan): " << r.err;
  parse_sslscan_output(r);
  return r;
}

} // namespace weir::test
