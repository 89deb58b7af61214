// The TLS module's pure parts and its file checks: certificate name matching, the SNI choice,
// session ticket key rotation, and what load_certificate says about bad files. Certificates are
// made with the openssl command line into a fresh directory.
#include "test_certs.h"
#include "weir/tls/certificate.h"
#include "weir/tls/server_context.h"
#include "weir/tls/ticket_keys.h"

#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <gtest/gtest.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <string>

namespace weir::tls {
namespace {

TEST(TlsNames, ExactAndOneLabelWildcards) {
  EXPECT_TRUE(name_matches("a.test", "a.test"));
  EXPECT_TRUE(name_matches("*.wild.test", "x.wild.test"));
  EXPECT_FALSE(name_matches("*.wild.test", "wild.test"));
  EXPECT_FALSE(name_matches("*.wild.test", "a.b.wild.test"));
  EXPECT_FALSE(name_matches("*.wild.test", ".wild.test"));
  EXPECT_FALSE(name_matches("a.test", "b.test"));
}

TEST(TlsCertificateFiles, LoadsNamesIssuerAndExpiryAndRefusesBadFilesWithTheReason) {
  Certs certs;
  auto [a_cert, a_key] = certs.server("a", "DNS:A.test,DNS:*.wild.test");
  auto [b_cert, b_key] = certs.server("b", "DNS:b.test");
  LoadedCertificate c;
  std::string error;
  ASSERT_TRUE(load_certificate(a_cert, a_key, std::time(nullptr), c, &error)) << error;
  EXPECT_EQ(c.info().names, (std::vector<std::string>{"a.test", "*.wild.test"}));
  EXPECT_EQ(c.info().issuer, "CN=unit-CA");
  EXPECT_GT(c.info().not_after, std::time(nullptr) + 86400);

  EXPECT_FALSE(load_certificate(a_cert, b_key, std::time(nullptr), c, &error));
  EXPECT_EQ(error, b_key + ": the private key does not match the certificate in " + a_cert);
  EXPECT_FALSE(load_certificate(certs.dir() + "/none.pem", a_key, std::time(nullptr), c, &error));
  EXPECT_EQ(error, certs.dir() + "/none.pem: cannot read: No such file or directory");
  EXPECT_FALSE(load_certificate(a_key, a_key, std::time(nullptr), c, &error));
  EXPECT_EQ(error, a_key + ": no PEM certificate in it");
  // Three days on, the two-day certificate has expired.
  EXPECT_FALSE(load_certificate(a_cert, a_key, std::time(nullptr) + 3 * 86400, c, &error));
  EXPECT_NE(error.find(a_cert + ": the certificate expired at "), std::string::npos) << error;
}

TEST(TlsServerContext, SniPicksExactThenWildcardThenTheFirstCertificate) {
  Certs certs;
  auto [a_cert, a_key] = certs.server("a", "DNS:a.test");
  auto [b_cert, b_key] = certs.server("b", "DNS:b.test,DNS:*.wild.test");
  auto [c_cert, c_key] = certs.server("c", "DNS:x.wild.test");
  config::ListenerTls tls;
  tls.certificates = {{a_cert, a_key}, {b_cert, b_key}, {c_cert, c_key}};
  std::string error;
  auto ctx = ServerContext::build("public", tls, std::make_shared<TicketKeys>(), std::time(nullptr),
                                  &error);
  ASSERT_TRUE(ctx) << error;
  EXPECT_EQ(ctx->pick("a.test"), 0u);
  EXPECT_EQ(ctx->pick("b.test"), 1u);
  EXPECT_EQ(ctx->pick("y.wild.test"), 1u);
  EXPECT_EQ(ctx->pick("x.wild.test"), 2u); // an exact name beats a wildcard
  EXPECT_EQ(ctx->pick("a.b.wild.test"), 0u);
  EXPECT_EQ(ctx->pick("other.test"), 0u);
  EXPECT_EQ(ctx->certificates().size(), 3u);
  EXPECT_EQ(ctx->files().size(), 6u);
  // One bad file and nothing is built.
  tls.certificates.push_back({a_cert, b_key});
  EXPECT_FALSE(ServerContext::build("public", tls, std::make_shared<TicketKeys>(),
                                    std::time(nullptr), &error));
  EXPECT_NE(error.find("does not match"), std::string::npos) << error;
}

// One ticket key callback call: what it returns and the key name it used or was given.
struct TicketCall {
  int result;
  unsigned char name[16];
};

TicketCall call(TicketKeys& keys, int enc, const unsigned char* name = nullptr) {
  TicketCall c{};
  if (name) std::memcpy(c.name, name, 16);
  unsigned char iv[16] = {};
  EVP_CIPHER_CTX* cipher = EVP_CIPHER_CTX_new();
  EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  EVP_MAC_CTX* mac_ctx = EVP_MAC_CTX_new(mac);
  c.result = keys.on_ticket(c.name, iv, cipher, mac_ctx, enc);
  EVP_MAC_CTX_free(mac_ctx);
  EVP_MAC_free(mac);
  EVP_CIPHER_CTX_free(cipher);
  return c;
}

TEST(TlsTicketKeys, ATicketResumesForTwoPeriodsAndIsRenewedInTheSecond) {
  TicketKeys keys;
  TicketCall issued = call(keys, 1);
  EXPECT_EQ(issued.result, 1);
  EXPECT_EQ(call(keys, 0, issued.name).result, 1); // current key
  keys.rotate();
  EXPECT_EQ(keys.rotations(), 1u);
  EXPECT_EQ(call(keys, 0, issued.name).result, 2); // previous key: resume, and renew
  TicketCall fresh = call(keys, 1);
  EXPECT_NE(std::memcmp(fresh.name, issued.name, 16), 0);
  keys.rotate();
  EXPECT_EQ(call(keys, 0, issued.name).result, 0); // dropped: a full handshake
  EXPECT_EQ(call(keys, 0, fresh.name).result, 2);
}

TEST(TlsTicketKeys, ExportedKeysResumeTheSameTicketsElsewhereAndBadTextChangesNothing) {
  TicketKeys old_keys;
  TicketCall before_rotation = call(old_keys, 1);
  old_keys.rotate();
  TicketCall current = call(old_keys, 1);
  TicketKeys taken; // the new process of an upgrade
  ASSERT_TRUE(taken.import_keys(old_keys.export_keys()));
  EXPECT_EQ(call(taken, 0, current.name).result, 1);
  EXPECT_EQ(call(taken, 0, before_rotation.name).result, 2);
  // Only the current key: the previous one is gone with it.
  TicketKeys fresh;
  TicketKeys one;
  ASSERT_TRUE(one.import_keys(fresh.export_keys()));
  TicketCall made = call(fresh, 1);
  EXPECT_EQ(call(one, 0, made.name).result, 1);
  const std::string kept = one.export_keys();
  for (const char* bad : {"", "zz", "00", ":", "x:y"})
    EXPECT_FALSE(one.import_keys(bad)) << bad;
  EXPECT_FALSE(one.import_keys(kept + ":" + kept + ":" + kept));
  EXPECT_EQ(one.export_keys(), kept);
}

} // namespace
} // namespace weir::tls
