// BufferWatcher (heap core, used by dmaheapd and dmaheap run): learns when the last reference to
// a memfd anywhere is gone — every fd in every process closed (including fds passed on to third
// processes or in flight in a socket) and every mapping unmapped, whether by close/munmap, exit
// or SIGKILL — without holding a reference.
//
// Mechanism: an inotify watch added through /proc/self/fd/N while the caller still holds the fd.
// The watch does not pin the file; when the inode is evicted the kernel queues IN_IGNORED for
// it, at that moment and not before. The mask asks only for IN_MOVE_SELF, which a memfd never
// produces, so each buffer costs one queued event and a burst of up to max_queued_events
// (16384 by default) buffers fits in the queue. Beyond that the kernel reports IN_Q_OVERFLOW
// and drops events; we then recheck every watch against /proc/self/fdinfo of the inotify fd,
// which lists exactly the watches that still exist.
//
// Real dma-bufs (docs/emulation.md "Knowing when a buffer is free"): where the kernel does not
// queue IN_IGNORED for a dma-buf's inode (probeReleaseSignal finds out), the watcher keeps a dup
// of the buffer instead and reads its /proc/self/fdinfo `count` at every poll(): the buffer is
// released when the count is what one fd alone shows. Such watches wake epoll through timerFd().
//
// Not thread-safe; one owner polls it.
#pragma once

#include <cstdint>
#include <map>
#include <unordered_set>
#include <vector>

#include "base/result.h"
#include "base/unique_fd.h"
#include "heap/backing.h"

namespace dmaheap {

// The `count:` line of /proc/self/fdinfo/FD (a dma-buf's file reference count); -1 when absent
// (a memfd) or unreadable.
long fdinfoCount(int fd);

struct ReleaseProbe {
  ReleaseSignal signal = ReleaseSignal::kInotify;
  long lone_count = -1;  // fdinfo count with one fd, -1 when the file shows none
};
// Takes the only reference to a buffer's file and releases it: kInotify when the inotify watch
// reports IN_IGNORED at once, else kCountedDup when fdinfo shows a count. ENOTSUP when neither
// works (nothing could tell when such a buffer is released); inotify_init1's errno.
Result<ReleaseProbe> probeReleaseSignal(UniqueFd fd);

class BufferWatcher {
 public:
  // inotify_init1 errno (EMFILE when max_user_instances is reached).
  static Result<BufferWatcher> create();
  // Continues on an inotify instance an earlier run of the service made (kept across a restart,
  // docs/service-restart.md), tracking the watches `wds`; events already queued for other
  // watches are ignored by poll().
  static BufferWatcher adopt(UniqueFd inotify, const std::vector<int>& wds);

  // A watch the kernel still has on an instance: its id and the watched file's identity
  // (st_dev as stat reports it, st_ino). Read from /proc/self/fdinfo; ENOENT if unreadable.
  struct KernelWatch {
    int wd = 0;
    uint64_t dev = 0;
    uint64_t ino = 0;
  };
  static Result<std::vector<KernelWatch>> kernelWatches(int inotify_fd);

  // The inotify fd, for epoll (readable when poll() has something to report).
  int fd() const { return fd_.get(); }

  // Watches the file `fd` refers to. The caller must hold `fd` until this returns. Returns the
  // watch id that poll() will report. ENOSPC when fs.inotify.max_user_watches is reached.
  // kCountedDup keeps a dup of `fd` (EMFILE when none is left) and reports it released when its
  // fdinfo count is `lone_count`; its ids are negative (below -1), inotify's positive.
  Result<int> watch(int fd, ReleaseSignal signal = ReleaseSignal::kInotify, long lone_count = 1);

  // A unique id of this watcher in the process (for PreparedPool::watchWith).
  uint64_t id() const { return id_; }
  // watch(), unless PreparedPool already added the watch on this watcher's instance for a
  // buffer now handed out (`prepared_wd`, Buffer::preparedWatchFor(id()), or -1): then that one
  // is taken as if watch() had added it.
  Result<int> watchOrAdopt(int fd, ReleaseSignal signal, long lone_count, int prepared_wd);

  // Readable every 50 ms while counted watches exist (for epoll beside fd()); -1 until the first.
  int timerFd() const { return timer_.get(); }

  // Reads every queued event; returns the watches whose file is gone since the last call.
  // Recovers from a queue overflow by recheck(). With `counted` (the default) it also reads
  // every counted watch's fdinfo count; without, counted watches are left for a later poll: a
  // lookup by file identity needs only the inotify events, because a counted buffer's file is
  // held by our dup and its device and inode cannot name another file meanwhile, while a
  // watched one's can once it is gone (docs/emulation.md "Backings").
  std::vector<int> poll(bool counted = true);

  // Compares the watches we track against those the kernel still has; returns (and forgets)
  // the ones that are gone. What poll() does after IN_Q_OVERFLOW; callable any time.
  std::vector<int> recheck();

  size_t watching() const { return live_.size() + counted_.size(); }
  size_t counting() const { return counted_.size(); }
  uint64_t overflows() const { return overflows_; }
  // How many fdinfo counts poll() has read so far.
  uint64_t countReads() const { return count_reads_; }

  static constexpr int kFirstCountedId = -2;

 private:
  explicit BufferWatcher(UniqueFd fd);
  std::vector<int> pollCounted();
  UniqueFd fd_;
  std::unordered_set<int> live_;
  struct Counted {
    UniqueFd dup;
    long lone_count = 1;
  };
  std::map<int, Counted> counted_;
  int next_counted_ = kFirstCountedId;
  UniqueFd timer_;
  uint64_t overflows_ = 0;
  uint64_t count_reads_ = 0;
  uint64_t id_ = 0;
};

}  // namespace dmaheap
