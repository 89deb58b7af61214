#include "weir/upstream/pool.h"

#include <algorithm>
#include <boost/asio/bind_allocator.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/post.hpp>

namespace weir::upstream {

Connection::Connection(boost::asio::io_context& io, net::Poller& poller, Pool* pool,
                       HandlerAllocator<void> alloc, net::Ring* ring, const tls::ClientContext* tls,
                       const std::string& endpoint_ip)
    : transport_(poller, ring, io, this, alloc), t_(&transport_.get()), pool_(pool) {
  ++alive_;
  if (tls) {
    // Out of memory for the SSL: a TLS connection that fails its handshake, never plain TCP.
    tls_ = new net::TlsTransport(poller, ring, io, this, alloc, tls->new_ssl(endpoint_ip));
    t_ = tls_;
  }
}

Connection::~Connection() {
  if (tls_) tls_->release();
  --alive_;
}

const std::string& Connection::tls_failure() const {
  static const std::string kNone;
  return tls_ ? tls_->failure() : kNone;
}

void Connection::connect(const boost::asio::ip::tcp::endpoint& endpoint) {
  ++pending_;
  t_->connect(endpoint);
}

void Connection::on_transport_connected(const boost::system::error_code& ec) {
  ConnectionOwner* owner = owner_;
  bool closed = closed_;
  finish_op();
  if (!closed && owner) owner->on_upstream_connected(ec);
}

void Connection::wait_readable() {
  if (wait_pending_ || closed_) return;
  wait_pending_ = true;
  ++pending_;
  t_->wait_readable();
}

void Connection::on_transport_readable(const boost::system::error_code& ec) {
  wait_pending_ = false;
  ConnectionOwner* owner = owner_;
  bool closed = closed_;
  finish_op();
  if (closed) return;
  if (owner)
    owner->on_upstream_readable(ec);
  else
    pool_->on_idle_event(this);
}

void Connection::write(BufferView buffers) {
  write_pending_ = true;
  ++pending_;
  t_->write(buffers);
}

void Connection::on_transport_written(const boost::system::error_code& ec, size_t) {
  write_pending_ = false;
  ConnectionOwner* owner = owner_;
  bool closed = closed_;
  finish_op();
  if (!closed && owner) owner->on_upstream_written(ec);
}

void Connection::close_and_release() {
  if (closed_) return;
  closed_ = true;
  owner_ = nullptr;
  t_->close();
  if (pool_) {
    --pool_->active_count_;
    if (pool_->cells_) pool_->cells_->open.sub();
    if (!pool_->waiters_.empty()) pool_->schedule_grant();
  }
  ++pending_;
  finish_op();
}

void Connection::finish_op() {
  if (--pending_ == 0 && closed_) delete this;
}

Pool::Pool(boost::asio::io_context& io, net::Poller& poller,
           boost::asio::ip::tcp::endpoint endpoint, std::string key, uint32_t max_idle,
           HandlerAllocator<void> alloc, net::Ring* ring)
    : io_(io), poller_(poller), ring_(ring), alloc_(alloc), endpoint_(endpoint),
      key_(std::move(key)), ip_(endpoint.address().to_string()), max_idle_(max_idle) {}

Pool::~Pool() {
  close_idle();
  // Lent-out connections outlive the pool only during shutdown; they must not call back.
}

Connection* Pool::acquire(ConnectionOwner* owner, bool& fresh, bool unreplayable) {
  // Waiters are served first: a newcomer must not overtake them when a slot frees.
  if (waiters_.empty()) {
    if (Connection* c = take_idle(unreplayable)) {
      c->set_owner(owner);
      fresh = false;
      return c;
    }
    if (active_count_ + idle_count_ < max_connections_) {
      fresh = true;
      return connect_new(owner);
    }
  }
  waiters_.push_back(owner);
  return nullptr;
}

void Pool::cancel_wait(ConnectionOwner* owner) {
  auto it = std::find(waiters_.begin(), waiters_.end(), owner);
  if (it != waiters_.end()) waiters_.erase(it);
}

void Pool::set_max_connections(uint32_t n) {
  max_connections_ = std::max<uint32_t>(1, n);
  if (!waiters_.empty()) schedule_grant();
}

void Pool::schedule_grant() {
  if (grant_scheduled_) return;
  grant_scheduled_ = true;
  boost::asio::post(io_, boost::asio::bind_allocator(alloc_, [this] { grant(); }));
}

void Pool::grant() {
  grant_scheduled_ = false;
  while (!waiters_.empty()) {
    ConnectionOwner* owner = waiters_.front();
    Connection* c = nullptr;
    bool fresh = false;
    if ((c = take_idle(true))) { // a waiter's request may have a body
      c->set_owner(owner);
    } else if (active_count_ + idle_count_ < max_connections_) {
      c = connect_new(owner);
      fresh = true;
    } else {
      return;
    }
    waiters_.pop_front();
    owner->on_upstream_granted(c, fresh);
  }
}

Connection* Pool::connect_new(ConnectionOwner* owner) {
  ++active_count_;
  if (cells_) cells_->open.add();
  auto* c = new Connection(io_, poller_, this, alloc_, ring_, tls_.get(), ip_);
  c->set_owner(owner);
  return c;
}

void Pool::release(Connection* c) {
  c->set_owner(nullptr);
  if (idle_count_ >= max_idle_ || !c->clean_for_reuse()) {
    c->close_and_release();
    return;
  }
  --active_count_;
  c->next_idle = idle_head_;
  idle_head_ = c;
  ++idle_count_;
  c->wait_readable();
  if (!waiters_.empty()) schedule_grant();
}

Connection* Pool::take_idle(bool sure) {
  while (Connection* c = idle_head_) {
    unlink_idle(c);
    ++active_count_;
    if (sure ? c->still_clean() : c->clean_for_reuse()) return c;
    c->close_and_release(); // the upstream closed it or sent bytes nobody asked for
  }
  return nullptr;
}

void Pool::unlink_idle(Connection* c) {
  Connection** link = &idle_head_;
  while (*link && *link != c)
    link = &(*link)->next_idle;
  if (*link) {
    *link = c->next_idle;
    --idle_count_;
  }
  c->next_idle = nullptr;
}

void Pool::on_idle_event(Connection* c) {
  // An idle connection became readable: the upstream closed it (or sent bytes nobody asked
  // for). Either way it cannot carry a request any more.
  unlink_idle(c);
  ++active_count_; // close_and_release() accounts it as active
  c->close_and_release();
}

void Pool::close_idle() {
  while (Connection* c = idle_head_) {
    unlink_idle(c);
    ++active_count_;
    c->close_and_release();
  }
}

} // namespace weir::upstream
