// bench/alloc_counter.c: an LD_PRELOAD shim that counts heap allocations, for
// bench/alloc_per_request.sh (no heap allocation per request in steady state, issue 11).
//
// It stands in front of glibc's malloc, calloc, realloc, free, posix_memalign, aligned_alloc,
// memalign and valloc and passes every call on to glibc's own (__libc_*); C++'s operator new and
// delete reach malloc and free, so they are counted too. Counts are kept per thread (up to
// kThreads, each in its own cache line, so counting adds no sharing between threads) and
// written when the process gets SIGUSR2, to the file named by WEIR_ALLOC_COUNTS (appended:
// one block per signal):
//
//   total allocs=N frees=M
//   thread TID allocs=N frees=M      (one line per thread that allocated)
//   end
//
// WEIR_ALLOC_TRACE=N: after the first SIGUSR2 (the end of a warm-up), the first N allocations
// made anywhere are written to the same file as "trace TID size" and their return addresses
// (backtrace_symbols_fd), so that addr2line can name who still allocates. The signal handler
// and the tracer only use async-signal-safe calls (open, write, close) and no allocation.
#define _GNU_SOURCE
#include <errno.h>
#include <execinfo.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

extern void* __libc_malloc(size_t);
extern void* __libc_calloc(size_t, size_t);
extern void* __libc_realloc(void*, size_t);
extern void __libc_free(void*);
extern void* __libc_memalign(size_t, size_t);

enum { kThreads = 256 };

struct Slot {
  _Atomic long tid; // 0: free
  _Atomic unsigned long allocs;
  _Atomic unsigned long frees;
  char pad[64 - 3 * sizeof(long)];
};
_Static_assert(sizeof(struct Slot) == 64, "one cache line per thread");

static struct Slot slots[kThreads] __attribute__((aligned(64)));
static struct Slot overflow __attribute__((aligned(64))); // threads beyond kThreads share it
static __thread struct Slot* my_slot __attribute__((tls_model("initial-exec")));
static __thread int in_trace __attribute__((tls_model("initial-exec")));
static _Atomic long trace_left; // allocations still to trace; armed by the first dump
static long trace_budget;
static _Atomic int dumped;
static char out_path[4096]; // WEIR_ALLOC_COUNTS, read once at start (no getenv in a handler)

static struct Slot* slot(void) {
  struct Slot* s = my_slot;
  if (s) return s;
  long tid = syscall(SYS_gettid);
  for (int i = 0; i < kThreads; ++i) {
    long expected = 0;
    if (atomic_compare_exchange_strong(&slots[i].tid, &expected, tid)) {
      my_slot = &slots[i];
      return my_slot;
    }
  }
  my_slot = &overflow;
  return my_slot;
}

// Single writer per slot: a relaxed load and store, no locked instruction.
static void bump(_Atomic unsigned long* c) {
  atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1, memory_order_relaxed);
}

static size_t put_num(char* out, unsigned long v) {
  char tmp[24];
  size_t n = 0;
  do {
    tmp[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  for (size_t i = 0; i < n; ++i)
    out[i] = tmp[n - 1 - i];
  return n;
}

static size_t put_str(char* out, const char* s) {
  size_t n = strlen(s);
  memcpy(out, s, n);
  return n;
}

static int open_out(void) {
  if (!out_path[0]) return -1;
  return open(out_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
}

static void trace(size_t size) {
  if (atomic_load_explicit(&trace_left, memory_order_relaxed) <= 0 || in_trace) return;
  if (atomic_fetch_sub(&trace_left, 1) <= 0) return;
  in_trace = 1; // backtrace() may allocate the first time (it loads libgcc_s)
  void* frames[24];
  int n = backtrace(frames, 24);
  int fd = open_out();
  if (fd >= 0) {
    char line[96];
    size_t k = put_str(line, "trace ");
    k += put_num(line + k, (unsigned long)syscall(SYS_gettid));
    line[k++] = ' ';
    k += put_num(line + k, size);
    line[k++] = '\n';
    (void)!write(fd, line, k);
    backtrace_symbols_fd(frames, n, fd);
    (void)!write(fd, "endtrace\n", 9);
    close(fd);
  }
  in_trace = 0;
}

static void counted_alloc(size_t size) {
  bump(&slot()->allocs);
  if (trace_budget) trace(size);
}

static void dump(int sig) {
  (void)sig;
  int saved = errno;
  int fd = open_out();
  if (fd >= 0) {
    char buf[128];
    unsigned long allocs = 0, frees = 0;
    for (int i = 0; i < kThreads; ++i) {
      allocs += atomic_load_explicit(&slots[i].allocs, memory_order_relaxed);
      frees += atomic_load_explicit(&slots[i].frees, memory_order_relaxed);
    }
    allocs += atomic_load_explicit(&overflow.allocs, memory_order_relaxed);
    frees += atomic_load_explicit(&overflow.frees, memory_order_relaxed);
    size_t k = put_str(buf, "total allocs=");
    k += put_num(buf + k, allocs);
    k += put_str(buf + k, " frees=");
    k += put_num(buf + k, frees);
    buf[k++] = '\n';
    (void)!write(fd, buf, k);
    for (int i = 0; i < kThreads; ++i) {
      long tid = atomic_load_explicit(&slots[i].tid, memory_order_relaxed);
      if (!tid) continue;
      k = put_str(buf, "thread ");
      k += put_num(buf + k, (unsigned long)tid);
      k += put_str(buf + k, " allocs=");
      k += put_num(buf + k, atomic_load_explicit(&slots[i].allocs, memory_order_relaxed));
      k += put_str(buf + k, " frees=");
      k += put_num(buf + k, atomic_load_explicit(&slots[i].frees, memory_order_relaxed));
      buf[k++] = '\n';
      (void)!write(fd, buf, k);
    }
    (void)!write(fd, "end\n", 4);
    close(fd);
  }
  if (!atomic_exchange(&dumped, 1) && trace_budget) atomic_store(&trace_left, trace_budget);
  errno = saved;
}

__attribute__((constructor)) static void init(void) {
  const char* t = getenv("WEIR_ALLOC_TRACE");
  trace_budget = t ? atol(t) : 0;
  const char* path = getenv("WEIR_ALLOC_COUNTS");
  if (path && strlen(path) < sizeof out_path) strcpy(out_path, path);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = dump;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGUSR2, &sa, NULL);
}

void* malloc(size_t n) {
  counted_alloc(n);
  return __libc_malloc(n);
}

void* calloc(size_t n, size_t m) {
  counted_alloc(n * m);
  return __libc_calloc(n, m);
}

void* realloc(void* p, size_t n) {
  // A realloc is one allocation (and, when it moves, glibc frees the old block inside).
  counted_alloc(n);
  return __libc_realloc(p, n);
}

void free(void* p) {
  if (p) bump(&slot()->frees);
  __libc_free(p);
}

void* memalign(size_t align, size_t n) {
  counted_alloc(n);
  return __libc_memalign(align, n);
}

void* aligned_alloc(size_t align, size_t n) {
  counted_alloc(n);
  return __libc_memalign(align, n);
}

int posix_memalign(void** out, size_t align, size_t n) {
  if (align < sizeof(void*) || (align & (align - 1))) return EINVAL;
  counted_alloc(n);
  void* p = __libc_memalign(align, n);
  if (!p) return ENOMEM;
  *out = p;
  return 0;
}

void* valloc(size_t n) {
  counted_alloc(n);
  return __libc_memalign((size_t)sysconf(_SC_PAGESIZE), n);
}
