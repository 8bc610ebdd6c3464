// Devices that name reserved memory (docs/device-trees.md, "Devices and their regions").
#include "devicetree/device_regions.h"

#include <algorithm>
#include <map>
#include <utility>

#include "devicetree/boot_state.h"

namespace dmaheap::dt {
namespace {

uint32_t cellAt(const Property& p, size_t index) {
  size_t pos = index * 4;
  return static_cast<uint32_t>(readCells(p.data, &pos, 1));
}

// The phandle of every node, first node in tree order winning, as the kernel's lookup finds it:
// `phandle`, else `linux,phandle` (docs/device-trees.md). One pass, so a tree with many
// memory-region entries stays linear.
std::map<uint32_t, int> phandleIndex(const Fdt& fdt, const std::vector<int>& nodes) {
  std::map<uint32_t, int> out;
  for (int n : nodes) {
    std::optional<Property> p = fdt.prop(n, "phandle");
    if (!p || p->size() != 4) p = fdt.prop(n, "linux,phandle");
    if (!p || p->size() != 4) continue;
    const uint32_t ph = cellAt(*p, 0);
    if (ph != 0 && ph != ~uint32_t{0}) out.emplace(ph, n);
  }
  return out;
}

// The most severe thing the boot plan said about node `path`, "" when nothing.
std::string planReason(const BoardPlan& plan, const std::string& path) {
  for (const Severity s : {Severity::kError, Severity::kWarning, Severity::kNote})
    for (const Diagnostic& d : plan.diagnostics)
      if (d.node == path && d.severity == s) return "[" + d.code + "] " + d.message;
  return "";
}

// A region the kernel keeps in reserved_mem[], where of_reserved_mem_lookup searches.
bool inReservedMemArray(RegionOutcome o) {
  return o == RegionOutcome::kInitialized || o == RegionOutcome::kNoHandler || o == RegionOutcome::kFailed ||
         o == RegionOutcome::kCrashed;
}

std::string fallbackReason(RegionOutcome o) {
  switch (o) {
    case RegionOutcome::kNotReserved: return "the region was not reserved or allocated";
    case RegionOutcome::kSkipped: return "the region was skipped during the reserved-memory scan";
    case RegionOutcome::kFailed: return "its handler refused it and its memory was handed back";
    case RegionOutcome::kCrashed: return "the kernel crashes while activating it";
    default: return "";
  }
}

std::string describeReach(const DmaReach& reach) {
  if (!reach.translated) return "its dma-ranges do not translate (" + reach.why_not + ")";
  std::string out;
  for (const DmaWindow& w : reach.windows) {
    if (!out.empty()) out += ", ";
    out += logRange(w.cpu_base, w.size);
  }
  return out;
}

class Scanner {
 public:
  Scanner(const Fdt& fdt, const BoardPlan& plan) : fdt_(fdt), plan_(plan) {}

  DeviceScan run() {
    // Nodes in tree order with whether the kernel would make a device of them (every ancestor
    // available too: of_platform_populate does not enter a disabled bus).
    std::vector<std::pair<int, bool>> order;
    std::vector<std::pair<int, bool>> stack{{fdt_.root(), fdt_.isAvailable(fdt_.root())}};
    while (!stack.empty()) {
      const auto [n, enabled] = stack.back();
      stack.pop_back();
      order.emplace_back(n, enabled);
      std::vector<int> kids = fdt_.children(n);
      for (auto it = kids.rbegin(); it != kids.rend(); ++it) stack.emplace_back(*it, enabled && fdt_.isAvailable(*it));
    }
    std::vector<int> nodes;
    nodes.reserve(order.size());
    for (const auto& o : order) nodes.push_back(o.first);
    phandles_ = phandleIndex(fdt_, nodes);
    for (const auto& [n, enabled] : order) {
      if (!enabled || !fdt_.has(n, "memory-region")) continue;
      out_.devices.push_back(device(n));
    }
    return std::move(out_);
  }

 private:
  int byPhandle(uint32_t ph) const {
    const auto it = phandles_.find(ph);
    return it == phandles_.end() ? -1 : it->second;
  }

