#include "weir/tls/client_context.h"

#include "weir/tls/certificate.h"

#include <ctime>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

namespace weir::tls {

std::shared_ptr<const ClientContext> ClientContext::build(const config::UpstreamTls& tls,
                                                          std::string* error) {
  std::shared_ptr<ClientContext> c(new ClientContext());
  c->sni_ = tls.sni;
  c->verify_ = tls.verify;
  c->ctx_ = SSL_CTX_new(TLS_client_method());
  if (!c->ctx_) {
    *error = "cannot make a TLS context: " + take_openssl_errors();
    return nullptr;
  }
  SSL_CTX_set_options(c->ctx_, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                                   SSL_OP_IGNORE_UNEXPECTED_EOF);
  SSL_CTX_set_mode(c->ctx_, SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_read_ahead(c->ctx_, 1);
  SSL_CTX_set_min_proto_version(c->ctx_, TLS1_2_VERSION);
  static const unsigned char kAlpn[] = "\x08http/1.1";
  SSL_CTX_set_alpn_protos(c->ctx_, kAlpn, sizeof kAlpn - 1);
  if (tls.verify) {
    const bool loaded = tls.ca.empty()
                            ? SSL_CTX_set_default_verify_paths(c->ctx_) == 1
                            : SSL_CTX_load_verify_locations(c->ctx_, tls.ca.c_str(), nullptr) == 1;
    if (!loaded) {
      *error = (tls.ca.empty() ? std::string("the system's CAs") : tls.ca) + ": " +
               take_openssl_errors();
      return nullptr;
    }
    SSL_CTX_set_verify(c->ctx_, SSL_VERIFY_PEER, nullptr);
  } else {
    SSL_CTX_set_verify(c->ctx_, SSL_VERIFY_NONE, nullptr);
  }
  if (!tls.ca.empty()) c->files_.push_back(tls.ca);
  if (!tls.client_cert.empty()) {
    LoadedCertificate loaded;
    if (!load_certificate(tls.client_cert, tls.client_key, std::time(nullptr), loaded, error))
      return nullptr;
    bool ok = SSL_CTX_use_certificate(c->ctx_, loaded.leaf()) == 1 &&
              SSL_CTX_use_PrivateKey(c->ctx_, loaded.key()) == 1;
    for (int i = 0; ok && i < sk_X509_num(loaded.chain()); ++i)
      ok = SSL_CTX_add1_chain_cert(c->ctx_, sk_X509_value(loaded.chain(), i)) == 1;
    if (!ok) {
      *error = tls.client_cert + ": " + take_openssl_errors();
      return nullptr;
    }
    c->files_.push_back(tls.client_cert);
    c->files_.push_back(tls.client_key);
  }
  return c;
}

ClientContext::~ClientContext() {
  SSL_CTX_free(ctx_);
}

std::vector<std::string> ClientContext::files() const {
  return files_;
}

SSL* ClientContext::new_ssl(const std::string& endpoint_ip) const {
  SSL* ssl = SSL_new(ctx_);
  if (!ssl) return nullptr;
  SSL_set_connect_state(ssl);
  if (!sni_.empty()) SSL_set_tlsext_host_name(ssl, sni_.c_str());
  if (verify_) {
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    const bool ok = sni_.empty() ? X509_VERIFY_PARAM_set1_ip_asc(param, endpoint_ip.c_str()) == 1
                                 : X509_VERIFY_PARAM_set1_host(param, sni_.c_str(), 0) == 1;
    if (!ok) {
      SSL_free(ssl);
      return nullptr;
    }
  }
  return ssl;
}

} // namespace weir::tls
