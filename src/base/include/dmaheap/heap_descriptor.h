// HeapDescriptor: what a DMA-BUF heap is, as one plain value that every layer passes on
// unchanged: the heap file fills it in, the registry keeps it, the service sends it, the
// emulation backends and libdmaheap hand it to applications, and `dmaheap list/stats` and
// dt-check print it (docs/heap-profiles.md). Part of libdmaheap's public API (installed as
// <dmaheap/heap_descriptor.h>, C++17 and later); self-contained, so that the core and the client
// library share the one definition.
#pragma once

#include <cstdint>
#include <string>

namespace dmaheap {

// The highest physical address a heap's memory may reach.
enum class AddressLimit : uint8_t {
  kNone = 0,    // anywhere in RAM
  k32Bit = 32,  // every byte below 4 GiB (the DMA32 zone), for devices with 32-bit DMA
};

// Where a heap's memory comes from.
enum class MemorySource : uint8_t {
  kUnknown = 0,      // a real kernel's heap we cannot classify
  kSystemPages = 1,  // the page allocator (buddy), any pages
  kCmaArea = 2,      // one CMA area; `region` names it
  kCarveout = 3,     // a no-map reserved-memory region outside the page allocator; `region` names it
};

struct HeapDescriptor {
  // The heap kind's name, from the heap-kind table: "system", "cma", "carveout"; "unknown" for a
  // real kernel's heap we cannot classify. It is the `type` that list, stats and dt-check show.
  std::string kind = "system";
  bool contiguous = false;  // every buffer is one physically contiguous segment
  bool cached = true;       // CPU mappings are cached (false: write-combined, "-uncached" heaps)
  AddressLimit address_limit = AddressLimit::kNone;
  MemorySource source = MemorySource::kSystemPages;
  std::string region;       // the CMA area or reserved-memory node the memory comes from; "" for system pages

  bool dma32() const { return address_limit == AddressLimit::k32Bit; }
  // Written out: applications may build with C++17 (no defaulted comparisons).
  bool operator==(const HeapDescriptor& o) const {
    return kind == o.kind && contiguous == o.contiguous && cached == o.cached && address_limit == o.address_limit &&
           source == o.source && region == o.region;
  }
  bool operator!=(const HeapDescriptor& o) const { return !(*this == o); }
};

inline const char* memorySourceName(MemorySource s) {
  switch (s) {
    case MemorySource::kSystemPages: return "system-pages";
    case MemorySource::kCmaArea: return "cma-area";
    case MemorySource::kCarveout: return "carveout";
    case MemorySource::kUnknown: break;
  }
  return "unknown";
}

// What an allocation needs from a heap, independent of what a kernel names it.
enum class Capability {
  kSystem,      // any memory: the "system" heap
  kContiguous,  // one physically contiguous block: a CMA heap ("default_cma_region",
                // "reserved", "linux,cma", or a per-region heap)
  kUncached,    // system memory mapped uncached ("system-uncached"); falls back to the cached
                // system heap when no uncached one exists, as Android's AllocSystem does
  kDma32,       // system memory below 4 GiB ("system-dma32"); no fallback
};

}  // namespace dmaheap
