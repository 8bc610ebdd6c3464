// The reserved-memory handler table and the per-region outcome (docs/kernel-behaviour.md §5.5, §5.8).
#include "devicetree/reserved_handlers.h"

#include "base/size.h"
#include "devicetree/cma_declare.h"

namespace dmaheap::dt {
namespace {

constexpr ReservedMemHandler kHandlers[] = {
    {"shared-dma-pool", "cma", [](const Kernel& k) { return k.config.cma; },
     [](ReservedMemoryHandlers& h, SavedRegion& s, std::vector<std::string>* logs) { return h.rmemCmaSetup(s, logs); }},
    {"shared-dma-pool", "dma-coherent", [](const Kernel&) { return true; },
     [](ReservedMemoryHandlers& h, SavedRegion& s, std::vector<std::string>* logs) { return h.rmemDmaSetup(s, logs); }},
    {"restricted-dma-pool", "restricted-dma",
     [](const Kernel& k) { return ruleApplies(KernelRule::kRestrictedDmaPool, k) && k.config.restricted_dma_pool; },
     [](ReservedMemoryHandlers& h, SavedRegion& s, std::vector<std::string>* logs) {
       return h.rmemSwiotlbSetup(s, logs);
     }},
};

}  // namespace

std::span<const ReservedMemHandler> reservedMemHandlers() { return kHandlers; }

int ReservedMemoryHandlers::rmemCmaSetup(SavedRegion& s, std::vector<std::string>* logs) {
  const int node = s.node;
  ReservedRegion& r = region(s);
  const bool nomap = r.no_map;
  const bool deflt = fdt_->has(node, "linux,cma-default");
  if (has(KernelRule::kCmaCmdlineBypassesDtDefault) && cma_.present && deflt) {
    logs->push_back(log("Reserved memory: bypass " + r.name + " node, using cmdline CMA params instead"));
    return EBUSY;
  }
  if (!r.reusable || nomap) return notMine();
  const uint64_t a = k_.cmaMinAlignmentBytes();
  if ((s.base & (a - 1)) || (s.size & (a - 1))) {
    logs->push_back(log("Reserved memory: incorrect alignment of CMA region"));
    return EINVAL;
  }
  const int err = CmaDeclaration(s_).initReservedMem(s.base, s.size, r.name, r.path, true, logs);
  if (err != 0) {
    logs->push_back(log("Reserved memory: unable to setup CMA region"));
    return err;
  }
  if (deflt) dt_default_area_ = static_cast<int>(plan_.cma_areas.size()) - 1;
  logs->push_back(log("Reserved memory: created CMA memory pool at " + logPa(s.base) + ", size " + logMib(s.size) + " MiB"));
  return 0;
}

int ReservedMemoryHandlers::rmemDmaSetup(SavedRegion& s, std::vector<std::string>* logs) {
  ReservedRegion& r = region(s);
  if (r.reusable) return notMine();
  // 32-bit ARM cannot remap a pool that stays in the linear map (docs/kernel-behaviour.md §11.3).
  if (has(KernelRule::kArmCoherentPoolNeedsNoMap) && !r.no_map) {
    logs->push_back(log("Reserved memory: regions without no-map are not yet supported"));
    return EINVAL;
  }
  logs->push_back(log("Reserved memory: created DMA memory pool at " + logPa(s.base) + ", size " + logMib(s.size) + " MiB"));
  return 0;
}

int ReservedMemoryHandlers::rmemSwiotlbSetup(SavedRegion& s, std::vector<std::string>* logs) {
  const int node = s.node;
  ReservedRegion& r = region(s);
  if (r.reusable || fdt_->has(node, "linux,cma-default") || fdt_->has(node, "linux,dma-default") || r.no_map) {
    return EINVAL;
  }
  logs->push_back(log("software IO TLB: Reserved memory: created restricted DMA pool at " + logPa(s.base) + ", size " +
                      logMib(s.size) + " MiB"));
  return 0;
}

void ReservedMemoryHandlers::initNode(SavedRegion& s) {
  const int node = s.node;
  ReservedRegion& r = region(s);
  std::vector<std::string> logs;
  int ret = ENOENT;
  int cma_ret = ENOENT;
  std::string matched;
  for (const ReservedMemHandler& h : kHandlers) {
    if (!fdt_->isCompatible(node, h.compatible) || !h.built(k_)) continue;
    ret = h.setup(*this, s, &logs);
    if (std::string_view(h.kind) == "cma") cma_ret = ret;
    if (ret == 0) {
      matched = h.compatible;
      r.handler = h.kind;
      break;
    }
  }
  // A handler's "not mine" (-ENODEV) does not hide an earlier handler's real error (docs/kernel-behaviour.md §5.5).
  if (has(KernelRule::kRmemHandlerNotMineEnodev) && ret == ENODEV && cma_ret != ENOENT && cma_ret != ENODEV && cma_ret != 0) ret = cma_ret;
  const bool no_handler = ret == ENOENT || (has(KernelRule::kRmemHandlerNotMineEnodev) && ret == ENODEV);
  if (ret == 0) {
    logs.push_back(log(std::string(kOfRmem) + "initialized node " + r.name + ", compatible id " + matched));
    r.outcome = RegionOutcome::kInitialized;
  } else if (no_handler) {
    r.outcome = RegionOutcome::kNoHandler;
  } else {
    logs.push_back(log(std::string(kOfRmem) + "node " + r.name + " compatible matching fail"));
    r.outcome = RegionOutcome::kFailed;
    if (r.no_map) {
      if (!has(KernelRule::kNomapMarksMemblock)) {
        mb_.free(s.base, s.size);
        mb_.addMemory(s.base, s.size);
      } else {
        mb_.clearNomap(s.base, s.size);
      }
    } else {
      mb_.free(s.base, s.size);
    }
    r.removed_from_memory = false;
  }
  if (has(KernelRule::kRmemSummaryLine) && (ret == 0 || no_handler)) {
    const uint64_t end = s.base + s.size - 1;
    log(std::string(kOfRmem) + logPa(s.base) + ".." + logPa(end) + " (" + std::to_string(s.size / kKiB) + " KiB) " +
        (r.no_map ? "nomap" : "map") + " " + (r.reusable ? "reusable" : "non-reusable") + " " + r.name);
  }
  explainInit(s, cma_ret, logs);
}

// Diagnostics for the handler outcome of one region.
// `ret` is what the CMA handler answered (ENOENT if it was not tried).
void ReservedMemoryHandlers::explainInit(const SavedRegion& s, int ret, const std::vector<std::string>& logs) {
  const int node = s.node;
  const ReservedRegion& r = plan_.regions[s.region];
  const bool shared = fdt_->isCompatible(node, "shared-dma-pool");
  const uint64_t a = k_.cmaMinAlignmentBytes();
  if (shared && r.reusable && r.no_map) {
    record(DiagEvent::kCmaReusableNoMap, r.path, {{"stays", has(KernelRule::kRmemHandlerNotMineEnodev) ? "1" : ""}},
           logs);
    return;
  }
  if (ret == EBUSY && r.cma_default) {
    record(DiagEvent::kCmaDefaultBypassed, r.path, {}, logs);
    return;
  }
  if (shared && r.reusable && r.handler != "cma" && k_.config.cma && ret != 0 && ret != ENOENT) {
    if ((s.base & (a - 1)) || (s.size & (a - 1))) {
      record(DiagEvent::kCmaMisaligned, r.path,
             {{"base", logPa(s.base)},
              {"size", formatSize(s.size)},
              {"align", formatSize(a)},
              {"kernel", k_.version.str()},
              {"pageblock", formatSize(k_.pageblockBytes())},
              {"default", r.cma_default ? "1" : ""}},
             logs);
    } else if (ret == ENOSPC) {
      record(DiagEvent::kCmaNoSlot, r.path, {{"max", std::to_string(k_.maxCmaAreas())}}, logs);
    } else {
      record(DiagEvent::kCmaSetupFailed, r.path, {{"einval", ret == EINVAL ? "1" : ""}, {"errno", std::to_string(ret)}},
             logs);
    }
    return;
  }
  if (shared && !r.reusable && !r.no_map && r.outcome == RegionOutcome::kFailed &&
      has(KernelRule::kArmCoherentPoolNeedsNoMap)) {
    record(DiagEvent::kCoherentPoolRefusedMapped, r.path, {}, logs);
    return;
  }
  if (shared && !r.reusable && r.handler == "dma-coherent") {
    record(r.cma_default ? DiagEvent::kCoherentPoolClaimsDefault : DiagEvent::kCoherentPool, r.path, {}, logs);
    if (!r.no_map) {
      record(DiagEvent::kCoherentPoolMapped, r.path, {{"arch", str(k_.arch)}});
    }
    return;
  }
  if (r.outcome == RegionOutcome::kFailed) {
    record(DiagEvent::kHandlerFailed, r.path, {{"compatible", r.compatible}}, logs);
    return;
  }
  if (r.outcome == RegionOutcome::kNoHandler && !r.compatible.empty() && !shared &&
      !(fdt_->isCompatible(node, "restricted-dma-pool") && has(KernelRule::kRestrictedDmaPool))) {
    record(DiagEvent::kNoHandler, r.path, {{"compatible", r.compatible}}, logs);
  }
}

}  // namespace dmaheap::dt
