#pragma once

#include "weir/net/any_socket_transport.h"
#include "weir/net/socket_ops.h"

#include <boost/system/error_code.hpp>
#include <cstdint>
#include <memory>
#include <openssl/bio.h>
#include <openssl/types.h>
#include <string>
#include <string_view>
#include <vector>

namespace weir::net {

// Why a TLS connection failed (category "tls"); TlsTransport::failure() has OpenSSL's words.
enum class TlsError {
  handshake_failed = 1, // a bad ClientHello, no protocol or cipher in common, a closed socket...
  certificate_rejected, // the peer's certificate did not verify (or a required one was missing)
  protocol_error,       // a bad record after the handshake
};
const boost::system::error_category& tls_category();
inline boost::system::error_code make_error_code(TlsError e) {
  return {static_cast<int>(e), tls_category()};
}

// TLS over the worker's socket transport (epoll or io_uring), for a client connection (server
// role: the SSL comes from tls::ServerContext) or an upstream one (client role: from
// tls::ClientContext). The engine sees the same Transport as for plain TCP and reads and writes
// plaintext; the handshake happens inside the first read or wait (server) or inside connect()
// (client: connected means the handshake is done and the peer verified).
//
// OpenSSL reads ciphertext through a BIO that calls the socket transport's read_now straight
// into OpenSSL's buffer (no copy of weir's), and writes into an output buffer that one socket
// write sends per flush: a response's head and body become one record and one sendmsg. No
// operation blocks the worker: OpenSSL's "want read" becomes a readiness wait on the socket.
//
// Lifetime: unlike the plain transports, it is not a member of its owner. It may have socket
// operations of its own pending when the owner is done (a close_notify still going out), so the
// owner calls release() instead of destroying it, and it frees itself once they are over (never
// under a completion it is running, even one in which the owner released it). The owner hears
// of an operation's end from inside a socket completion, at once, as the socket transports tell
// theirs; one that ends inside the owner's own call is posted (never inside the call that
// started it). None comes after close() but the operation_aborted ones, nor any after
// release().
// Thread contract: the worker's thread only, as every Transport.
class TlsTransport final : public SocketTransport, private TransportOwner {
public:
  // Takes `ssl` (accept or connect state already set) and frees it.
  TlsTransport(Poller& poller, Ring* ring, boost::asio::io_context& io, TransportOwner* owner,
               HandlerAllocator<void> alloc, SSL* ssl);
  TlsTransport(const TlsTransport&) = delete;
  TlsTransport& operator=(const TlsTransport&) = delete;

  // Keeps `what` alive as long as this transport: what OpenSSL's callbacks point into (the
  // listener's tls::ServerContext, which a reload may drop while a handshake is under way).
  void keep_alive(std::shared_ptr<const void> what) { keep_alive_ = std::move(what); }
  // The owner is done with it (none of its operations pending): closes it if open; it frees
  // itself once its own socket operations are over.
  void release();

  void read(boost::asio::mutable_buffer buffer) override;
  size_t read_now(boost::asio::mutable_buffer buffer, boost::system::error_code& ec) override;
  void wait_readable() override;
  void write(BufferView buffers) override;
  void write_last(BufferView buffers) override;
  bool quiet() override;
  void connect(const boost::asio::ip::tcp::endpoint& endpoint) override;
  void shutdown_send() override;
  void reset_on_close() override { inner_->reset_on_close(); }
  void close() override;
  bool adopt(int fd, boost::system::error_code& ec) override { return inner_->adopt(fd, ec); }
  bool quiet_now() override;

  // What the handshake agreed, once it is done.
  bool handshake_done() const { return handshake_done_; }
  std::string_view server_name() const; // the SNI name the client sent ("" none)
  std::string_view version() const;     // "TLSv1.3", "TLSv1.2"
  bool resumed() const;
  // Some ciphertext came from the peer (a connection that sent nothing made no handshake).
  bool received_any() const { return got_input_; }
  // Why the handshake (or a later record) failed, in OpenSSL's words ("" none).
  const std::string& failure() const { return failure_; }

private:
  enum class OwnerRead : uint8_t { none, read, wait };

