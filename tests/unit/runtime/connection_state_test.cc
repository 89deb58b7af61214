// Every state x every event of the four client-connection state machines, valid and invalid,
// against the transition tables written out here; then the paths a real exchange takes.
#include "weir/runtime/connection_state.h"

#include <gtest/gtest.h>
#include <set>
#include <string>
#include <tuple>
#include <vector>

namespace weir::runtime {
namespace {

template <typename State, typename Event> struct Row {
  State from;
  Event event;
  State to;
};

// Checks next() over the whole state x event grid: the rows are the only transitions.
template <typename State, typename Event>
void check_grid(int state_count, const std::vector<Row<State, Event>>& rows) {
  std::set<std::pair<int, int>> seen;
  for (const auto& r : rows) {
    ASSERT_TRUE(seen.insert({static_cast<int>(r.from), static_cast<int>(r.event)}).second)
        << "row given twice: " << name(r.from) << " + " << name(r.event);
  }
  int valid = 0;
  for (int s = 0; s < state_count; ++s) {
    for (int e = 0; e < static_cast<int>(Event::kCount); ++e) {
      State from = static_cast<State>(s);
      Event event = static_cast<Event>(e);
      SCOPED_TRACE(std::string(name(from)) + " + " + name(event));
      const Row<State, Event>* row = nullptr;
      for (const auto& r : rows)
        if (r.from == from && r.event == event) row = &r;
      std::optional<State> got = next(from, event);
      if (row) {
        ++valid;
        ASSERT_TRUE(got.has_value()) << "valid transition refused";
        EXPECT_EQ(name(*got), std::string(name(row->to)));
      } else {
        EXPECT_FALSE(got.has_value()) << "invalid transition accepted, to " << name(*got);
      }
    }
  }
  EXPECT_EQ(valid, static_cast<int>(rows.size()));
}

TEST(ConnectionState, ConnTransitionsEveryPair) {
  using S = ConnState;
  using E = ConnEvent;
  check_grid<S, E>(6, {
                          {S::idle, E::bytes_arrived, S::head},
                          {S::head, E::nothing_read, S::idle},
                          {S::head, E::head_parsed, S::exchange},
                          {S::exchange, E::switched, S::tunnel},
                          {S::idle, E::last_response, S::closing},
                          {S::head, E::last_response, S::closing},
                          {S::exchange, E::last_response, S::closing},
                          {S::exchange, E::exchange_done, S::idle},
                          {S::exchange, E::pipelined, S::head},
                          {S::idle, E::closed, S::closed},
                          {S::head, E::closed, S::closed},
                          {S::exchange, E::closed, S::closed},
                          {S::tunnel, E::closed, S::closed},
                          {S::closing, E::closed, S::closed},
                      });
}

TEST(ConnectionState, RequestTransitionsEveryPair) {
  using S = RequestState;
  using E = RequestEvent;
  check_grid<S, E>(4, {
                          {S::head, E::routed, S::streaming},
                          {S::head, E::routed_hold, S::buffering},
                          {S::buffering, E::body_held, S::streaming},
                          {S::streaming, E::last_byte, S::done},
                          {S::head, E::answered, S::done},
                          {S::buffering, E::answered, S::done},
                          {S::streaming, E::answered, S::done},
                          {S::done, E::answered, S::done},
                          {S::done, E::next_request, S::head},
                      });
}

TEST(ConnectionState, ResponseTransitionsEveryPair) {
  using S = ResponseState;
  using E = ResponseEvent;
  check_grid<S, E>(5, {
                          {S::none, E::attempt, S::head},
                          {S::head, E::attempt, S::head},
                          {S::body, E::attempt, S::head},
                          {S::head, E::final_head, S::body},
                          {S::body, E::last_byte, S::done},
                          {S::none, E::answer_local, S::local},
                          {S::head, E::answer_local, S::local},
                          {S::body, E::answer_local, S::local},
                          {S::done, E::next_request, S::none},
                          {S::local, E::next_request, S::none},
                      });
}

TEST(ConnectionState, UpstreamTransitionsEveryPair) {
  using S = UpstreamState;
  using E = UpstreamEvent;
  check_grid<S, E>(4, {
                          {S::none, E::queue, S::queued},
                          {S::none, E::connect, S::connecting},
                          {S::queued, E::connect, S::connecting},
                          {S::none, E::reuse, S::ready},
                          {S::queued, E::reuse, S::ready},
                          {S::connecting, E::connected, S::ready},
                          {S::none, E::released, S::none},
                          {S::queued, E::released, S::none},
                          {S::connecting, E::released, S::none},
                          {S::ready, E::released, S::none},
                      });
}

// Applies events in order, failing on the first one the machine refuses.
template <typename State, typename Event> State walk(State s, std::initializer_list<Event> events) {
  for (Event e : events) {
    std::optional<State> n = next(s, e);
    EXPECT_TRUE(n.has_value()) << name(s) << " + " << name(e);
    if (!n) return s;
    s = *n;
  }
  return s;
}

TEST(ConnectionState, KeepAliveRequestOnAPooledConnection) {
  EXPECT_EQ(walk(ConnState::idle,
                 {ConnEvent::bytes_arrived, ConnEvent::head_parsed, ConnEvent::exchange_done}),
            ConnState::idle);
  EXPECT_EQ(walk(RequestState::head,
                 {RequestEvent::routed, RequestEvent::last_byte, RequestEvent::next_request}),
            RequestState::head);
  EXPECT_EQ(walk(UpstreamState::none, {UpstreamEvent::reuse, UpstreamEvent::released}),
            UpstreamState::none);
  EXPECT_EQ(walk(ResponseState::none, {ResponseEvent::attempt, ResponseEvent::final_head,
                                       ResponseEvent::last_byte, ResponseEvent::next_request}),
            ResponseState::none);
}

TEST(ConnectionState, BufferedUploadQueuedThenConnectedThenRetried) {
  EXPECT_EQ(walk(RequestState::head,
                 {RequestEvent::routed_hold, RequestEvent::body_held, RequestEvent::last_byte}),
            RequestState::done);
  // Queued, granted a new connection, connected; the 503 it answers is retried on another.
  EXPECT_EQ(walk(UpstreamState::none,
                 {UpstreamEvent::queue, UpstreamEvent::connect, UpstreamEvent::connected,
                  UpstreamEvent::released, UpstreamEvent::connect, UpstreamEvent::connected}),
            UpstreamState::ready);
  EXPECT_EQ(walk(ResponseState::none,
                 {ResponseEvent::attempt, ResponseEvent::final_head, ResponseEvent::attempt,
                  ResponseEvent::final_head, ResponseEvent::last_byte}),
            ResponseState::done);
}

TEST(ConnectionState, UpstreamFailureAnsweredLocallyKeepsTheConnection) {
  EXPECT_EQ(walk(ResponseState::none, {ResponseEvent::attempt, ResponseEvent::answer_local,
                                       ResponseEvent::next_request}),
            ResponseState::none);
  EXPECT_EQ(walk(RequestState::head,
                 {RequestEvent::routed, RequestEvent::last_byte, RequestEvent::answered}),
            RequestState::done);
  EXPECT_EQ(walk(ConnState::exchange, {ConnEvent::pipelined, ConnEvent::head_parsed,
                                       ConnEvent::last_response, ConnEvent::closed}),
            ConnState::closed);
}

TEST(ConnectionState, WebSocketTunnelThenClose) {
  EXPECT_EQ(walk(ConnState::idle, {ConnEvent::bytes_arrived, ConnEvent::head_parsed,
                                   ConnEvent::switched, ConnEvent::closed}),
            ConnState::closed);
  // Nothing leaves a tunnel but the close.
  for (int e = 0; e < static_cast<int>(ConnEvent::kCount); ++e) {
    if (static_cast<ConnEvent>(e) == ConnEvent::closed) continue;
    EXPECT_FALSE(next(ConnState::tunnel, static_cast<ConnEvent>(e)).has_value());
  }
}

TEST(ConnectionState, EveryValueHasAName) {
  for (int s = 0; s < 6; ++s)
    EXPECT_STRNE(name(static_cast<ConnState>(s)), "?");
  for (int e = 0; e < static_cast<int>(ConnEvent::kCount); ++e)
    EXPECT_STRNE(name(static_cast<ConnEvent>(e)), "?");
  for (int s = 0; s < 4; ++s)
    EXPECT_STRNE(name(static_cast<RequestState>(s)), "?");
  for (int e = 0; e < static_cast<int>(RequestEvent::kCount); ++e)
    EXPECT_STRNE(name(static_cast<RequestEvent>(e)), "?");
  for (int s = 0; s < 5; ++s)
    EXPECT_STRNE(name(static_cast<ResponseState>(s)), "?");
  for (int e = 0; e < static_cast<int>(ResponseEvent::kCount); ++e)
    EXPECT_STRNE(name(static_cast<ResponseEvent>(e)), "?");
  for (int s = 0; s < 4; ++s)
    EXPECT_STRNE(name(static_cast<UpstreamState>(s)), "?");
  for (int e = 0; e < static_cast<int>(UpstreamEvent::kCount); ++e)
    EXPECT_STRNE(name(static_cast<UpstreamEvent>(e)), "?");
}

} // namespace
} // namespace weir::runtime
