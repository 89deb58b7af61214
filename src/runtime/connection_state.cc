#include "weir/runtime/connection_state.h"

namespace weir::runtime {

// Each function lists the transitions that exist; everything else is nullopt. The unit test
// holds the same table written out the other way round (every state x every event).

std::optional<ConnState> next(ConnState s, ConnEvent e) {
  using S = ConnState;
  switch (e) {
  case ConnEvent::bytes_arrived:
    if (s == S::idle) return S::head;
    break;
  case ConnEvent::nothing_read:
    if (s == S::head) return S::idle;
    break;
  case ConnEvent::head_parsed:
    if (s == S::head) return S::exchange;
    break;
  case ConnEvent::switched:
    if (s == S::exchange) return S::tunnel;
    break;
  case ConnEvent::last_response:
    if (s == S::idle || s == S::head || s == S::exchange) return S::closing;
    break;
  case ConnEvent::exchange_done:
    if (s == S::exchange) return S::idle;
    break;
  case ConnEvent::pipelined:
    if (s == S::exchange) return S::head;
    break;
  case ConnEvent::closed:
    if (s != S::closed) return S::closed;
    break;
  case ConnEvent::kCount:
    break;
  }
  return std::nullopt;
}

std::optional<RequestState> next(RequestState s, RequestEvent e) {
  using S = RequestState;
  switch (e) {
  case RequestEvent::routed:
    if (s == S::head) return S::streaming;
    break;
  case RequestEvent::routed_hold:
    if (s == S::head) return S::buffering;
    break;
  case RequestEvent::body_held:
    if (s == S::buffering) return S::streaming;
    break;
  case RequestEvent::last_byte:
    if (s == S::streaming) return S::done;
    break;
  case RequestEvent::answered:
    // From done too: an upstream failure after the whole request went out is answered locally.
    return S::done;
  case RequestEvent::next_request:
    if (s == S::done) return S::head;
    break;
  case RequestEvent::kCount:
    break;
  }
  return std::nullopt;
}

std::optional<ResponseState> next(ResponseState s, ResponseEvent e) {
  using S = ResponseState;
  switch (e) {
  case ResponseEvent::attempt:
    // From body: a 5xx final head that is retried never reaches the client.
    if (s == S::none || s == S::head || s == S::body) return S::head;
    break;
  case ResponseEvent::final_head:
    if (s == S::head) return S::body;
    break;
  case ResponseEvent::last_byte:
    if (s == S::body) return S::done;
    break;
  case ResponseEvent::answer_local:
    if (s == S::none || s == S::head || s == S::body) return S::local;
    break;
  case ResponseEvent::next_request:
    if (s == S::done || s == S::local) return S::none;
    break;
  case ResponseEvent::kCount:
    break;
  }
  return std::nullopt;
}

std::optional<UpstreamState> next(UpstreamState s, UpstreamEvent e) {
  using S = UpstreamState;
  switch (e) {
  case UpstreamEvent::queue:
    if (s == S::none) return S::queued;
    break;
  case UpstreamEvent::connect:
    if (s == S::none || s == S::queued) return S::connecting;
    break;
  case UpstreamEvent::reuse:
    if (s == S::none || s == S::queued) return S::ready;
    break;
  case UpstreamEvent::connected:
    if (s == S::connecting) return S::ready;
    break;
  case UpstreamEvent::released:
    return S::none;
  case UpstreamEvent::kCount:
    break;
  }
  return std::nullopt;
}

const char* name(ConnState s) {
  switch (s) {
  case ConnState::idle:
    return "idle";
  case ConnState::head:
    return "head";
  case ConnState::exchange:
    return "exchange";
  case ConnState::tunnel:
    return "tunnel";
  case ConnState::closing:
    return "closing";
  case ConnState::closed:
    return "closed";
  }
  return "?";
}

const char* name(ConnEvent e) {
  switch (e) {
  case ConnEvent::bytes_arrived:
    return "bytes_arrived";
  case ConnEvent::nothing_read:
    return "nothing_read";
  case ConnEvent::head_parsed:
    return "head_parsed";
  case ConnEvent::switched:
    return "switched";
  case ConnEvent::last_response:
    return "last_response";
  case ConnEvent::exchange_done:
    return "exchange_done";
  case ConnEvent::pipelined:
    return "pipelined";
  case ConnEvent::closed:
    return "closed";
  case ConnEvent::kCount:
    break;
  }
  return "?";
}

const char* name(RequestState s) {
  switch (s) {
  case RequestState::head:
    return "head";
  case RequestState::buffering:
    return "buffering";
  case RequestState::streaming:
    return "streaming";
  case RequestState::done:
    return "done";
  }
  return "?";
}

const char* name(RequestEvent e) {
  switch (e) {
  case RequestEvent::routed:
    return "routed";
  case RequestEvent::routed_hold:
    return "routed_hold";
  case RequestEvent::body_held:
    return "body_held";
  case RequestEvent::last_byte:
    return "last_byte";
  case RequestEvent::answered:
    return "answered";
  case RequestEvent::next_request:
    return "next_request";
  case RequestEvent::kCount:
    break;
  }
  return "?";
}

const char* name(ResponseState s) {
  switch (s) {
  case ResponseState::none:
    return "none";
  case ResponseState::head:
    return "head";
  case ResponseState::body:
    return "body";
  case ResponseState::done:
    return "done";
  case ResponseState::local:
    return "local";
  }
  return "?";
}

const char* name(ResponseEvent e) {
  switch (e) {
  case ResponseEvent::attempt:
    return "attempt";
  case ResponseEvent::final_head:
    return "final_head";
  case ResponseEvent::last_byte:
    return "last_byte";
  case ResponseEvent::answer_local:
    return "answer_local";
  case ResponseEvent::next_request:
    return "next_request";
  case ResponseEvent::kCount:
    break;
  }
  return "?";
}

const char* name(UpstreamState s) {
  switch (s) {
  case UpstreamState::none:
    return "none";
  case UpstreamState::queued:
    return "queued";
  case UpstreamState::connecting:
    return "connecting";
  case UpstreamState::ready:
    return "ready";
  }
  return "?";
}

const char* name(UpstreamEvent e) {
  switch (e) {
  case UpstreamEvent::queue:
    return "queue";
  case UpstreamEvent::connect:
    return "connect";
  case UpstreamEvent::reuse:
    return "reuse";
  case UpstreamEvent::connected:
    return "connected";
  case UpstreamEvent::released:
    return "released";
  case UpstreamEvent::kCount:
    break;
  }
  return "?";
}

} // namespace weir::runtime
