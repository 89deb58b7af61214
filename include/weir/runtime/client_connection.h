#pragma once

#include "weir/metrics/cells.h"
#include "weir/runtime/snapshot.h"
#include "weir/runtime/stream.h"
#include "weir/upstream/connection.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

namespace weir::runtime {

class Worker;
struct ListenerSlot;

// One downstream connection and the exchange in flight on it: reads and parses requests,
// routes them, forwards them to an upstream connection and streams the response back, both
// directions at once with bounded buffers. Worker thread only. It deletes itself once closed
// and no asynchronous operation refers to it any more.
class ClientConnection final : public upstream::ConnectionOwner {
public:
  using Clock = std::chrono::steady_clock;

  ClientConnection(Worker& worker, boost::asio::ip::tcp::socket socket,
                   const ListenerSlot* listener);
  ClientConnection(const ClientConnection&) = delete;
  ClientConnection& operator=(const ClientConnection&) = delete;

  void start();
  // Called by the worker's sweep: acts on an expired deadline.
  void check_deadline(Clock::time_point now);
  // The worker drains: an idle connection closes now, a busy one after its response.
  void drain();
  // Drain time is up: close whatever is in flight.
  void abort() { close(); }

  void on_upstream_readable(const boost::system::error_code& ec) override;
  void on_upstream_written(const boost::system::error_code& ec) override;
  void on_upstream_connected(const boost::system::error_code& ec) override;
  void on_upstream_granted(upstream::Connection* c, bool fresh) override;

  // Intrusive links of the worker's connection list.
  ClientConnection* prev = nullptr;
  ClientConnection* next = nullptr;

private:
  enum class Phase : uint8_t {
    idle,
    head,
    buffering, // reading a request body into the buffer before the upstream is chosen
    queued,
    connecting,
    exchange,
    tunnel,
    closing
  };
  enum class Deadline : uint8_t { none, idle, header, queue, connect, upstream, tunnel };

  ~ClientConnection() = default;

  // Request direction.
  void wait_idle();
  void read_client();
  void on_client_read(const boost::system::error_code& ec, size_t n);
  void advance_request();
  void on_request_head();
  void on_upstream_ready();
  // The upstream connection is usable: send what the request has (head, body, or a replay).
  void start_sending();
  void flush_request(bool done, uint64_t body_bytes);
  // Response direction.
  void advance_response();
  bool on_response_head(std::string& out);
  void flush_response(size_t head_bytes, bool done, uint64_t body_bytes);
  void on_client_written(const boost::system::error_code& ec, size_t n);
  void finish_exchange();
  void start_next_request();
  // Tunnel (WebSocket after 101).
  void start_tunnel();
  void tunnel_client_to_upstream();
  void tunnel_upstream_to_client();
  // Errors and the end of the connection.
  void send_local(int status, std::string_view body, bool close,
                  std::string_view extra_headers = {});
  void fail_upstream(int status, std::string_view why, metrics::UpstreamFailure cause);
  void finish_request();
  // Weighted pick, or the sticky version of a rollout with affinity / an override header.
  int pick_backend(const Snapshot::Route& route, const http::Head& head);
  // Counts one attempt in the backend's and endpoint's metrics (and outlier detection).
  void record_attempt(int status, bool local);
  // Tries the request again elsewhere if the route allows it and it is safe; true if started.
  bool retry(metrics::UpstreamFailure cause, int upstream_status);
  void resend_request();
  // retries.per_try_timeout: armed when an attempt's request starts going upstream, disarmed
  // by its final response head or its end. Expiry abandons the attempt (retried when safe).
  void arm_try_timer();
  void disarm_try_timer();
  void on_try_timeout();
  // The current attempt, if it was a retry, stops counting against min_concurrency.
  void end_retry_in_flight();
  void close();
  void drop_upstream();
  void unassign_backend();
  bool retry_on_fresh_connection();
  bool attach_upstream(upstream::Pool* pool, bool force_new);
  bool attach(upstream::Connection* c, bool fresh);
  // The client did not send its request in time (body or whole request): 408 and close.
  void request_timed_out(std::string_view why);
  // The peer is in trusted_proxies (its forwarding headers and overrides are believed).
  bool peer_trusted() const;
  void release_stream();
  void set_deadline(Deadline kind, Clock::duration after);
  void finish_op();
  void log_access();
  void write_client(bool is_local);

