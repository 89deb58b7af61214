#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

// Real TLS clients run against 127.0.0.1:PORT, each to a deadline, with their output parsed:
// `openssl s_client`, curl and sslscan, as a user or an auditor would point them at weir.
// Thread contract: any thread; each call runs and reaps its own child process.
namespace weir::test {

using namespace std::chrono_literals;

enum class TlsVersion { any, tls1, tls1_1, tls1_2, tls1_3 };

struct SClientOptions {
  std::string ca_file; // -CAfile: verify the server against it (verify_code); "" = no CA given
  TlsVersion version = TlsVersion::any; // -tls1 ... -tls1_3: offer only that version
  // -cipher (TLS 1.2 and below). Empty with tls1/tls1_1: "DEFAULT@SECLEVEL=0", since this
  // OpenSSL does not offer those versions at all at its default security level, and a test of
  // "TLS 1.0 refused" must really offer TLS 1.0.
  std::string cipher;
  std::string ciphersuites; // -ciphersuites (TLS 1.3)
  std::string sess_out;     // -sess_out FILE: keep the session (ticket) for a later sess_in
  std::string sess_in;      // -sess_in FILE: offer that session for resumption
  std::string cert_file;    // -cert/-key: a client certificate
  std::string key_file;
  std::string alpn; // -alpn "h2,http/1.1"
  // Bytes written once the handshake is done; the reply is read until the server closes the
  // connection (so ask for "Connection: close"), or the deadline. Without a request the client
  // closes as soon as the handshake is done (see post_handshake_wait).
  std::optional<std::string> request;
  // TLS 1.3 and no request only: how long after the handshake to wait for the server's
  // NewSessionTicket (needed in sess_out) or its alert (a refused client certificate arrives
  // after the client's side of the handshake is done) before closing. Cut short by either.
  std::chrono::milliseconds post_handshake_wait = 1000ms;
  std::chrono::milliseconds timeout = 10s;
};

struct SClientResult {
  bool exited = false; // s_client ended before the deadline
  int exit_code = -1;  // s_client's exit code (1 when the handshake failed)
  // s_client reported a negotiated protocol and cipher: the server's hello arrived. It reports
  // them too when the server aborted later in the handshake (a client certificate refused under
  // TLS 1.2) or right after it (TLS 1.3): accepted() is "the server took us".
  bool handshake_ok = false;
  bool reused = false;         // "Reused": the session offered with sess_in was resumed
  std::string protocol;        // "TLSv1.3", "TLSv1.2", "TLSv1.1", "TLSv1" ("" without a handshake)
  std::string cipher;          // "TLS_AES_256_GCM_SHA384", "ECDHE-ECDSA-AES128-GCM-SHA256", ...
  int verify_code = -1;        // "Verify return code": 0 = verified against ca_file; -1 = none
  std::string verify_message;  // "ok", "unable to get local issuer certificate", ...
  std::string alpn;            // the protocol the server selected; "" = none
  bool session_ticket = false; // a TLS 1.3 NewSessionTicket arrived
  std::string peer_cert_pem;   // the server's certificate as it sent it ("" = none)
  std::string peer_cn;         // its subject CN
  std::vector<std::string> peer_sans; // its subjectAltName entries: "DNS:a.test", "IP:127.0.0.1"
  // OpenSSL's error lines from stderr ("...:error:0A00042E:...:tlsv1 alert protocol version..."),
  // joined by newlines: why a handshake failed, or the alert that ended the connection after it.
  std::string errors;
  std::string response; // what the server sent after the handshake (with a request)
  std::string out;      // s_client's raw stdout and stderr, for failure messages
  std::string err;

