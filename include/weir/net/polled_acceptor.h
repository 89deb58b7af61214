#pragma once

#include "weir/net/poller.h"

#include <boost/system/error_code.hpp>
#include <cstdint>
#include <memory>
#include <sys/socket.h>

namespace weir::net {

// Who is given what a PolledAcceptor takes off the backlog.
class AcceptOwner {
public:
  // A new connection: non-blocking, close-on-exec, and the peer's address. The owner owns fd.
  virtual void on_accepted(int fd, const sockaddr* peer, socklen_t peer_len) = 0;
  // accept4 failed with something other than "nothing waits" (EMFILE, ENFILE, ENOBUFS, ...):
  // the connection stays in the backlog and would fail again at once, so the acceptor pauses
  // itself; the owner resumes it (after a back-off, or when a connection closes).
  virtual void on_accept_error(const boost::system::error_code& ec) = 0;

protected:
  ~AcceptOwner() = default;
};

// Accepts on a listening socket registered with the worker's Poller: accept4 with
// SOCK_NONBLOCK | SOCK_CLOEXEC hands over the peer's address and a non-blocking socket in one
// syscall (no FIONBIO, no getpeername), and an accept loop that found the backlog empty waits
// for the next edge without asking again. A burst is taken in slices of kSlice so one listener
// cannot hold the event loop; the rest follows from a posted continuation.
// Worker thread only; the listening socket stays owned by the caller and must outlive this.
class PolledAcceptor final : public PollClient {
public:
  static constexpr int kSlice = 64;

  PolledAcceptor(Poller& poller, boost::asio::io_context& io, int listen_fd, AcceptOwner* owner)
      : poller_(poller), io_(io), fd_(listen_fd), owner_(owner) {}
  ~PolledAcceptor();
  PolledAcceptor(const PolledAcceptor&) = delete;
  PolledAcceptor& operator=(const PolledAcceptor&) = delete;

  // Registers the listening socket and starts accepting (from the loop, never inside this call).
  bool start(boost::system::error_code& ec);
  // Leaves new connections in the kernel's backlog until resume().
  void pause() { paused_ = true; }
  // Accepts again: what waits now (from the loop), then on every edge.
  void resume();
  bool paused() const { return paused_; }
  // No more accepting and no more callbacks; the caller closes the listening socket after.
  void stop();

  void on_ready(uint32_t events) override;

private:
  void schedule();
  void take();

  Poller& poller_;
  boost::asio::io_context& io_;
  int fd_;
  AcceptOwner* owner_;
  bool readable_ = true; // a connection may wait (unknown at start: look once)
  bool paused_ = false;
  bool scheduled_ = false;
  bool stopped_ = false;
  // Posted continuations hold a copy: they do nothing once the acceptor is gone.
  std::shared_ptr<PolledAcceptor*> self_ = std::make_shared<PolledAcceptor*>(this);
};

} // namespace weir::net
