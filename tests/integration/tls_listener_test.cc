// TLS termination as clients meet it: real curl and `openssl s_client` against a real weir, with
// certificates from a test CA made by the openssl command line at test time. SNI picks the
// certificate, old protocols are refused, sessions resume, client certificates are required and
// checked, a plaintext listener redirects, and a bad or stalled handshake harms nobody else.
#include "rollout_helpers.h"
#include "support/client.h"
#include "support/tls_peer.h"
#include "support/tls_pki.h"
#include "support/upgrade_chain.h"
#include "support/upstream.h"
#include "support/wait.h"
#include "support/weir.h"

#include <arpa/inet.h>
#include <csignal>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <string>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

namespace weir::test {
namespace {

using rollout::contains;

// One CA; a.test (ECDSA) first, then b.test with a wildcard (RSA).
struct Pki {
  TestCa ca = TestCa::make("weir listener CA");
  CertKey a = ca.server("DNS:a.test");
  CertKey b = ca.server("DNS:b.test,DNS:*.wild.test", KeyType::rsa_2048);
};

Pki& pki() {
  static Pki p;
  return p;
}

std::string tls_config(const std::string& upstream, const std::string& tls_extra = "",
                       const std::string& extra = "") {
  Pki& p = pki();
  return "workers: 1\n"
         "listeners:\n"
         "  - name: public\n"
         "    address: 127.0.0.1:0\n"
         "    tls:\n"
         "      certificates:\n"
         "        - { cert: " +
         p.a.cert_file + ", key: " + p.a.key_file +
         " }\n"
         "        - { cert: " +
         p.b.cert_file + ", key: " + p.b.key_file + " }\n" + tls_extra +
         "services:\n  - { namespace: a, name: app, endpoints: [" + upstream +
         "] }\n"
         "routes:\n  - { name: r, listener: public, backends: [{ service: a/app }] }\n"
         "admin: { address: 127.0.0.1:0 }\n"
         "drain_timeout: 1s\n" +
         extra;
}

std::string metrics(const Weir& w) {
  return http_request(w.admin_port(), "GET", "/metrics").body;
}

// The value of one sample line ("name{labels} value"), -1 when absent.
double sample(const std::string& text, const std::string& series) {
  size_t at = text.find(series + " ");
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + series.size() + 1));
}

SClientOptions verified() {
  SClientOptions o;
  o.ca_file = pki().ca.cert_file();
  return o;
}

TEST(TlsListener, SniPicksTheCertificateByItsNamesThenWildcardThenTheFirst) {
  ASSERT_TRUE(pki().a.ok() && pki().b.ok());
  DemoUpstream up = DemoUpstream::start("app");
  Weir weir = Weir::start(tls_config(up.address()));
  const uint16_t port = weir.port();
  struct Case {
    std::string sni;
    std::string cn;
  } cases[] = {{"a.test", "a.test"},           {"b.test", "b.test"},
               {"x.wild.test", "b.test"},      {"A.TEST", "a.test"},
               {"unknown.test", "a.test"},     {"b.test.", "b.test"},
               {"deep.x.wild.test", "a.test"}, {"", "a.test"}};
  for (const Case& c : cases) {
    SClientResult r = s_client(port, c.sni, verified());
    EXPECT_TRUE(r.handshake_ok) << c.sni << "\n" << r.dump();
    EXPECT_EQ(r.peer_cn, c.cn) << "SNI " << c.sni;
  }
  // curl verifies the name it asked for: a.test and b.test both verify, over TLS 1.3 and 1.2.
  CurlOptions o;
  o.ca_file = pki().ca.cert_file();
  for (const char* host : {"a.test", "b.test", "api.wild.test"}) {
    CurlResult r = curl_https(port, host, "/", o);
    EXPECT_EQ(r.status, 200) << host << "\n" << r.dump();
  }
  o.version = TlsVersion::tls1_2;
  CurlResult r12 = curl_https(port, "b.test", "/", o);
  EXPECT_EQ(r12.status, 200) << r12.dump();
  EXPECT_EQ(r12.protocol, "TLSv1.2");
  EXPECT_EQ(r12.alpn, "http/1.1");
}

