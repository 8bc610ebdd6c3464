// Resolving a capability ("system", "contiguous", "uncached", "dma32") to the heap a backend
// offers for it: the one resolver of base/heap_descriptor.h, over a backend's heap list.
// Internal to libdmaheap; tests include it directly.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "base/heap_descriptor.h"
#include "dmaheap/allocator.h"
#include "emulation/heap_backend.h"

namespace dmaheap::client {

// resolveCapability (base/heap_descriptor.h) over `heaps`; nullopt when no heap qualifies.
std::optional<std::string> resolveCapability(Capability capability, const std::vector<emul::HeapInfo>& heaps);

using dmaheap::capabilitiesOf;
using dmaheap::parseCapability;

}  // namespace dmaheap::client
