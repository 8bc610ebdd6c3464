// The shared state of the boot replay and the helpers every step uses.
#include "devicetree/boot_state.h"

#include <algorithm>
#include <cstdio>

#include "base/size.h"
#include "devicetree/arch_detect.h"
#include "devicetree/dma_ranges.h"

namespace dmaheap::dt {

std::string logHex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}
std::string logPa(uint64_t v) { return formatAddr(v); }
std::string logMib(uint64_t v) { return std::to_string(v / kMiB); }
uint64_t addSaturated(uint64_t a, uint64_t b) { return b > kMaxPhysAddr - a ? kMaxPhysAddr : a + b; }
std::string logRange(uint64_t base, uint64_t size) {
  return logPa(base) + "-" + logPa(size == 0 ? base : addSaturated(base, size) - 1);
}

BootState::BootState(const Fdt* fdt_in, const Kernel& kernel_in, std::string_view cmdline)
    : fdt(fdt_in), kernel(kernel_in) {
  // The architecture: --arch, else the .config's, else the tree's, else arm64 (docs/kernel-behaviour.md §11).
  ArchChoice choice = chooseArch(kernel, fdt);
  kernel.arch = choice.arch;
  kernel.arch_origin = choice.origin;
  plan.arch_reason = choice.reason;
  plan.kernel = kernel;
  // Without an explicit command line the kernel gets the tree's /chosen/bootargs.
  plan.cmdline = std::string(cmdline);
  if (cmdline.empty() && fdt) {
    const int chosen = fdt->pathOffset("/chosen");
    if (chosen >= 0) plan.cmdline = fdt->stringProp(chosen, "bootargs");
  }
  cma = parseCmaCmdline(plan.cmdline);
}

BootStep::BootStep(BootState& s)
    : s_(s),
      fdt_(s.fdt),
      k_(s.kernel),
      cma_(s.cma),
      mb_(s.mb),
      plan_(s.plan),
      addr_cells_(s.addr_cells),
      size_cells_(s.size_cells),
      cells_ok_(s.cells_ok),
      no_memory_(s.no_memory),
      saved_(s.saved),
      skip_logs_(s.skip_logs),
      dt_default_area_(s.dt_default_area),
      kconfig_area_(s.kconfig_area) {}

std::string BootStep::logPa(uint64_t v) const {
  if (k_.physAddr64()) return dt::logPa(v);
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08llx", static_cast<unsigned long long>(v & 0xffffffffull));
  return buf;
}

std::string BootStep::logRange(uint64_t base, uint64_t size) const {
  return logPa(base) + "-" + logPa(size == 0 ? base : addSaturated(base, size) - 1);
}

const std::string& BootStep::log(std::string line) {
  plan_.kernel_log.push_back(std::move(line));
  return plan_.kernel_log.back();
}

void BootStep::record(DiagEvent event, std::string node, DiagArgs args, std::vector<std::string> logs) {
  s_.events.push_back(RecordedEvent{event, std::move(node), std::move(args), std::move(logs)});
}

size_t BootStep::newRegion(int node, RegionOutcome outcome) {
  ReservedRegion r;
  r.name = fdt_->name(node);
  r.path = fdt_->path(node);
  r.no_map = fdt_->has(node, "no-map");
  r.reusable = fdt_->has(node, "reusable");
  r.compatible = fdt_->stringProp(node, "compatible");
  r.cma_default = fdt_->has(node, "linux,cma-default");
  r.outcome = outcome;
  r.dynamic = !fdt_->has(node, "reg") && fdt_->has(node, "size");
  plan_.regions.push_back(std::move(r));
  s_.node_region[node] = plan_.regions.size() - 1;
  return plan_.regions.size() - 1;
}

size_t BootStep::regionOf(int node) {
  auto it = s_.node_region.find(node);
  return it != s_.node_region.end() ? it->second : newRegion(node, RegionOutcome::kNoHandler);
}

void BootStep::sizeZones() {
  if (mb_.memory().empty()) return;
  std::optional<uint64_t> dt_max;
  if (fdt_) dt_max = maxDmaCpuAddress(*fdt_, k_);
  const uint64_t arm_dma_zone = fdt_ ? armMachineDmaZoneSize(k_, fdt_->stringList(fdt_->root(), "compatible")) : 0;
  s_.zones = zoneLayout(k_, mb_.startOfDram(), mb_.endOfDram(), dt_max, arm_dma_zone);
  plan_.zones = s_.zones.nonEmpty();
  plan_.dma_limit = s_.zones.dma_limit;
  plan_.dma_limit_from_tree = dt_max.has_value();
  plan_.dt_dma_max_cpu = dt_max.value_or(0);
  plan_.zone_log = s_.zones.log;
}

}  // namespace dmaheap::dt
