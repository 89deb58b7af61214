#include "weir/runtime/tunnel.h"

#include <utility>

namespace weir::runtime {

namespace asio = boost::asio;

void Tunnel::start(TunnelEnds& ends, asio::const_buffer to_upstream, asio::const_buffer to_client,
                   asio::mutable_buffer client_buffer, asio::mutable_buffer upstream_buffer,
                   bool upstream_busy) {
  ends_ = &ends;
  client_buffer_ = client_buffer;
  upstream_buffer_ = upstream_buffer;
  ends.tunnel_activity();
  if (upstream_busy) {
    // One write at a time upstream, and no read into the buffer the pending one may still use.
    to_upstream_ = Pump::writing;
    held_ = to_upstream;
  } else if (to_upstream.size() > 0) {
    to_upstream_ = Pump::writing;
    ends.tunnel_write_upstream(to_upstream);
  } else {
    read_client();
  }
  if (to_client.size() > 0) {
    to_client_ = Pump::writing;
    ends.tunnel_write_client(to_client);
  } else {
    read_upstream();
  }
}

void Tunnel::read_client() {
  to_upstream_ = Pump::reading;
  ends_->tunnel_read_client(client_buffer_);
}

void Tunnel::read_upstream() {
  to_client_ = Pump::reading;
  ends_->tunnel_read_upstream(upstream_buffer_);
}

void Tunnel::on_client_read(const boost::system::error_code& ec, size_t n) {
  if (to_upstream_ != Pump::reading) return;
  ends_->tunnel_activity();
  if (ec || n == 0) {
    to_upstream_ = Pump::ended;
    ends_->tunnel_end_upstream();
    return ended();
  }
  to_upstream_ = Pump::writing;
  ends_->tunnel_write_upstream(asio::const_buffer(client_buffer_.data(), n));
}

void Tunnel::on_upstream_written() {
  if (to_upstream_ != Pump::writing) return;
  if (held_.size() > 0) {
    asio::const_buffer bytes = std::exchange(held_, asio::const_buffer());
    return ends_->tunnel_write_upstream(bytes);
  }
  read_client();
}

void Tunnel::on_upstream_read(const boost::system::error_code& ec, size_t n) {
  if (to_client_ != Pump::reading) return;
  ends_->tunnel_activity();
  if (ec || n == 0) {
    to_client_ = Pump::ended;
    ends_->tunnel_end_client();
    return ended();
  }
  to_client_ = Pump::writing;
  ends_->tunnel_write_client(asio::const_buffer(upstream_buffer_.data(), n));
}

void Tunnel::on_client_written() {
  if (to_client_ != Pump::writing) return;
  read_upstream();
}

void Tunnel::ended() {
  if (to_upstream_ == Pump::ended && to_client_ == Pump::ended) ends_->tunnel_done();
}

} // namespace weir::runtime
