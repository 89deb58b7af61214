#include "weir/tls/ticket_keys.h"

#include <cstring>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <stdexcept>

namespace weir::tls {

TicketKeys::TicketKeys() : current_(fresh_key()) {}

TicketKeys::Key TicketKeys::fresh_key() {
  Key k;
  if (RAND_bytes(k.name.data(), static_cast<int>(k.name.size())) != 1 ||
      RAND_bytes(k.aes.data(), static_cast<int>(k.aes.size())) != 1 ||
      RAND_bytes(k.hmac.data(), static_cast<int>(k.hmac.size())) != 1)
    throw std::runtime_error("no random bytes for a session ticket key");
  return k;
}

void TicketKeys::rotate() {
  Key next = fresh_key(); // outside the lock: workers never wait for the RNG
  std::lock_guard lock(mutex_);
  previous_ = current_;
  has_previous_ = true;
  current_ = next;
  ++rotations_;
}

uint64_t TicketKeys::rotations() const {
  std::lock_guard lock(mutex_);
  return rotations_;
}

int TicketKeys::on_ticket(unsigned char name[16], unsigned char iv[16], EVP_CIPHER_CTX* cipher,
                          EVP_MAC_CTX* mac, int enc) {
  Key key;
  int result = 1;
  {
    std::lock_guard lock(mutex_);
    if (enc) {
      key = current_;
    } else if (std::memcmp(name, current_.name.data(), 16) == 0) {
      key = current_;
    } else if (has_previous_ && std::memcmp(name, previous_.name.data(), 16) == 0) {
      key = previous_;
      result = 2;
    } else {
      return 0;
    }
  }
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, key.hmac.data(), key.hmac.size()),
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_end()};
  if (enc) {
    std::memcpy(name, key.name.data(), 16);
    if (RAND_bytes(iv, 16) != 1) return -1;
    if (EVP_EncryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, key.aes.data(), iv) != 1) return -1;
  } else if (EVP_DecryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, key.aes.data(), iv) != 1) {
    return -1;
  }
  if (EVP_MAC_CTX_set_params(mac, params) != 1) return -1;
  return result;
}

} // namespace weir::tls
