// TraceLog: writes an allocation trace (docs/traces.md) for `dmaheap run --trace` and
// `dmaheapd --trace`. Each event is one JSON line written with a single write(2) to a file opened
// with O_APPEND, so every line that was written is whole and on disk as far as the kernel is
// concerned: a program (or the writer) killed at any moment leaves a trace whose lines all parse.
// Nothing is buffered in the process.
//
// Buffer identity: the log numbers the buffers it sees allocated 1, 2, ... (restarting at every
// start line) and keeps (device, inode) -> number for the later set_name and release events.
// Releases come one of two ways:
//   kReported  the owner knows when a buffer's last holder is gone (dmaheapd's own watcher) and
//              calls released();
//   kWatched   the log watches each buffer itself (heap core's BufferWatcher on a descriptor the
//              owner passes with the allocation); the owner polls watchFd() and calls
//              pollReleases() (`dmaheap run`, whose backends free lazily).
// A write that fails (a full disk) is counted in lost() and the program goes on.
//
// Thread-safe: one mutex; the time of an event is taken under it, so times in a file are
// non-decreasing per writer.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "base/unique_fd.h"
#include "heap/buffer_watcher.h"
#include "trace/trace_event.h"

namespace dmaheap::trace {

enum class Releases { kReported, kWatched };

// One allocation as the owner saw it.
struct AllocRecord {
  std::optional<int64_t> pid, tid;
  std::string heap;
  uint64_t len = 0;
  uint64_t fd_flags = 0;
  uint64_t heap_flags = 0;
  int error = 0;                  // 0: allocated
  // When allocated:
  uint64_t size = 0;              // the buffer's (rounded) size
  std::optional<int64_t> fd;      // in the caller, when known
  uint64_t dev = 0, ino = 0;      // the buffer's file
  int watch_fd = -1;              // kWatched: a descriptor of the buffer, held during the call
};

class TraceLog {
 public:
  // Opens (creates, mode 0644) `path` for appending. The open errno (EACCES, ENOENT, ...).
  static Result<std::unique_ptr<TraceLog>> open(const std::string& path, Releases releases);
  // Writes to `fd` (for tests and benchmarks). kWatched: the BufferWatcher's errno.
  static Result<std::unique_ptr<TraceLog>> onFd(UniqueFd fd, Releases releases);

  // The start line: who writes, the emulated release and page size, the heaps.
  void start(const std::string& source, const std::string& kernel, uint64_t page_size, std::vector<TraceHeap> heaps);
  // An ALLOC; returns the buffer's number (0 when it failed).
  uint64_t allocated(const AllocRecord& record);
  // DMA_BUF_SET_NAME on the buffer of file (dev, ino); nothing for a buffer the log never saw.
  void named(std::optional<int64_t> pid, std::optional<int64_t> tid, uint64_t dev, uint64_t ino,
             const std::string& name, int error);
  // kReported: the last holder of (dev, ino) is gone.
  void released(uint64_t dev, uint64_t ino);

  // kWatched: readable when a watched buffer is gone (-1 with kReported).
  int watchFd() const;
  // kWatched: writes a release line for every watched buffer that is gone (allocated() does
  // this first, so a release always comes before an allocation made after it).
  void pollReleases();

  uint64_t events() const;
  uint64_t lost() const;

 private:
  TraceLog(UniqueFd fd, std::unique_ptr<BufferWatcher> watcher);
  void writeLocked(Event& event);  // stamps the time
  void pollLocked();

  mutable std::mutex mu_;
  UniqueFd fd_;
  std::unique_ptr<BufferWatcher> watcher_;  // kWatched only
  uint64_t page_size_ = 4096;
  uint64_t next_buffer_ = 1;
  struct Watched {
    std::pair<uint64_t, uint64_t> file;  // (dev, ino)
    uint64_t buffer = 0;
  };
  std::map<std::pair<uint64_t, uint64_t>, uint64_t> by_file_;  // (dev, ino) -> buffer
  std::map<int, Watched> by_watch_;                            // kWatched: watch id -> buffer
  uint64_t events_ = 0;
  uint64_t lost_ = 0;
};

// CLOCK_MONOTONIC in nanoseconds.
uint64_t monotonicNs();

}  // namespace dmaheap::trace
