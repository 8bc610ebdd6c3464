// PreparedPool: sealed, populated memfds made ahead of the requests that will want them, so that
// an ALLOC of a common size costs no memfd_create, ftruncate, fallocate, F_ADD_SEALS or fstat on
// its own path (README.md "Performance", "Syscalls per request"). The memfd backing (and
// udmabuf's memfd underneath) takes from it; every path (embedded, dmaheapd, `dmaheap run`)
// gets it through selectBacking, one pool per selected backing.
//
// What is prepared is exactly what the fresh path makes (createSealedMemfd: the name "dmabuf",
// MFD_ALLOW_SEALING | MFD_CLOEXEC, the size, populated, F_SEAL_SHRINK | F_SEAL_GROW |
// F_SEAL_SEAL) and has never been handed out, so it is zero and indistinguishable from a fresh
// one. Only the file is prepared: the heap's physical placement and accounting, the name, the
// release watch and every errno stay on the request path, in their order (docs/emulation.md
// "Buffers are sealed memfds"). A take() that finds nothing is a miss and the caller makes the
// buffer fresh, with the fresh path's errno.
//
// Which sizes: `sizes` from the start (4 KiB), and a page-multiple size of at most
// `max_buffer_bytes` once it has missed `learn_after` times (a size the workload repeats), up to
// `max_sizes` sizes; the least recently taken learnt size makes room for a new one. Bounds: at
// most `max_count` files and `max_bytes` bytes prepared at any moment, all sizes together.
//
// The work happens on one background thread (named "dmaheap-prepare"), started by the first
// take() (so a process that forks before allocating forks no thread), woken by a miss or by a
// take that leaves a size at half its target or less (one wake per batch, not per take), and
// stopped with every prepared fd closed by the destructor. A failure to prepare (EMFILE at
// RLIMIT_NOFILE, ENOMEM, ...) stops the refilling until the next take(). In a child forked
// after the thread started, take() always misses and the pool is left alone (its mutex may have
// been held at the fork); the child's copies are close-on-exec.
//
// Thread-safe.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "base/result.h"
#include "base/unique_fd.h"

namespace dmaheap {

struct PreparedPoolOptions {
  bool enabled = true;
  size_t max_count = 32;                   // prepared files at most, all sizes together
  uint64_t max_bytes = uint64_t{2} << 20;  // their bytes at most
  size_t per_size = 8;                     // prepared per size, within the bounds; refilled
                                           // when a take leaves half of it or less
  std::vector<uint64_t> sizes = {4096};    // prepared from the start
  uint64_t max_buffer_bytes = 256 << 10;   // larger sizes are never learnt
  size_t learn_after = 2;                  // misses of a size before it is learnt
  size_t max_sizes = 8;                    // sizes prepared at most (the fixed ones included)

  // DMAHEAP_PREPARED: unset or "on" the defaults; "off" or "0" disabled; a number N: at most N
  // files (EINVAL naming the accepted values otherwise). DMAHEAP_PREPARED_REPORT (any value)
  // prints the hits and misses on stderr when the pool goes.
  static Result<PreparedPoolOptions> fromEnvironment();
};

// One prepared file and its identity (st_dev, st_ino), read while it was prepared; `wd` the
// inotify watch added on it ahead for the watcher `watcher` (watchWith), else -1.
struct PreparedFile {
  UniqueFd fd;
  uint64_t dev = 0;
  uint64_t ino = 0;
  int wd = -1;
  uint64_t watcher = 0;
};

class PreparedPool {
 public:
  // Makes one file of `size` bytes as the fresh path would (createSealedMemfd by default; tests
  // inject failures).
  using Maker = std::function<Result<UniqueFd>(uint64_t size)>;

  explicit PreparedPool(PreparedPoolOptions options, Maker maker = {});
  ~PreparedPool();
  PreparedPool(const PreparedPool&) = delete;
  PreparedPool& operator=(const PreparedPool&) = delete;

  // Files prepared from now on are also watched on `inotify_fd` (the release watch of
  // BufferWatcher::watch, IN_MOVE_SELF through /proc/self/fd), and carry `watcher`, the id of the
  // BufferWatcher owning it, so that only that watcher takes the watch for its own
  // (BufferWatcher::watchOrAdopt). A watch that fails leaves the file unwatched. The watch does
  // not pin the file: a prepared file closed unused queues an IN_IGNORED no watcher knows.
  void watchWith(int inotify_fd, uint64_t watcher);

  // A prepared, populated, close-on-exec file of `size` bytes, never handed out before; nullopt
  // on a miss (none ready, a size not prepared, the pool disabled or in a forked child).
  std::optional<PreparedFile> take(uint64_t size);

  struct Stats {
    size_t count = 0;      // prepared now
    uint64_t bytes = 0;    // their bytes
    size_t sizes = 0;      // sizes prepared
    uint64_t hits = 0;
    uint64_t misses = 0;
    uint64_t failures = 0;  // preparations that failed
    int last_error = 0;     // errno of the last failure
  };
  Stats stats() const;
  const PreparedPoolOptions& options() const { return options_; }

  // Blocks until the background thread waits for its next wake (it met the targets, reached the
  // bounds, or a failure stopped it); returns at once when no thread runs. For tests.
  void waitIdle();

 private:
  struct Slot {
    std::deque<PreparedFile> files;
    bool learnt = false;
    uint64_t last_take = 0;  // take counter at the last take, for eviction
  };
  // Everything the thread shares, in one allocation: a forked child leaks it instead of
  // destroying what a thread that no longer exists may have been changing.
  struct State {
    std::mutex mu;
    std::condition_variable wake;
    std::condition_variable idle;
    std::map<uint64_t, Slot> slots;          // by size
    std::map<uint64_t, size_t> miss_counts;  // sizes not prepared, by how often they missed
    size_t count = 0;
    uint64_t bytes = 0;
    uint64_t takes = 0;
    Stats stats;
    bool stopped_by_failure = false;
    bool working = false;
    bool wake_pending = false;  // a take asked the thread to look for work
    bool stop = false;
    int watch_fd = -1;
    uint64_t watcher = 0;
    std::thread thread;
  };
  bool inForkedChild() const;
  void startLocked();
  void noteMissLocked(uint64_t size);
  void learnLocked(uint64_t size);
  std::optional<uint64_t> nextToPrepareLocked() const;
  void run();
  Result<PreparedFile> prepare(uint64_t size, int watch_fd, uint64_t watcher);

  const PreparedPoolOptions options_;
  Maker maker_;
  const unsigned fork_generation_;
  std::unique_ptr<State> state_;
};

}  // namespace dmaheap
