#include "weir/net/ring.h"

#include <atomic>
#include <boost/asio/bind_allocator.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>
#include <boost/system/system_error.hpp>
#include <cerrno>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace weir::net {

namespace {

[[noreturn]] void fail(int err, const char* what) {
  throw boost::system::system_error(err, boost::system::system_category(), what);
}

constexpr uint64_t kOrphanSlot = 0xFFFFFFFFull;

uint64_t user_data(uint32_t slot, uint32_t generation, uint8_t op) {
  return (uint64_t{slot} << 32) | (uint64_t{generation & 0xFFFFFFu} << 8) | op;
}

unsigned setup_flags() {
  return IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_TASKRUN_FLAG |
         IORING_SETUP_SUBMIT_ALL | IORING_SETUP_CQSIZE;
}

} // namespace

bool Ring::available(std::string* why) {
  io_uring ring{};
  io_uring_params p{};
  p.flags = setup_flags() | IORING_SETUP_R_DISABLED;
  p.cq_entries = 16;
  int r = io_uring_queue_init_params(8, &ring, &p);
  if (r < 0) {
    if (why) *why = "io_uring_setup: " + boost::system::system_category().message(-r);
    return false;
  }
  // A provided-buffer ring of one entry: registering it is what the kernel must support.
  size_t bytes = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  void* mem = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
  bool ok = mem != MAP_FAILED;
  if (ok) {
    io_uring_buf_reg reg{};
    reg.ring_addr = reinterpret_cast<uint64_t>(mem);
    reg.ring_entries = 1;
    reg.bgid = 0;
    r = io_uring_register_buf_ring(&ring, &reg, 0);
    if (r < 0) {
      ok = false;
      if (why) *why = "provided buffer rings: " + boost::system::system_category().message(-r);
    }
    ::munmap(mem, bytes);
  } else if (why) {
    *why = "mmap failed";
  }
  io_uring_queue_exit(&ring);
  return ok;
}

