// Buffer: one dma-buf. Real memory from its backing (heap/backing.h: a real dma-buf of the host,
// or a memfd populated and sealed against shrinking and growing so that no holder can make
// another holder's mapping fault) plus where it lies in the board's physical memory, its name,
// and the simulated devices attached to it. The placement, accounting and errno are the same
// whatever the backing.
//
// Ownership: a Buffer owns its PhysicalAllocation (freed with the Buffer) and one reference to
// the file (`fd()`), which the service may give up with releaseFd() to watch for the last holder.
// Not thread-safe; the owner serialises access.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/kernel.h"
#include "base/result.h"
#include "base/unique_fd.h"
#include "heap/backing.h"
#include "heap/dmabuf_ioctl.h"
#include "heap/heap.h"

namespace dmaheap {

// What a simulated device can reach (docs/kernel-behaviour.md §3.3, §4.3).
struct DeviceConstraints {
  std::string name = "device";
  bool needs_contiguous = false;      // importer wants one DMA segment (e.g. a scanout engine)
  uint64_t dma_limit = ~uint64_t{0};  // highest byte address the device can address
};

class Buffer {
 public:
  struct Options {
    std::string heap_name;           // exporter name (exp_name)
    int map_error_errno = EIO;       // Heap::mapErrorErrno() of the heap it came from
    uint32_t fd_flags = 0;           // validated O_CLOEXEC | O_ACCMODE bits
    bool populate = true;            // fallocate the memfd, as heaps allocate eagerly
    Backing* backing = nullptr;      // what makes the file; nullptr: a memfd
  };

  // Creates the file of `size` bytes for `memory` with the backing. On failure the memory is
  // given back and the backing's errno is returned (EMFILE, ENOMEM, ...).
  static Result<std::unique_ptr<Buffer>> create(std::unique_ptr<PhysicalAllocation> memory, uint64_t size,
                                                const Kernel& kernel, Options options);
  // A buffer whose memfd exists already and is held by others (a restarted service taking back
  // what an earlier run handed out, docs/service-restart.md): no fd, the given name and inode.
  static std::unique_ptr<Buffer> adopt(std::unique_ptr<PhysicalAllocation> memory, uint64_t size, const Kernel& kernel,
                                       Options options, std::string name, uint64_t inode);
  ~Buffer();
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  uint64_t size() const { return size_; }
  const std::string& heapName() const { return options_.heap_name; }
  const std::vector<Segment>& segments() const { return memory_->segments(); }
  const std::string& name() const { return name_; }
  uint64_t inode() const { return inode_; }
  // st_dev of the file (0 for an adopted buffer, whose file is not ours): with inode() the
  // buffer's identity, known without another fstat.
  uint64_t device() const { return device_; }
  // The release watch added ahead on the file for the BufferWatcher `watcher` (its id()), or -1
  // (heap/prepared_pool.h): what that watcher adopts instead of watching again.
  int preparedWatchFor(uint64_t watcher) const { return watcher != 0 && prepared_watcher_ == watcher ? prepared_wd_ : -1; }
  // Which backing made the file (a per-buffer fallback may differ from the chosen one), and how
  // its release is learnt (BufferWatcher::watch's arguments).
  BackingKind backing() const { return backing_; }
  ReleaseSignal releaseSignal() const { return release_; }
  long loneCount() const { return lone_count_; }

  // The buffer fd, opened with the requested access mode and O_CLOEXEC; -1 after releaseFd().
  int fd() const { return fd_.get(); }
  UniqueFd releaseFd() { return std::move(fd_); }

  // The dma-buf ioctls. Each takes either the raw argument, which the front door
  // (heap/dmabuf_ioctl.h) validates first, or a request the front door already validated.
  // DMA_BUF_SET_NAME: at most 31 characters (EINVAL otherwise); EBUSY while devices are attached
  // on kernels up to 5.15.
  Status setName(std::string_view name);
  Status setName(const dmabuf::SetNameRequest& request);
  // DMA_BUF_IOCTL_SYNC: EINVAL for unknown bits or no direction. Nothing else is enforced, as
  // in the kernel (START/END pairing is not tracked).
  Status sync(uint64_t flags);
  Status sync(const dmabuf::SyncRequest& request);
  // DMA_BUF_IOCTL_EXPORT_SYNC_FILE: ENOTTY before 6.0, EINVAL for bad flags. Heaps attach no
  // fences, so the returned fd is an already-signalled fence: it polls readable at once.
  Result<UniqueFd> exportSyncFile(uint32_t flags);
  Result<UniqueFd> exportSyncFile(const dmabuf::ExportSyncFileRequest& request);

  // Simulated device attachments. attach never fails for a valid buffer; map returns the
  // device's view (one entry per segment) or: EINVAL when the importer needs one contiguous
  // segment and the buffer has several; the heap's map errno when a segment lies above the
  // device's DMA limit. Attachment ids are small integers, valid until detach.
  int attach(const DeviceConstraints& device);
  Result<std::vector<Segment>> map(int attachment);
  Status unmap(int attachment);
  Status detach(int attachment);
  size_t attachmentCount() const;

  uint64_t syncCount() const { return sync_count_; }

 private:
  Buffer(std::unique_ptr<PhysicalAllocation> memory, uint64_t size, const Kernel& kernel, Options options);
  struct Attachment {
    int id;
    DeviceConstraints device;
    bool mapped = false;
  };
  Attachment* findAttachment(int id);

  std::unique_ptr<PhysicalAllocation> memory_;
  uint64_t size_;
  Kernel kernel_;
  Options options_;
  UniqueFd fd_;
  uint64_t inode_ = 0;
  uint64_t device_ = 0;
  int prepared_wd_ = -1;
  uint64_t prepared_watcher_ = 0;
  BackingKind backing_ = BackingKind::kMemfd;
  ReleaseSignal release_ = ReleaseSignal::kInotify;
  long lone_count_ = 1;
  std::string name_;
  std::vector<Attachment> attachments_;
  int next_attachment_ = 1;
  uint64_t sync_count_ = 0;
};

// Creates a memfd of `size` bytes sealed against shrinking and growing, optionally populated.
// Returns the read-write fd (close-on-exec as asked). errno of the failing call otherwise.
Result<UniqueFd> createSealedMemfd(const char* name, uint64_t size, bool populate, bool cloexec);

// The fence of an emulated sync_file: heaps attach no fences, so it is already signalled (an
// eventfd with a non-zero count polls readable, as a signalled sync_file does). Close-on-exec.
Result<UniqueFd> makeSignalledFence();

// Reopens a memfd with another access mode (O_RDONLY, O_WRONLY or 3 = neither), the way a
// dma-buf fd's f_mode follows the fd_flags of the allocation.
Result<UniqueFd> reopenWithAccessMode(int fd, uint32_t fd_flags);

}  // namespace dmaheap
