#pragma once

#include "weir/net/epoll_transport.h"
#include "weir/net/uring_transport.h"

#include <new>

namespace weir::net {

// The worker's socket transport, whichever its I/O backend is (io: epoll | io_uring): with a
// Ring a UringTransport, else an EpollTransport, built in place (an idle connection pays for
// the larger of the two, no allocation and no pointer).
class AnySocketTransport {
public:
  AnySocketTransport(Poller& poller, Ring* ring, boost::asio::io_context& io, TransportOwner* owner,
                     HandlerAllocator<void> alloc)
      : uring_(ring != nullptr) {
    if (uring_)
      new (&u_.uring) UringTransport(*ring, io, owner, alloc);
    else
      new (&u_.epoll) EpollTransport(poller, io, owner, alloc);
  }
  ~AnySocketTransport() {
    if (uring_)
      u_.uring.~UringTransport();
    else
      u_.epoll.~EpollTransport();
  }
  AnySocketTransport(const AnySocketTransport&) = delete;
  AnySocketTransport& operator=(const AnySocketTransport&) = delete;

  SocketTransport& get() { return uring_ ? static_cast<SocketTransport&>(u_.uring) : u_.epoll; }
  SocketTransport* operator->() { return &get(); }

private:
  union Storage {
    Storage() {}
    ~Storage() {}
    EpollTransport epoll;
    UringTransport uring;
  } u_;
  bool uring_;
};

} // namespace weir::net