TEST(TlsListener, TlsVersionsBelow12AreRefusedAndCountedAsFailedHandshakes) {
  DemoUpstream up = DemoUpstream::start("app");
  Weir weir = Weir::start(tls_config(up.address()));
  for (TlsVersion v : {TlsVersion::tls1, TlsVersion::tls1_1}) {
    SClientOptions o = verified();
    o.version = v;
    SClientResult r = s_client(weir.port(), "a.test", o);
    EXPECT_FALSE(r.handshake_ok) << r.dump();
  }
  for (TlsVersion v : {TlsVersion::tls1_2, TlsVersion::tls1_3}) {
    SClientOptions o = verified();
    o.version = v;
    EXPECT_TRUE(s_client(weir.port(), "a.test", o).accepted());
  }
  const std::string m = metrics(weir);
  EXPECT_GE(sample(m, "weir_tls_handshakes_total{listener=\"public\",result=\"failed\"}"), 2) << m;
  EXPECT_GE(sample(m, "weir_tls_handshakes_total{listener=\"public\",result=\"full\"}"), 2) << m;
}

TEST(TlsListener, MinVersionTls13RefusesTls12) {
  DemoUpstream up = DemoUpstream::start("app");
  Weir weir = Weir::start(tls_config(up.address(), "      min_version: TLSv1.3\n"));
  SClientOptions o = verified();
  o.version = TlsVersion::tls1_2;
  EXPECT_FALSE(s_client(weir.port(), "a.test", o).handshake_ok);
  o.version = TlsVersion::tls1_3;
  EXPECT_TRUE(s_client(weir.port(), "a.test", o).accepted());
}

TEST(TlsListener, SessionsResumeWithATicketOrTheCacheAndTheRatioSaysSo) {
  DemoUpstream up = DemoUpstream::start("app");
  Weir weir = Weir::start(tls_config(up.address()));
  for (TlsVersion v : {TlsVersion::tls1_3, TlsVersion::tls1_2}) {
    SClientOptions o = verified();
    o.version = v;
    o.sess_out = temp_path("session", ".pem");
    SClientResult first = s_client(weir.port(), "a.test", o);
    ASSERT_TRUE(first.accepted()) << first.dump();
    EXPECT_FALSE(first.reused);
    o.sess_in = o.sess_out;
    o.sess_out.clear();
    SClientResult second = s_client(weir.port(), "a.test", o);
    EXPECT_TRUE(second.accepted()) << second.dump();
    EXPECT_TRUE(second.reused) << "protocol " << second.protocol << "\n" << second.dump();
  }
  const std::string m = metrics(weir);
  EXPECT_GE(sample(m, "weir_tls_handshakes_total{listener=\"public\",result=\"resumed\"}"), 2) << m;
  EXPECT_GT(sample(m, "weir_tls_resumption_ratio{listener=\"public\"}"), 0) << m;
}

TEST(TlsListener, TicketsIssuedBeforeAnUpgradeResumeOnTheNewProcess) {
  DemoUpstream up = DemoUpstream::start("app");
  const std::string socket = temp_path("control", ".sock");
  Weir first = Weir::start(tls_config(up.address(), "", "control: { socket: " + socket + " }\n"));
  const uint16_t port = first.port();
  UpgradeChain chain(std::move(first), socket);
  SClientOptions o = verified();
  o.version = TlsVersion::tls1_3;
  o.sess_out = temp_path("session", ".pem");
  SClientResult before = s_client(port, "a.test", o);
  ASSERT_TRUE(before.accepted()) << before.dump();
  auto reply = chain.upgrade();
  ASSERT_TRUE(reply.ok()) << reply.raw;
  // The new process has the old one's ticket keys: the client's ticket resumes there.
  o.sess_in = o.sess_out;
  o.sess_out.clear();
  SClientResult after = s_client(port, "a.test", o);
  EXPECT_TRUE(after.accepted()) << after.dump();
  EXPECT_TRUE(after.reused) << after.dump();
}

