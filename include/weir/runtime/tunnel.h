#pragma once

#include "weir/runtime/websocket_frames.h"

#include <boost/asio/buffer.hpp>
#include <boost/system/error_code.hpp>
#include <chrono>
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
  // A drain gives up on an orderly end (no framing to respect, or a closing handshake past its
  // cap): both sides close now.
  virtual void tunnel_abort() = 0;
  // The time now (the worker's clock), from which the closing caps run.
  virtual std::chrono::steady_clock::time_point tunnel_now() = 0;

protected:
  ~TunnelEnds() = default;
};

// A WebSocket (or any other Upgrade) tunnel after the upstream's 101: two pumps, client to
// upstream and upstream to client, each reading into its own buffer and writing what it read
// before reading again, so each direction holds at most one buffer of bytes (backpressure). An
// end read on one side half-closes the other; when both ended the tunnel is done. Errors on a
// write close the connection (ClientConnection), not the tunnel.
//
// A drain (drain()) ends a WebSocket tunnel without cutting a message: the upstream-to-client
// bytes are followed frame by frame (WebSocketFrames), and at the first message boundary weir
// writes a Close frame to the client (1012, service restart) and forwards nothing more from the
// upstream (RFC 6455 §5.5.1: no data after a Close), reading and dropping it instead so that the
// upstream's end still ends the tunnel. The client's bytes keep going up, its Close reply
// included; the upstream answers it and closes, and the tunnel ends as any does. When the
// upstream had sent its own Close, weir sends none. Caps: kBoundaryWait for the boundary, then
// kHandshakeWait for the handshake, after which both sides close (tunnel_abort). Any other
// Upgrade has no framing to respect: a drain closes it at once. Worker thread only.
class Tunnel {
public:
  enum class Pump : uint8_t { idle, reading, writing, ended };
  // Where a drain stands.
  enum class Closing : uint8_t {
    none,
    boundary,  // waiting for the upstream's stream to reach a message boundary
    close_due, // the bytes up to the boundary are being written; the Close goes next
    writing,   // weir's Close is being written; the upstream's bytes are dropped
    sent,      // weir's Close is out; waiting for the ends to close
    peer,      // the upstream sent its own Close: waiting for the ends to close
  };
  static constexpr auto kBoundaryWait = std::chrono::seconds(5);
  static constexpr auto kHandshakeWait = std::chrono::seconds(5);

  // Starts both pumps. Bytes that came along with the handshake belong to the tunnel already:
  // `to_upstream` (the client's, after its request) and `to_client` (the upstream's, after its
  // 101) are written first. The buffers are where each pump reads next. `upstream_busy`: the
  // request's last write to the upstream is still going out (it may point into the client
  // buffer): the client-to-upstream pump counts as writing until on_upstream_written(), and only
  // then writes `to_upstream` or reads the client. `websocket`: the request asked for
  // `Upgrade: websocket`, so the upstream's bytes are WebSocket frames.
  void start(TunnelEnds& ends, boost::asio::const_buffer to_upstream,
             boost::asio::const_buffer to_client, boost::asio::mutable_buffer client_buffer,
             boost::asio::mutable_buffer upstream_buffer, bool upstream_busy = false,
             bool websocket = false);

  void on_client_read(const boost::system::error_code& ec, size_t n);
  void on_upstream_written();
  void on_upstream_read(const boost::system::error_code& ec, size_t n);
  void on_client_written();

  // The drain reached this tunnel: end it as the class comment says. Once only; later calls
  // change nothing.
  void drain();
  // Acts on a closing cap that ran out by `now` (tunnel_abort); true when it did.
  bool check_deadline(std::chrono::steady_clock::time_point now);

  bool started() const { return ends_ != nullptr; }
  Pump to_upstream() const { return to_upstream_; }
  Pump to_client() const { return to_client_; }
  Closing closing() const { return closing_; }
  bool websocket() const { return websocket_; }
  // When the current closing cap runs out (max when none runs).
  std::chrono::steady_clock::time_point close_deadline() const { return deadline_; }

private:
  void read_client();
  void read_upstream();
  void ended();
  // The stream is at a boundary: the Close goes now, unless the upstream sent one.
  void close_at_boundary();

  TunnelEnds* ends_ = nullptr;
  boost::asio::mutable_buffer client_buffer_;
  boost::asio::mutable_buffer upstream_buffer_;
  boost::asio::const_buffer held_; // for the upstream once the request's write is out
  Pump to_upstream_ = Pump::idle;
  Pump to_client_ = Pump::idle;
  Closing closing_ = Closing::none;
  bool websocket_ = false;
  bool end_client_after_close_ = false; // the upstream ended while weir's Close was going out
  std::chrono::steady_clock::time_point deadline_ = std::chrono::steady_clock::time_point::max();
  WebSocketFrames frames_; // the upstream-to-client stream's, for a WebSocket
  // Close, status 1012 (service restart): the client should connect again, and lands where the
  // weights say. An unmasked server frame.
  static constexpr unsigned char kCloseFrame[] = {0x88, 0x02, 0x03, 0xf4};
};

} // namespace weir::runtime
