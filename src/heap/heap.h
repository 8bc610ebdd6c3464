// Heap: the one interface a heap implements (the kernel's dma_heap_ops). The core validates
// requests once; a heap only turns a page-aligned length into physical memory.
#pragma once

#include <cerrno>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/result.h"
#include "dmaheap/heap_descriptor.h"

namespace dmaheap {

// One physically contiguous piece of a buffer: what one scatter-gather entry describes.
struct Segment {
  uint64_t base = 0;  // physical address
  uint64_t size = 0;  // bytes
  bool operator==(const Segment&) const = default;
};

// Physical memory held for one buffer. Destroying it gives the memory back to its heap; it must
// not outlive nothing: implementations keep what they free into alive themselves.
class PhysicalAllocation {
 public:
  virtual ~PhysicalAllocation() = default;
  const std::vector<Segment>& segments() const { return segments_; }

 protected:
  std::vector<Segment> segments_;
};

// The live numbers of a heap (what it is: HeapDescriptor, <dmaheap/heap_descriptor.h>).
struct HeapUsage {
  uint64_t size = 0;     // bytes the heap can hand out at most
  uint64_t free = 0;     // bytes free now
  uint64_t largest_free_block = 0;  // largest physically contiguous free block, bytes
};

class Heap {
 public:
  virtual ~Heap() = default;
  // `len` is page aligned and non-zero (the core guarantees it). Returns the memory, or the
  // heap's errno: ENOMEM when it cannot be satisfied (nothing is kept on failure).
  virtual Result<std::unique_ptr<PhysicalAllocation>> allocate(uint64_t len) = 0;
  // What the heap is, as data other layers read instead of comparing heap types.
  virtual HeapDescriptor descriptor() const = 0;
  virtual HeapUsage usage() const = 0;
  // The errno of a failed device mapping of one of its buffers (map_dma_buf): the DMA layer's
  // errno passed through (EIO) unless the heap turns every failure into its own (CMA: ENOMEM).
  virtual int mapErrorErrno() const { return EIO; }
  // A restarted service taking back the memory of a buffer an earlier run handed out and that is
  // still held (docs/service-restart.md): exactly `segments`, `len` bytes in all. EBUSY when any
  // of it is not free now, EINVAL when it cannot be memory of this heap (nothing is kept on
  // failure); EOPNOTSUPP from heaps that cannot place memory where they are told.
  virtual Result<std::unique_ptr<PhysicalAllocation>> adopt(const std::vector<Segment>& segments, uint64_t len) {
    (void)segments;
    (void)len;
    return makeError(EOPNOTSUPP, "this heap cannot take back the memory of a buffer it handed out before a restart");
  }
};

}  // namespace dmaheap
