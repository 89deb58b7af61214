// TlsTransport over both socket transports (epoll and io_uring) and real loopback sockets, one
// TlsTransport as the server and one as the client: the handshake inside the server's first wait
// and the client's connect, bytes both ways (a body larger than many records), write_last's
// close_notify and end of stream, a certificate that does not verify, and a peer gone before its
// ClientHello.
#include "../tls/test_certs.h"
#include "loopback.h"
#include "run_loop.h"
#include "weir/net/ring.h"
#include "weir/net/tls_transport.h"
#include "weir/tls/client_context.h"
#include "weir/tls/server_context.h"
#include "weir/tls/ticket_keys.h"

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <memory>
#include <openssl/ssl.h>
#include <string>
#include <thread>

namespace weir::net {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

struct TlsRecorder : Recorder {
  void on_transport_handshake(const error_code& ec) override { note("handshake", ec); }
};

class TlsTransportTest : public testing::TestWithParam<bool> {
protected:
  void SetUp() override {
    if (GetParam()) {
      std::string why;
      if (!Ring::available(&why)) GTEST_SKIP() << "io_uring not available here: " << why;
      ring_ = std::make_unique<Ring>(io_, Ring::Options{});
      ring_->enable();
    }
    auto [cert, key] = certs_.server("server", "DNS:app.test");
    config::ListenerTls tls;
    tls.certificates = {{cert, key}};
    std::string error;
    server_ctx_ = tls::ServerContext::build("public", tls, std::make_shared<tls::TicketKeys>(),
                                            std::time(nullptr), &error);
    ASSERT_TRUE(server_ctx_) << error;
  }
  void TearDown() override {
    // Released transports free themselves once their own socket operations are over.
    run_until([] { return false; }, 50ms);
  }
  std::shared_ptr<const tls::ClientContext> client_ctx(const std::string& ca) {
    config::UpstreamTls t;
    t.enabled = true;
    t.sni = "app.test";
    t.ca = ca;
    std::string error;
    auto ctx = tls::ClientContext::build(t, &error);
    EXPECT_TRUE(ctx) << error;
    return ctx;
  }
  bool run_until(const std::function<bool()>& done, std::chrono::milliseconds limit = 5s) {
    return net::run_until(io_, done, limit);
  }
  TlsTransport* make(TransportOwner& owner, SSL* ssl) {
    return new TlsTransport(poller_, ring_.get(), io_, &owner, alloc_, ssl);
  }
  // The server end: the listener's next connection, adopted non-blocking.
  TlsTransport* accept_server(TransportOwner& owner) {
    int fd = net_.accept();
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    TlsTransport* t = make(owner, server_ctx_->new_ssl());
    error_code ec;
    EXPECT_TRUE(t->adopt(fd, ec)) << ec.message();
    return t;
  }

