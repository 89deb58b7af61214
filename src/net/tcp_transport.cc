#include "weir/net/tcp_transport.h"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/write.hpp>
#include <cerrno>
#include <sys/socket.h>

namespace weir::net {

namespace asio = boost::asio;
using boost::system::error_code;

asio::ip::address TcpTransport::start_accepted() {
  error_code ec;
  socket_.set_option(asio::ip::tcp::no_delay(true), ec);
  socket_.non_blocking(true, ec);
  auto remote = socket_.remote_endpoint(ec);
  return ec ? asio::ip::address() : remote.address();
}

void TcpTransport::read(asio::mutable_buffer buffer) {
  if (watch_pending_) cancel_watch();
  read_pending_ = true;
  socket_.async_read_some(buffer, [this, size = buffer.size()](const error_code& ec, size_t n) {
    read_pending_ = false;
    last_read_full_ = !ec && n == size;
    owner_->on_transport_read(ec, n); // last: the owner may delete this transport
  });
}

void TcpTransport::write(BufferView buffers) {
  asio::async_write(socket_, buffers, [this](const error_code& ec, size_t n) {
    owner_->on_transport_written(ec, n);
  });
}

bool TcpTransport::watch() {
  if (watch_pending_ || read_pending_ || !socket_.is_open()) return false;
  watch_pending_ = true;
  socket_.async_receive(
      asio::buffer(&peek_byte_, 1), asio::socket_base::message_peek,
      asio::bind_cancellation_slot(
          watch_cancel_.slot(), [this, generation = watch_generation_](error_code ec, size_t) {
            // A cancelled or superseded watch: read() took over and cleared the flag.
            if (ec == asio::error::operation_aborted || generation != watch_generation_)
              return owner_->on_transport_readable(asio::error::operation_aborted);
            watch_pending_ = false;
            if (ec == asio::error::eof) ec = {};
            owner_->on_transport_readable(ec);
          }));
  return true;
}

void TcpTransport::cancel_watch() {
  // Cancelling costs no syscall: the reactor drops the queued receive and posts its completion
  // as aborted.
  watch_pending_ = false;
  ++watch_generation_;
  watch_cancel_.emit(asio::cancellation_type::total);
}

bool TcpTransport::has_unread() {
  if (!last_read_full_) return false;
  char byte;
  ssize_t n = ::recv(socket_.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return !(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
}

void TcpTransport::connect(const asio::ip::tcp::endpoint& endpoint) {
  socket_.async_connect(endpoint, [this](const error_code& ec) {
    if (!ec && socket_.is_open()) {
      error_code ignored;
      socket_.set_option(asio::ip::tcp::no_delay(true), ignored);
      socket_.non_blocking(true, ignored);
    }
    owner_->on_transport_connected(ec);
  });
}

void TcpTransport::shutdown_send() {
  error_code ignored;
  socket_.shutdown(asio::socket_base::shutdown_send, ignored);
}

void TcpTransport::reset_on_close() {
  error_code ignored;
  socket_.set_option(asio::socket_base::linger(true, 0), ignored);
}

void TcpTransport::close() {
  error_code ignored;
  socket_.close(ignored);
}

} // namespace weir::net
