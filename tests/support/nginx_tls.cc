#include "nginx_tls.h"

#include "upstream.h"
#include "wait.h"
#include "weir.h"

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <gtest/gtest.h>
#include <stdexcept>

namespace weir::test {

namespace {

// A string literal for nginx.conf. '$' would start a variable, and nginx has no escape for it.
std::string nginx_quoted(const std::string& s) {
  if (s.find('$') != std::string::npos) ADD_FAILURE() << "NginxTls: no '$' in a body: " << s;
  std::string q = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') q += '\\';
    q += c;
  }
  return q + "\"";
}

std::string nginx_config(const NginxTlsOptions& o, const std::string& dir, uint16_t port) {
  std::string conf = "daemon off;\n"
                     "master_process off;\n" // one process: the test's child is all of nginx
                     "error_log stderr notice;\n"
                     "pid " +
                     dir + "/nginx.pid;\n" +
                     "events { worker_connections 256; }\n"
                     "http {\n"
                     "  access_log off;\n";
  // Debian's defaults are under /var/lib/nginx, which a non-root test cannot write.
  for (const char* temp : {"client_body", "proxy", "fastcgi", "uwsgi", "scgi"})
    conf += std::string("  ") + temp + "_temp_path " + dir + "/" + temp + ";\n";
  conf += "  server {\n"
          "    listen 127.0.0.1:" +
          std::to_string(port) +
          " ssl;\n"
          "    ssl_certificate " +
          o.cert_file +
          ";\n"
          "    ssl_certificate_key " +
          o.key_file +
          ";\n"
          "    ssl_protocols " +
          o.protocols + ";\n";
  if (!o.client_ca_file.empty())
    conf += "    ssl_client_certificate " + o.client_ca_file +
            ";\n"
            "    ssl_verify_client on;\n";
  conf += "    location / {\n"
          "      add_header X-Client-DN $ssl_client_s_dn always;\n"
          "      add_header X-Client-Verify $ssl_client_verify always;\n"
          "      add_header X-SNI $ssl_server_name always;\n"
          "      default_type text/plain;\n"
          "      return 200 " +
          nginx_quoted(o.body) +
          ";\n"
          "    }\n"
          "  }\n"
          "}\n";
  return conf;
}

bool listens_on(pid_t pid, uint16_t port) {
  auto ports = listening_ports(pid);
  return std::find(ports.begin(), ports.end(), port) != ports.end();
}

} // namespace

NginxTls& NginxTls::operator=(NginxTls&& other) {
  if (this != &other) {
    stop();
    proc = std::move(other.proc);
    port = other.port;
    dir = std::move(other.dir);
  }
  return *this;
}

bool NginxTls::stop() {
  if (!proc) return true;
  return proc->stop_cleanly("nginx on port " + std::to_string(port), 10s, SIGTERM);
}

NginxTls NginxTls::start(const NginxTlsOptions& options) {
  NginxTls n;
  n.dir = temp_path("nginx");
  std::error_code ec;
  if (!std::filesystem::create_directory(n.dir, ec)) {
    ADD_FAILURE() << "cannot create " << n.dir << ": " << ec.message();
    throw std::runtime_error("NginxTls::start");
  }
  const std::string conf = n.dir + "/nginx.conf";
  std::string output;
  // nginx cannot bind port 0, so it gets a port the kernel just handed out and released; if
  // someone else took it meanwhile, nginx exits with "Address already in use" and we try again.
  for (int attempt = 0; attempt < 5; ++attempt) {
    const uint16_t port = unused_port();
    if (port == 0 || !write_file(conf, nginx_config(options, n.dir, port))) {
      ADD_FAILURE() << "NginxTls: no free port, or cannot write " << conf;
      throw std::runtime_error("NginxTls::start");
    }
    auto proc = Process::start({"/usr/sbin/nginx", "-p", n.dir + "/", "-c", conf, "-e", "stderr"});
    if (!proc) {
      ADD_FAILURE() << "cannot start /usr/sbin/nginx (Debian package nginx-light)";
      throw std::runtime_error("NginxTls::start");
    }
    const pid_t pid = proc->pid();
    wait_until([&] { return listens_on(pid, port) || proc->output_ended(); }, 10s);
    if (listens_on(pid, port)) {
      n.proc = std::move(proc);
      n.port = port;
      return n;
    }
    proc->wait_exit(2s);
    output = proc->output();
    if (output.find("Address already in use") == std::string::npos) break;
  }
  ADD_FAILURE() << "nginx did not start listening:\n"
                << output << "\nconfig " << conf << ":\n"
                << read_file(conf);
  throw std::runtime_error("NginxTls::start");
}

} // namespace weir::test
