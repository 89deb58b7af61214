// Certificates that change while weir serves: a reload (or the file watch, every
// tls_reload_interval) puts new files in force for new handshakes while established connections
// go on; a file that is unreadable, a key that does not match, an expired certificate are refused
// with the file and the reason, and the running certificates stay. Under https load the swap
// fails no request. Also what operators read: `weirctl show certs`, the expiry metric, and
// --check-config's positions.
#include "rollout_helpers.h"
#include "support/client.h"
#include "support/run.h"
#include "support/tls_peer.h"
#include "support/tls_pki.h"
#include "support/upstream.h"
#include "support/wait.h"
#include "support/weir.h"

#include <atomic>
#include <filesystem>
#include <gtest/gtest.h>
#include <regex>
#include <string>
#include <thread>

namespace weir::test {
namespace {

using rollout::contains;
using rollout::control;

// The served certificate lives at fixed paths that tests overwrite, as cert-manager does.
struct Served {
  std::string cert = temp_path("served", ".pem");
  std::string key = temp_path("served", ".key");
  bool put(const CertKey& c) {
    // Written beside, then renamed over: a reader never sees half a file.
    return write_file(cert + ".new", read_file(c.cert_file)) &&
           write_file(key + ".new", read_file(c.key_file)) &&
           std::rename((cert + ".new").c_str(), cert.c_str()) == 0 &&
           std::rename((key + ".new").c_str(), key.c_str()) == 0;
  }
};

std::string config(const Served& s, const std::string& upstream, const std::string& socket,
                   const std::string& extra = "") {
  return "workers: 2\n"
         "listeners:\n"
         "  - name: public\n"
         "    address: 127.0.0.1:0\n"
         "    tls:\n"
         "      certificates:\n"
         "        - { cert: " +
         s.cert + ", key: " + s.key +
         " }\n"
         "services:\n  - { namespace: a, name: app, endpoints: [" +
         upstream +
         "] }\n"
         "routes:\n  - { name: r, listener: public, backends: [{ service: a/app }] }\n"
         "control: { socket: " +
         socket +
         " }\n"
         "admin: { address: 127.0.0.1:0 }\n"
         "drain_timeout: 1s\n" +
         extra;
}

std::string served_cn(uint16_t port, const std::string& ca) {
  SClientOptions o;
  o.ca_file = ca;
  o.post_handshake_wait = std::chrono::milliseconds(0);
  return s_client(port, "a.test", o).peer_cn;
}

LeafSpec leaf(const std::string& cn) {
  LeafSpec s;
  s.common_name = cn;
  s.subject_alt_names = "DNS:a.test";
  return s;
}

TEST(TlsCertificates, AReloadServesTheNewCertificateAndRefusesBadFilesKeepingTheRunningOne) {
  TestCa ca = TestCa::make("rotation CA");
  CertKey v1 = ca.server(leaf("a.test v1"));
  CertKey v2 = ca.server(leaf("a.test v2"));
  LeafSpec old_spec = leaf("a.test expired");
  old_spec.expired = true;
  CertKey expired = ca.server(old_spec);
  ASSERT_TRUE(v1.ok() && v2.ok() && expired.ok());
  Served served;
  ASSERT_TRUE(served.put(v1));
  DemoUpstream up = DemoUpstream::start("app");
  const std::string socket = temp_path("control", ".sock");
  Weir weir = Weir::start(config(served, up.address(), socket, "tls_reload_interval: 0s\n"));
  ASSERT_EQ(served_cn(weir.port(), ca.cert_file()), "a.test v1");

  ASSERT_TRUE(served.put(v2));
  auto reload = control(socket, "reload");
  ASSERT_TRUE(reload.ok()) << reload.raw;
  EXPECT_TRUE(contains(reload.raw, "certificates")) << reload.raw;
  EXPECT_EQ(served_cn(weir.port(), ca.cert_file()), "a.test v2");

  // A key that is not the certificate's: refused, with the file and the reason.
  ASSERT_TRUE(write_file(served.key, read_file(v1.key_file)));
  reload = control(socket, "reload");
  EXPECT_FALSE(reload.ok());
  EXPECT_TRUE(contains(reload.error(), served.key)) << reload.raw;
  EXPECT_TRUE(contains(reload.error(), "does not match")) << reload.raw;
  EXPECT_EQ(served_cn(weir.port(), ca.cert_file()), "a.test v2");

  // An expired certificate.
  ASSERT_TRUE(served.put(expired));
  reload = control(socket, "reload");
  EXPECT_FALSE(reload.ok());
  EXPECT_TRUE(contains(reload.error(), served.cert)) << reload.raw;
  EXPECT_TRUE(contains(reload.error(), "expired")) << reload.raw;
  EXPECT_EQ(served_cn(weir.port(), ca.cert_file()), "a.test v2");

  // An unreadable file.
  std::filesystem::remove(served.cert);
  reload = control(socket, "reload");
  EXPECT_FALSE(reload.ok());
  EXPECT_TRUE(contains(reload.error(), served.cert)) << reload.raw;
  EXPECT_TRUE(contains(reload.error(), "cannot read")) << reload.raw;
  EXPECT_EQ(served_cn(weir.port(), ca.cert_file()), "a.test v2");

  // Put right, it takes again.
  ASSERT_TRUE(served.put(v1));
  EXPECT_TRUE(control(socket, "reload").ok());
  EXPECT_EQ(served_cn(weir.port(), ca.cert_file()), "a.test v1");
}

TEST(TlsCertificates, ChangedFilesAreNoticedWithoutAReloadAndBadOnesAreLoggedAndSkipped) {
  TestCa ca = TestCa::make("watch CA");
  CertKey v1 = ca.server(leaf("a.test v1"));
  CertKey v2 = ca.server(leaf("a.test v2"));
  ASSERT_TRUE(v1.ok() && v2.ok());
  Served served;
  ASSERT_TRUE(served.put(v1));
  DemoUpstream up = DemoUpstream::start("app");
  const std::string socket = temp_path("control", ".sock");
  Weir weir = Weir::start(config(served, up.address(), socket, "tls_reload_interval: 200ms\n"));
  ASSERT_EQ(served_cn(weir.port(), ca.cert_file()), "a.test v1");
  // A mismatched pair first: logged, the running certificate stays.
  ASSERT_TRUE(write_file(served.key, read_file(v2.key_file)));
  EXPECT_TRUE(wait_until([&] { return contains(weir.proc->output(), "does not match"); }, 5s))
      << weir.proc->output();
  EXPECT_EQ(served_cn(weir.port(), ca.cert_file()), "a.test v1");
  // Then the whole new pair.
  ASSERT_TRUE(served.put(v2));
  EXPECT_TRUE(
      wait_until([&] { return served_cn(weir.port(), ca.cert_file()) == "a.test v2"; }, 5s));
  EXPECT_TRUE(contains(weir.proc->output(), "TLS certificates reloaded")) << weir.proc->output();
}

TEST(TlsCertificates, ShowCertsAndTheExpiryMetricNameEachCertificate) {
  TestCa ca = TestCa::make("listing CA");
  CertKey c = ca.server("DNS:a.test,DNS:*.a.test");
  ASSERT_TRUE(c.ok());
  Served served;
  ASSERT_TRUE(served.put(c));
  DemoUpstream up = DemoUpstream::start("app");
  const std::string socket = temp_path("control", ".sock");
  Weir weir = Weir::start(config(served, up.address(), socket));
  RunOptions opt;
  opt.unset.push_back("WEIR_SOCKET");
  RunResult shown = run_command({WEIRCTL_BIN, "--socket", socket, "show", "certs"}, opt);
  ASSERT_EQ(shown.code, 0) << shown.err;
  EXPECT_TRUE(contains(shown.out, "LISTENER")) << shown.out;
  EXPECT_TRUE(contains(shown.out, "a.test,*.a.test")) << shown.out;
  EXPECT_TRUE(contains(shown.out, "CN=listing CA")) << shown.out;
  // Valid for two days from about now: one or two whole days left.
  EXPECT_TRUE(std::regex_search(shown.out, std::regex(" [12]\\s*\\n"))) << shown.out;
  auto json = control(socket, "show certs");
  ASSERT_TRUE(json.ok()) << json.raw;
  EXPECT_EQ(json.value["certificates"].as_array().size(), 1u) << json.raw;
  const std::string m = http_request(weir.admin_port(), "GET", "/metrics").body;
  std::smatch at;
  ASSERT_TRUE(std::regex_search(
      m, at,
      std::regex("weir_tls_certificate_expiry_seconds\\{listener=\"public\",name=\"a.test\"\\} "
                 "([0-9]+)")))
      << m;
  const int64_t left = std::stoll(at[1]) - static_cast<int64_t>(std::time(nullptr));
  EXPECT_GT(left, 86400);
  EXPECT_LE(left, 2 * 86400);
}

TEST(TlsCertificates, CheckConfigReportsEachBadFileAtItsPosition) {
  TestCa ca = TestCa::make("check CA");
  CertKey good = ca.server("DNS:a.test");
  CertKey other = ca.server("DNS:b.test");
  LeafSpec old_spec = leaf("old");
  old_spec.expired = true;
  CertKey expired = ca.server(old_spec);
  ASSERT_TRUE(good.ok() && other.ok() && expired.ok());
  const std::string missing = temp_path("missing", ".pem");
  const std::string path = temp_path("weir", ".yaml");
  ASSERT_TRUE(write_file(path, "listeners:\n"
                               "  - name: public\n"
                               "    address: 127.0.0.1:0\n"
                               "    tls:\n"
                               "      certificates:\n"
                               "        - { cert: " +
                                   good.cert_file + ", key: " + other.key_file +
                                   " }\n"
                                   "        - { cert: " +
                                   expired.cert_file + ", key: " + expired.key_file +
                                   " }\n"
                                   "        - { cert: " +
                                   missing + ", key: " + good.key_file +
                                   " }\n"
                                   "      min_version: TLSv1.1\n"
                                   "services:\n  - { namespace: a, name: app, endpoints: "
                                   "[127.0.0.1:1] }\n"
                                   "routes:\n  - { name: r, listener: public, backends: [{ "
                                   "service: a/app }] }\n"));
  RunResult r = run_command({WEIR_BIN, "--check-config", path});
  EXPECT_NE(r.code, 0);
  const std::string out = r.out + r.err;
  EXPECT_TRUE(contains(out, path + ":6:")) << out;
  EXPECT_TRUE(contains(out, "listeners[0].tls.certificates[0].key: " + other.key_file +
                                ": the private key does not match"))
      << out;
  EXPECT_TRUE(contains(out, "listeners[0].tls.certificates[1].cert: " + expired.cert_file +
                                ": the certificate expired"))
      << out;
  EXPECT_TRUE(contains(out, "listeners[0].tls.certificates[2].cert: " + missing +
                                ": cannot read: No such file or directory"))
      << out;
  EXPECT_TRUE(contains(out, ":9:20: listeners[0].tls.min_version: expected \"TLSv1.2\" or "
                            "\"TLSv1.3\""))
      << out;
}

// wrk's summary: requests done and those that failed (socket errors and non-2xx/3xx).
struct WrkSummary {
  uint64_t requests = 0;
  uint64_t failed = 0;
  std::string text;
};

WrkSummary parse_wrk(const std::string& out) {
  WrkSummary s;
  s.text = out;
  std::smatch m;
  if (std::regex_search(out, m, std::regex("([0-9]+) requests in"))) s.requests = std::stoull(m[1]);
  if (std::regex_search(out, m,
                        std::regex("Socket errors: connect ([0-9]+), read ([0-9]+), write "
                                   "([0-9]+), timeout ([0-9]+)")))
    s.failed += std::stoull(m[1]) + std::stoull(m[2]) + std::stoull(m[3]) + std::stoull(m[4]);
  if (std::regex_search(out, m, std::regex("Non-2xx or 3xx responses: ([0-9]+)")))
    s.failed += std::stoull(m[1]);
  return s;
}

TEST(TlsCertificates, ACertificateSwappedUnderHttpsLoadFailsNoRequest) {
  if (!std::filesystem::exists("/usr/bin/wrk")) GTEST_SKIP() << "wrk not installed (./dev deps)";
  TestCa ca = TestCa::make("load CA");
  std::vector<CertKey> versions;
  for (int i = 1; i <= 3; ++i)
    versions.push_back(ca.server(leaf("a.test v" + std::to_string(i))));
  for (const auto& v : versions)
    ASSERT_TRUE(v.ok());
  Served served;
  ASSERT_TRUE(served.put(versions[0]));
  DemoUpstream up = DemoUpstream::start("app");
  const std::string socket = temp_path("control", ".sock");
  Weir weir = Weir::start(config(served, up.address(), socket, "tls_reload_interval: 0s\n"));
  const std::string url = "https://127.0.0.1:" + std::to_string(weir.port()) + "/";
  // Keep-alive load over established TLS connections...
  std::atomic<bool> done{false};
  RunResult wrk;
  std::thread load([&] {
    RunOptions opt;
    opt.timeout = 30s;
    wrk = run_command({"/usr/bin/wrk", "-t1", "-c8", "-d4s", url}, opt);
    done = true;
  });
  // ...and a loop of new connections, each a full handshake, each checked.
  uint64_t handshakes = 0, failures = 0;
  std::string last_failure;
  std::thread fresh([&] {
    CurlOptions o;
    o.ca_file = ca.cert_file();
    while (!done) {
      CurlResult r = curl_https(weir.port(), "a.test", "/", o);
      ++handshakes;
      if (r.status != 200) {
        ++failures;
        last_failure = r.dump();
      }
    }
  });
  // Swap twice while both run; after each reload, the next new handshake presents it.
  for (size_t i = 1; i < versions.size(); ++i) {
    std::this_thread::sleep_for(1s); // load time between swaps, not a synchronisation
    ASSERT_TRUE(served.put(versions[i]));
    auto reload = control(socket, "reload");
    EXPECT_TRUE(reload.ok()) << reload.raw;
    EXPECT_EQ(served_cn(weir.port(), ca.cert_file()), "a.test v" + std::to_string(i + 1));
  }
  load.join();
  fresh.join();
  WrkSummary s = parse_wrk(wrk.out);
  EXPECT_GT(s.requests, 100u) << s.text;
  EXPECT_EQ(s.failed, 0u) << s.text;
  EXPECT_GT(handshakes, 5u);
  EXPECT_EQ(failures, 0u) << last_failure;
}

} // namespace
} // namespace weir::test
