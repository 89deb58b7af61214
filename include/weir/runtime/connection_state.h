#pragma once

#include <cstdint>
#include <optional>

namespace weir::runtime {

// The client connection as four small state machines, each a pure function (state, event) ->
// next state, or nullopt when the event cannot happen in that state (a bug in the caller, never
// input: the connection closes rather than go on in a state nobody designed). This is HAProxy's
// split of an h1 connection state from one message state per direction, and Envoy's split of
// the connection manager from the router's upstream request:
//
//   ConnState      the client connection (conn manager): idle, reading a head, an exchange,
//                  a tunnel, closing;
//   RequestState   the request message, client -> upstream: head, body held back (buffered) or
//                  forwarded as it arrives, every byte parsed;
//   ResponseState  the response message, upstream -> client: none, waiting for its final head,
//                  body, every byte parsed, or weir's own answer instead;
//   UpstreamState  the current attempt's upstream connection (router / upstream request): none,
//                  waiting in the pool's line, connecting, ready.
//
// Plain values, no I/O: tests drive every transition without sockets
// (tests/unit/runtime/connection_state_test.cc). Any thread; they hold no state.

enum class ConnState : uint8_t {
  idle,     // no request: holds no Stream, waits for the client's next bytes
  head,     // a request head is being read
  exchange, // a request was routed (or is answered locally): the message states apply
  tunnel,   // after a 101: bytes are copied both ways (Tunnel)
  closing,  // a last response is being written; the connection closes after it
  closed,   // the socket is closed; the object goes once its operations have completed
};

enum class ConnEvent : uint8_t {
  bytes_arrived, // idle -> head: the client sent the first bytes of a request
  nothing_read,  // head -> idle: woken, but no byte came (the Stream goes back)
  head_parsed,   // head -> exchange: the head is in and is being routed
  switched,      // exchange -> tunnel: the upstream's 101 went to the client
  last_response, // idle | head | exchange -> closing: the answer being written is the last
  exchange_done, // exchange -> idle: keep-alive, nothing more in the buffer
  pipelined,     // exchange -> head: the next request is already (partly) in the buffer
  closed,        // any but closed -> closed
  kCount
};

enum class RequestState : uint8_t {
  head,      // the head is being read (or no request yet)
  buffering, // routed; its body is read into the buffer before an upstream is taken
  streaming, // routed; body bytes go upstream as they arrive
  done,      // every byte of the request was parsed (or the request was answered locally)
};

enum class RequestEvent : uint8_t {
  routed,       // head -> streaming
  routed_hold,  // head -> buffering: a Content-Length body still arriving is read first
  body_held,    // buffering -> streaming: the body is in (or the buffer full); it goes now
  last_byte,    // streaming -> done
  answered,     // head | buffering | streaming -> done: weir answers; the rest is not forwarded
  next_request, // done -> head: keep-alive, the next request's head
  kCount
};

enum class ResponseState : uint8_t {
  none,  // no attempt has a connection yet
  head,  // an attempt has a connection: waiting for the final head (interim ones pass)
  body,  // the final head arrived (a 2xx-5xx or a 101)
  done,  // every byte of the response was parsed
  local, // weir's own answer replaces the upstream's
};

enum class ResponseEvent : uint8_t {
  attempt,      // none | head | body -> head: a connection (first, retry or replay) is attached
  final_head,   // head -> body
  last_byte,    // body -> done
  answer_local, // none | head | body -> local
  next_request, // done | local -> none
  kCount
};

enum class UpstreamState : uint8_t {
  none,       // no connection: not routed yet, answered locally, or between two attempts
  queued,     // in the pool's line: the endpoint has every connection it may have
  connecting, // a new connection is connecting
  ready,      // a connection is attached and carries the request
};

enum class UpstreamEvent : uint8_t {
  queue,     // none -> queued
  connect,   // none | queued -> connecting (a new connection, at once or granted from the line)
  reuse,     // none | queued -> ready (an idle pooled connection)
  connected, // connecting -> ready
  released,  // any -> none: the connection went back, was closed, or the wait was cancelled
  kCount
};

std::optional<ConnState> next(ConnState s, ConnEvent e);
std::optional<RequestState> next(RequestState s, RequestEvent e);
std::optional<ResponseState> next(ResponseState s, ResponseEvent e);
std::optional<UpstreamState> next(UpstreamState s, UpstreamEvent e);

// Names for logs and test failures.
const char* name(ConnState s);
const char* name(ConnEvent e);
const char* name(RequestState s);
const char* name(RequestEvent e);
const char* name(ResponseState s);
const char* name(ResponseEvent e);
const char* name(UpstreamState s);
const char* name(UpstreamEvent e);

} // namespace weir::runtime
