// dt-check --devices: which heap each device and each pipeline should use
// (docs/device-trees.md, "Which heap a device should use").
#include "dtcheck/devices.h"

#include <algorithm>
#include <cstdio>
#include <numeric>
#include <tuple>
#include <sstream>

#include "base/size.h"
#include "devicetree/plan.h"

namespace dmaheap::dtcheck {
namespace {

using dt::RegionBinding;

std::string span(uint64_t base, uint64_t size) {
  return formatAddr(base) + "-" + formatAddr(size == 0 ? base : base + size - 1);
}

std::string hex(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%x", v);
  return buf;
}

class Recommender {
 public:
  Recommender(const dt::BoardPlan& plan, const HeapPlanResult& heaps) : plan_(plan), heaps_(heaps) {
    for (size_t i = 0; i < plan.cma_areas.size(); ++i)
      if (plan.cma_areas[i].is_default) default_area_ = static_cast<int>(i);  // the last one set wins
    for (const auto& h : heaps.heaps)
      if (h.cma_area < 0 && h.descriptor.source == MemorySource::kSystemPages && system_.empty()) system_ = h.name;
  }

  // The first heap the kernel made from CMA area `area`, "" when none.
  std::string heapOfArea(int area) const {
    for (const auto& h : heaps_.heaps)
      if (h.cma_area == area) return h.name;
    return "";
  }

  // Why CMA area `area` does not serve the device `d`, "" when it does.
  std::string areaProblem(int area, const dt::DeviceNode& d) const {
    const dt::CmaArea& a = plan_.cma_areas[static_cast<size_t>(area)];
    const std::string what =
        (area == default_area_ ? "the default CMA area " : "CMA area ") + a.name + " (" + span(a.base, a.size) + ")";
    if (heapOfArea(area).empty()) return what + " has no heap on " + plan_.kernel.version.str();
    if (!a.activated) return what + " is never activated";
    if (!dt::reachCovers(d.reach, a.base, a.size)) return what + " is outside " + d.path + "'s DMA reach";
    return "";
  }

  bool noHeapsAtAll(std::string* why) const {
    if (plan_.kernel_crashes) {
      *why = "the kernel panics during boot, before /dev/dma_heap exists";
      return true;
    }
    if (heaps_.heaps.empty()) {
      *why = "kernel " + plan_.kernel.version.str() + " makes no DMA-BUF heaps";
      return true;
    }
    return false;
  }

  // The CMA areas to try for a set of devices, best first: the areas of their own regions in
  // member order, then the default area.
  std::vector<int> candidates(const std::vector<const dt::DeviceNode*>& members) const {
    std::vector<int> out;
    auto add = [&](int a) {
      if (a >= 0 && std::find(out.begin(), out.end(), a) == out.end()) out.push_back(a);
    };
    for (const auto* d : members)
      for (const auto& r : d->regions)
        if (r.binding == RegionBinding::kCmaArea) add(r.cma_area);
    add(default_area_);
    return out;
  }

  // The first member that names CMA area `area` in its memory-region, null when none does.
  static const dt::DeviceNode* ownerOf(const std::vector<const dt::DeviceNode*>& members, int area) {
    for (const auto* d : members)
      for (const auto& r : d->regions)
        if (r.binding == RegionBinding::kCmaArea && r.cma_area == area) return d;
    return nullptr;
  }

  // The heap for `members` (all without IOMMU) and why; "" heap when there is none.
  std::pair<std::string, std::string> cmaHeapFor(const std::vector<const dt::DeviceNode*>& members) const {
    std::vector<std::string> problems;
    for (int a : candidates(members)) {
      std::string problem;
      for (const auto* d : members) {
        problem = areaProblem(a, *d);
        if (!problem.empty()) break;
      }
      if (problem.empty()) {
        const dt::CmaArea& area = plan_.cma_areas[static_cast<size_t>(a)];
        std::string why = (a == default_area_ ? "the default CMA area " : "CMA area ") + area.name;
        if (const dt::DeviceNode* owner = ownerOf(members, a)) why += ", the memory-region of " + owner->path;
        why += " (" + span(area.base, area.size) + "), inside the DMA reach";
        return {heapOfArea(a), why};
      }
      problems.push_back(problem);
    }
    if (default_area_ < 0) problems.push_back("there is no default CMA area");
    std::string why;
    for (const auto& p : problems) why += (why.empty() ? "" : "; ") + p;
    return {"", why};
  }

