#include "weir/tls/server_context.h"

#include "weir/tls/ticket_keys.h"

#include <array>
#include <fstream>
#include <iterator>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

namespace weir::tls {

const char* const kDefaultCiphers = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
                                    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
                                    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

namespace {

// How long a resumable session lasts (nginx's and HAProxy's 5 minutes), and the server-side
// cache's size per listener (OpenSSL's default).
constexpr long kSessionTimeoutSeconds = 300;
constexpr long kSessionCacheSize = 20480;

// Where each SSL_CTX keeps its ServerContext (for the ticket callback).
int context_index() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

int on_ticket_key(SSL* ssl, unsigned char name[16], unsigned char iv[16], EVP_CIPHER_CTX* cipher,
                  EVP_MAC_CTX* mac, int enc) {
  auto* keys = static_cast<TicketKeys*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), context_index()));
  return keys ? keys->on_ticket(name, iv, cipher, mac, enc) : -1;
}

} // namespace

std::shared_ptr<const ServerContext> ServerContext::build(const std::string& listener,
                                                          const config::ListenerTls& tls,
                                                          std::shared_ptr<TicketKeys> ticket_keys,
                                                          std::time_t now, std::string* error) {
  std::shared_ptr<ServerContext> s(new ServerContext());
  s->listener_ = listener;
  s->ticket_keys_ = std::move(ticket_keys);
  s->client_ca_ = tls.client_ca;
  for (const std::string& p : tls.alpn) {
    s->alpn_wire_ += static_cast<char>(p.size());
    s->alpn_wire_ += p;
  }
  const std::string ciphers = tls.ciphers == "default" ? kDefaultCiphers : tls.ciphers;
  // What a session may resume under: this listener with these client certificate rules. A
  // session from before a reload that added or changed client_ca does not resume (that would
  // skip the certificate check), nor one of another listener.
  std::array<unsigned char, 32> sid_context{};
  {
    std::string what = listener;
    what.push_back('\0');
    if (!tls.client_ca.empty()) {
      std::ifstream in(tls.client_ca, std::ios::binary);
      what.append(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    unsigned int n = 0;
    EVP_Digest(what.data(), what.size(), sid_context.data(), &n, EVP_sha256(), nullptr);
  }
  for (const config::TlsCertificate& c : tls.certificates) {
    LoadedCertificate loaded;
    if (!load_certificate(c.cert, c.key, now, loaded, error)) return nullptr;
    SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) {
      *error = "cannot make a TLS context: " + take_openssl_errors();
      return nullptr;
    }
    s->contexts_.push_back(ctx);
    const uint64_t options = SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                             SSL_OP_IGNORE_UNEXPECTED_EOF |
                             (tls.session_resumption ? 0 : SSL_OP_NO_TICKET);
    SSL_CTX_set_options(ctx, options);
    // Buffers go back to OpenSSL's pool while a connection idles; read_ahead reads whole
    // records, and more, in one call.
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_read_ahead(ctx, 1);
    SSL_CTX_set_min_proto_version(
        ctx, tls.min_version == config::TlsVersion::tls1_3 ? TLS1_3_VERSION : TLS1_2_VERSION);
    bool ok = SSL_CTX_set_cipher_list(ctx, ciphers.c_str()) == 1 &&
              SSL_CTX_use_certificate(ctx, loaded.leaf()) == 1 &&
              SSL_CTX_use_PrivateKey(ctx, loaded.key()) == 1;
    for (int i = 0; ok && i < sk_X509_num(loaded.chain()); ++i)
      ok = SSL_CTX_add1_chain_cert(ctx, sk_X509_value(loaded.chain(), i)) == 1;
    if (!ok) {
      *error = c.cert + ": " + take_openssl_errors();
      return nullptr;
    }
    // Resumption: one id context for all the listener's certificates (a session started under
    // one SNI name may resume under another of the same listener, as with one certificate).
    SSL_CTX_set_session_id_context(ctx, sid_context.data(),
                                   static_cast<unsigned>(sid_context.size()));
    if (tls.session_resumption) {
      SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
      SSL_CTX_sess_set_cache_size(ctx, kSessionCacheSize);
      SSL_CTX_set_timeout(ctx, kSessionTimeoutSeconds);
      // One ticket per full handshake (OpenSSL sends two): a client resumes one connection at
      // a time, and each ticket costs an encryption and a record.
      SSL_CTX_set_num_tickets(ctx, 1);
      SSL_CTX_set_ex_data(ctx, context_index(), s->ticket_keys_.get());
      SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, on_ticket_key);
    } else {
      SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
      SSL_CTX_set_num_tickets(ctx, 0);
    }
    if (!tls.client_ca.empty()) {
      STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(tls.client_ca.c_str());
      if (!names || SSL_CTX_load_verify_locations(ctx, tls.client_ca.c_str(), nullptr) != 1) {
        sk_X509_NAME_pop_free(names, X509_NAME_free);
        *error = tls.client_ca + ": " + take_openssl_errors();
        return nullptr;
      }
      SSL_CTX_set_client_CA_list(ctx, names);
      SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
    }
    SSL_CTX_set_tlsext_servername_callback(ctx, on_server_name);
    SSL_CTX_set_tlsext_servername_arg(ctx, s.get());
    if (!s->alpn_wire_.empty()) SSL_CTX_set_alpn_select_cb(ctx, on_alpn, s.get());
    const size_t index = s->infos_.size();
    for (const std::string& name : loaded.info().names) {
      if (name.starts_with("*."))
        s->wildcard_.emplace(name.substr(2), index);
      else
        s->exact_.emplace(name, index);
    }
    s->infos_.push_back(loaded.info());
  }
  if (s->contexts_.empty()) {
    *error = "listener " + listener + ": no certificate";
    return nullptr;
  }
  return s;
}

