// dt-check --devices: the devices that name reserved memory (dt::scanDevices) joined with the
// heaps the kernel makes, so that each device, and each pipeline of devices without an IOMMU,
// gets the /dev/dma_heap node it should allocate from on the chosen release
// (docs/device-trees.md, "Devices and their regions" and "Which heap a device should use").
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "devicetree/board_plan.h"
#include "devicetree/device_regions.h"
#include "heaps/heap_plan.h"

namespace dmaheap::dtcheck {

struct DeviceEntry {
  dt::DeviceNode device;
  // Per memory-region entry: the /dev/dma_heap node of its CMA area on this release ("" when the
  // entry is not a CMA area or the area has no heap here).
  std::vector<std::string> region_heaps;
  std::string heap;        // the heap to allocate from, "" when there is none
  std::string heap_why;    // why that heap, or why none
  int pipeline = -1;       // index into DevicesReport::pipelines, -1 for a device behind an IOMMU
};

// Devices without an IOMMU that share buffers, as far as the tree tells: devices joined by a
// common memory-region target (a device with no such partner is a pipeline of its own).
struct Pipeline {
  std::vector<size_t> members;  // indexes into DevicesReport::devices, in tree order
  std::string heap;             // a CMA heap every member reaches, "" when there is none
  std::string heap_why;
};

struct DevicesReport {
  std::vector<DeviceEntry> devices;
  std::vector<Pipeline> pipelines;
  std::vector<dt::Diagnostic> diagnostics;  // device-region-* and pipeline-no-cma-heap, in order
};

// Everything --devices adds for `fdt`, whose plan is `plan` and whose heaps are `heaps`.
DevicesReport planDevices(const dt::Fdt& fdt, const dt::BoardPlan& plan, const HeapPlanResult& heaps);

// The text section ("devices (memory-region):" ...) and the JSON `devices` / `pipelines` arrays.
std::string renderDevicesText(const DevicesReport& devices, const dt::BoardPlan& plan);
nlohmann::json renderDevicesJson(const DevicesReport& devices, const dt::BoardPlan& plan);
nlohmann::json renderPipelinesJson(const DevicesReport& devices);

}  // namespace dmaheap::dtcheck