  // Handshake done and no error (an alert, a reset) during or after it: the server accepted us.
  bool accepted() const { return handshake_ok && errors.empty(); }
  // For failure messages: the raw output.
  std::string dump() const { return "stdout:\n" + out + "\nstderr:\n" + err; }
};

// openssl s_client -connect 127.0.0.1:PORT [-servername NAME] ... ("" = send no SNI).
SClientResult s_client(uint16_t port, const std::string& servername,
                       const SClientOptions& options = {});

struct CurlOptions {
  std::string ca_file;   // --cacert; "" = the system's CAs (which do not know a test CA)
  bool insecure = false; // -k: do not verify the server
  std::string cert_file; // --cert/--key: a client certificate
  std::string key_file;
  TlsVersion version = TlsVersion::any; // --tlsv1.x --tls-max 1.x: exactly that version
  bool http1_1 = true;                  // --http1.1 (else curl offers h2 in ALPN)
  std::vector<std::string> headers;     // -H "Name: value"
  std::vector<std::string> extra_args;  // anything else, appended before the URL
  std::chrono::milliseconds timeout = 10s;
};

struct CurlResult {
  bool exited = false;
  int exit_code = -1;  // 0 ok; 35 TLS handshake failed; 60 certificate not verified; 28 timeout
  int status = 0;      // HTTP status; 0 without a response
  std::string headers; // the response head as received
  std::string body;
  std::string protocol; // "TLSv1.3" (from curl -v "SSL connection using TLSv1.3 / CIPHER")
  std::string cipher;
  std::string peer_subject; // "CN=a.test" (from curl -v "subject:")
  std::string peer_issuer;  // "CN=weir test CA"
  std::string alpn;         // "http/1.1", "h2"; "" if the server chose none
  std::string err;          // curl's -v trace and error message

  bool ok() const { return exited && exit_code == 0; }
  std::string dump() const { return "exit " + std::to_string(exit_code) + "\n" + err; }
};

// curl https://HOST:PORT/PATH with --resolve HOST:PORT:127.0.0.1, so SNI and the name verified
// are HOST while the connection goes to loopback. `path` starts with '/'.
CurlResult curl_https(uint16_t port, const std::string& host, const std::string& path,
                      const CurlOptions& options = {});

struct ScannedCipher {
  std::string protocol; // "TLSv1.2"
  int bits = 0;
  std::string name; // OpenSSL's name: "ECDHE-ECDSA-AES128-GCM-SHA256", "TLS_AES_128_GCM_SHA256"
  bool preferred = false; // sslscan's "Preferred" (the server's first choice for that protocol)
};

struct SslScanResult {
  bool exited = false;
  int exit_code = -1;
  bool connected = false;                // sslscan reached the server
  std::map<std::string, bool> protocols; // "SSLv2".."TLSv1.3" -> enabled
  std::vector<ScannedCipher> ciphers;    // accepted cipher suites, all protocols
  std::string renegotiation; // sslscan's line, e.g. "Session renegotiation not supported"
  bool heartbleed_vulnerable = false;
  std::string out; // sslscan's raw output
  std::string err;

  // Protocols reported enabled, in sslscan's order.
  std::vector<std::string> enabled_protocols() const;
  // Accepted ciphers weak_cipher_reason() objects to, as "TLSv1.2 AES128-SHA: reason" lines.
  std::vector<std::string> weak_ciphers() const;
  std::string dump() const { return out + err; }
};

// What is weak about a cipher suite a server accepted, "" if nothing. Weak here (roughly
// Mozilla's "intermediate" profile, what weir's modern default should meet) is any of:
//   - offered under SSLv3, TLSv1.0 or TLSv1.1;
//   - fewer than 128 bits;
//   - RC4, DES or 3DES, NULL encryption, EXPORT grade, MD5 MACs;
//   - anonymous key exchange (ADH, AECDH, anon): no server authentication;
//   - no forward secrecy: a TLS 1.2 suite whose key exchange is not ECDHE or DHE (static RSA,
//     static ECDH/DH, plain PSK);
//   - CBC with a SHA-1 MAC (names ending in "-SHA", e.g. ECDHE-ECDSA-AES128-SHA): MAC-then-
//     encrypt padding oracles (Lucky13) and SHA-1. OpenSSL's own DEFAULT list still has these.
// TLS 1.3 suites (TLS_...) are never weak by name.
std::string weak_cipher_reason(const ScannedCipher& cipher);

// sslscan --no-colour --sni-name=NAME 127.0.0.1:PORT (Debian's package "sslscan").
SslScanResult sslscan(uint16_t port, const std::string& servername,
                      std::chrono::milliseconds timeout = 60s);

// Parsers, public so they can be checked on recorded output.
void parse_s_client_output(SClientResult& r);
void parse_sslscan_output(SslScanResult& r);

} // namespace weir::test
