#include "weir/net/poller.h"

#include <boost/asio/error.hpp>
#include <boost/system/system_error.hpp>
#include <cerrno>
#include <unistd.h>

namespace weir::net {

namespace {
int new_epoll() {
  int fd = ::epoll_create1(EPOLL_CLOEXEC);
  if (fd < 0)
    throw boost::system::system_error(errno, boost::system::system_category(), "epoll_create1");
  return fd;
}
} // namespace

Poller::Poller(boost::asio::io_context& io) : epoll_(io, new_epoll()) {
  arm();
}

Poller::~Poller() {
  boost::system::error_code ignored;
  epoll_.close(ignored); // the pending wait completes aborted and touches nothing of ours
}

bool Poller::add(int fd, PollClient* client, boost::system::error_code& ec) {
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  ev.data.ptr = client;
  if (::epoll_ctl(epoll_.native_handle(), EPOLL_CTL_ADD, fd, &ev) != 0) {
    ec.assign(errno, boost::system::system_category());
    return false;
  }
  ec.clear();
  return true;
}

void Poller::forget(PollClient* client) {
  for (int i = batch_pos_; i < batch_size_; ++i)
    if (batch_[static_cast<size_t>(i)].data.ptr == client)
      batch_[static_cast<size_t>(i)].data.ptr = nullptr;
}

void Poller::remove(int fd, PollClient* client) {
  ::epoll_ctl(epoll_.native_handle(), EPOLL_CTL_DEL, fd, nullptr);
  forget(client);
}

void Poller::arm() {
  epoll_.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                    [this](const boost::system::error_code& ec) {
                      if (ec == boost::asio::error::operation_aborted) return;
                      dispatch();
                    });
}

void Poller::dispatch() {
  // A full batch may leave events behind: take the next one at once, but give the rest of the
  // loop (timers, posted work) a turn after a few, so a flood of sockets cannot starve it.
  for (int round = 0; round < 4; ++round) {
    int n = ::epoll_wait(epoll_.native_handle(), batch_.data(), static_cast<int>(batch_.size()), 0);
    uint64_t wait = ++waits_;
    if (n <= 0) {
      settled_ = wait;
      break;
    }
    ++batches_;
    events_ += static_cast<uint64_t>(n);
    batch_size_ = n;
    for (batch_pos_ = 0; batch_pos_ < batch_size_;) {
      epoll_event ev = batch_[static_cast<size_t>(batch_pos_++)];
      if (auto* client = static_cast<PollClient*>(ev.data.ptr)) client->on_ready(ev.events);
    }
    batch_size_ = batch_pos_ = 0;
    if (n < static_cast<int>(batch_.size())) {
      settled_ = wait; // the queue was empty at that wait, and all it held is handed out
      break;
    }
  }
  arm();
}

} // namespace weir::net
