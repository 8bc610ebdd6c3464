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
// Not thread-safe; one owner polls it.
#pragma once

#include <cstdint>
#include <unordered_set>
#include <vector>

#include "base/result.h"
#include "base/unique_fd.h"

namespace dmaheap {

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
  Result<int> watch(int fd);

  // Reads every queued event; returns the watches whose file is gone since the last call.
  // Recovers from a queue overflow by recheck().
  std::vector<int> poll();

  // Compares the watches we track against those the kernel still has; returns (and forgets)
  // the ones that are gone. What poll() does after IN_Q_OVERFLOW; callable any time.
  std::vector<int> recheck();

  size_t watching() const { return live_.size(); }
  uint64_t overflows() const { return overflows_; }

 private:
  explicit BufferWatcher(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
  std::unordered_set<int> live_;
  uint64_t overflows_ = 0;
};

}  // namespace dmaheap
