#include "weir/net/tls_transport.h"

#include "weir/net/socket_ops.h"
#include "weir/tls/certificate.h"

#include <array>
#include <boost/asio/error.hpp>
#include <cstring>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

namespace weir::net {

using boost::system::error_code;
using socket_ops::Done;
namespace error = boost::asio::error;

namespace {

// The largest plaintext of one TLS record: small buffers of a gather write are joined up to it
// (one record, one encryption, instead of one per buffer).
constexpr size_t kRecordPlaintext = 16384;

class TlsCategory final : public boost::system::error_category {
public:
  const char* name() const noexcept override { return "tls"; }
  std::string message(int ev) const override {
    switch (static_cast<TlsError>(ev)) {
    case TlsError::handshake_failed:
      return "TLS handshake failed";
    case TlsError::certificate_rejected:
      return "TLS certificate rejected";
    case TlsError::protocol_error:
      return "TLS protocol error";
    }
    return "TLS error";
  }
};

} // namespace

const boost::system::error_category& tls_category() {
  static const TlsCategory category;
  return category;
}

TlsTransport::TlsTransport(Poller& poller, Ring* ring, boost::asio::io_context& io,
                           TransportOwner* owner, HandlerAllocator<void> alloc, SSL* ssl)
    : inner_(poller, ring, io, this, alloc), io_(io), alloc_(alloc), owner_(owner), ssl_(ssl) {
  if (!ssl_) {
    // OpenSSL was out of memory: a connection that fails, never one without TLS.
    failed_ = true;
    failure_ = "no memory for a TLS session";
    return;
  }
  BIO* bio = BIO_new(bio_method());
  if (!bio) {
    SSL_free(ssl_);
    ssl_ = nullptr;
    failed_ = true;
    failure_ = "no memory for a TLS session";
    return;
  }
  BIO_set_data(bio, this);
  BIO_set_init(bio, 1);
  SSL_set_bio(ssl_, bio, bio);
}

TlsTransport::~TlsTransport() {
  SSL_free(ssl_);
}

void TlsTransport::release() {
  owner_ = nullptr;
  if (!closed_) close();
  released_ = true;
  maybe_free();
}

void TlsTransport::maybe_free() {
  if (released_ && in_callback_ == 0 && !inner_waiting_ && !inner_writing_ && !inner_connecting_)
    delete this;
}

std::string_view TlsTransport::server_name() const {
  const char* name = SSL_get_servername(ssl_, TLSEXT_NAMETYPE_host_name);
  return name ? std::string_view(name) : std::string_view();
}

std::string_view TlsTransport::version() const {
  return SSL_get_version(ssl_);
}

bool TlsTransport::resumed() const {
  return SSL_session_reused(ssl_) == 1;
}

// --- the BIO: OpenSSL's ciphertext goes through the socket transport -------------------------

BIO_METHOD* TlsTransport::bio_method() {
  static BIO_METHOD* const method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "weir transport");
    BIO_meth_set_read(m, bio_read);
    BIO_meth_set_write(m, bio_write);
    BIO_meth_set_ctrl(m, bio_ctrl);
    return m;
  }();
  return method;
}

int TlsTransport::bio_read(BIO* bio, char* data, int size) {
  auto* self = static_cast<TlsTransport*>(BIO_get_data(bio));
  BIO_clear_retry_flags(bio);
  // A readiness wait of the socket's is pending: its bytes are its to report.
  if (self->inner_waiting_ || self->closed_) {
    BIO_set_retry_read(bio);
    return -1;
  }
  error_code ec;
  const size_t n = self->inner_->read_now(boost::asio::buffer(data, static_cast<size_t>(size)), ec);
  if (ec == error::would_block) {
    BIO_set_retry_read(bio);
    return -1;
  }
  if (ec) {
    self->input_error_ = ec;
    return -1;
  }
  if (n > 0) self->got_input_ = true;
  return static_cast<int>(n); // 0: the peer ended the stream
}

int TlsTransport::bio_write(BIO* bio, const char* data, int size) {
  auto* self = static_cast<TlsTransport*>(BIO_get_data(bio));
  BIO_clear_retry_flags(bio);
  // Ciphertext waits here only while a socket write is in flight: the owner's largest write
  // (limits.buffer_bytes, at most 1 MiB) and handshake messages. More is a peer that makes weir
  // answer (key updates) without reading: the connection fails instead of growing.
  constexpr size_t kMaxWaitingCiphertext = 4u << 20;
  if (self->out_.size() + static_cast<size_t>(size) > kMaxWaitingCiphertext) return -1;
  self->out_.insert(self->out_.end(), data, data + size);
  return size;
}