  Worker& worker_;
  boost::asio::ip::tcp::socket socket_;
  const ListenerSlot* listener_;
  Stream* s_ = nullptr;
  upstream::Connection* up_ = nullptr;
  std::shared_ptr<const Snapshot> snap_; // the snapshot the current request started with
  Clock::time_point deadline_ = Clock::time_point::max();
  // While the request is still arriving (besides deadline_): its whole-request deadline, and the
  // one for the pending body read.
  Clock::time_point request_deadline_ = Clock::time_point::max();
  Clock::time_point body_deadline_ = Clock::time_point::max();
  upstream::Pool* queued_in_ = nullptr;     // waiting for a connection of this pool
  upstream::Pool* buffering_for_ = nullptr; // the body is buffered first, then this pool
  Clock::time_point started_;
  Deadline deadline_kind_ = Deadline::none;
  Phase phase_ = Phase::idle;
  int pending_ = 0;
  bool closed_ = false;
  // Exchange state.
  bool client_reading_ = false;
  bool client_writing_ = false;
  bool upstream_writing_ = false;
  bool request_head_queued_ = false; // the rewritten head still has to be written upstream
  bool request_done_ = false;        // every request byte was parsed
  bool request_has_body_ = false;
  bool response_done_ = false;
  bool response_started_ = false; // some response byte reached the client socket
  bool response_chunked_ = false; // proxy chunk-encodes the response body
  bool response_raw_ = false;     // body copied without framing, connection closes after it
  bool head_request_ = false;
  bool keep_alive_ = true; // client connection may carry another request
  bool upgrade_ = false;
  bool continue_sent_ = false;
  bool upstream_eof_ = false;
  bool first_request_ = true;
  bool retried_ = false;
  bool tunnel_started_ = false;
  bool tunnel_client_eof_ = false;
  bool tunnel_upstream_eof_ = false;
  uint8_t client_version_minor_ = 1;
  int32_t route_ = -1;
  int32_t backend_ = -1;
  uint32_t endpoint_ = 0;
  int status_ = 0;
  bool request_open_ = false; // a request was routed and not yet counted and logged
  bool local_status_ = false; // status_ was produced by weir, not by the upstream
  std::optional<metrics::UpstreamFailure> failure_;
  metrics::BackendCells* cells_ = nullptr;
  metrics::EndpointCells* ep_cells_ = nullptr;
  uint64_t ttfb_ns_ = 0;
  std::string set_cookie_; // a sticky-version cookie to set on this response ("" = none)
  Clock::time_point attempt_started_;
  uint32_t attempts_ = 0;        // retries made for the current request
  size_t body_offset_ = 0;       // where the current request's body starts in the read buffer
  bool in_buffer_reset_ = false; // the read buffer was reused since the head: no replay
  bool resend_ = false;
  bool request_sent_ = false;           // some byte of the current attempt's request went upstream
  boost::asio::steady_timer try_timer_; // retries.per_try_timeout of the current attempt
  uint32_t try_seq_ = 0;                // bumped on disarm: a stale expiry is ignored
  bool final_head_ = false;             // the current attempt's final response head arrived
  bool try_armed_ = false;              // try_timer_ runs for the current attempt
  uint32_t* retry_in_flight_ = nullptr; // the worker's count this retry attempt added to
  uint64_t bytes_in_ = 0;
  uint64_t bytes_out_ = 0;
  char client_ip_[46] = {};
  uint8_t client_ip_len_ = 0;
  unsigned char peer_bytes_[16] = {}; // the peer's address: 4 bytes IPv4, 16 IPv6
  bool peer_v6_ = false;
  bool forced_ = false; // an override forced the version: kept out of the rollout's figures
};

} // namespace weir::runtime
