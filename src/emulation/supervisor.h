// Supervisor: answers the seccomp user notifications of a traced program tree. For each ioctl
// the filter sends it identifies the fd (statx on /proc/TID/fd/N: the mount id of a heap
// placeholder, or the device and inode of a buffer the backend owns), emulates the ioctl with
// emulateHeapIoctl/emulateBufferIoctl, installs new fds with SECCOMP_IOCTL_NOTIF_ADDFD and
// replies. Every other fd gets SECCOMP_USER_NOTIF_FLAG_CONTINUE and behaves exactly as before.
//
// Single-threaded: the owner calls handleOne() whenever the listener polls readable.
#pragma once

#include <linux/seccomp.h>
#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "base/result.h"
#include "base/unique_fd.h"
#include "emulation/dev_paths.h"
#include "emulation/heap_backend.h"
#include "emulation/ioctl_emulator.h"
#include "emulation/seccomp_filter.h"
#include "trace/trace_log.h"

namespace dmaheap::emul {

struct SupervisedHeap {
  std::string node;       // name under /dev/dma_heap
  uint64_t mount_id = 0;  // of its placeholder bind mount
};

struct SupervisorStats {
  uint64_t notifications = 0;
  uint64_t continued = 0;      // not our fd: the kernel ran the ioctl
  uint64_t heap_ioctls = 0;
  uint64_t buffer_ioctls = 0;
  uint64_t host_ioctls = 0;    // dma-buf ioctls on a real dma-buf of ours, run by the host kernel
  uint64_t compat_calls = 0;   // of those notifications, issued through a 32-bit ABI (i386, x32, arm)
  uint64_t path_calls = 0;     // open/stat/access on /dev/dma_heap answered without a namespace
};

// What the supervisor writes to a trace for one emulated ALLOC of thread `tid` (`error` the
// ioctl's errno, 0 on success). Public so that make bench measures this very code.
void traceAlloc(trace::TraceLog& log, pid_t tid, const std::string& heap, const AllocOutcome& outcome, int error);

class Supervisor {
 public:
  // `backend` must outlive the supervisor. Asks the kernel for synchronous wake-ups where it
  // has them (6.6+): lower latency when the target waits on the same CPU.
  // With `paths` (no namespace, the filter built with emulate_paths) it also answers open, stat
  // and access calls on /dev/dma_heap itself; `paths` must outlive the supervisor.
  // With `trace`, every emulated ALLOC and SET_NAME is written to it (docs/traces.md); it must
  // outlive the supervisor.
  Supervisor(UniqueFd listener, HeapBackend& backend, std::vector<SupervisedHeap> heaps, DevPaths* paths = nullptr,
             trace::TraceLog* trace = nullptr);

  int listenerFd() const { return listener_.get(); }

  // Receives and answers one notification. ENOENT when the notifying task went away (harmless);
  // other errors mean the listener is unusable.
  Status handleOne();

  const SupervisorStats& stats() const { return stats_; }

  // The backend failed in a way the program cannot fix (a dead service): printed once.
  void reportBackendLoss(const std::string& line);

 private:
  Status reply(uint64_t id, int error, bool continue_syscall);
  Status handlePathCall(const struct seccomp_notif& notif, const DecodedCall& decoded);

  UniqueFd listener_;
  HeapBackend& backend_;
  std::map<uint64_t, std::string> heap_by_mount_;
  FileKey null_key_;  // /dev/null, what every placeholder is
  std::vector<uint8_t> notif_buf_;
  std::vector<uint8_t> resp_buf_;
  SupervisorStats stats_;
  bool loss_reported_ = false;
  DevPaths* paths_ = nullptr;
  trace::TraceLog* trace_ = nullptr;
  Kernel host_;  // the kernel we run on, for real dma-bufs
};

}  // namespace dmaheap::emul
