// KernelBackend: the real /dev/dma_heap behind the HeapBackend seam. Heap fds are opened once
// and cached; buffer operations are the kernel's own ioctls on the caller's fd.
#pragma once

#include <map>
#include <mutex>
#include <string>

#include "emulation/heap_backend.h"

namespace dmaheap::client {

class KernelBackend final : public emul::HeapBackend {
 public:
  // `dir` is normally /dev/dma_heap; `devicetree` the live tree (/proc/device-tree) used to
  // recognise per-region CMA heaps by their reusable reserved-memory node.
  explicit KernelBackend(std::string dir = "/dev/dma_heap", std::string devicetree = "/proc/device-tree")
      : dir_(std::move(dir)), devicetree_(std::move(devicetree)) {}

  // True if `dir` lists at least one heap.
  static bool available(const std::string& dir = "/dev/dma_heap");

  const char* kind() const override { return "kernel"; }
  Result<std::vector<emul::HeapInfo>> heaps() override;
  Result<emul::AllocatedBuffer> allocate(std::string_view heap, const uapi::AllocationData& request) override;
  bool owns(const emul::FileKey&) override { return false; }  // the kernel answers for itself
  // The running kernel validates for itself. The front door's checks in front of it are the
  // rules of the newest release we model, whose version gates are all open, so nothing reaches
  // the kernel that it would have answered differently.
  const Kernel& kernel() const override { return kernel_; }
  bool needsLocalFd() const override { return true; }

  // The cached heap fd (opened O_RDONLY|O_CLOEXEC); the open's errno otherwise.
  Result<int> heapFd(std::string_view heap);

 protected:
  Status runSync(const emul::FileKey& key, int fd, const dmabuf::SyncRequest& request) override;
  Status runSetName(const emul::FileKey& key, int fd, const dmabuf::SetNameRequest& request) override;
  Result<UniqueFd> runExportSyncFile(const emul::FileKey& key, int fd,
                                     const dmabuf::ExportSyncFileRequest& request) override;

 private:
  Kernel kernel_;
  std::string dir_;
  std::string devicetree_;
  std::mutex mu_;
  std::map<std::string, UniqueFd, std::less<>> heap_fds_;
};

}  // namespace dmaheap::client
