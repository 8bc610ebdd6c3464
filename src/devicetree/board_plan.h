// BoardPlan: what a kernel makes of a device tree, as plain data. The device-tree rules produce
// it (dt-check prints it); the board assembler turns it into a memory model and heaps.
// Depends only on base.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/kernel.h"
#include "base/types.h"

namespace dmaheap::dt {

enum class Severity { kError, kWarning, kNote };

// One finding about a node. `code` is one of the stable codes of docs/diagnostics.md (never renamed).
struct Diagnostic {
  Severity severity = Severity::kError;
  std::string code;                     // e.g. "cma-not-reusable"
  std::string node;                     // full node path, e.g. "/reserved-memory/framebuffer@60000000"
  std::string message;                  // one sentence for people
  std::vector<std::string> kernel_log;  // the line(s) the kernel would print, without timestamps
  std::string fix;                      // suggested change to the tree or command line
};

// What happened to one /reserved-memory child (or a /memreserve/ entry).
enum class RegionOutcome {
  kInitialized,   // a handler accepted it ("initialized node ...")
  kNoHandler,     // stays reserved, no compatible handler (plain carve-out)
  kFailed,        // handler failed: memory returned to the system ("compatible matching fail")
  kNotReserved,   // could not be reserved/allocated at all (bad reg, alloc failed, too many)
  kSkipped,       // status disabled, or bypassed in favour of cma=
  kCrashed,       // the kernel would WARN/Oops/panic on it (e.g. CMA outside RAM)
};

struct ReservedRegion {
  std::string name;        // node name with unit address, e.g. "framebuffer@60000000"
  std::string path;        // full path
  uint64_t base = 0;       // first reg pair, or where the dynamic allocation landed (0 if none)
  uint64_t size = 0;
  bool dynamic = false;    // size/alloc-ranges rather than reg
  bool no_map = false;
  bool reusable = false;
  std::string compatible;  // first compatible string, "" if none
  RegionOutcome outcome = RegionOutcome::kNoHandler;
  bool removed_from_memory = false;  // no-map: not in the kernel's linear map / buddy
  // Added by the device-tree rules (additive): which handler took it ("cma", "dma-coherent",
  // "restricted-dma", "" for none) and whether it carries linux,cma-default.
  std::string handler;
  bool cma_default = false;
};

struct CmaArea {
  std::string name;        // "reserved" (cma= / Kconfig) or the DT node name
  uint64_t base = 0;
  uint64_t size = 0;
  bool is_default = false; // dma_contiguous_default_area
  bool from_dt = false;    // made by rmem_cma_setup from a reusable shared-dma-pool node
  bool activated = true;   // false: "could not be activated" (zones, invalid pfns)
  std::string path;        // (additive) the DT node path for from_dt areas, "" otherwise
};

// (additive) Where the RAM of a plan came from: the tree's own memory nodes, or a bootloader
// fix-up given on the command line (devicetree/memory_fixup.h, docs/device-trees.md).
struct MemoryOrigin {
  std::string from = "tree";       // "tree", "--memory", "--memory-size", "built-in"
  std::vector<std::string> nodes;  // the memory node(s) used, written or filled ("/memory@0")
  std::string detail;              // one sentence: which base and why
};

// One zone of the page allocator as the kernel prints it under "Zone ranges:" (non-empty only).
struct Zone {
  std::string name;  // "DMA", "DMA32", "Normal"
  uint64_t base = 0;
  uint64_t size = 0;
};

// The result of applying one kernel's rules to one tree (or to the built-in default board).
struct BoardPlan {
  Kernel kernel;                      // kernel.arch: the architecture whose rules were applied
  // (additive) Why that architecture (docs/device-trees.md "Architecture"): --arch, the .config,
  // what the tree says, or the arm64 fallback.
  std::string arch_reason;
  std::vector<PhysRange> memory;      // RAM the kernel knows, page aligned, sorted
  std::vector<PhysRange> reserved;    // in RAM but never given to the page allocator (memreserve,
                                      // carve-outs, coherent pools, no-map), sorted
  std::vector<ReservedRegion> regions;
  std::vector<CmaArea> cma_areas;     // in registration order
  std::vector<Diagnostic> diagnostics;
  bool kernel_crashes = false;        // some rule predicts a WARN/Oops/panic at boot
  // (additive) The kernel command line the rules used: --cmdline, else /chosen/bootargs.
  std::string cmdline;
  // (additive) Every line the kernel prints about memory, reserved memory and CMA, in boot order.
  std::vector<std::string> kernel_log;
  // (additive) Where `memory` came from, and the zones the kernel sizes from it and the tree
  // (docs/kernel-behaviour.md §6.10); dma_limit is the end of ZONE_DMA (arm64_dma_phys_limit),
  // dma_limit_from_tree the tree's lowest DMA reach when some bus has dma-ranges.
  MemoryOrigin memory_origin;
  std::vector<Zone> zones;
  uint64_t dma_limit = 0;
  bool dma_limit_from_tree = false;
  uint64_t dt_dma_max_cpu = 0;
  // The kernel's "Zone ranges:" block as printed (empty zones included); kept apart from
  // kernel_log, which holds the reserved-memory and CMA lines only.
  std::vector<std::string> zone_log;

  bool hasErrors() const {
    for (const auto& d : diagnostics)
      if (d.severity == Severity::kError) return true;
    return false;
  }
};

}  // namespace dmaheap::dt