TEST(TlsListener, NoResumptionWhenSwitchedOff) {
  DemoUpstream up = DemoUpstream::start("app");
  Weir weir = Weir::start(tls_config(up.address(), "      session_resumption: false\n"));
  // TLS 1.3: no ticket is sent at all.
  SClientResult t13 = s_client(weir.port(), "a.test", verified());
  EXPECT_TRUE(t13.accepted()) << t13.dump();
  EXPECT_FALSE(t13.session_ticket) << t13.dump();
  // TLS 1.2: no session id to keep, or one that does not resume.
  SClientOptions o = verified();
  o.version = TlsVersion::tls1_2;
  o.sess_out = temp_path("session", ".pem");
  ASSERT_TRUE(s_client(weir.port(), "a.test", o).accepted());
  if (read_file(o.sess_out).empty()) return; // nothing given that could resume
  o.sess_in = o.sess_out;
  o.sess_out.clear();
  SClientResult again = s_client(weir.port(), "a.test", o);
  EXPECT_TRUE(again.accepted()) << again.dump();
  EXPECT_FALSE(again.reused);
}

TEST(TlsListener, ClientCertificatesAreRequiredAndCheckedWhenClientCaIsSet) {
  TestCa clients = TestCa::make("weir clients CA");
  TestCa strangers = TestCa::make("some other CA");
  CertKey good = clients.client("alice");
  CertKey bad = strangers.client("mallory");
  ASSERT_TRUE(good.ok() && bad.ok());
  DemoUpstream up = DemoUpstream::start("app");
  Weir weir =
      Weir::start(tls_config(up.address(), "      client_ca: " + clients.cert_file() + "\n"));
  const std::string request = "GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n";
  for (TlsVersion v : {TlsVersion::tls1_3, TlsVersion::tls1_2}) {
    SClientOptions o = verified();
    o.version = v;
    o.request = request;
    SClientResult none = s_client(weir.port(), "a.test", o);
    EXPECT_FALSE(none.accepted()) << none.dump();
    EXPECT_FALSE(contains(none.response, "200")) << none.dump();
    o.cert_file = bad.cert_file;
    o.key_file = bad.key_file;
    SClientResult stranger = s_client(weir.port(), "a.test", o);
    EXPECT_FALSE(stranger.accepted()) << stranger.dump();
    EXPECT_FALSE(contains(stranger.response, "200")) << stranger.dump();
    o.cert_file = good.cert_file;
    o.key_file = good.key_file;
    SClientResult ok = s_client(weir.port(), "a.test", o);
    EXPECT_TRUE(ok.accepted()) << ok.dump();
    EXPECT_TRUE(contains(ok.response, "HTTP/1.1 200")) << ok.dump();
  }
  CurlOptions c;
  c.ca_file = pki().ca.cert_file();
  EXPECT_NE(curl_https(weir.port(), "a.test", "/", c).status, 200);
  c.cert_file = good.cert_file;
  c.key_file = good.key_file;
  EXPECT_EQ(curl_https(weir.port(), "a.test", "/", c).status, 200);
}

TEST(TlsListener, ASessionFromBeforeAReloadThatAddedClientCaDoesNotSkipTheCertificateCheck) {
  TestCa clients = TestCa::make("late clients CA");
  ASSERT_TRUE(clients.ok());
  DemoUpstream up = DemoUpstream::start("app");
  Weir weir = Weir::start(tls_config(up.address()));
  SClientOptions o = verified();
  o.sess_out = temp_path("session", ".pem");
  ASSERT_TRUE(s_client(weir.port(), "a.test", o).accepted());
  // The same listener now requires client certificates.
  ASSERT_TRUE(
      write_file(weir.config_path,
                 tls_config(up.address(), "      client_ca: " + clients.cert_file() + "\n")));
  weir.proc->signal(SIGHUP);
  ASSERT_TRUE(wait_until([&] { return contains(weir.proc->output(), "config reloaded"); }, 5s))
      << weir.proc->output();
  o.sess_in = o.sess_out;
  o.sess_out.clear();
  o.request = "GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n";
  SClientResult r = s_client(weir.port(), "a.test", o);
  EXPECT_FALSE(r.reused) << r.dump();
  EXPECT_FALSE(contains(r.response, "200")) << r.dump();
}

int connect_raw(uint16_t port); // below

