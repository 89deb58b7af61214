#include "weir/net/polled_acceptor.h"

#include <boost/asio/post.hpp>
#include <cerrno>
#include <unistd.h>

namespace weir::net {

PolledAcceptor::~PolledAcceptor() {
  *self_ = nullptr;
  if (!stopped_) poller_.forget(this);
}

bool PolledAcceptor::start(boost::system::error_code& ec) {
  if (!poller_.add(fd_, this, ec)) return false;
  schedule(); // connections queued before the registration gave no edge we could have seen
  return true;
}

void PolledAcceptor::resume() {
  if (stopped_) return;
  paused_ = false;
  if (readable_) schedule();
}

void PolledAcceptor::stop() {
  if (stopped_) return;
  stopped_ = true;
  // The caller may keep the descriptor open a while (epoll drops it only once it is closed):
  // take it out now so no edge reaches an acceptor that asked for none.
  poller_.remove(fd_, this);
}

void PolledAcceptor::on_ready(uint32_t events) {
  if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) readable_ = true;
  if (!paused_ && !stopped_) take();
}

void PolledAcceptor::schedule() {
  if (scheduled_) return;
  scheduled_ = true;
  boost::asio::post(io_, [self = self_] {
    PolledAcceptor* a = *self;
    if (!a) return;
    a->scheduled_ = false;
    if (!a->paused_ && !a->stopped_ && a->readable_) a->take();
  });
}

void PolledAcceptor::take() {
  for (int i = 0; i < kSlice; ++i) {
    sockaddr_storage peer;
    socklen_t len = sizeof peer;
    int fd = ::accept4(fd_, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue; // that one went away; next
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        readable_ = false; // the next edge says when another comes
        return;
      }
      paused_ = true;
      owner_->on_accept_error(boost::system::error_code(errno, boost::system::system_category()));
      return;
    }
    owner_->on_accepted(fd, reinterpret_cast<sockaddr*>(&peer), len);
    // The owner may have paused (at its connection cap) or stopped this acceptor.
    if (paused_ || stopped_) return;
  }
  schedule(); // a burst: the rest after the loop's other work
}

} // namespace weir::net