  // The heap one device should allocate from.
  void recommend(DeviceEntry* e) const {
    const dt::DeviceNode& d = e->device;
    if (noHeapsAtAll(&e->heap_why)) return;
    if (!d.reach.translated) {
      e->heap_why = "its DMA set-up fails: " + d.reach.why_not;
      return;
    }
    if (d.iommu.active && !system_.empty()) {
      e->heap = system_;
      e->heap_why = std::string("behind an IOMMU (") + dt::iommuKindName(d.iommu.kind) +
                    "): scattered pages are mapped contiguously for it";
      return;
    }
    auto [heap, why] = cmaHeapFor({&d});
    e->heap = heap;
    e->heap_why = (d.iommu.active ? "behind an IOMMU but this kernel has no system heap; " : "no IOMMU: ") + why;
  }

 private:
  const dt::BoardPlan& plan_;
  const HeapPlanResult& heaps_;
  int default_area_ = -1;
  std::string system_;
};

size_t findRoot(std::vector<size_t>& parent, size_t i) {
  while (parent[i] != i) i = parent[i] = parent[parent[i]];
  return i;
}

}  // namespace

DevicesReport planDevices(const dt::Fdt& fdt, const dt::BoardPlan& plan, const HeapPlanResult& heaps) {
  DevicesReport out;
  dt::DeviceScan scan = dt::scanDevices(fdt, plan);
  const Recommender rec(plan, heaps);
  for (auto& d : scan.devices) {
    DeviceEntry e;
    e.device = std::move(d);
    for (const auto& r : e.device.regions)
      e.region_heaps.push_back(r.binding == RegionBinding::kCmaArea ? rec.heapOfArea(r.cma_area) : "");
    rec.recommend(&e);
    out.devices.push_back(std::move(e));
  }

  // Pipelines: devices without an active IOMMU whose DMA set-up works, joined by a shared
  // memory-region target.
  const size_t n = out.devices.size();
  std::vector<size_t> parent(n);
  std::iota(parent.begin(), parent.end(), size_t{0});
  auto inPipeline = [&](size_t i) {
    const auto& d = out.devices[i].device;
    return !d.iommu.active && d.reach.translated;
  };
  for (size_t i = 0; i < n; ++i)
    for (size_t j = i + 1; j < n; ++j) {
      if (!inPipeline(i) || !inPipeline(j)) continue;
      bool shared = false;
      for (const auto& a : out.devices[i].device.regions)
        for (const auto& b : out.devices[j].device.regions) shared |= !a.target.empty() && a.target == b.target;
      if (shared) parent[findRoot(parent, j)] = findRoot(parent, i);
    }
  std::vector<int> pipeline_of_root(n, -1);
  for (size_t i = 0; i < n; ++i) {
    if (!inPipeline(i)) continue;
    const size_t root = findRoot(parent, i);
    if (pipeline_of_root[root] < 0) {
      pipeline_of_root[root] = static_cast<int>(out.pipelines.size());
      out.pipelines.emplace_back();
    }
    out.devices[i].pipeline = pipeline_of_root[root];
    out.pipelines[static_cast<size_t>(pipeline_of_root[root])].members.push_back(i);
  }

  std::vector<dt::RecordedEvent> events = std::move(scan.events);
  std::string none_why;
  const bool no_heaps = rec.noHeapsAtAll(&none_why);
  for (auto& p : out.pipelines) {
    std::vector<const dt::DeviceNode*> members;
    std::string names;
    for (size_t i : p.members) {
      members.push_back(&out.devices[i].device);
      names += (names.empty() ? "" : ", ") + out.devices[i].device.path;
    }
    if (no_heaps) {
      p.heap_why = none_why;
      continue;
    }
    std::tie(p.heap, p.heap_why) = rec.cmaHeapFor(members);
    if (p.heap.empty()) {
      events.push_back(dt::RecordedEvent{dt::DiagEvent::kPipelineNoCmaHeap,
                                         members.front()->path,
                                         {{"members", names},
                                          {"several", members.size() > 1 ? "1" : ""},
                                          {"kernel", plan.kernel.version.str()},
                                          {"why", p.heap_why}},
                                         {}});
    }
  }
  out.diagnostics = dt::diagnose(events, !plan.memory.empty());
  return out;
}

std::string renderDevicesText(const DevicesReport& r, const dt::BoardPlan& plan) {
  std::ostringstream o;
  o << "\ndevices (memory-region):\n";
  if (r.devices.empty()) o << "  (none)\n";
  for (const auto& e : r.devices) {
    const auto& d = e.device;
    o << "  " << d.path << (d.compatible.empty() ? "" : " (" + d.compatible + ")") << "\n";
    for (size_t i = 0; i < d.regions.size(); ++i) {
      const auto& g = d.regions[i];
      o << "    region " << g.index << (g.name.empty() ? "" : " \"" + g.name + "\"") << " -> "
        << (g.target.empty() ? "phandle " + hex(g.phandle) : g.target) << ": " << dt::bindingName(g.binding);
      if (g.region >= 0 && g.binding != RegionBinding::kMissing) {
        const auto& reg = plan.regions[static_cast<size_t>(g.region)];
        if (reg.size != 0) o << " " << span(reg.base, reg.size) << " " << formatSize(reg.size);
      }
      if (g.binding == RegionBinding::kCmaArea)
        o << ", heap " << (e.region_heaps[i].empty() ? "none on " + plan.kernel.version.str() : e.region_heaps[i]);
      if (!g.reachable) o << ", NOT reachable";
      if (g.binding == RegionBinding::kMissing || g.binding == RegionBinding::kDisabled ||
          g.binding == RegionBinding::kFailed) {
        o << " (" << g.reason << ")";
      }
      o << "\n";
    }
    o << "    DMA reach: ";
    if (!d.reach.translated) {
      o << "unknown, its dma-ranges do not translate (" << d.reach.why_not << ")";
    } else if (d.reach.windows.empty()) {
      o << "unrestricted";
    } else {
      for (size_t i = 0; i < d.reach.windows.size(); ++i)
        o << (i ? ", " : "") << span(d.reach.windows[i].cpu_base, d.reach.windows[i].size);
    }
    o << "\n    IOMMU: " << dt::iommuKindName(d.iommu.kind);
    for (const auto& t : d.iommu.targets) o << " " << t;
    if (d.iommu.kind != dt::IommuKind::kNone && !d.iommu.active) o << " (not used: " << d.iommu.why_not << ")";
    o << "\n    heap: " << (e.heap.empty() ? "none" : e.heap) << " (" << e.heap_why << ")\n";
  }
  if (!r.pipelines.empty()) o << "\npipelines without IOMMU:\n";
  for (size_t i = 0; i < r.pipelines.size(); ++i) {
    const auto& p = r.pipelines[i];
    o << "  " << i << ":";
    for (size_t m : p.members) o << " " << r.devices[m].device.path;
    o << " -> " << (p.heap.empty() ? "none" : p.heap) << " (" << p.heap_why << ")\n";
  }
  return o.str();
}

nlohmann::json renderDevicesJson(const DevicesReport& r, const dt::BoardPlan& plan) {
  using nlohmann::json;
  json out = json::array();
  for (const auto& e : r.devices) {
    const auto& d = e.device;
    json regions = json::array();
    for (size_t i = 0; i < d.regions.size(); ++i) {
      const auto& g = d.regions[i];
      json j = {{"index", g.index},
                {"name", g.name},
                {"phandle", g.phandle},
                {"target", g.target},
                {"outcome", dt::bindingName(g.binding)},
                {"region", nullptr},
                {"base", nullptr},
                {"size", nullptr},
                {"cma_area", nullptr},
                {"heap", e.region_heaps[i].empty() ? json(nullptr) : json(e.region_heaps[i])},
                {"reachable", g.reachable},
                {"reason", g.reason}};
      if (g.region >= 0 && g.binding != RegionBinding::kMissing) {
        const auto& reg = plan.regions[static_cast<size_t>(g.region)];
        j["region"] = reg.path;
        j["base"] = reg.base;
        j["size"] = reg.size;
      }
      if (g.cma_area >= 0) j["cma_area"] = plan.cma_areas[static_cast<size_t>(g.cma_area)].name;
      regions.push_back(std::move(j));
    }
    json windows = json::array();
    for (const auto& w : d.reach.windows)
      windows.push_back({{"cpu_base", w.cpu_base}, {"size", w.size}, {"bus_base", w.bus_base}});
    out.push_back({{"path", d.path},
                   {"compatible", d.compatible},
                   {"regions", std::move(regions)},
                   {"dma_reach", {{"translated", d.reach.translated},
                                  {"restricted", !d.reach.windows.empty()},
                                  {"windows", std::move(windows)},
                                  {"why_not", d.reach.why_not}}},
                   {"iommu", {{"kind", dt::iommuKindName(d.iommu.kind)},
                              {"targets", d.iommu.targets},
                              {"active", d.iommu.active},
                              {"why_not", d.iommu.why_not}}},
                   {"heap", e.heap.empty() ? json(nullptr) : json(e.heap)},
                   {"heap_reason", e.heap_why},
                   {"pipeline", e.pipeline < 0 ? json(nullptr) : json(e.pipeline)}});
  }
  return out;
}

nlohmann::json renderPipelinesJson(const DevicesReport& r) {
  using nlohmann::json;
  json out = json::array();
  for (const auto& p : r.pipelines) {
    json members = json::array();
    for (size_t m : p.members) members.push_back(r.devices[m].device.path);
    out.push_back({{"devices", std::move(members)},
                   {"heap", p.heap.empty() ? json(nullptr) : json(p.heap)},
                   {"heap_reason", p.heap_why}});
  }
  return out;
}

}  // namespace dmaheap::dtcheck
