#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <openssl/types.h>
#include <string>
#include <string_view>

namespace weir::tls {

// The keys that encrypt session tickets (TLS session resumption without a server-side cache
// entry), shared by every TLS listener of the process. The control thread rotates them; a ticket
// made with the key before the current one still resumes (and is replaced by a fresh one), an
// older one no longer does: a stolen key opens only the last two periods' sessions.
//
// Thread contract: rotate() on the control thread, on_ticket() on the workers (from OpenSSL's
// ticket callback, once per full handshake and per resumption attempt); a mutex keeps them apart.
class TicketKeys {
public:
  TicketKeys();
  TicketKeys(const TicketKeys&) = delete;
  TicketKeys& operator=(const TicketKeys&) = delete;

  // A fresh current key; the current one becomes the previous one; the previous one is dropped.
  void rotate();
  // Rotations so far (a new process starts at 0).
  uint64_t rotations() const;

  // The current and previous keys as hex, for the new process of an upgrade (over a socket
  // pair to the process this one starts): tickets the clients hold resume there too.
  std::string export_keys() const;
  // Takes keys from export_keys(); false (and nothing changed) when the text is not such.
  bool import_keys(std::string_view text);

  // OpenSSL's SSL_CTX_set_tlsext_ticket_key_evp_cb contract: encrypting (enc 1), fills `name` and
  // `iv` and keys the cipher and MAC with the current key (1); decrypting, finds the key `name`
  // names: 1 (current), 2 (previous: renew the ticket), 0 (unknown or dropped: a full handshake).
  int on_ticket(unsigned char name[16], unsigned char iv[16], EVP_CIPHER_CTX* cipher,
                EVP_MAC_CTX* mac, int enc);

private:
  struct Key {
    std::array<unsigned char, 16> name{};
    std::array<unsigned char, 32> aes{};
    std::array<unsigned char, 32> hmac{};
  };
  static Key fresh_key();

  mutable std::mutex mutex_;
  Key current_;
  Key previous_;
  bool has_previous_ = false;
  uint64_t rotations_ = 0;
};

} // namespace weir::tls