long TlsTransport::bio_ctrl(BIO*, int cmd, long, void*) {
  // Flushing is the transport's business (flush()); nothing else is asked of a source/sink BIO.
  return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

// --- the owner's operations ------------------------------------------------------------------

void TlsTransport::read(boost::asio::mutable_buffer buffer) {
  OwnerCall call(*this);
  reading_ = OwnerRead::read;
  read_buffer_ = buffer;
  if (!ssl_) return complete_read(error::no_memory, 0);
  drive();
}

void TlsTransport::wait_readable() {
  OwnerCall call(*this);
  reading_ = OwnerRead::wait;
  if (!ssl_) return complete_read(error::no_memory, 0);
  // A wait is how a connection idles: the ciphertext buffers a large response grew go back, so
  // an idle TLS connection holds no more than a plain one (small ones are kept, to be reused).
  constexpr size_t kKeptBuffer = 4096;
  if (!inner_writing_ && out_.empty()) {
    if (out_.capacity() > kKeptBuffer) std::vector<char>().swap(out_);
    if (sending_.capacity() > kKeptBuffer) std::vector<char>().swap(sending_);
  }
  drive();
}

size_t TlsTransport::read_now(boost::asio::mutable_buffer buffer, error_code& ec) {
  ec = {};
  if (closed_) {
    ec = error::operation_aborted;
    return 0;
  }
  if (!handshake_done_ || inner_waiting_) {
    ec = failed_ ? make_error_code(TlsError::handshake_failed) : error::would_block;
    return 0;
  }
  ERR_clear_error();
  const int n = SSL_read(ssl_, buffer.data(), static_cast<int>(buffer.size()));
  if (!out_.empty()) flush(); // a key update's answer
  if (n > 0) return static_cast<size_t>(n);
  switch (SSL_get_error(ssl_, n)) {
  case SSL_ERROR_WANT_READ:
    ec = error::would_block;
    return 0;
  case SSL_ERROR_ZERO_RETURN:
    return 0; // close_notify, or the end of the stream
  default:
    ec = read_failure();
    return 0;
  }
}

void TlsTransport::write(BufferView buffers) {
  start_write(buffers, false);
}

void TlsTransport::write_last(BufferView buffers) {
  start_write(buffers, true);
}

void TlsTransport::start_write(BufferView buffers, bool last) {
  OwnerCall call(*this);
  writing_ = true;
  write_last_ = last;
  write_bytes_ = 0;
  for (const auto& b : buffers)
    write_bytes_ += b.size();
  if (failed_ || closed_) {
    complete_write(closed_ ? error::operation_aborted : make_error_code(TlsError::protocol_error));
    return;
  }
  if (!handshake_done_) {
    write_waiting_ = buffers;
    write_waits_ = true;
    drive();
    return;
  }
  encrypt_and_send(buffers, last);
}

void TlsTransport::encrypt_and_send(BufferView buffers, bool last) {
  static thread_local std::array<char, kRecordPlaintext> stage;
  size_t staged = 0;
  bool ok = true;
  auto seal = [&](const char* data, size_t size) {
    if (!ok) return; // keep the failed write's errors for failure_
    ERR_clear_error();
    // Our BIO takes every byte, so a write either goes whole or fails for good.
    if (SSL_write(ssl_, data, static_cast<int>(size)) <= 0) ok = false;
  };
  for (const auto& b : buffers) {
    const char* p = static_cast<const char*>(b.data());
    size_t left = b.size();
    while (left > 0) {
      if (staged == 0 && left >= kRecordPlaintext) {
        const size_t whole = left - left % kRecordPlaintext;
        seal(p, whole);
        p += whole;
        left -= whole;
        continue;
      }
      const size_t n = std::min(left, kRecordPlaintext - staged);
      std::memcpy(stage.data() + staged, p, n);
      staged += n;
      p += n;
      left -= n;
      if (staged == kRecordPlaintext) {
        seal(stage.data(), staged);
        staged = 0;
      }
    }
  }
  if (staged > 0) seal(stage.data(), staged);
  if (!ok) {
    failed_ = true;
    failure_ = tls::take_openssl_errors();
    complete_write(make_error_code(TlsError::protocol_error));
    return;
  }
  if (last) {
    // The close_notify right behind the data, and the end of the stream behind that.
    SSL_shutdown(ssl_);
    end_after_flush_ = true;
  }
  if (out_.empty() && !inner_writing_) {
    complete_write({}); // nothing to send (an empty write)
    return;
  }
  flush();
}

bool TlsTransport::quiet() {
  if (failed_ || (ssl_ && SSL_get_shutdown(ssl_) != 0)) return false; // broken, or ending
  if (!handshake_done_ || closed_ || !ssl_) return inner_->quiet();
  if (SSL_pending(ssl_) > 0 || SSL_has_pending(ssl_)) return false;
  if (inner_->quiet()) return true;
  if (inner_waiting_ || reading_ != OwnerRead::none) return false;
  // Bytes wait in the socket: records that carry no data (a session ticket, a key update) leave
  // the connection clean, anything else does not.
  char byte;
  ERR_clear_error();
  const int n = SSL_peek(ssl_, &byte, 1);
  if (!out_.empty()) flush();
  if (n > 0 || SSL_get_error(ssl_, n) != SSL_ERROR_WANT_READ) return false;
  return !SSL_has_pending(ssl_) && inner_->quiet();
}

bool TlsTransport::quiet_now() {
  if (!quiet()) return false;
  return inner_->quiet_now();
}

void TlsTransport::connect(const boost::asio::ip::tcp::endpoint& endpoint) {
  OwnerCall call(*this);
  if (!ssl_) {
    tell(Done::connected, error::no_memory);
    return;
  }
  connecting_ = true;
  inner_connecting_ = true;
  inner_->connect(endpoint);
}

void TlsTransport::shutdown_send() {
  if (closed_ || !ssl_) return;
  if (!handshake_done_ || failed_) {
    inner_->shutdown_send();
    return;
  }
  SSL_shutdown(ssl_); // the close_notify, then the TCP end behind it
  shutdown_after_flush_ = true;
  if (!inner_writing_) flush();
  if (!inner_writing_ && shutdown_after_flush_) {
    shutdown_after_flush_ = false;
    inner_->shutdown_send();
  }
}

void TlsTransport::say_goodbye() {
  if (!ssl_ || !handshake_done_ || failed_ || closed_) return;
  if (SSL_get_shutdown(ssl_) & SSL_SENT_SHUTDOWN) return;
  ERR_clear_error();
  SSL_shutdown(ssl_);
  flush(); // a socket write goes out at once when there is room: before a close right after
}

void TlsTransport::close() {
  OwnerCall call(*this); // the aborted operations are posted, never told inside the close
  if (closed_) return;
  say_goodbye(); // best effort: the peer reads a clean end, not a truncation
  closed_ = true;
  inner_->close();
  // The owner's pending operations end now; the socket's own come back aborted later and only
  // free this object.
  if (reading_ != OwnerRead::none) complete_read(error::operation_aborted, 0);
  if (writing_) complete_write(error::operation_aborted);
  if (connecting_) {
    connecting_ = false;
    if (owner_) tell(Done::connected, error::operation_aborted);
  }
}

// --- moving on -------------------------------------------------------------------------------

void TlsTransport::drive() {
  if (closed_) return;
  if (!handshake_done_) {
    if (failed_) return;
    if (!handshake()) return;
  }
  if (connecting_) {
    connecting_ = false;
    tell(Done::connected, {});
  }
  if (write_waits_) {
    write_waits_ = false;
    encrypt_and_send(write_waiting_, write_last_);
    if (closed_) return;
  }
  drive_read();
}

bool TlsTransport::handshake() {
  // A client's handshake starts only once its TCP connection is there.
  if (inner_connecting_) return false;
  ERR_clear_error();
  const int r = SSL_do_handshake(ssl_);
  if (!out_.empty()) flush();
  if (r == 1) {
    handshake_done_ = true;
    if (SSL_is_server(ssl_) && owner_) tell(Done::handshake, {});
    return true;
  }
  const int e = SSL_get_error(ssl_, r);
  if (e == SSL_ERROR_WANT_READ) {
    want_input();
    return false;
  }
  handshake_failed(e);
  return false;
}

void TlsTransport::handshake_failed(int ssl_error) {
  failed_ = true;
  error_code ec = make_error_code(TlsError::handshake_failed);
  const long verify = SSL_get_verify_result(ssl_);
  if (verify != X509_V_OK) {
    ec = make_error_code(TlsError::certificate_rejected);
    failure_ = X509_verify_cert_error_string(verify);
  } else if (ssl_error == SSL_ERROR_SSL) {
    failure_ = tls::take_openssl_errors();
    if (failure_.find("certificate") != std::string::npos)
      ec = make_error_code(TlsError::certificate_rejected);
  } else if (input_error_) {
    failure_ = input_error_.message();
  } else {
    failure_ = "the connection closed during the handshake";
  }
  ERR_clear_error();
  // A peer that closed before sending anything made no handshake (a port check, a scanner that
  // gave up): no result to count.
  const bool attempted = got_input_ || !SSL_is_server(ssl_);
  if (SSL_is_server(ssl_) && attempted && owner_) tell(Done::handshake, ec);
  if (connecting_) {
    connecting_ = false;
    tell(Done::connected, ec);
  }
  if (reading_ != OwnerRead::none) complete_read(attempted ? ec : error_code(error::eof), 0);
  if (writing_) complete_write(ec);
}

void TlsTransport::drive_read() {
  if (reading_ == OwnerRead::none) return;
  ERR_clear_error();
  const bool read = reading_ == OwnerRead::read;
  int n;
  if (read) {
    n = SSL_read(ssl_, read_buffer_.data(), static_cast<int>(read_buffer_.size()));
  } else {
    // A wait: plaintext decrypted and kept (peeked) inside OpenSSL, an end or an error.
    if (SSL_pending(ssl_) > 0) return complete_read({}, 0);
    char byte;
    n = SSL_peek(ssl_, &byte, 1);
  }
  if (!out_.empty()) flush(); // what reading wrote: a session ticket, a key update's answer
  if (n > 0) return complete_read({}, read ? static_cast<size_t>(n) : 0);
  switch (SSL_get_error(ssl_, n)) {
  case SSL_ERROR_WANT_READ:
    return want_input();
  case SSL_ERROR_ZERO_RETURN:
    return complete_read({}, 0);
  default:
    return complete_read(read_failure(), 0);
  }
}

error_code TlsTransport::read_failure() {
  if (input_error_) return input_error_;
  failed_ = true;
  failure_ = tls::take_openssl_errors();
  return make_error_code(TlsError::protocol_error);
}

void TlsTransport::want_input() {
  if (inner_waiting_ || closed_) return;
  inner_waiting_ = true;
  inner_->wait_readable();
}

void TlsTransport::flush() {
  if (inner_writing_ || out_.empty() || closed_) return;
  sending_.swap(out_);
  out_.clear();
  inner_writing_ = true;
  sending_buffer_ = boost::asio::buffer(sending_);
  if (end_after_flush_) {
    end_after_flush_ = false;
    inner_->write_last(BufferView(&sending_buffer_, 1));
  } else {
    inner_->write(BufferView(&sending_buffer_, 1));
  }
}

void TlsTransport::tell(Done what, error_code ec, size_t n) {
  if (!owner_) return;
  // From a socket completion the owner is told at once, as the socket transports tell theirs;
  // from inside the owner's own call (an operation that ended at once) it is posted.
  if (in_callback_ == 0 || owner_calls_ > 0)
    return socket_ops::post_to_owner(io_, alloc_, owner_, what, ec, n);
  switch (what) {
  case Done::read:
    return owner_->on_transport_read(ec, n);
  case Done::written:
    return owner_->on_transport_written(ec, n);
  case Done::readable:
    return owner_->on_transport_readable(ec);
  case Done::connected:
    return owner_->on_transport_connected(ec);
  case Done::handshake:
    return owner_->on_transport_handshake(ec);
  }
}

void TlsTransport::complete_read(error_code ec, size_t n) {
  const OwnerRead what = reading_;
  reading_ = OwnerRead::none;
  if (!owner_) return;
  tell(what == OwnerRead::read ? Done::read : Done::readable, ec, n);
}

void TlsTransport::complete_write(error_code ec) {
  writing_ = false;
  write_waits_ = false;
  if (!owner_) return;
  tell(Done::written, ec, ec ? 0 : write_bytes_);
}

// --- the socket's completions ----------------------------------------------------------------

void TlsTransport::on_transport_readable(const error_code& ec) {
  Callback callback(*this);
  inner_waiting_ = false;
  if (closed_) return;
  if (ec && ec != error::eof) input_error_ = ec;
  drive();
}

void TlsTransport::on_transport_written(const error_code& ec, size_t) {
  Callback callback(*this);
  inner_writing_ = false;
  sending_.clear();
  if (closed_) return;
  if (ec) {
    if (!handshake_done_ && !failed_) {
      // The handshake's own flight could not go out: the handshake failed, and every pending
      // operation (connect, read or wait, write) ends with it.
      input_error_ = ec;
      handshake_failed(SSL_ERROR_SYSCALL);
      return;
    }
    failed_ = true;
    if (writing_) complete_write(ec);
    return;
  }
  if (!out_.empty()) return flush();
  if (shutdown_after_flush_) {
    shutdown_after_flush_ = false;
    inner_->shutdown_send();
  }
  if (writing_ && !write_waits_) complete_write({});
}

void TlsTransport::on_transport_connected(const error_code& ec) {
  Callback callback(*this);
  inner_connecting_ = false;
  if (closed_) return;
  if (ec) {
    connecting_ = false;
    tell(Done::connected, ec);
    return;
  }
  drive();
}

} // namespace weir::net
