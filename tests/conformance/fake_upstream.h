#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

// The raw origin behind the proxy under test. It records exactly the bytes each connection
// brings during a case and answers every complete request it can frame: with the case's raw
// reply (response side, first request of the case) or with a small fixed 200 that carries
// `X-Conformance: upstream` and echoes the target it saw, so the client can tell the upstream's
// answers from the proxy's own and which request each answer belongs to.
//
// Requests whose target starts with kRunnerPrefix are the runner's own (keep-alive probes,
// barriers): they are answered but not recorded.
//
// Thread contract: one I/O thread inside; every public function may be called from any one
// other thread.
namespace weir::conformance {

inline constexpr std::string_view kRunnerPrefix = "/__conformance/";

// What the upstream saw during one case.
struct Recording {
  // Per upstream connection (in order of first bytes), the bytes that arrived during the case,
  // the runner's own requests removed.
  std::vector<std::string> connections;
  std::vector<std::string> request_lines; // complete requests framed during the case
  bool reply_sent = false;
  // Another request (the runner's included) arrived on the connection that carried the reply.
  bool reply_connection_reused = false;
  bool reply_connection_closed = false; // the proxy closed that connection by the case's end

  bool empty() const;
};

class FakeUpstream {
public:
  // Listens on 127.0.0.1:port (0: a kernel-chosen port). Throws std::runtime_error.
  explicit FakeUpstream(uint16_t port);
  FakeUpstream(const FakeUpstream&) = delete;
  FakeUpstream& operator=(const FakeUpstream&) = delete;
  ~FakeUpstream();

  uint16_t port() const { return port_; }

  // Starts a case. A non-empty `reply` answers the case's first request; then the upstream
  // half-closes that connection unless `keep`.
  void begin_case(std::string reply, bool keep);
  // True once a request for `target` arrived (on any connection) since begin_case.
  bool wait_for_target(const std::string& target, std::chrono::milliseconds timeout);
  // True once some case request arrived since begin_case.
  bool wait_for_request(std::chrono::milliseconds timeout);
  Recording end_case();

private:
  struct Connection {
    int fd = -1;
    uint64_t id = 0;
    std::string in;          // bytes not framed yet
    bool closing = false;    // we half-closed: record, never answer
    bool unframable = false; // garbage: record, never answer
    bool carried_reply = false;
  };

  void run();
  void accept_one();
  void read_from(Connection& c); // may erase c
  void frame_requests(Connection& c);
  void answer(Connection& c, std::string_view bytes, bool close_after);

  int listen_fd_ = -1;
  int wake_[2] = {-1, -1};
  uint16_t port_ = 0;
  std::thread thread_;

  std::mutex mutex_;
  std::condition_variable changed_;
  std::map<int, Connection> connections_; // by fd
  uint64_t next_id_ = 1;
  // Current case.
  std::string reply_;
  bool reply_keep_ = false;
  Recording recording_;
  std::map<uint64_t, size_t> recording_index_; // connection id -> recording_.connections slot
  std::set<std::string> targets_seen_;
  uint64_t reply_connection_ = 0;
  int case_requests_ = 0;
};

} // namespace weir::conformance
