// The seam between libdmaheap's core and its optional embedded component.
//
// The core (libdmaheap.so) holds the kernel and service backends and links no board, device
// tree, heaps, memory model or libfdt. The embedded backend (heaps emulated in the process)
// lives in libdmaheap-embedded.so, which the core loads with dlopen, by its soname, the first
// time an allocator needs it:
//   1. already loaded (the application linked dmaheap::embedded / dmaheap-embedded.pc),
//   2. next to the core library (the usual install: both in the same libdir),
//   3. the dynamic linker's search path (LD_LIBRARY_PATH, ld.so.cache, ...).
// So an application keeps calling Allocator::create() unchanged: with the component installed
// it gets the embedded heaps as before; without it, a clear error says the component is missing.
//
// The component exports one C symbol, kEmbeddedEntrySymbol, an EmbeddedEntry. What crosses the
// boundary is C++ (HeapBackend objects, AllocatorOptions), which has no stable ABI between
// builds, so the entry carries a fingerprint of the build and the core refuses a component
// from another build.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "base/result.h"
#include "dmaheap/allocator.h"
#include "emulation/heap_backend.h"

namespace dmaheap::client {

inline constexpr const char* kEmbeddedEntrySymbol = "dmaheap_embedded_entry_v1";

// What both sides must agree on: the version, and the layout of what crosses the boundary.
struct EmbeddedFingerprint {
  const char* version;
  size_t options_size;
  size_t heap_info_size;
  size_t allocation_data_size;
  size_t error_size;
};

inline constexpr EmbeddedFingerprint thisBuildFingerprint() {
  return EmbeddedFingerprint{DMAHEAP_VERSION_STRING, sizeof(AllocatorOptions), sizeof(emul::HeapInfo),
                             sizeof(uapi::AllocationData), sizeof(Error)};
}

using EmbeddedFactory = Result<std::unique_ptr<emul::HeapBackend>> (*)(const AllocatorOptions&);

struct EmbeddedEntry {
  EmbeddedFingerprint fingerprint;
  EmbeddedFactory create;
};

// The embedded backend for `options` (its board from dtb/kernel/kernel_config). ENODEV naming
// the soname and what dlopen said when the component is not installed; ELIBBAD when it comes
// from another build; else the board loader's errno.
Result<std::unique_ptr<emul::HeapBackend>> makeEmbeddedBackend(const AllocatorOptions& options);

// Whether the embedded component can be loaded (without building a board).
bool embeddedComponentAvailable();

}  // namespace dmaheap::client
