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
  Status sync(const emul::FileKey& key, int fd, uint64_t flags) override;
  Status setName(const emul::FileKey& key, int fd, std::string_view name) override;
  Result<UniqueFd> exportSyncFile(const emul::FileKey& key, int fd, uint32_t flags) override;
  bool hasSyncFileIoctls() const override { return true; }
  bool needsLocalFd() const override { return true; }

  // The cached heap fd (opened O_RDONLY|O_CLOEXEC); the open's errno otherwise.
  Result<int> heapFd(std::string_view heap);

 private:
  std::string dir_;
  std::string devicetree_;
  std::mutex mu_;
  std::map<std::string, UniqueFd, std::less<>> heap_fds_;
};

}  // namespace dmaheap::client
