#pragma once

#include "weir/base/result.h"

#include <chrono>
#include <string>
#include <vector>

// The wire between a running weir and the binary that takes over from it (`weirctl upgrade`):
// a SOCK_SEQPACKET socket pair, the new process's end inherited as a descriptor. One message is
// a JSON object and any number of descriptors (SCM_RIGHTS), cut into frames a datagram can carry:
// each frame is a flag byte ('C' more follows, 'E' the message ends) and up to kFrameText bytes
// of the text, with up to kFrameFds descriptors attached. Any thread; no state but the caller's.
namespace weir::control::handover {

inline constexpr size_t kFrameText = 32 * 1024;
inline constexpr size_t kFrameFds = 200; // the kernel takes at most 253 per message
// A message larger (or with more descriptors) is refused: the other side is not a weir that
// means well, and this one must not swell reading it.
inline constexpr size_t kMaxMessage = 16 << 20;
inline constexpr size_t kMaxFds = 1 << 16;
// The conversation's version: both sides say it, and one that hears another stops.
inline constexpr int kProtocol = 1;

struct Message {
  std::string json;
  std::vector<int> fds; // received: owned by the receiver (close-on-exec)
};

// Closes every descriptor of `m` (a message read but not used).
void close_fds(Message& m);

// Sends `m` on `fd` (blocking or not: a full socket is waited for with poll until `deadline`).
// The descriptors stay the caller's.
Result<bool> send(int fd, const Message& m, std::chrono::steady_clock::time_point deadline);

// Collects frames into messages across calls: read() takes what the socket has now without
// waiting (call it when poll or the event loop says the socket is readable).
class Receiver {
public:
  enum class Status { message, more, closed, error };
  ~Receiver() { close_fds(partial_); }
  // message: `out` holds a whole message. more: nothing whole yet. closed: the peer is gone
  // (a message cut short is dropped). error: `error` says what.
  Status read(int fd, Message& out, std::string& error);

private:
  Message partial_;
};

// Waits for one whole message until `deadline`: the message, or why not ("the other side closed
// the connection", "no message within ...").
Result<Message> receive(int fd, std::chrono::steady_clock::time_point deadline);

} // namespace weir::control::handover