  DeviceNode device(int n) {
    DeviceNode d;
    d.node = n;
    d.path = fdt_.path(n);
    d.compatible = fdt_.stringProp(n, "compatible");
    d.reach = dmaReach(fdt_, n);
    d.iommu = iommu(n);
    const Property mr = *fdt_.prop(n, "memory-region");
    const std::vector<std::string> names = fdt_.stringList(n, "memory-region-names");
    for (size_t i = 0; i < mr.size() / 4; ++i) {
      DeviceRegion r;
      r.index = i;
      r.name = i < names.size() ? names[i] : "";
      r.phandle = cellAt(mr, i);
      bind(d, &r);
      d.regions.push_back(std::move(r));
    }
    return d;
  }

  // of_reserved_mem_device_init_by_idx for entry `r` (docs/device-trees.md).
  void bind(const DeviceNode& d, DeviceRegion* r) {
    const int target = byPhandle(r->phandle);
    const DiagArgs who{{"index", std::to_string(r->index)}, {"label", r->name}};
    auto argsWith = [&](DiagArgs more) {
      DiagArgs a = who;
      a.insert(a.end(), more.begin(), more.end());
      return a;
    };
    if (target < 0) {
      r->binding = RegionBinding::kMissing;
      r->reason = "phandle " + logHex(r->phandle) + " matches no node";
      record(DiagEvent::kDeviceRegionNowhere, d.path, argsWith({{"phandle", logHex(r->phandle)}}));
      return;
    }
    r->target = fdt_.path(target);
    if (!fdt_.isAvailable(target)) {
      r->binding = RegionBinding::kDisabled;
      r->reason = "the region's node is disabled";
      record(DiagEvent::kDeviceRegionDisabled, d.path, argsWith({{"target", r->target}}));
      return;
    }
    // The kernel looks the region up by node name among the regions it saved.
    const std::string name = fdt_.name(target);
    for (size_t i = 0; i < plan_.regions.size(); ++i) {
      const ReservedRegion& g = plan_.regions[i];
      if (g.name == name && inReservedMemArray(g.outcome)) {
        r->region = static_cast<int>(i);
        break;
      }
    }
    if (r->region < 0) {
      for (size_t i = 0; i < plan_.regions.size(); ++i)
        if (plan_.regions[i].path == r->target) r->region = static_cast<int>(i);
      if (r->region < 0) {
        r->binding = RegionBinding::kMissing;
        r->reason = r->target + " is not a /reserved-memory region";
        record(DiagEvent::kDeviceRegionNotReserved, d.path, argsWith({{"target", r->target}}));
        return;
      }
    }
    const ReservedRegion& g = plan_.regions[static_cast<size_t>(r->region)];
    r->reason = planReason(plan_, g.path);
    switch (g.outcome) {
      case RegionOutcome::kInitialized:
        if (g.handler == "cma") {
          for (size_t i = 0; i < plan_.cma_areas.size(); ++i)
            if (plan_.cma_areas[i].from_dt && plan_.cma_areas[i].path == g.path) r->cma_area = static_cast<int>(i);
          const bool active = r->cma_area >= 0 && plan_.cma_areas[static_cast<size_t>(r->cma_area)].activated;
          r->binding = active ? RegionBinding::kCmaArea : RegionBinding::kFailed;
          if (!active && r->reason.empty()) r->reason = "its CMA area is never activated";
        } else if (g.handler == "dma-coherent") {
          r->binding = RegionBinding::kCoherentPool;
        } else if (g.handler == "restricted-dma") {
          r->binding = RegionBinding::kRestrictedPool;
        } else {
          r->binding = RegionBinding::kCarveOut;
        }
        break;
      case RegionOutcome::kNoHandler:
        r->binding = RegionBinding::kCarveOut;
        break;
      default:
        r->binding = RegionBinding::kFailed;
        break;
    }
    if (r->binding == RegionBinding::kFailed) {
      if (r->reason.empty()) r->reason = fallbackReason(g.outcome);
      record(DiagEvent::kDeviceRegionFailed, d.path, argsWith({{"target", g.path}, {"reason", r->reason}}));
      return;
    }
    const bool placed = g.size != 0;
    const bool judged = placed && d.reach.translated && !d.reach.windows.empty();
    r->reachable = !judged || reachCovers(d.reach, g.base, g.size);
    if (!r->reachable) {
      record(DiagEvent::kDeviceRegionUnreachable, d.path,
             argsWith({{"target", g.path}, {"range", logRange(g.base, g.size)}, {"reach", describeReach(d.reach)}}));
    }
  }

