// HeapRegistry: the core of the framework (drivers/dma-buf/dma-heap.c). Keeps the heaps under
// the kernel's naming rules, decodes and validates the ALLOC ioctl in the kernel's order with
// the kernel's errno, page-aligns the length, and turns a heap's memory into a Buffer.
//
// Validation happens here once; heaps never repeat it. Not thread-safe for add(); allocate()
// may run concurrently (heaps and the memory model lock themselves).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/kernel.h"
#include "base/result.h"
#include "heap/buffer.h"
#include "heap/heap.h"
#include "heap/uapi.h"

namespace dmaheap {

inline constexpr size_t kMaxHeaps = 128;  // NUM_HEAP_MINORS

// A registered heap: name, minor number, the implementation.
struct HeapEntry {
  std::string name;      // as given to dma_heap_add
  std::string node_name; // the /dev/dma_heap entry: '/' becomes '!'
  unsigned minor = 0;
  std::shared_ptr<Heap> heap;
};

// How the ALLOC ioctl moves data for a given command word (reference 1.3).
struct HeapIoctlPlan {
  size_t in_size = 0;   // bytes copied from the caller (write direction bit)
  size_t out_size = 0;  // bytes copied back (read direction bit)
  size_t ksize = 0;     // max(in, out, 24): the kernel's buffer size
};

// Step 1 of dma_heap_ioctl: EINVAL when _IOC_NR(cmd) >= 1 (the type byte is not checked).
Result<HeapIoctlPlan> planHeapIoctl(uint32_t cmd);
// The kernel buffer after copy_from_user: the caller's bytes, zero-filled up to ksize.
std::vector<uint8_t> heapIoctlKernelBuffer(const HeapIoctlPlan& plan, std::span<const uint8_t> user_in);

class HeapRegistry {
 public:
  explicit HeapRegistry(const Kernel& kernel) : kernel_(kernel) {}

  const Kernel& kernel() const { return kernel_; }

  // dma_heap_add: EINVAL for an empty name or no heap; the chosen kernel's errno for a duplicate
  // name (EINVAL up to 6.1, EEXIST after); EBUSY past 128 heaps. The kernel log line goes to
  // `log` when given.
  Status add(std::string name, std::shared_ptr<Heap> heap, std::string* log = nullptr);

  // Heaps in the kernel's list order (newest first, as list_add makes it).
  std::vector<const HeapEntry*> heaps() const;
  const HeapEntry* find(std::string_view name) const;

  // dma_heap_ioctl_allocate + dma_heap_buffer_alloc on a decoded request, in the kernel's
  // order: fd != 0, fd_flags outside O_CLOEXEC|O_ACCMODE, heap_flags != 0 -> EINVAL; length
  // page-aligned, 0 (or wrapping) -> EINVAL; then the heap's errno. The buffer's fd carries the
  // requested access mode and O_CLOEXEC.
  Result<std::unique_ptr<Buffer>> allocate(const HeapEntry& heap, const uapi::AllocationData& request) const;

  // The checks allocate() makes before asking the heap (fd, fd_flags, heap_flags, length), with
  // the same errno and order: the page-aligned length, or EINVAL. For callers that check
  // something of their own (a service's quota) between validation and allocation.
  Result<uint64_t> validate(const uapi::AllocationData& request) const;

  // The whole ioctl for an in-process caller: `arg` points at the caller's struct, whose size
  // and direction come from `cmd`. On success the new fd (owned by the caller) is written back
  // as the kernel does and the Buffer is returned; EFAULT for a null `arg`.
  Result<std::unique_ptr<Buffer>> ioctl(const HeapEntry& heap, uint32_t cmd, void* arg) const;

 private:
  Kernel kernel_;
  std::vector<HeapEntry> entries_;  // in registration order
};

}  // namespace dmaheap
