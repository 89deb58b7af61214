#pragma once

#include "weir/http/head.h"
#include "weir/mirror/sender.h"

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace weir::mirror {

// One mirrored request as its client connection sees it: copies the request's body as it is
// relayed, hands the copy to the mirror thread once the request is complete, and with compare
// copies the answer the client got (status, the compared headers, the body up to
// kMaxComparedBody) and hands that over when it is complete. Destroyed when the request is
// counted (ClientConnection::finish_request): a copy never handed over releases its place in
// max_in_flight, a compared one whose answer never came is cancelled.
//
// Worker thread only (its connection's). Made by Lane::sample, only for sampled requests, so a
// request that is not mirrored costs one pointer test per hook.
class Tap {
public:
  Tap(Sender& sender, Lane::RouteState& state, std::unique_ptr<Copy> copy, uint64_t max_body,
      std::vector<std::string> compared_headers);
  ~Tap();
  Tap(const Tap&) = delete;
  Tap& operator=(const Tap&) = delete;

  // Request body bytes as relayed (de-chunked). Beyond max_body_bytes the copy is dropped.
  void request_body(std::string_view piece);
  // The request is complete; `upstream_head` is the head weir sent upstream.
  void request_done(std::string_view upstream_head);
  // The final response head the client gets (again on a retry's), from `service`/`endpoint`.
  void response_head(const http::Head& head, std::string_view service, std::string_view endpoint);
  void response_body(std::string_view piece);
  void response_done();

private:
  Sender& sender_;
  Lane::RouteState& state_;
  std::unique_ptr<Copy> copy_; // until handed over
  std::unique_ptr<ClientAnswer> answer_;
  std::vector<std::string> compared_headers_;
  uint64_t max_body_;
  uint64_t seq_ = 0;
  bool compare_ = false;
  bool submitted_ = false; // the copy went to the mirror thread
  bool answer_sent_ = false;
  bool too_large_ = false;
};

// The head of a mirrored request: `upstream_head` (what weir sent upstream, Host kept) with its
// framing re-stated for a de-chunked body of `body_bytes` (Content-Length; Transfer-Encoding,
// Content-Length and Connection dropped) and `x-weir-mirror: 1` added. Mirror thread.
std::string mirror_request_head(std::string_view upstream_head, size_t body_bytes);

} // namespace weir::mirror
