#pragma once

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <liburing.h>
#include <string>
#include <vector>

namespace weir::net {

// Who is told when an operation submitted through a Ring completes.
class RingClient {
public:
  // `op` is the tag the client gave prepare(); `res` and `flags` are the kernel's (a negative
  // errno, a byte count, IORING_CQE_F_BUFFER with the provided buffer's id). Called from the
  // worker's event loop, never from inside a call the client made.
  virtual void on_completion(uint8_t op, int res, uint32_t flags) = 0;
  // A provided buffer came back after this client asked wait_for_buffer().
  virtual void on_buffer_free() {}

protected:
  ~RingClient() = default;
};

// One worker's io_uring, nested in the worker's io_context the way the Poller's epoll set is:
// the ring signals an eventfd that Asio's reactor watches, and the Ring then submits what was
// queued, reaps the completions and hands each to its client.
//
// Set up for one thread and for batching: IORING_SETUP_SINGLE_ISSUER | DEFER_TASKRUN, so the
// kernel completes operations (and writes into memory) only inside this Ring's own
// io_uring_enter, and submissions queued during a turn of the loop go in with one enter. A
// wake-up costs three syscalls (Asio's epoll_wait, the eventfd read, one io_uring_enter that
// submits and reaps), whatever the number of operations in it; the eventfd is muted while the
// Ring reaps, so completions it reaps itself do not wake the loop again.
//
// Reads land in provided buffers (a buffer ring the kernel picks from when data arrives), so a
// connection waiting for bytes holds no buffer of its own and the kernel never writes into a
// connection's memory; a client copies the bytes out and hands the buffer back (recycle()).
//
// Clients are named in user_data by a slot and its generation: detach() bumps the generation,
// so a completion that arrives after its client went away is dropped (its buffer recycled)
// instead of reaching freed memory. Worker thread only, from the first run of the io_context on.
class Ring {
public:
  static constexpr uint32_t kNoSlot = UINT32_MAX;

  struct Options {
    unsigned entries = 1024;    // submission queue; the completion queue has 8x
    unsigned buffers = 256;     // provided buffers (a power of two)
    size_t buffer_size = 32768; // bytes in each
  };

  // Whether this kernel gives what the Ring needs (io_uring not disabled, DEFER_TASKRUN,
  // provided buffer rings): a ring is set up and torn down to find out. When not, `why` says
  // what failed.
  static bool available(std::string* why = nullptr);

  // Throws boost::system::system_error when the ring cannot be set up. Enable it on the thread
  // that will use it (the constructor may run elsewhere).
  Ring(boost::asio::io_context& io, Options options);
  ~Ring();
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;

  // Makes the calling thread the ring's only submitter and starts listening for completions.
  void enable();

  uint32_t attach(RingClient* client);
  // The slot's completions still due are dropped from now on (their buffers recycled).
  void detach(uint32_t slot);

  // A submission queue entry for `slot`'s operation `op`, submitted at the end of this turn of
  // the loop (or at once when the queue is full). user_data is set; the caller fills the rest.
  // nullptr when the ring cannot take it (stopped, or the kernel refuses submissions): the
  // caller fails its operation.
  io_uring_sqe* prepare(uint32_t slot, uint8_t op);
  // Cancels `slot`'s operation `op` (by its user_data: a descriptor number may be reused before
  // the cancel is submitted). Nobody hears of the cancel's own completion.
  void cancel(uint32_t slot, uint8_t op);
  // Closes a socket whose operations may still sit unsubmitted in the queue: only once they are
  // in the kernel (which then holds the socket itself), so a number reused by the next accept or
  // connect, on any thread, is never what they run on.
  void close_fd(int fd);
  // A completion for `slot` is reaped but not yet handed over, or the kernel has completions
  // not reaped yet: what the client knows of its socket may be behind.
  bool completion_due(uint32_t slot) const {
    return slots_[slot].undelivered != 0 || io_uring_cq_ready(&ring_) != 0;
  }
  // The worker thread is done: no more submissions (destructors that run later, on another
  // thread, only close their sockets; tearing the ring down cancels what is in flight).
  void stop();

  uint16_t buffer_group() const { return 0; }
  size_t buffer_size() const { return options_.buffer_size; }
  const char* buffer(uint16_t id) const { return buffers_ + size_t{id} * options_.buffer_size; }
  void recycle(uint16_t id);
  // A recv of `slot`'s found every provided buffer out (-ENOBUFS). True: one is back already
  // (try again now); false: its client is told (on_buffer_free) when one comes back, in the
  // order they asked, as many at a time as buffers are free.
  bool wait_for_buffer(uint32_t slot);

  // For tests and the benchmark: turns of the reaping loop, io_uring_enter calls, completions.
  uint64_t reaps() const { return reaps_; }
  uint64_t enters() const { return enters_; }
  uint64_t completions() const { return completions_; }
  // Provided buffers not in the kernel's hands (held by clients).
  unsigned buffers_out() const { return buffers_out_; }

private:
  struct Slot {
    RingClient* client = nullptr;
    uint32_t generation = 0;
    uint32_t next_free = kNoSlot;
    uint32_t undelivered = 0; // completions reaped, not yet handed over
  };
  struct Done {
    uint64_t data;
    int res;
    uint32_t flags;
  };

  io_uring_sqe* get_sqe();
  // io_uring_enter: submits what is queued and runs the kernel's deferred work; then closes
  // the sockets close_fd() held back if nothing is left unsubmitted.
  void enter();
  // Moves what the completion queue holds into reaped_ (not handed over yet).
  void take_completions();
  void deliver(const Done& d);
  void wake_starved();
  void schedule_flush();
  void listen();
  // Submits, reaps and dispatches until nothing is left to do (a few rounds at most).
  void reap();

  boost::asio::io_context& io_;
  Options options_;
  io_uring ring_{};
  bool ring_ready_ = false;
  boost::asio::posix::stream_descriptor event_;
  std::array<unsigned char, 16> event_bytes_{}; // 16 > 8: Asio sees the read as exhausting
  io_uring_buf_ring* buf_ring_ = nullptr;
  size_t buf_ring_bytes_ = 0;
  char* buffers_ = nullptr;
  size_t buffers_bytes_ = 0;
  unsigned buffers_out_ = 0;
  std::vector<Slot> slots_;
  std::deque<std::pair<uint32_t, uint32_t>> starved_; // slot, generation: wait_for_buffer()
  std::vector<Done>
      reaped_; // taken from the completion queue, from reaped_head_ on not handed over
  size_t reaped_head_ = 0;
  std::vector<int> closing_; // close_fd(): closed once the queue is submitted
  bool stopped_ = false;
  uint32_t free_slot_ = kNoSlot;
  bool reaping_ = false;
  bool flush_scheduled_ = false;
  bool unsubmitted_ = false;
  uint64_t reaps_ = 0;
  uint64_t enters_ = 0;
  uint64_t completions_ = 0;
};

} // namespace weir::net
