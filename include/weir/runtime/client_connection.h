#pragma once

#include "weir/metrics/cells.h"
#include "weir/net/any_socket_transport.h"
#include "weir/net/tls_transport.h"
#include "weir/runtime/attempt_recorder.h"
#include "weir/runtime/connection_state.h"
#include "weir/runtime/snapshot.h"
#include "weir/runtime/stream.h"
#include "weir/runtime/tunnel.h"
#include "weir/upstream/connection.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string_view>
#include <sys/socket.h>

namespace weir::mirror {
class Tap;
}

namespace weir::runtime {

class Worker;
struct ListenerSlot;

// One downstream connection and the exchange in flight on it (Envoy's connection manager and
// router in one small object): reads and parses requests, routes them, forwards them to an
// upstream connection and streams the response back, both directions at once with bounded
// buffers.
//
// Its state is four named states (connection_state.h) — the connection, the request message,
// the response message and the current attempt's upstream connection — changed only through
// go(), which follows the pure transition functions and refuses a transition that does not
// exist. Decisions are pure functions it calls: the backend (backend_choice.h), a retry
// (retry_policy.h), the access log line (access_line.h); each attempt is counted by an
// AttemptRecorder; after a 101 a Tunnel copies bytes. It reads and writes the client only
// through its net::Transport and the upstream only through upstream::Connection (whose
// transport is of the same kind).
//
// Files: client_connection.cc (lifetime, transport callbacks, deadlines, local answers, close),
// client_request.cc (request direction, routing, taking an upstream connection),
// client_response.cc (response direction, the end of an exchange, the tunnel's ends),
// exchange_outcome.cc (retries, the per-try timeout, counting and logging a request).
//
// Worker thread only. It deletes itself once closed and no asynchronous operation refers to it.
class ClientConnection final : public upstream::ConnectionOwner,
                               public net::TransportOwner,
                               public TunnelEnds {
public:
  using Clock = std::chrono::steady_clock;

  ClientConnection(Worker& worker, const ListenerSlot* listener);
  ClientConnection(const ClientConnection&) = delete;
  ClientConnection& operator=(const ClientConnection&) = delete;

  // Takes the accepted socket `fd` (non-blocking) from `peer` and waits for the first request.
  void start(int fd, const sockaddr* peer);
  // Called by the worker's sweep: acts on an expired deadline.
  void check_deadline(Clock::time_point now);
  // The worker drains (called again on every sweep until the connection is gone): one idle for
  // Worker::drain_idle_after() is ended now, a busy one after its response (Connection: close).
  void drain(Clock::time_point now);
  // How long a drained idle connection lingers after weir's end of it (see drain()).
  static constexpr auto kDrainLinger = std::chrono::seconds(2);
  // Drain time is up: close whatever is in flight.
  void abort() { close(); }

  // Tunnels after a 101 (tunnel_drains.h). The worker's cells of the tunnel's route × service
  // while this is an open tunnel, else null: what `tunnels_open` counts, and how a drain finds
  // the tunnels of a route × service.
  const metrics::BackendCells* tunnel_cells() const { return tunnel_cells_; }
  // A drain reached it already (its end is under way).
  bool tunnel_draining() const { return tunnel_.closing() != Tunnel::Closing::none; }
  // Its slot in a drain of the worker's TunnelDrains (drain 0: none), forgotten when it closes.
  void enter_tunnel_drain(uint32_t drain, uint32_t slot) {
    tunnel_drain_ = drain;
    tunnel_slot_ = slot;
  }
  // Its turn in a drain came: a WebSocket's closing handshake at a message boundary, any other
  // tunnel closed at once (Tunnel::drain).
  void drain_tunnel() {
    if (!closed() && conn_ == ConnState::tunnel) tunnel_.drain();
  }

  // The client's transport.
  void on_transport_read(const boost::system::error_code& ec, size_t n) override;
  void on_transport_written(const boost::system::error_code& ec, size_t n) override;
  void on_transport_readable(const boost::system::error_code& ec) override;
  void on_transport_handshake(const boost::system::error_code& ec) override;
  // The upstream connection.
  void on_upstream_readable(const boost::system::error_code& ec) override;
  void on_upstream_written(const boost::system::error_code& ec) override;
  void on_upstream_connected(const boost::system::error_code& ec) override;
  void on_upstream_granted(upstream::Connection* c, bool fresh) override;
  // The tunnel's ends (client_response.cc).
  void tunnel_read_client(boost::asio::mutable_buffer buffer) override;
  void tunnel_write_client(boost::asio::const_buffer bytes) override;
  void tunnel_read_upstream(boost::asio::mutable_buffer buffer) override;
  void tunnel_write_upstream(boost::asio::const_buffer bytes) override;
  void tunnel_end_client() override;
  void tunnel_end_upstream() override;
  void tunnel_activity() override;
  void tunnel_done() override;
  void tunnel_abort() override;
  std::chrono::steady_clock::time_point tunnel_now() override;

  // Intrusive links of the worker's connection list.
  ClientConnection* prev = nullptr;
  ClientConnection* next = nullptr;

private:
  // The one read (or, idle, readiness wait) and the one write the client transport may have
  // pending, by purpose.
  enum class ClientRead : uint8_t { none, idle, request, tunnel };
  enum class ClientWrite : uint8_t { none, interim, local, response, tunnel };
  enum class Deadline : uint8_t { none, handshake, idle, header, queue, connect, upstream, tunnel };
  // How the response body goes to the client.
  enum class Reframe : uint8_t {
    as_is,   // as the upstream framed it
    chunked, // the proxy chunk-encodes it (upstream framing unknown, HTTP/1.1 client)
    raw,     // copied without framing, the connection closes after it (HTTP/1.0 client)
  };

  ~ClientConnection();

  // State changes: the only writers of conn_, req_, resp_ and upstream_.
  void go(ConnEvent e);
  void go(RequestEvent e);
  void go(ResponseEvent e);
  void go(UpstreamEvent e);
  // What used to be one phase: an attached upstream carries the request, or weir's own answer
  // is on its way (both: the exchange proper, after routing and taking a connection).
  bool exchanging() const {
    return conn_ == ConnState::exchange &&
           (upstream_ == UpstreamState::ready || resp_ == ResponseState::local);
  }
  bool request_done() const { return req_ == RequestState::done; }
  bool response_done() const {
    return resp_ == ResponseState::done || resp_ == ResponseState::local;
  }
  bool final_head() const { return resp_ == ResponseState::body || resp_ == ResponseState::done; }
  bool client_writing() const { return writing_ != ClientWrite::none; }
  // The attempt's connection has a write pending (a dropped connection's write is no longer ours).
  bool upstream_writing() const { return up_ && up_->writing(); }
  // The status is weir's own answer, not the upstream's.
  bool local_status() const { return resp_ == ResponseState::local; }
  bool client_reading() const { return reading_ != ClientRead::none; }
  bool closed() const { return conn_ == ConnState::closed; }

  // Request direction (client_request.cc).
  void wait_idle();
  void on_idle_readable(const boost::system::error_code& ec);
  void read_client();
  void on_client_read(const boost::system::error_code& ec, size_t n);
  void advance_request();
  void on_request_head();
  // Which backend takes the request: a pure decision, with the worker's split or bucket draw.
  int pick_backend(const Snapshot::Route& route, const http::Head& head, bool trusted);
  void on_upstream_ready();
  // The upstream connection is usable: send what the request has (head, body, or a replay).
  void start_sending();
  void flush_request(bool done, uint64_t body_bytes);
  bool attach_upstream(upstream::Pool* pool, bool force_new);
  bool attach(upstream::Connection* c, bool fresh);
  bool retry_on_fresh_connection();
  // A connect failed for want of weir's own resources (EMFILE, ENFILE, ENOBUFS, ENOMEM)...
  static bool local_shortage(const boost::system::error_code& ec);
  // ...then the client gets weir's 503 with Retry-After and the endpoint is not charged.
  void refuse_for_shortage();
  void on_interim_written();
  // Response direction (client_response.cc).
  void advance_response();
  bool on_response_head(std::string& out);
  void flush_response(size_t head_bytes, bool done, uint64_t body_bytes);
  void write_client(ClientWrite kind);
  void on_client_written();
  void finish_exchange();
  void start_next_request();
  void start_tunnel();
  // Errors and the end of the connection (client_connection.cc).
  void send_local(int status, std::string_view body, bool close,
                  std::string_view extra_headers = {});
  void fail_upstream(int status, std::string_view why, metrics::UpstreamFailure cause);
  // The client did not send its request in time (body or whole request): 408 and close.
  void request_timed_out(std::string_view why);
  // redirect_to_https: 308 to the same host and target over https on `port`.
  void redirect_to_https(uint16_t port);
  // The peer is in trusted_proxies (its forwarding headers and overrides are believed).
  bool peer_trusted() const;
  // The client timeouts of this connection's listener in the worker's current snapshot (the
  // snapshot-wide ones when a reload removed the listener): the data plane reads no raw config.
  const Snapshot::ClientTimeouts& client_timeouts() const;
  void set_deadline(Deadline kind, Clock::duration after);
  void close();
  void drop_upstream();
  void unassign_backend();
  void release_stream();
  void finish_op();
  // What an exchange came to (exchange_outcome.cc).
  // Counts one attempt in the backend's and endpoint's metrics (and outlier detection).
  void record_attempt(int status, bool local);
  // Tries the request again elsewhere if the route allows it and it is safe; true if started.
  // `cause` kCount: the upstream answered `upstream_status` (a 5xx), no failure of the
  // connection. False: nothing changed, the caller goes on with the attempt it has (its
  // connection, if any, is still attached).
  bool retry(metrics::UpstreamFailure cause, int upstream_status);
  void resend_request();
  // Counts and logs the request once (a no-op afterwards). Called when the response's last bytes
  // are handed to the client transport (`handed_bytes` of them, not yet reported written), or
  // when the exchange ends otherwise (the connection closes).
  void finish_request(uint64_t handed_bytes = 0);
  void log_access();
  // retries.per_try_timeout: armed when an attempt's request starts going upstream, disarmed
  // by its final response head or its end. Expiry abandons the attempt (retried when safe).
  void arm_try_timer();
  void disarm_try_timer();
  void on_try_timeout();
  // The current attempt, if it was a retry, stops counting against min_concurrency.
  void end_retry_in_flight();
  // HTTPRoute's filters and timeouts (route_filters.cc).
  // The request head for the upstream (s_->request_out) with the backend's filters: once routed,
  // and again when a retry goes to another backend. `default_host`: the endpoint's "host:port".
  void write_request_head(std::string_view default_host, bool trusted);
  // The route redirects (RequestRedirect): weir answers with the Location, no backend is asked.
  void answer_redirect(const Snapshot::Route& route);
  // The backend's ResponseHeaderModifier for the final response head; null when none.
  const http::HeaderModifier* response_filters() const;
  // timeouts.request runs from the head; timeouts.backend_request from each attempt's start.
  void start_request_timeout(const Snapshot::Route& route);
  void start_attempt_timeout();
  // Acts on a passed timeouts.request or timeouts.backend_request (true: it did).
  bool check_route_timeouts(Clock::time_point now);
  // A route timeout passed after the response began: the connection ends, the response cut.
  void cut_response();

  Worker& worker_;
  net::AnySocketTransport transport_; // plain TCP (unused on a TLS listener)
  net::TlsTransport* tls_ = nullptr;  // a TLS listener's: over its own socket transport
  net::Transport* client_;            // the seam: every client read and write goes through it
  const ListenerSlot* listener_;
  Stream* s_ = nullptr;
  upstream::Connection* up_ = nullptr;
  SnapshotRef snap_; // the snapshot the current request started with
  Clock::time_point deadline_ = Clock::time_point::max();
  // While the request is still arriving (besides deadline_): its whole-request deadline, and the
  // one for the pending body read.
  Clock::time_point request_deadline_ = Clock::time_point::max();
  Clock::time_point body_deadline_ = Clock::time_point::max();
  // The route's timeouts.request for the request in flight, and timeouts.backend_request for its
  // current attempt (max: none). Checked by the sweep, like the others.
  Clock::time_point route_deadline_ = Clock::time_point::max();
  Clock::time_point attempt_deadline_ = Clock::time_point::max();
  upstream::Pool* queued_in_ = nullptr;     // waiting for a connection of this pool
  upstream::Pool* buffering_for_ = nullptr; // the body is buffered first, then this pool
  Clock::time_point started_;
  Clock::time_point idle_since_; // accepted, or the last response ended (conn_ idle)
  Deadline deadline_kind_ = Deadline::none;
  ConnState conn_ = ConnState::idle;
  RequestState req_ = RequestState::head;
  ResponseState resp_ = ResponseState::none;
  UpstreamState upstream_ = UpstreamState::none;
  ClientRead reading_ = ClientRead::none;
  bool lingering_ = false; // drained while idle: weir's end is sent, the client's is awaited
  ClientWrite writing_ = ClientWrite::none;
  Reframe reframe_ = Reframe::as_is;
  int pending_ = 0;
  uint32_t requests_ = 0; // requests whose head arrived on this connection
  // Facts of the request in flight, from its head.
  bool request_has_body_ = false;
  bool head_request_ = false;
  bool upgrade_ = false;
  bool websocket_ = false; // the upgrade asked for is to WebSocket (the tunnel follows its frames)
  bool keep_alive_ = true; // client connection may carry another request
  bool continue_sent_ = false;
  uint8_t client_version_minor_ = 1;
  // Progress of the exchange that the states do not say.
  bool request_head_queued_ = false; // the rewritten head still has to be written upstream
  bool response_started_ = false;    // some response byte was handed to the client transport
  bool upstream_eof_ = false;
  bool request_open_ = false; // a request was routed and not yet counted and logged
  int32_t route_ = -1;
  // Of the route's alternative that matched: the path characters its PathPrefix covered
  // (route::Table::Hit), what a ReplacePrefixMatch rewrite replaces.
  uint32_t match_alternative_ = 0;
  uint32_t match_prefix_length_ = 0;
  int32_t backend_ = -1;
  uint32_t endpoint_ = 0;
  int status_ = 0;
  AttemptRecorder attempt_;
  // A mirrored request's copy and, with compare, its answer (mirror/tap.h); null for every
  // request not sampled. Ended with the request (finish_request).
  std::unique_ptr<mirror::Tap> tap_;
  std::string set_cookie_; // a sticky-version cookie to set on this response ("" = none)
  // Retries of the current request.
  uint32_t attempts_ = 0;        // retries made for the current request
  size_t body_offset_ = 0;       // where the current request's body starts in the read buffer
  bool in_buffer_reset_ = false; // the read buffer was reused since the head: no replay
  bool resend_ = false;
  bool retried_ = false;                // the once-only replay on a fresh connection was made
  bool request_sent_ = false;           // some byte of the current attempt's request went upstream
  bool try_armed_ = false;              // try_timer_ runs for the current attempt
  boost::asio::steady_timer try_timer_; // retries.per_try_timeout of the current attempt
  uint32_t try_seq_ = 0;                // bumped on disarm: a stale expiry is ignored
  uint32_t* retry_in_flight_ = nullptr; // the worker's count this retry attempt added to
  Tunnel tunnel_;
  // While a tunnel is open: its route × service's cells, whose open-tunnel gauge it holds one
  // of (given back at close, exactly once); and its slot in a drain (tunnel_drains.h).
  metrics::BackendCells* tunnel_cells_ = nullptr;
  uint32_t tunnel_drain_ = 0;
  uint32_t tunnel_slot_ = 0;
  uint64_t bytes_in_ = 0;
  uint64_t bytes_out_ = 0;
  boost::asio::const_buffer one_buffer_; // a single-buffer write (interim, local answer)
  char client_ip_[46] = {};
  char request_id_[32] = {}; // the x-request-id weir made for the request in flight
  uint8_t client_ip_len_ = 0;
  unsigned char peer_bytes_[16] = {}; // the peer's address: 4 bytes IPv4, 16 IPv6
  bool peer_v6_ = false;
};

} // namespace weir::runtime
