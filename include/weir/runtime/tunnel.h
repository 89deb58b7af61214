#pragma once

#include <boost/asio/buffer.hpp>
#include <boost/system/error_code.hpp>
#include <cstddef>
#include <cstdint>

namespace weir::runtime {

// What a Tunnel moves bytes with: the two ends' reads, writes and half-closes, each completing
// later into the Tunnel's matching on_* call. ClientConnection implements it over its two
// transports; tests implement it with plain vectors. Worker thread only.
class TunnelEnds {
public:
  virtual void tunnel_read_client(boost::asio::mutable_buffer buffer) = 0;
  virtual void tunnel_write_client(boost::asio::const_buffer bytes) = 0;
  virtual void tunnel_read_upstream(boost::asio::mutable_buffer buffer) = 0;
  virtual void tunnel_write_upstream(boost::asio::const_buffer bytes) = 0;
  // The other side ended: no more bytes will be sent this way (a half-close).
  virtual void tunnel_end_client() = 0;
  virtual void tunnel_end_upstream() = 0;
  // Bytes moved: the tunnel's idle deadline starts again.
  virtual void tunnel_activity() = 0;
  // Both directions ended: the connection closes.
  virtual void tunnel_done() = 0;

protected:
  ~TunnelEnds() = default;
};

// A WebSocket (or any other Upgrade) tunnel after the upstream's 101: two pumps, client to
// upstream and upstream to client, each reading into its own buffer and writing what it read
// before reading again, so each direction holds at most one buffer of bytes (backpressure). An
// end read on one side half-closes the other; when both ended the tunnel is done. Errors on a
// write close the connection (ClientConnection), not the tunnel. Worker thread only.
class Tunnel {
public:
  enum class Pump : uint8_t { idle, reading, writing, ended };

  // Starts both pumps. Bytes that came along with the handshake belong to the tunnel already:
  // `to_upstream` (the client's, after its request) and `to_client` (the upstream's, after its
  // 101) are written first. The buffers are where each pump reads next. `upstream_busy`: the
  // request's last write to the upstream is still going out (it may point into the client
  // buffer): the client-to-upstream pump counts as writing until on_upstream_written(), and only
  // then writes `to_upstream` or reads the client.
  void start(TunnelEnds& ends, boost::asio::const_buffer to_upstream,
             boost::asio::const_buffer to_client, boost::asio::mutable_buffer client_buffer,
             boost::asio::mutable_buffer upstream_buffer, bool upstream_busy = false);

  void on_client_read(const boost::system::error_code& ec, size_t n);
  void on_upstream_written();
  void on_upstream_read(const boost::system::error_code& ec, size_t n);
  void on_client_written();

  bool started() const { return ends_ != nullptr; }
  Pump to_upstream() const { return to_upstream_; }
  Pump to_client() const { return to_client_; }

private:
  void read_client();
  void read_upstream();
  void ended();

  TunnelEnds* ends_ = nullptr;
  boost::asio::mutable_buffer client_buffer_;
  boost::asio::mutable_buffer upstream_buffer_;
  boost::asio::const_buffer held_; // for the upstream once the request's write is out
  Pump to_upstream_ = Pump::idle;
  Pump to_client_ = Pump::idle;
};

} // namespace weir::runtime