ServerContext::~ServerContext() {
  for (SSL_CTX* ctx : contexts_)
    SSL_CTX_free(ctx);
}

SSL* ServerContext::new_ssl() const {
  SSL* ssl = SSL_new(contexts_.front());
  if (ssl) SSL_set_accept_state(ssl);
  return ssl;
}

size_t ServerContext::pick(std::string_view server_name) const {
  if (auto it = exact_.find(std::string(server_name)); it != exact_.end()) return it->second;
  if (const size_t dot = server_name.find('.'); dot != std::string_view::npos && dot > 0) {
    if (auto it = wildcard_.find(std::string(server_name.substr(dot + 1))); it != wildcard_.end())
      return it->second;
  }
  return 0;
}

std::vector<std::string> ServerContext::files() const {
  std::vector<std::string> out;
  for (const CertificateInfo& info : infos_) {
    out.push_back(info.cert_file);
    out.push_back(info.key_file);
  }
  if (!client_ca_.empty()) out.push_back(client_ca_);
  return out;
}

int ServerContext::on_server_name(SSL* ssl, int*, void* arg) {
  const auto* self = static_cast<const ServerContext*>(arg);
  const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  if (!name) return SSL_TLSEXT_ERR_OK; // no SNI: the first certificate
  std::string lower(name);
  if (!lower.empty() && lower.back() == '.') lower.pop_back(); // "a.test." is "a.test"
  for (char& c : lower)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  const size_t index = self->pick(lower);
  if (index != 0 && !SSL_set_SSL_CTX(ssl, self->contexts_[index]))
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  return SSL_TLSEXT_ERR_OK;
}

int ServerContext::on_alpn(SSL*, const unsigned char** out, unsigned char* out_len,
                           const unsigned char* in, unsigned int in_len, void* arg) {
  const auto* self = static_cast<const ServerContext*>(arg);
  unsigned char* chosen = nullptr;
  if (SSL_select_next_proto(
          &chosen, out_len, reinterpret_cast<const unsigned char*>(self->alpn_wire_.data()),
          static_cast<unsigned>(self->alpn_wire_.size()), in, in_len) != OPENSSL_NPN_NEGOTIATED)
    return SSL_TLSEXT_ERR_NOACK; // no protocol in common: go on without ALPN
  *out = chosen;
  return SSL_TLSEXT_ERR_OK;
}

} // namespace weir::tls
