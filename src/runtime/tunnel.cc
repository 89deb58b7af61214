#include "weir/runtime/tunnel.h"

#include <utility>

namespace weir::runtime {

namespace asio = boost::asio;

void Tunnel::start(TunnelEnds& ends, asio::const_buffer to_upstream, asio::const_buffer to_client,
                   asio::mutable_buffer client_buffer, asio::mutable_buffer upstream_buffer,
                   bool upstream_busy, bool websocket) {
  ends_ = &ends;
  client_buffer_ = client_buffer;
  upstream_buffer_ = upstream_buffer;
  websocket_ = websocket;
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
    // The upstream's first frames may have come with its 101: the framing starts there.
    if (websocket_) frames_.feed(static_cast<const uint8_t*>(to_client.data()), to_client.size());
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
    // The client's end goes behind weir's Close, never over it.
    if (closing_ == Closing::writing) {
      end_client_after_close_ = true;
      return;
    }
    ends_->tunnel_end_client();
    return ended();
  }
  // After weir's Close the client gets nothing more; reading on lets the upstream's end through.
  if (closing_ == Closing::writing || closing_ == Closing::sent) return read_upstream();
  size_t forward = n;
  if (websocket_) {
    const bool stop = closing_ == Closing::boundary;
    forward = frames_.feed(static_cast<const uint8_t*>(upstream_buffer_.data()), n, stop);
    if (stop && frames_.broken()) return ends_->tunnel_abort();
    if (stop && frames_.at_boundary()) {
      // What follows the boundary is dropped: the Close goes after the last whole message.
      if (forward == 0) return close_at_boundary();
      closing_ = Closing::close_due;
    }
  }
  to_client_ = Pump::writing;
  ends_->tunnel_write_client(asio::const_buffer(upstream_buffer_.data(), forward));
}

void Tunnel::on_client_written() {
  if (closing_ == Closing::writing) {
    // Weir's Close is out (no data write runs beside it).
    closing_ = Closing::sent;
    if (std::exchange(end_client_after_close_, false)) {
      ends_->tunnel_end_client();
      ended();
    }
    return;
  }
  if (to_client_ != Pump::writing) return;
  if (closing_ == Closing::close_due || (closing_ == Closing::boundary && frames_.at_boundary()))
    return close_at_boundary();
  read_upstream();
}

void Tunnel::drain() {
  if (!started() || closing_ != Closing::none) return;
  if (!websocket_ || frames_.broken() || to_client_ == Pump::ended) return ends_->tunnel_abort();
  const auto now = ends_->tunnel_now();
  if (frames_.close_seen()) {
    // The upstream began the closing handshake itself: a second Close would say nothing more.
    closing_ = Closing::peer;
    deadline_ = now + kHandshakeWait;
    return;
  }
  closing_ = Closing::boundary;
  deadline_ = now + kBoundaryWait;
  // Reading, at a boundary: nothing is on its way to the client, the Close can go now. Else the
  // next write's completion or the next read finds the boundary.
  if (to_client_ == Pump::reading && frames_.at_boundary()) close_at_boundary();
}

void Tunnel::close_at_boundary() {
  // Called with no write to the client running: either the pump reads (a read pending) or its
  // write just completed.
  const bool reading = to_client_ == Pump::reading;
  deadline_ = ends_->tunnel_now() + kHandshakeWait;
  if (frames_.close_seen()) {
    // The upstream's own Close was the last frame before the boundary.
    closing_ = Closing::peer;
    if (!reading) read_upstream();
    return;
  }
  closing_ = Closing::writing;
  ends_->tunnel_write_client(asio::const_buffer(kCloseFrame, sizeof kCloseFrame));
  if (!reading) read_upstream();
}

bool Tunnel::check_deadline(std::chrono::steady_clock::time_point now) {
  if (closing_ == Closing::none || now < deadline_) return false;
  ends_->tunnel_abort();
  return true;
}

void Tunnel::ended() {
  if (to_upstream_ == Pump::ended && to_client_ == Pump::ended && closing_ != Closing::writing)
    ends_->tunnel_done();
}

} // namespace weir::runtime
