// HeapRegistry: the core of the framework (drivers/dma-buf/dma-heap.c). Keeps the heaps under
// the kernel's naming rules (HeapNaming), has the ALLOC ioctl decoded and validated by the front
// door (heap/dmabuf_ioctl.h) in the kernel's order with the kernel's errno, and turns a heap's
// memory for the page-aligned length into a Buffer.
//
// Validation happens in the front door once; heaps never repeat it. Not thread-safe for add(); allocate()
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
#include "heap/dmabuf_ioctl.h"
#include "heap/heap.h"
#include "heap/heap_naming.h"
#include "heap/uapi.h"

namespace dmaheap {

// A registered heap: name, minor number, the implementation.
struct HeapEntry {
  std::string name;      // as given to dma_heap_add
  std::string node_name; // the /dev/dma_heap entry: '/' becomes '!'
  unsigned minor = 0;
  std::shared_ptr<Heap> heap;
};

// The ALLOC ioctl's decoding lives in the front door (heap/dmabuf_ioctl.h); these names stay
// for the callers that knew them here.
using dmabuf::HeapIoctlPlan;
using dmabuf::heapIoctlKernelBuffer;
using dmabuf::planHeapIoctl;

class HeapRegistry {
 public:
  explicit HeapRegistry(const Kernel& kernel) : kernel_(kernel), naming_(kernel) {}

  const Kernel& kernel() const { return kernel_; }

  // What makes every buffer's file (heap/backing.h); nullptr (the default): memfds.
  void setBacking(std::shared_ptr<Backing> backing) { backing_ = std::move(backing); }
  const Backing* backing() const { return backing_.get(); }

  // dma_heap_add with the naming rules of HeapNaming::add (heap/heap_naming.h): EINVAL for an
  // empty name or no heap; the chosen kernel's errno for a duplicate name (EINVAL up to 6.1,
  // EEXIST after); EBUSY past 128 heaps. The dma_heap log line goes to `log` when given.
  Status add(std::string name, std::shared_ptr<Heap> heap, std::string* log = nullptr);

  // Heaps in the kernel's list order (newest first, as list_add makes it).
  std::vector<const HeapEntry*> heaps() const;
  const HeapEntry* find(std::string_view name) const;

  // dma_heap_ioctl_allocate + dma_heap_buffer_alloc on a decoded request: the front door's
  // validation (dmabuf::validateAlloc: fd, fd_flags, heap_flags, length; EINVAL) and then
  // the validated request's execution. The buffer's fd carries the requested access mode and
  // O_CLOEXEC.
  Result<std::unique_ptr<Buffer>> allocate(const HeapEntry& heap, const uapi::AllocationData& request) const;
  // Executes a validated request: the heap's errno (ENOMEM when full), then the fd's.
  Result<std::unique_ptr<Buffer>> allocate(const HeapEntry& heap, const dmabuf::AllocRequest& request) const;

  // The whole ioctl for an in-process caller: `arg` points at the caller's struct, whose size
  // and direction come from `cmd`. On success the new fd (owned by the caller) is written back
  // as the kernel does and the Buffer is returned; EFAULT for a null `arg`.
  Result<std::unique_ptr<Buffer>> ioctl(const HeapEntry& heap, uint32_t cmd, void* arg) const;

 private:
  Kernel kernel_;
  HeapNaming naming_;
  std::vector<HeapEntry> entries_;  // in registration order
  std::shared_ptr<Backing> backing_;
};

}  // namespace dmaheap
