#pragma once

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/system/error_code.hpp>
#include <cstdint>
#include <sys/epoll.h>

namespace weir::net {

// What a descriptor registered with a Poller is told: new readiness arrived (an edge).
class PollClient {
public:
  // `events` is epoll's mask (EPOLLIN, EPOLLOUT, EPOLLRDHUP, EPOLLHUP, EPOLLERR). Called from
  // the worker's event loop, never from inside a call the client made.
  virtual void on_ready(uint32_t events) = 0;

protected:
  ~PollClient() = default;
};

// One worker's edge-triggered epoll set, nested in the worker's io_context: Asio's reactor
// watches the Poller's epoll descriptor, and when it is readable the Poller takes a batch of
// events (epoll_wait, timeout 0) and hands each to its client.
//
// Why not Asio's own socket operations: its reactor makes every wait cost a syscall. A
// readiness wait (async_wait) re-registers the socket with epoll_ctl each time, and a read
// queued after one that returned data always tries recv first (EAGAIN when nothing came yet).
// Here a socket is registered once for its lifetime, for input, output and the peer's close,
// edge-triggered; its client remembers what the last edge and the last read said (a read that
// returned less than asked drained the socket, as nginx reasons), so a proxy exchange costs its
// four data syscalls plus the batch's share of three (Asio's epoll_wait, the re-arm of the
// nested descriptor, the Poller's epoll_wait).
//
// Worker thread only; not destroyed from inside a client's on_ready. A client closing its
// descriptor calls forget() first: events of the batch being handed out that name it are then
// dropped, so no client is called after it went.
class Poller {
public:
  explicit Poller(boost::asio::io_context& io);
  ~Poller();
  Poller(const Poller&) = delete;
  Poller& operator=(const Poller&) = delete;

  // Registers `fd` (non-blocking) for input, output and the peer's close, edge-triggered. An
  // edge that is already due is reported at the next batch.
  bool add(int fd, PollClient* client, boost::system::error_code& ec);
  // `client` is about to close its descriptor (epoll drops a closed descriptor by itself).
  void forget(PollClient* client);
  // Unregisters a descriptor that stays open, and forgets its client.
  void remove(int fd, PollClient* client);

  // Batches handed out and events in them, for tests and the benchmark's accounting.
  uint64_t batches() const { return batches_; }
  uint64_t events() const { return events_; }
  // epoll_wait calls so far; and the latest of them that emptied the kernel's queue of ready
  // events (returned less than a full batch) and whose events have all been handed out. Once
  // settled() > a value waits() had at some moment, every edge of a byte that arrived before
  // that moment has reached its client.
  uint64_t waits() const { return waits_; }
  uint64_t settled() const { return settled_; }

private:
  void arm();
  void dispatch();

  boost::asio::posix::stream_descriptor epoll_;
  std::array<epoll_event, 256> batch_{};
  int batch_size_ = 0;
  int batch_pos_ = 0;
  uint64_t batches_ = 0;
  uint64_t events_ = 0;
  uint64_t waits_ = 0;
  uint64_t settled_ = 0;
};

} // namespace weir::net