  // of_iommu_configure's view of the node (docs/device-trees.md).
  DeviceIommu iommu(int n) const {
    DeviceIommu out;
    if (const auto p = fdt_.prop(n, "iommus")) {
      out.kind = IommuKind::kIommus;
      out.active = true;
      size_t i = 0;
      const size_t cells = p->size() / 4;
      while (i < cells) {
        const int t = byPhandle(cellAt(*p, i));
        if (t < 0) {
          out.active = false;
          out.why_not = "phandle " + logHex(cellAt(*p, i)) + " in iommus matches no node";
          break;
        }
        out.targets.push_back(fdt_.path(t));
        uint32_t args = 0;
        if (const auto c = fdt_.prop(t, "#iommu-cells"); c && c->size() == 4) args = cellAt(*c, 0);
        if (!fdt_.isAvailable(t) && out.active) {
          out.active = false;
          out.why_not = "the IOMMU " + fdt_.path(t) + " is disabled";
        }
        i += 1 + args;
      }
      if (out.targets.empty() && out.why_not.empty()) {
        out.active = false;
        out.why_not = "iommus is empty";
      }
      return out;
    }
    if (const auto p = fdt_.prop(n, "iommu-map")) {
      // <id-base iommu-phandle iommu-base length> entries.
      out.kind = IommuKind::kIommuMap;
      for (size_t i = 1; i < p->size() / 4; i += 4) {
        const int t = byPhandle(cellAt(*p, i));
        if (t < 0) continue;
        const std::string path = fdt_.path(t);
        if (std::find(out.targets.begin(), out.targets.end(), path) == out.targets.end()) out.targets.push_back(path);
        if (fdt_.isAvailable(t)) out.active = true;
      }
      if (!out.active) out.why_not = "iommu-map names no enabled IOMMU";
    }
    return out;
  }

  void record(DiagEvent e, const std::string& node, DiagArgs args) {
    out_.events.push_back(RecordedEvent{e, node, std::move(args), {}});
  }

  const Fdt& fdt_;
  const BoardPlan& plan_;
  std::map<uint32_t, int> phandles_;
  DeviceScan out_;
};

}  // namespace

const char* bindingName(RegionBinding binding) {
  switch (binding) {
    case RegionBinding::kCmaArea: return "cma";
    case RegionBinding::kCoherentPool: return "coherent-pool";
    case RegionBinding::kRestrictedPool: return "restricted-pool";
    case RegionBinding::kCarveOut: return "carve-out";
    case RegionBinding::kMissing: return "missing";
    case RegionBinding::kDisabled: return "disabled";
    case RegionBinding::kFailed: return "failed";
  }
  return "unknown";
}

const char* iommuKindName(IommuKind kind) {
  switch (kind) {
    case IommuKind::kNone: return "none";
    case IommuKind::kIommus: return "iommus";
    case IommuKind::kIommuMap: return "iommu-map";
  }
  return "unknown";
}

bool reachCovers(const DmaReach& reach, uint64_t base, uint64_t size) {
  if (!reach.translated) return false;
  if (reach.windows.empty()) return true;
  if (size == 0) return true;
  std::vector<std::pair<uint64_t, uint64_t>> w;  // [first, last] CPU addresses
  for (const DmaWindow& d : reach.windows)
    if (d.size != 0) w.emplace_back(d.cpu_base, d.cpu_base + (d.size - 1) < d.cpu_base ? ~uint64_t{0} : d.cpu_base + (d.size - 1));
  std::sort(w.begin(), w.end());
  if (base + (size - 1) < base) return false;  // runs past 2^64: no window holds it
  const uint64_t last = base + (size - 1);
  uint64_t at = base;  // the first address not yet known to be covered
  for (const auto& [first, end] : w) {
    if (first > at) break;
    if (end >= last) return true;
    if (end >= at) at = end + 1;
  }
  return false;
}

DeviceScan scanDevices(const Fdt& fdt, const BoardPlan& plan) { return Scanner(fdt, plan).run(); }

}  // namespace dmaheap::dt