// A TCP relay: what a client's bytes go through, held until release() — so a connection can be
// accepted by weir before a reload and make its handshake after it.
class HeldRelay {
public:
  explicit HeldRelay(uint16_t target) : target_(target) { listen_ = listen_loopback(port_, 4); }
  ~HeldRelay() {
    if (thread_.joinable()) thread_.join();
    ::close(listen_);
  }
  uint16_t port() const { return port_; }
  // Accepts the client and connects to the target now (weir accepts); copies nothing yet.
  bool connect_both() {
    client_ = ::accept(listen_, nullptr, nullptr);
    upstream_ = connect_raw(target_);
    return client_ >= 0 && upstream_ >= 0;
  }
  // Copies both ways until either side ends.
  void release() {
    thread_ = std::thread([this] {
      pollfd p[2] = {{client_, POLLIN, 0}, {upstream_, POLLIN, 0}};
      char buf[16384];
      for (;;) {
        if (::poll(p, 2, 10000) <= 0) break;
        bool done = false;
        for (int i = 0; i < 2; ++i) {
          if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
          ssize_t n = ::read(p[i].fd, buf, sizeof buf);
          if (n <= 0 || ::write(p[1 - i].fd, buf, static_cast<size_t>(n)) != n) done = true;
        }
        if (done) break;
      }
      ::close(client_);
      ::close(upstream_);
    });
  }

private:
  uint16_t target_;
  uint16_t port_ = 0;
  int listen_ = -1;
  int client_ = -1;
  int upstream_ = -1;
  std::thread thread_;
};

TEST(TlsListener, AHandshakeThatStartsAfterAReloadDroppedItsListenersContextCompletes) {
  DemoUpstream up = DemoUpstream::start("app");
  Weir weir = Weir::start(tls_config(up.address()));
  HeldRelay relay(weir.port());
  SClientResult r;
  std::thread client([&] {
    SClientOptions o = verified();
    o.request = "GET / HTTP/1.1\r\nHost: b.test\r\nConnection: close\r\n\r\n";
    r = s_client(relay.port(), "b.test", o);
  });
  ASSERT_TRUE(relay.connect_both());
  // Two reloads: the contexts the connection's SSL was made from are freed twice over.
  for (int i = 0; i < 2; ++i) {
    const size_t before = weir.proc->output().size();
    weir.proc->signal(SIGHUP);
    ASSERT_TRUE(wait_until(
        [&] { return weir.proc->output().find("config reloaded", before) != std::string::npos; },
        5s));
  }
  relay.release();
  client.join();
  EXPECT_TRUE(r.accepted()) << r.dump();
  EXPECT_EQ(r.peer_cn, "b.test"); // SNI still picks by the names it was built with
  EXPECT_TRUE(contains(r.response, "HTTP/1.1 200")) << r.dump();
}

TEST(TlsListener, APlaintextListenerRedirectsEveryRequestToHttps) {
  DemoUpstream up = DemoUpstream::start("app");
  Weir weir = Weir::start(tls_config(up.address(), "", ""));
  const uint16_t https = weir.port();
  Weir plain = Weir::start("workers: 1\nlisteners:\n"
                           "  - { name: plain, address: 127.0.0.1:0, redirect_to_https: " +
                           std::to_string(https) +
                           " }\n"
                           "services:\n  - { namespace: a, name: app, endpoints: [" +
                           up.address() +
                           "] }\n"
                           "routes:\n  - { name: r, listener: plain, backends: [{ service: "
                           "a/app }] }\n");
  HttpResponse r = http_request(plain.port("plain"), "GET", "/path?q=1", {{"Host", "a.test:80"}});
  EXPECT_EQ(r.status, 308);
  EXPECT_EQ(r.header("location"), "https://a.test:" + std::to_string(https) + "/path?q=1");
  HttpResponse post = http_request(plain.port("plain"), "POST", "/form", {{"Host", "a.test"}}, "x");
  EXPECT_EQ(post.status, 308);
  // Following it lands on the TLS listener.
  CurlOptions o;
  o.ca_file = pki().ca.cert_file();
  o.extra_args = {"-L", "--resolve",
                  "a.test:" + std::to_string(plain.port("plain")) + ":127.0.0.1"};
  CurlResult followed = curl_https(https, "a.test", "/", o);
  EXPECT_EQ(followed.status, 200) << followed.dump();
}

