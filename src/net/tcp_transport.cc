#include "weir/net/tcp_transport.h"

#include <boost/asio/bind_allocator.hpp>
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
  socket_.async_read_some(buffer,
                          asio::bind_allocator(alloc_, [this](const error_code& ec, size_t n) {
                            owner_->on_transport_read(ec, n); // the owner may delete us
                          }));
}

size_t TcpTransport::read_now(asio::mutable_buffer buffer, error_code& ec) {
  return socket_.read_some(buffer, ec);
}

void TcpTransport::wait_readable() {
  socket_.async_wait(asio::socket_base::wait_read,
                     asio::bind_allocator(alloc_, [this](const error_code& ec) {
                       owner_->on_transport_readable(ec);
                     }));
}

void TcpTransport::write(BufferView buffers) {
  asio::async_write(socket_, buffers,
                    asio::bind_allocator(alloc_, [this](const error_code& ec, size_t n) {
                      owner_->on_transport_written(ec, n);
                    }));
}

bool TcpTransport::quiet() {
  if (!socket_.is_open()) return false;
  char byte;
  ssize_t n = ::recv(socket_.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

void TcpTransport::connect(const asio::ip::tcp::endpoint& endpoint) {
  socket_.async_connect(endpoint, asio::bind_allocator(alloc_, [this](const error_code& ec) {
                          if (!ec && socket_.is_open()) {
                            error_code ignored;
                            socket_.set_option(asio::ip::tcp::no_delay(true), ignored);
                            socket_.non_blocking(true, ignored);
                          }
                          owner_->on_transport_connected(ec);
                        }));
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
