// Resolving a capability ("system", "contiguous") to the heap a given kernel offers for it.
// Internal to libdmaheap; tests include it directly.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "dmaheap/allocator.h"
#include "emulation/heap_backend.h"

namespace dmaheap::client {

// kSystem: "system", else any heap of type system. kContiguous, in order of preference: the
// stable name "default_cma_region" (6.17+), the legacy names of the default area ("reserved"
// from cma=/Kconfig, "linux,cma" or "linux,cma@ADDR" from a DT default node), then any other
// contiguous heap by name (6.19+ per-region heaps). nullopt when no heap qualifies.
std::optional<std::string> resolveCapability(Capability capability, const std::vector<emul::HeapInfo>& heaps);

std::vector<Capability> capabilitiesOf(const emul::HeapInfo& heap);

// "system" / "contiguous" -> Capability; nullopt for anything else.
std::optional<Capability> parseCapability(std::string_view text);

}  // namespace dmaheap::client