TEST(TlsListener, ForwardedProtoIsHttpsAndTheAccessLogHasSniAndVersion) {
  DemoUpstream up = DemoUpstream::start("app");
  const std::string log_path = temp_path("access", ".log");
  Weir weir = Weir::start(tls_config(up.address(), "", "access_log: { path: " + log_path + " }\n"));
  CurlOptions o;
  o.ca_file = pki().ca.cert_file();
  CurlResult r = curl_https(weir.port(), "b.test", "/echo-headers", o);
  ASSERT_EQ(r.status, 200) << r.dump();
  EXPECT_TRUE(contains(r.body, "X-Forwarded-Proto: https")) << r.body;
  EXPECT_TRUE(wait_until(
      [&] {
        std::string log = read_file(log_path);
        return contains(log, "\"tls_version\":\"TLSv1.3\"") && contains(log, "\"sni\":\"b.test\"");
      },
      5s))
      << read_file(log_path);
}

// A raw TCP connection to the listener.
int connect_raw(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// True once the peer ends the connection (read returns 0 or an error) within `timeout`.
bool closed_by_peer(int fd, std::chrono::milliseconds timeout) {
  timeval tv{static_cast<time_t>(timeout.count() / 1000),
             static_cast<suseconds_t>(timeout.count() % 1000 * 1000)};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n == 0) return true;
    if (n < 0) return errno != EAGAIN && errno != EWOULDBLOCK;
  }
}

TEST(TlsListener, ABadClientHelloOrAStalledHandshakeHarmsNoOtherClient) {
  DemoUpstream up = DemoUpstream::start("app");
  Weir weir = Weir::start(tls_config(
      up.address(), "", "limits: { tls_handshake_timeout: 1s, client_header_timeout: 30s }\n"));
  // Plain HTTP to a TLS port, and bytes that are no TLS record at all: refused at once.
  int http = connect_raw(weir.port());
  ASSERT_GE(http, 0);
  const std::string get = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
  ASSERT_EQ(::write(http, get.data(), get.size()), static_cast<ssize_t>(get.size()));
  EXPECT_TRUE(closed_by_peer(http, 3s));
  ::close(http);
  // A record header announcing a ClientHello whose body never comes: a stalled handshake.
  int stalled = connect_raw(weir.port());
  ASSERT_GE(stalled, 0);
  const unsigned char partial[] = {0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03};
  ASSERT_EQ(::write(stalled, partial, sizeof partial), static_cast<ssize_t>(sizeof partial));
  // Meanwhile others are served.
  CurlOptions o;
  o.ca_file = pki().ca.cert_file();
  for (int i = 0; i < 5; ++i)
    EXPECT_EQ(curl_https(weir.port(), "a.test", "/", o).status, 200);
  // The stalled one is closed once tls_handshake_timeout is up, and counted.
  EXPECT_TRUE(closed_by_peer(stalled, 5s));
  ::close(stalled);
  EXPECT_TRUE(wait_until(
      [&] {
        return sample(metrics(weir),
                      "weir_tls_handshakes_total{listener=\"public\",result=\"timeout\"}") >= 1;
      },
      5s))
      << metrics(weir);
  EXPECT_GE(
      sample(metrics(weir), "weir_tls_handshakes_total{listener=\"public\",result=\"failed\"}"), 1);
  EXPECT_EQ(curl_https(weir.port(), "a.test", "/", o).status, 200);
}

TEST(TlsListener, SslscanFindsNoProtocolBelowTls12AndNoWeakCipher) {
  DemoUpstream up = DemoUpstream::start("app");
  Weir weir = Weir::start(tls_config(up.address()));
  for (const char* name : {"a.test", "b.test"}) { // ECDSA and RSA
    SslScanResult s = sslscan(weir.port(), name);
    ASSERT_TRUE(s.connected) << s.dump();
    EXPECT_EQ(s.enabled_protocols(), (std::vector<std::string>{"TLSv1.2", "TLSv1.3"})) << s.dump();
    EXPECT_TRUE(s.weak_ciphers().empty()) << s.dump();
    EXPECT_FALSE(s.ciphers.empty()) << s.dump();
  }
}

} // namespace
} // namespace weir::test
