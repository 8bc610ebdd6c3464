// HeapBackend: where emulated heaps and buffers live. `dmaheap run` (the seccomp supervisor) and
// libdmaheap talk to heaps only through this interface, so the in-process board (embedded), the
// dmaheapd service and the real kernel plug in behind one seam.
//
// Buffers are named by the identity of their file (device and inode of the memfd or dma-buf), as
// that is all a supervisor learns about a file descriptor in another process (statx on
// /proc/PID/fd/N), and it outlives any particular fd number.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/kernel.h"
#include "base/result.h"
#include "base/unique_fd.h"
#include "dmaheap/heap_descriptor.h"
#include "heap/dmabuf_ioctl.h"
#include "heap/uapi.h"

namespace dmaheap::emul {

// One heap as /dev/dma_heap would list it, plus what the backend knows about it.
struct HeapInfo {
  std::string name;           // the node name under /dev/dma_heap
  HeapDescriptor descriptor;  // kind "unknown" for a real kernel's heap we cannot classify
  uint64_t size = 0;        // bytes the heap can hand out at most (0 if unknown)
  uint64_t free = 0;        // bytes free now (0 if unknown)
};

// The identity of an open file: what statx/fstat report.
struct FileKey {
  uint64_t dev = 0;
  uint64_t ino = 0;
  bool operator==(const FileKey&) const = default;
};
// fstat on `fd`; {0, 0} when it fails.
FileKey fileKeyOf(int fd);

// A freshly allocated buffer: the fd (owned by the caller, opened with the request's access mode
// and O_CLOEXEC as asked), its page-aligned size and its identity.
struct AllocatedBuffer {
  UniqueFd fd;
  uint64_t size = 0;
  FileKey key;
};

class HeapBackend {
 public:
  virtual ~HeapBackend() = default;

  // "embedded", "service" or "kernel".
  virtual const char* kind() const = 0;

  // The heaps in /dev/dma_heap order (sorted by name). Errors: the backend's (ENODEV when a
  // service is gone).
  virtual Result<std::vector<HeapInfo>> heaps() = 0;

  // The kernel whose rules the front door (heap/dmabuf_ioctl.h) applies to this backend's
  // requests: its release decides the version gates.
  virtual const Kernel& kernel() const = 0;

  // The ALLOC ioctl after the kernel copied the caller's struct in (docs/kernel-behaviour.md
  // §1.3 steps 5-6), passed on as it came: the owner of the heap checks what open() of the node
  // would (ENOENT for a heap it does not have, the service's EACCES) before the ioctl's
  // validation, and then validates with the front door (dmabuf::validateAlloc, in HeapRegistry::allocate) in the
  // kernel's order with its errno, then the heap's errno (ENOMEM when full). ENODEV when the
  // service is gone.
  virtual Result<AllocatedBuffer> allocate(std::string_view heap, const uapi::AllocationData& request) = 0;

  // True if `key` is a live buffer of this backend. Buffers whose last holder anywhere is gone
  // are forgotten (and their memory given back) no later than this call.
  virtual bool owns(const FileKey& key) = 0;

  // The dma-buf ioctls on a buffer this backend owns. Each takes either a request the front
  // door validated (from dmabuf::decodeBufferIoctl, as the ioctl emulator does) or the raw
  // argument, which the front door validates first with kernel()'s rules; the backend only
  // executes. `fd` is a descriptor of the buffer in this process when the caller has one, else
  // -1 (the kernel and service backends need one; the embedded backend names the buffer by
  // `key`). Executing: ENOTTY when `key` is not one of ours (embedded), ENODEV when the service
  // is gone.
  // DMA_BUF_IOCTL_SYNC: EINVAL for unknown bits or no direction.
  Status sync(const FileKey& key, int fd, uint64_t flags) {
    auto request = dmabuf::validateSync(flags);
    if (!request) return request.error();
    return runSync(key, fd, request.value());
  }
  Status sync(const FileKey& key, int fd, const dmabuf::SyncRequest& request) { return runSync(key, fd, request); }
  // DMA_BUF_SET_NAME: EINVAL past 31 characters (EBUSY when attached on <= 5.15 kernels).
  Status setName(const FileKey& key, int fd, std::string_view name) {
    auto request = dmabuf::validateSetName(name);
    if (!request) return request.error();
    return runSetName(key, fd, request.value());
  }
  Status setName(const FileKey& key, int fd, const dmabuf::SetNameRequest& request) {
    return runSetName(key, fd, request);
  }
  // DMA_BUF_IOCTL_EXPORT_SYNC_FILE: a signalled fence fd (close-on-exec); ENOTTY on kernels
  // before 6.0, then EINVAL for bad flags.
  Result<UniqueFd> exportSyncFile(const FileKey& key, int fd, uint32_t flags) {
    auto request = dmabuf::validateExportSyncFile(flags, kernel());
    if (!request) return request.error();
    return runExportSyncFile(key, fd, request.value());
  }
  Result<UniqueFd> exportSyncFile(const FileKey& key, int fd, const dmabuf::ExportSyncFileRequest& request) {
    return runExportSyncFile(key, fd, request);
  }
  // Real dma-bufs of the host (heap/backing.h). realDmabufsOnly: every buffer this backend
  // makes is one, so the filter of `dmaheap run` need not send the dma-buf ioctls the host
  // answers as the target would (dmabuf::hostAnswersAsTarget). hostAnswers: `key` is a live
  // buffer of ours that is a real dma-buf, on which the supervisor lets the host kernel run
  // those ioctls.
  virtual bool realDmabufsOnly() const { return false; }
  virtual bool hostAnswers(const FileKey& key) {
    (void)key;
    return false;
  }

  // Whether the buffer ioctls need `fd` (a descriptor of the buffer in this process). The
  // supervisor then borrows the traced program's fd with pidfd_getfd.
  virtual bool needsLocalFd() const { return false; }

  // Whether the emulated kernel has EXPORT/IMPORT_SYNC_FILE. IMPORT needs no backend: heaps
  // attach no fences, so importing a signalled fence changes nothing.
  bool hasSyncFileIoctls() const { return kernel().hasSyncFileIoctls(); }

 protected:
  // The executors: called with validated requests only.
  virtual Status runSync(const FileKey& key, int fd, const dmabuf::SyncRequest& request) = 0;
  virtual Status runSetName(const FileKey& key, int fd, const dmabuf::SetNameRequest& request) = 0;
  virtual Result<UniqueFd> runExportSyncFile(const FileKey& key, int fd,
                                             const dmabuf::ExportSyncFileRequest& request) = 0;
};

}  // namespace dmaheap::emul