  tls::Certs certs_;
  HandlerPool pool_;
  HandlerAllocator<void> alloc_{&pool_};
  asio::io_context io_;
  Poller poller_{io_};
  std::unique_ptr<Ring> ring_;
  Loopback net_;
  std::shared_ptr<const tls::ServerContext> server_ctx_;
};

TEST_P(TlsTransportTest, HandshakeThenBytesBothWaysThenCloseNotifyAndTheEnd) {
  TlsRecorder client_owner, server_owner;
  TlsTransport* client = make(client_owner, client_ctx(certs_.ca())->new_ssl("127.0.0.1"));
  client->connect(net_.endpoint());
  TlsTransport* server = accept_server(server_owner);
  server->wait_readable();
  ASSERT_TRUE(run_until([&] { return !client_owner.calls.empty(); }));
  EXPECT_EQ(client_owner.calls, std::vector<std::string>{"connected"});
  EXPECT_EQ(client->version(), "TLSv1.3");

  std::vector<asio::const_buffer> hello{asio::buffer("GET / HTTP/1.1\r\n", 16),
                                        asio::buffer("\r\n", 2)};
  client->write(BufferView(hello));
  ASSERT_TRUE(run_until([&] { return server_owner.calls.size() == 2; }));
  EXPECT_EQ(server_owner.calls, (std::vector<std::string>{"handshake", "readable"}));
  EXPECT_EQ(server->server_name(), "app.test");
  EXPECT_FALSE(server->resumed());
  char in[65536];
  error_code ec;
  size_t n = server->read_now(asio::buffer(in), ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(std::string(in, n), "GET / HTTP/1.1\r\n\r\n");
  EXPECT_TRUE(server->quiet()); // nothing more from the client

  // 300000 bytes: about nineteen records, more than one socket write.
  std::string body(300000, 'x');
  for (size_t i = 0; i < body.size(); ++i)
    body[i] = static_cast<char>('a' + i % 26);
  std::vector<asio::const_buffer> big{asio::buffer(body)};
  server->write(BufferView(big));
  std::string got;
  client_owner.calls.clear();
  client->read(asio::buffer(in));
  ASSERT_TRUE(run_until([&] {
    for (const std::string& c : client_owner.calls)
      if (c.starts_with("read ")) {
        got.append(in, std::stoul(c.substr(5)));
        if (got.size() < body.size()) client->read(asio::buffer(in));
      }
    client_owner.calls.erase(
        std::remove_if(client_owner.calls.begin(), client_owner.calls.end(),
                       [](const std::string& c) { return c.starts_with("read "); }),
        client_owner.calls.end());
    return got.size() >= body.size();
  }));
  EXPECT_EQ(got, body);
  ASSERT_TRUE(run_until([&] { return server_owner.calls.size() == 3; }));
  EXPECT_EQ(server_owner.calls.back(), "written 300000");

  // The last response: its bytes, the close_notify and the end of the stream.
  std::vector<asio::const_buffer> bye{asio::buffer("bye", 3)};
  server->write_last(BufferView(bye));
  client_owner.calls.clear();
  client->read(asio::buffer(in));
  ASSERT_TRUE(run_until([&] { return !client_owner.calls.empty(); }));
  EXPECT_EQ(client_owner.calls.front(), "read 3");
  client->read(asio::buffer(in));
  ASSERT_TRUE(run_until([&] { return client_owner.calls.size() >= 2; }));
  EXPECT_EQ(client_owner.calls[1], "read 0"); // close_notify: a clean end
  server->release();
  client->release();
}

TEST_P(TlsTransportTest, ACertificateThatDoesNotVerifyFailsTheConnectWithTheReason) {
  tls::Certs strangers;
  TlsRecorder client_owner, server_owner;
  TlsTransport* client = make(client_owner, client_ctx(strangers.ca())->new_ssl("127.0.0.1"));
  client->connect(net_.endpoint());
  TlsTransport* server = accept_server(server_owner);
  server->wait_readable();
  ASSERT_TRUE(run_until([&] { return !client_owner.calls.empty(); }));
  ASSERT_EQ(client_owner.calls.size(), 1u);
  EXPECT_EQ(client_owner.calls[0], "connected TLS certificate rejected");
  EXPECT_EQ(client->failure(), "unable to get local issuer certificate");
  // The server hears of the alert: a failed handshake, and its wait ends with it.
  ASSERT_TRUE(run_until([&] { return server_owner.calls.size() == 2; }));
  EXPECT_TRUE(server_owner.calls[0].starts_with("handshake TLS")) << server_owner.calls[0];
  EXPECT_TRUE(server_owner.calls[1].starts_with("readable TLS")) << server_owner.calls[1];
  client->release();
  server->release();
}

TEST_P(TlsTransportTest, APeerGoneBeforeItsClientHelloMadeNoHandshake) {
  auto [client_fd, server_fd] = net_.pair();
  TlsRecorder owner;
  TlsTransport* server = make(owner, server_ctx_->new_ssl());
  error_code ec;
  ASSERT_TRUE(server->adopt(server_fd, ec));
  server->wait_readable();
  ::close(client_fd);
  ASSERT_TRUE(run_until([&] { return !owner.calls.empty(); }));
  EXPECT_EQ(owner.calls, std::vector<std::string>{"readable End of file"});
  server->release();
}

TEST_P(TlsTransportTest, ClosingWithOperationsPendingAbortsThemAndReleaseFreesLater) {
  TlsRecorder client_owner, server_owner;
  TlsTransport* client = make(client_owner, client_ctx(certs_.ca())->new_ssl("127.0.0.1"));
  client->connect(net_.endpoint());
  TlsTransport* server = accept_server(server_owner);
  server->wait_readable();
  ASSERT_TRUE(run_until([&] { return !client_owner.calls.empty(); }));
  char in[16];
  client->read(asio::buffer(in));
  client->close();
  ASSERT_TRUE(run_until([&] { return client_owner.calls.size() == 2; }));
  EXPECT_EQ(client_owner.calls[1], "read 0 Operation canceled");
  client->release();
  server->release();
}

TEST_P(TlsTransportTest, APeersCloseNotifyIsAnsweredWithOurs) {
  // A plain blocking OpenSSL client on its own thread: it sends its close_notify and reads
  // whether weir's came back (RFC 8446 6.1), not just the end of the stream.
  auto ctx = client_ctx(certs_.ca());
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  auto ep = net_.endpoint();
  ASSERT_EQ(::connect(fd, ep.data(), static_cast<socklen_t>(ep.size())), 0);
  TlsRecorder owner;
  TlsTransport* server = accept_server(owner);
  server->wait_readable();
  bool answered = false;
  std::thread client([&] {
    SSL* ssl = ctx->new_ssl("127.0.0.1");
    SSL_set_fd(ssl, fd);
    if (SSL_connect(ssl) == 1) {
      SSL_shutdown(ssl);
      char byte;
      const int n = SSL_read(ssl, &byte, 1);
      answered = n == 0 && (SSL_get_shutdown(ssl) & SSL_RECEIVED_SHUTDOWN) != 0;
    }
    SSL_free(ssl);
  });
  // The server's wait ends with the client's close_notify; reading it says "the end".
  ASSERT_TRUE(run_until([&] { return owner.calls.size() == 2; }));
  EXPECT_EQ(owner.calls, (std::vector<std::string>{"handshake", "readable"}));
  char in[16];
  error_code ec;
  EXPECT_EQ(server->read_now(asio::buffer(in), ec), 0u);
  EXPECT_FALSE(ec) << ec.message();
  server->close();
  client.join();
  EXPECT_TRUE(answered);
  ::close(fd);
  server->release();
}

INSTANTIATE_TEST_SUITE_P(Backends, TlsTransportTest, testing::Values(false, true),
                         [](const testing::TestParamInfo<bool>& p) {
                           return p.param ? "io_uring" : "epoll";
                         });

} // namespace
} // namespace weir::net
