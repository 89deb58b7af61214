#pragma once

#include "process.h"

#include <cstdint>
#include <memory>
#include <string>

namespace weir::test {

struct NginxTlsOptions {
  std::string cert_file; // the server certificate (PEM) nginx presents
  std::string key_file;
  // Non-empty: `ssl_verify_client on` against this CA: a client without a certificate it signed
  // gets 400 ("No required SSL certificate was sent" / "The SSL certificate error").
  std::string client_ca_file;
  std::string body = "nginx";                // what every request gets: `return 200 "<body>"`
  std::string protocols = "TLSv1.2 TLSv1.3"; // ssl_protocols
};

// A real Debian nginx (/usr/sbin/nginx) serving HTTPS on 127.0.0.1: an upstream for weir's
// client-side TLS. Every request gets 200 with options.body and the headers
//   X-Client-DN:     $ssl_client_s_dn, the client certificate's subject ("CN=weir", RFC 2253);
//   X-Client-Verify: $ssl_client_verify ("SUCCESS", or "NONE" without client_ca_file);
//   X-SNI:           $ssl_server_name, the name the client sent.
// One process (master_process off) running as the current user, with its config, pid, temp
// directories and error log under a fresh temp directory; `daemon off`, so it is a child of the
// test, stopped with SIGTERM on destruction (and SIGKILLed with the test if that dies).
// Thread contract: start, stop and the destructor from the thread that owns it.
struct NginxTls {
  std::unique_ptr<Process> proc;
  uint16_t port = 0;
  std::string dir; // its prefix: nginx.conf, error log (its stderr is in proc's output too)

  NginxTls() = default;
  NginxTls(NginxTls&&) = default;
  NginxTls& operator=(NginxTls&& other); // stops the nginx this one held first
  ~NginxTls() { stop(); }

  // SIGTERM (nginx's fast shutdown) and exit status 0 within 10 s, else ADD_FAILURE with its
  // output's tail and false.
  bool stop();
  std::string address() const { return "127.0.0.1:" + std::to_string(port); }

  // Writes the config, starts nginx on a free loopback port and waits (10 s) until it listens
  // there (a port taken meanwhile is retried with another). On failure: ADD_FAILURE with
  // nginx's output, then throws.
  static NginxTls start(const NginxTlsOptions& options);
};

} // namespace weir::test
