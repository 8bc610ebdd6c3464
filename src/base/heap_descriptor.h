// Helpers around the one heap descriptor (<dmaheap/heap_descriptor.h>): its JSON fields, the
// descriptor an old (version 1) protocol message implies, and the one capability resolver that
// libdmaheap and `dmaheap simulate` share (docs/heap-profiles.md, "Capabilities").
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "dmaheap/heap_descriptor.h"

namespace dmaheap {

// Adds the descriptor's fields to a heap's JSON object: "type" (the kind), "contiguous",
// "cached", "dma32", "source", "region". Used by `dmaheap list/stats --json` and dt-check.
void addDescriptorJson(nlohmann::json& heap, const HeapDescriptor& d);

// The descriptor a heap listed only by its `type` implies: what a version-1 service sends.
// "cma": contiguous memory from a CMA area; "system": system pages; anything else unknown.
HeapDescriptor descriptorFromType(std::string_view type);

// The descriptor a real kernel's /dev/dma_heap entry implies from its name alone: "system"
// and the vendor variants ("system-uncached", "system-dma32", "system-uncached-dma32"); a CMA
// heap when `cma` is true (a known default-area name or a reusable DT region), with "-uncached"
// read from the name ("linux,cma-uncached"); else kind "unknown".
HeapDescriptor descriptorFromKernelName(std::string_view name, bool cma);

// A heap as the resolver sees it.
struct NamedHeap {
  std::string name;
  HeapDescriptor descriptor;
};

// The capabilities a heap offers: kSystem for cached system pages without an address limit,
// kUncached for uncached system pages without a limit, kDma32 for system pages below 4 GiB,
// kContiguous for any contiguous heap.
std::vector<Capability> capabilitiesOf(const HeapDescriptor& d);

// The heap that serves `capability` among `heaps`, or nullopt:
//   kSystem:     "system", else the first (by name) heap offering kSystem;
//   kUncached:   "system-uncached", else the first uncached system heap, else what kSystem gives;
//   kDma32:      "system-dma32", else the first cached dma32 heap, else the first dma32 heap;
//   kContiguous: "default_cma_region", "reserved", "linux,cma" (6.17+ stable name, then the
//                legacy default-area names), then a DT default node with its unit address
//                ("linux,cma@..."), then other cached CMA heaps, then other contiguous heaps, by
//                name within each group.
std::optional<std::string> resolveCapability(Capability capability, const std::vector<NamedHeap>& heaps);

// "system", "contiguous", "uncached", "dma32" -> Capability; nullopt for anything else.
std::optional<Capability> parseCapability(std::string_view text);
const char* capabilityName(Capability capability);

}  // namespace dmaheap
