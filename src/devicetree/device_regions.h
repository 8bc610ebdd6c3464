// Devices that name reserved memory: for every enabled node with `memory-region`, which region
// each phandle gives it on the chosen kernel (what of_reserved_mem_device_init_by_idx would hand
// the driver: a CMA area, a coherent pool, a restricted DMA pool, a plain carve-out, or nothing and
// why), the device's DMA reach from dma-ranges and whether it sits behind an IOMMU
// (docs/device-trees.md, "Devices and their regions"). Plain data over a validated Fdt and the
// BoardPlan the boot replay made from it; the heap a device should use is decided in dtcheck,
// which knows the heaps.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "devicetree/board_plan.h"
#include "devicetree/diagnostics_catalogue.h"
#include "devicetree/dma_ranges.h"
#include "devicetree/fdt.h"

namespace dmaheap::dt {

// What one memory-region entry gives the device.
enum class RegionBinding {
  kCmaArea,         // dev->cma_area: its dma_alloc_* come from this CMA area
  kCoherentPool,    // dev->dma_mem: a per-device coherent pool (shared-dma-pool without reusable)
  kRestrictedPool,  // dev->dma_io_tlb_mem: all its DMA bounces through this pool
  kCarveOut,        // reserved, no ops: the driver maps the memory itself (no-map or no handler)
  kMissing,         // the phandle matches no node, or no reserved-memory region (-ENODEV / -EINVAL)
  kDisabled,        // the region's node is disabled: the call returns 0 and assigns nothing
  kFailed,          // the region was not set up (allocation or handler failed, bypassed, crashed,
                    // or a CMA area that is never activated): -EINVAL, or no usable memory
};

// "cma", "coherent-pool", "restricted-pool", "carve-out", "missing", "disabled", "failed".
const char* bindingName(RegionBinding binding);

struct DeviceRegion {
  size_t index = 0;        // position in memory-region
  std::string name;        // memory-region-names[index], "" when the tree names none
  uint32_t phandle = 0;
  std::string target;      // path of the phandle's node, "" when it points nowhere
  RegionBinding binding = RegionBinding::kMissing;
  int region = -1;         // BoardPlan::regions index of the region the kernel assigns, -1 if none
  int cma_area = -1;       // BoardPlan::cma_areas index for kCmaArea (and a never-activated area)
  std::string reason;      // why not (or what the boot plan said about the region), "" if nothing
  // Whether the device's DMA reach covers the whole region; true when the region is not placed or
  // the reach is unknown (nothing to judge).
  bool reachable = true;
};

enum class IommuKind { kNone, kIommus, kIommuMap };
const char* iommuKindName(IommuKind kind);  // "none", "iommus", "iommu-map"

struct DeviceIommu {
  IommuKind kind = IommuKind::kNone;  // the property the node has
  std::vector<std::string> targets;   // the IOMMU nodes it names (paths), in order
  // Whether the kernel would attach the device: every `iommus` target exists and is enabled
  // (of_iommu_xlate refuses a disabled IOMMU); for iommu-map, the devices below the node (PCI,
  // fsl-mc) are translated by an enabled IOMMU.
  bool active = false;
  std::string why_not;                // when the property is there but not active
};

struct DeviceNode {
  int node = -1;
  std::string path;
  std::string compatible;  // first compatible string, "" if none
  std::vector<DeviceRegion> regions;
  DmaReach reach;
  DeviceIommu iommu;
};

// Whether `reach` covers [base, base + size) (windows may be joined end to end). No restriction
// (translated, no windows) covers everything; an untranslated reach covers nothing.
bool reachCovers(const DmaReach& reach, uint64_t base, uint64_t size);

struct DeviceScan {
  std::vector<DeviceNode> devices;    // in tree order
  std::vector<RecordedEvent> events;  // device-region-* findings, for diagnose()
};

// Every node that the kernel would create a device for (it and all its ancestors available) and
// that has `memory-region`, with what the plan made of each region. `plan` must be the plan of
// `fdt` on the kernel in question.
DeviceScan scanDevices(const Fdt& fdt, const BoardPlan& plan);

}  // namespace dmaheap::dt