Ring::Ring(boost::asio::io_context& io, Options options) : io_(io), options_(options), event_(io) {
  io_uring_params p{};
  // R_DISABLED: the thread that calls enable() becomes the single issuer.
  p.flags = setup_flags() | IORING_SETUP_R_DISABLED;
  p.cq_entries = options_.entries * 8;
  int r = io_uring_queue_init_params(options_.entries, &ring_, &p);
  if (r < 0) fail(-r, "io_uring_setup");
  ring_ready_ = true;
  int efd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (efd < 0) fail(errno, "eventfd");
  event_.assign(efd);
  r = io_uring_register_eventfd(&ring_, efd);
  if (r < 0) fail(-r, "io_uring_register_eventfd");

  size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  buf_ring_bytes_ = (options_.buffers * sizeof(io_uring_buf) + page - 1) / page * page;
  void* mem =
      ::mmap(nullptr, buf_ring_bytes_, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
  if (mem == MAP_FAILED) fail(errno, "mmap");
  buf_ring_ = static_cast<io_uring_buf_ring*>(mem);
  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<uint64_t>(mem);
  reg.ring_entries = options_.buffers;
  reg.bgid = buffer_group();
  r = io_uring_register_buf_ring(&ring_, &reg, 0);
  if (r < 0) fail(-r, "io_uring_register_buf_ring");
  // The buffers themselves: address space only until the kernel first fills one (no swap
  // reserved either: with 1 MiB head limits this is 256 MiB of address space per worker).
  buffers_bytes_ = options_.buffers * options_.buffer_size;
  mem = ::mmap(nullptr, buffers_bytes_, PROT_READ | PROT_WRITE,
               MAP_ANONYMOUS | MAP_PRIVATE | MAP_NORESERVE, -1, 0);
  if (mem == MAP_FAILED) fail(errno, "mmap");
  buffers_ = static_cast<char*>(mem);
  io_uring_buf_ring_init(buf_ring_);
  int mask = io_uring_buf_ring_mask(options_.buffers);
  for (unsigned i = 0; i < options_.buffers; ++i)
    io_uring_buf_ring_add(buf_ring_, buffers_ + i * options_.buffer_size,
                          static_cast<unsigned>(options_.buffer_size), static_cast<uint16_t>(i),
                          mask, static_cast<int>(i));
  io_uring_buf_ring_advance(buf_ring_, static_cast<int>(options_.buffers));
}

Ring::~Ring() {
  for (int fd : closing_)
    ::close(fd);
  boost::system::error_code ignored;
  event_.close(ignored);
  // Tearing the ring down cancels what is still in flight; nothing of a client is referenced by
  // the kernel (reads land in the provided buffers, unmapped only after).
  if (ring_ready_) io_uring_queue_exit(&ring_);
  if (buffers_) ::munmap(buffers_, buffers_bytes_);
  if (buf_ring_) ::munmap(buf_ring_, buf_ring_bytes_);
}

void Ring::enable() {
  // liburing 2.3 declares io_uring_enable_rings but does not export it: the register call.
  if (::syscall(__NR_io_uring_register, ring_.ring_fd, IORING_REGISTER_ENABLE_RINGS, nullptr, 0) <
      0)
    fail(errno, "io_uring_register(ENABLE_RINGS)");
  listen();
}

uint32_t Ring::attach(RingClient* client) {
  uint32_t slot = free_slot_;
  if (slot == kNoSlot) {
    slot = static_cast<uint32_t>(slots_.size());
    slots_.emplace_back();
  } else {
    free_slot_ = slots_[slot].next_free;
  }
  slots_[slot].client = client;
  slots_[slot].next_free = kNoSlot;
  return slot;
}

void Ring::detach(uint32_t slot) {
  Slot& s = slots_[slot];
  s.client = nullptr;
  ++s.generation;
  s.next_free = free_slot_;
  free_slot_ = slot;
}

io_uring_sqe* Ring::get_sqe() {
  if (stopped_) return nullptr;
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
  // The queue is full: hand it to the kernel now. Should the kernel refuse (its completion
  // queue overflowing), make room by taking the completions out (handed over later, in order),
  // and try again a few times before giving up on this one operation.
  for (int attempt = 0; !sqe && attempt < 4; ++attempt) {
    enter();
    sqe = io_uring_get_sqe(&ring_);
    if (!sqe) take_completions();
  }
  if (!sqe) return nullptr;
  unsubmitted_ = true;
  schedule_flush();
  return sqe;
}

io_uring_sqe* Ring::prepare(uint32_t slot, uint8_t op) {
  io_uring_sqe* sqe = get_sqe();
  if (sqe) io_uring_sqe_set_data64(sqe, user_data(slot, slots_[slot].generation, op));
  return sqe;
}

void Ring::cancel(uint32_t slot, uint8_t op) {
  if (io_uring_sqe* sqe = get_sqe()) {
    io_uring_prep_cancel64(sqe, user_data(slot, slots_[slot].generation, op), 0);
    io_uring_sqe_set_data64(sqe, kOrphanSlot << 32);
  }
}

void Ring::close_fd(int fd) {
  if (unsubmitted_ && !stopped_)
    closing_.push_back(fd);
  else
    ::close(fd);
}

void Ring::stop() {
  stopped_ = true;
  for (int fd : closing_)
    ::close(fd);
  closing_.clear();
}

void Ring::enter() {
  ++enters_;
  io_uring_submit_and_get_events(&ring_);
  if (io_uring_sq_ready(&ring_) == 0) {
    unsubmitted_ = false;
    for (int fd : closing_)
      ::close(fd);
    closing_.clear();
  }
}

void Ring::take_completions() {
  io_uring_cqe* cqe;
  unsigned head;
  unsigned n = 0;
  io_uring_for_each_cqe(&ring_, head, cqe) {
    reaped_.push_back({cqe->user_data, cqe->res, cqe->flags});
    // Counted now: a recv told ENOBUFS knows whether a buffer is really back
    // (wait_for_buffer), and a client whose completion waits is not sure of its socket.
    if (cqe->flags & IORING_CQE_F_BUFFER) ++buffers_out_;
    uint32_t slot = static_cast<uint32_t>(cqe->user_data >> 32);
    if (slot < slots_.size()) ++slots_[slot].undelivered;
    ++n;
  }
  io_uring_cq_advance(&ring_, n);
  completions_ += n;
}

void Ring::deliver(const Done& d) {
  uint32_t slot = static_cast<uint32_t>(d.data >> 32);
  uint8_t op = static_cast<uint8_t>(d.data & 0xFF);
  uint32_t generation = static_cast<uint32_t>((d.data >> 8) & 0xFFFFFF);
  RingClient* client = nullptr;
  if (slot < slots_.size()) {
    --slots_[slot].undelivered;
    if ((slots_[slot].generation & 0xFFFFFFu) == generation) client = slots_[slot].client;
  }
  if (client)
    client->on_completion(op, d.res, d.flags);
  else if (d.flags & IORING_CQE_F_BUFFER)
    recycle(static_cast<uint16_t>(d.flags >> IORING_CQE_BUFFER_SHIFT)); // nobody to read it
}

void Ring::recycle(uint16_t id) {
  io_uring_buf_ring_add(buf_ring_, buffers_ + size_t{id} * options_.buffer_size,
                        static_cast<unsigned>(options_.buffer_size), id,
                        io_uring_buf_ring_mask(options_.buffers), 0);
  io_uring_buf_ring_advance(buf_ring_, 1);
  --buffers_out_;
  wake_starved();
}

bool Ring::wait_for_buffer(uint32_t slot) {
  if (buffers_out_ < options_.buffers) return true;
  starved_.emplace_back(slot, slots_[slot].generation);
  return false;
}

void Ring::wake_starved() {
  // As many as buffers are free: a woken recv that finds no bytes takes none, so the rest are
  // woken too (here or at the end of the reaping round), never left behind.
  unsigned free = options_.buffers - buffers_out_;
  while (free > 0 && !starved_.empty()) {
    auto [slot, generation] = starved_.front();
    starved_.pop_front();
    if (slot < slots_.size() && slots_[slot].generation == generation && slots_[slot].client) {
      slots_[slot].client->on_buffer_free(); // re-arms its recv
      --free;
    }
  }
}

void Ring::schedule_flush() {
  // Inside reap() the loop there submits; otherwise once, after the handlers queued now.
  if (reaping_ || flush_scheduled_) return;
  flush_scheduled_ = true;
  boost::asio::post(io_, [this] {
    flush_scheduled_ = false;
    if (unsubmitted_) reap();
  });
}

void Ring::listen() {
  event_.async_read_some(boost::asio::buffer(event_bytes_),
                         [this](const boost::system::error_code& ec, size_t) {
                           if (ec == boost::asio::error::operation_aborted || stopped_) return;
                           reap();
                           listen();
                         });
}

void Ring::reap() {
  if (reaping_ || stopped_) return;
  reaping_ = true;
  ++reaps_;
  // Completions this loop reaps itself need no wake-up: the eventfd is muted meanwhile.
  io_uring_cq_eventfd_toggle(&ring_, false);
  for (int round = 0; round < 16; ++round) {
    enter();
    take_completions();
    size_t delivered = 0;
    // Hand over in order; a client may queue operations (and, with a full queue, take more
    // completions into reaped_) meanwhile.
    while (reaped_head_ < reaped_.size() && delivered < 256) {
      Done d = reaped_[reaped_head_++];
      deliver(d);
      ++delivered;
    }
    if (reaped_head_ == reaped_.size()) {
      reaped_.clear();
      reaped_head_ = 0;
    }
    if (!starved_.empty()) wake_starved();
    if (delivered == 0 && !unsubmitted_ && reaped_.empty()) {
      // Unmute, then look once more: work the kernel queued while muted signalled nothing.
      io_uring_cq_eventfd_toggle(&ring_, true);
      std::atomic_thread_fence(std::memory_order_seq_cst);
      bool pending = (IO_URING_READ_ONCE(*ring_.sq.kflags) & IORING_SQ_TASKRUN) != 0 ||
                     io_uring_cq_ready(&ring_) != 0;
      if (!pending) {
        reaping_ = false;
        return;
      }
      io_uring_cq_eventfd_toggle(&ring_, false);
    }
  }
  // A flood: give timers and posted work a turn, then go on.
  io_uring_cq_eventfd_toggle(&ring_, true);
  reaping_ = false;
  unsubmitted_ = true;
  schedule_flush();
}

} // namespace weir::net
