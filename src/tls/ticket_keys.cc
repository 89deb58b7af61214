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

namespace {

constexpr size_t kKeyBytes = 16 + 32 + 32;

void append_hex(std::string& out, const unsigned char* p, size_t n) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (size_t i = 0; i < n; ++i) {
    out.push_back(kHex[p[i] >> 4]);
    out.push_back(kHex[p[i] & 0xf]);
  }
}

bool read_hex(std::string_view text, unsigned char* out, size_t n) {
  if (text.size() != 2 * n) return false;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  for (size_t i = 0; i < n; ++i) {
    int hi = nibble(text[2 * i]), lo = nibble(text[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<unsigned char>(hi << 4 | lo);
  }
  return true;
}

} // namespace

std::string TicketKeys::export_keys() const {
  std::lock_guard lock(mutex_);
  std::string out;
  for (const Key* k : {&current_, &previous_}) {
    if (k == &previous_ && !has_previous_) break;
    if (!out.empty()) out.push_back(':');
    append_hex(out, k->name.data(), k->name.size());
    append_hex(out, k->aes.data(), k->aes.size());
    append_hex(out, k->hmac.data(), k->hmac.size());
  }
  return out;
}

bool TicketKeys::import_keys(std::string_view text) {
  Key keys[2];
  size_t count = 0;
  while (count < 2 && !text.empty()) {
    size_t colon = text.find(':');
    std::string_view one = text.substr(0, colon);
    unsigned char raw[kKeyBytes];
    if (!read_hex(one, raw, kKeyBytes)) return false;
    std::memcpy(keys[count].name.data(), raw, 16);
    std::memcpy(keys[count].aes.data(), raw + 16, 32);
    std::memcpy(keys[count].hmac.data(), raw + 48, 32);
    ++count;
    text = colon == std::string_view::npos ? std::string_view() : text.substr(colon + 1);
  }
  if (count == 0 || !text.empty()) return false;
  std::lock_guard lock(mutex_);
  current_ = keys[0];
  has_previous_ = count == 2;
  if (has_previous_) previous_ = keys[1];
  return true;
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
