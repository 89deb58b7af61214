#include "tls_reader.h"

#include "weir/tls/certificate.h"

#include <ctime>
#include <openssl/err.h>
#include <openssl/ssl.h>

namespace weir::config::yaml {

namespace {

std::string resolve(const std::string& base_dir, const std::string& path) {
  if (path.empty() || path[0] == '/' || base_dir.empty()) return path;
  return base_dir + "/" + path;
}

std::optional<std::string> file_path(Checker& c, const Item& item, const std::string& base_dir) {
  auto v = c.string(item);
  if (!v) return std::nullopt;
  if (v->empty()) {
    c.fail(item, "expected a file path, got an empty string");
    return std::nullopt;
  }
  return resolve(base_dir, *v);
}

// A cipher string OpenSSL understands and that leaves at least one TLS 1.2 suite.
bool ciphers_usable(const std::string& ciphers) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (!ctx) return false;
  const bool ok = SSL_CTX_set_cipher_list(ctx, ciphers.c_str()) == 1;
  SSL_CTX_free(ctx);
  ERR_clear_error();
  return ok;
}

void read_certificate(Checker& c, const Item& item, const std::string& base_dir,
                      std::vector<TlsCertificate>& out) {
  if (!c.expect_map(item)) return;
  Fields f(c, item, {"cert", "key"});
  auto cert_item = f.require("cert");
  auto key_item = f.require("key");
  std::optional<std::string> cert, key;
  if (cert_item) cert = file_path(c, *cert_item, base_dir);
  if (key_item) key = file_path(c, *key_item, base_dir);
  if (!cert || !key) return;
  tls::LoadedCertificate loaded;
  std::string error;
  if (!tls::load_certificate(*cert, *key, std::time(nullptr), loaded, &error)) {
    // The key's problems at the key, the certificate's at the certificate.
    const bool about_key = error.starts_with(*key + ":") && *key != *cert;
    c.fail(about_key ? *key_item : *cert_item, error);
    return;
  }
  out.push_back(TlsCertificate{*cert, *key});
}

} // namespace

void read_listener_tls(Checker& c, const Item& item, const std::string& base_dir,
                       ListenerTls& tls) {
  if (!c.expect_map(item)) return;
  Fields f(c, item,
           {"certificates", "min_version", "ciphers", "alpn", "session_resumption", "client_ca"});
  if (auto list_item = f.require("certificates")) {
    if (auto list = c.nonempty_list(*list_item, "certificate")) {
      for (const Item& element : *list)
        read_certificate(c, element, base_dir, tls.certificates);
    }
  }
  if (auto v = f.get("min_version")) {
    if (auto s = c.string(*v)) {
      if (*s == "TLSv1.2") {
        tls.min_version = TlsVersion::tls1_2;
      } else if (*s == "TLSv1.3") {
        tls.min_version = TlsVersion::tls1_3;
      } else {
        c.fail(*v, "expected \"TLSv1.2\" or \"TLSv1.3\" (older versions are not offered), got " +
                       quote(*s));
      }
    }
  }
  if (auto v = f.get("ciphers")) {
    if (auto s = c.string(*v)) {
      if (*s != "default" && !ciphers_usable(*s)) {
        c.fail(*v, "no cipher suite OpenSSL knows matches " + quote(*s) +
                       " (\"default\" is weir's modern list)");
      } else {
        tls.ciphers = *s;
      }
    }
  }
  if (auto v = f.get("alpn")) {
    if (auto list = c.nonempty_list(*v, "protocol")) {
      std::vector<std::string> alpn;
      for (const Item& element : *list) {
        auto s = c.string(element);
        if (!s) continue;
        if (*s != "http/1.1") {
          c.fail(element,
                 "expected \"http/1.1\" (the protocol weir speaks to clients), got " + quote(*s));
          continue;
        }
        alpn.push_back(*s);
      }
      tls.alpn = std::move(alpn);
    }
  }
  if (auto v = f.get("session_resumption")) {
    if (auto b = c.boolean(*v)) tls.session_resumption = *b;
  }
  if (auto v = f.get("client_ca")) {
    if (auto path = file_path(c, *v, base_dir)) {
      std::string error;
      if (!tls::check_ca_file(*path, &error)) {
        c.fail(*v, error);
      } else {
        tls.client_ca = *path;
      }
    }
  }
}

void read_upstream_tls(Checker& c, const Item& item, const std::string& base_dir,
                       UpstreamTls& tls) {
  if (!c.expect_map(item)) return;
  tls.enabled = true;
  Fields f(c, item, {"sni", "ca", "verify", "client_cert", "client_key"});
  if (auto v = f.get("sni")) {
    if (auto s = c.string(*v)) {
      auto host = normalize_host(*s);
      if (!host || host->empty() || host->starts_with("*.")) {
        c.fail(*v, "expected a host name like app.internal, got " + quote(*s));
      } else {
        tls.sni = *host;
      }
    }
  }
  if (auto v = f.get("verify")) {
    if (auto b = c.boolean(*v)) tls.verify = *b;
  }
  if (auto v = f.get("ca")) {
    if (auto path = file_path(c, *v, base_dir)) {
      std::string error;
      if (!tls::check_ca_file(*path, &error)) {
        c.fail(*v, error);
      } else {
        tls.ca = *path;
      }
    }
  }
  auto cert_item = f.get("client_cert");
  auto key_item = f.get("client_key");
  if (cert_item && !key_item) c.fail(*cert_item, "needs client_key beside it");
  if (key_item && !cert_item) c.fail(*key_item, "needs client_cert beside it");
  if (cert_item && key_item) {
    auto cert = file_path(c, *cert_item, base_dir);
    auto key = file_path(c, *key_item, base_dir);
    if (cert && key) {
      tls::LoadedCertificate loaded;
      std::string error;
      if (!tls::load_certificate(*cert, *key, std::time(nullptr), loaded, &error)) {
        const bool about_key = error.starts_with(*key + ":") && *key != *cert;
        c.fail(about_key ? *key_item : *cert_item, error);
      } else {
        tls.client_cert = *cert;
        tls.client_key = *key;
      }
    }
  }
}

} // namespace weir::config::yaml