  ~TlsTransport();
  // The socket transport's completions.
  void on_transport_read(const boost::system::error_code&, size_t) override {}
  void on_transport_written(const boost::system::error_code& ec, size_t n) override;
  void on_transport_readable(const boost::system::error_code& ec) override;
  void on_transport_connected(const boost::system::error_code& ec) override;

  // Moves everything on after input arrived or an operation started: the handshake, then the
  // owner's read or wait, then a write that waited for the handshake.
  void drive();
  // False while the handshake waits for input or after it failed (the pending operations are
  // failed then).
  bool handshake();
  void handshake_failed(int ssl_error);
  void drive_read();
  void start_write(BufferView buffers, bool last);
  void encrypt_and_send(BufferView buffers, bool last);
  // Sends what OpenSSL wrote so far, unless a socket write is in flight (its completion does).
  void flush();
  // Sends our close_notify unless it went already (the peer sent its own, or weir closes): RFC
  // 8446 6.1 asks for one, and strict clients call a close without it a truncation.
  void say_goodbye();
  void want_input();
  // A read failed for good: the socket's error if it had one, else a TLS protocol error.
  boost::system::error_code read_failure();
  // Tells the owner: at once from a socket completion, posted from inside one of its calls.
  void tell(socket_ops::Done what, boost::system::error_code ec, size_t n = 0);
  void complete_read(boost::system::error_code ec, size_t n);
  void complete_write(boost::system::error_code ec);
  void maybe_free();

  // While a socket completion runs (the object is not freed under it, even if the owner releases
  // it from a callback), and while one of the owner's calls runs (completions are posted then).
  struct Callback {
    explicit Callback(TlsTransport& t) : t(t) { ++t.in_callback_; }
    ~Callback() {
      if (--t.in_callback_ == 0) t.maybe_free(); // the last thing: it may free t
    }
    TlsTransport& t;
  };
  struct OwnerCall {
    explicit OwnerCall(TlsTransport& t) : t(t) { ++t.owner_calls_; }
    ~OwnerCall() { --t.owner_calls_; }
    TlsTransport& t;
  };

  static BIO_METHOD* bio_method();
  static int bio_read(BIO* bio, char* data, int size);
  static int bio_write(BIO* bio, const char* data, int size);
  static long bio_ctrl(BIO* bio, int cmd, long num, void* ptr);

  AnySocketTransport inner_;
  boost::asio::io_context& io_;
  HandlerAllocator<void> alloc_;
  TransportOwner* owner_;
  SSL* ssl_;
  std::shared_ptr<const void> keep_alive_;
  std::vector<char> out_;     // ciphertext OpenSSL wrote, not yet handed to the socket
  std::vector<char> sending_; // ciphertext of the socket write in flight
  boost::asio::const_buffer sending_buffer_;
  boost::asio::mutable_buffer read_buffer_;
  BufferView write_waiting_{nullptr, 0}; // a write that came before the handshake ended
  size_t write_bytes_ = 0;
  boost::system::error_code input_error_; // the socket's read error, for OpenSSL's syscall error
  std::string failure_;
  int in_callback_ = 0;
  int owner_calls_ = 0;
  OwnerRead reading_ = OwnerRead::none;
  bool writing_ = false;       // the owner's write is pending
  bool write_waits_ = false;   // ...and waits for the handshake
  bool write_last_ = false;    // ...and is write_last
  bool connecting_ = false;    // the owner's connect is pending (TCP, then the handshake)
  bool inner_waiting_ = false; // a readiness wait of the socket's is pending
  bool inner_writing_ = false; // a socket write is pending
  bool inner_connecting_ = false;
  bool end_after_flush_ = false;      // the next socket write ends the stream (write_last)
  bool shutdown_after_flush_ = false; // shutdown_send once the close_notify went out
  bool handshake_done_ = false;
  bool failed_ = false;
  bool got_input_ = false; // some ciphertext came (a connection closed before it is no handshake)
  bool closed_ = false;
  bool released_ = false;
};

} // namespace weir::net
