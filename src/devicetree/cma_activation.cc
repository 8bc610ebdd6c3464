// CMA activation in the boot replay (docs/kernel-behaviour.md §6.6, §6.7).
#include "devicetree/cma_activation.h"

#include <string>
#include <utility>
#include <vector>

namespace dmaheap::dt {

void CmaActivation::crash(CmaArea& a, bool partly) {
  plan_.kernel_crashes = !no_memory_;
  a.activated = false;
  std::vector<std::string> logs;
  // Observed (oracle): wholly outside RAM WARNs on 6.1 (mm/cma.c:110), 6.12 (:106) and 7.2
  // (cma_validate_zones, :129); straddling the end of RAM WARNs in the pfn loop up to 6.14
  // (6.1 :113, 6.12 :109) and not after the 6.15 multi-range rework.
  const bool warn = !partly || !has(KernelRule::kCmaMultiRange);
  crashLines(partly, warn, a.base, logs);
  const std::string node = a.path.empty() ? "/chosen" : a.path;
  for (auto& r : plan_.regions)
    if (r.path == a.path && !a.path.empty()) r.outcome = RegionOutcome::kCrashed;
  record(DiagEvent::kCmaOutsideMemory, node,
         {{"name", a.name},
          {"range", logRange(a.base, a.size)},
          {"partly", partly ? "1" : ""},
          {"warn", warn ? "1" : ""}},
         logs);
}

// The kernel's lines for crash(), as recorded (docs/kernel-behaviour.md §6.7, §11.5). 32-bit ARM
// and riscv64 6.1-6.12 hit both WARNs of the activation loop (the base pfn's and the next pfn's)
// for an area wholly outside RAM and Oops later than arm64, in set_pfnblock_flags_mask (in
// free_unref_page when straddling the end). 32-bit ARM (armmp) straddling the end prints "Bad page
// state" for every page past it instead and never panics (the oracle's boots time out); either
// way the boot is lost.
void CmaActivation::crashLines(bool partly, bool warn, uint64_t base, std::vector<std::string>& logs) {
  // The WARNs' line numbers in mm/cma.c where recorded: {wholly outside, straddling}.
  std::pair<std::string, std::string> at;
  if (has(KernelRule::kCmaWarnRelease6_1)) at = {":110", ":113"};
  if (has(KernelRule::kCmaWarnRelease6_12)) at = {":106", ":109"};
  if (has(KernelRule::kCmaWarnRelease7_2)) at = {":129", ":129"};
  const auto& [outside, straddling] = at;
  std::vector<std::string> warned;
  if (warn && !partly && has(KernelRule::kCmaOutsideRamWarnsTwice)) warned = {outside, straddling};
  else if (warn) warned = {partly ? straddling : outside};
  for (const std::string& line_no : warned) {
    if (has(KernelRule::kWarnFormat7)) {  // the newer WARN format (seen on 7.2)
      logs.push_back(log("WARNING: mm/cma.c" + line_no + " at cma_validate_zones, CPU#0: swapper/0/1"));
    } else {
      logs.push_back(log(std::string("WARNING: CPU: 0 PID: 1 at mm/cma.c") + line_no +
                         (has(KernelRule::kCmaMultiRange) ? " cma_validate_zones" : " cma_init_reserved_areas")));
    }
  }
  const bool arm = has(KernelRule::kArmCmaPastRamCrash);
  if (arm && partly) {
    logs.push_back(log("BUG: Bad page state in process swapper/0  pfn:" + logHex(mb_.endOfDram() / k_.pageSize()).substr(2)));
    return;
  }
  if (arm) {
    logs.push_back(log("Unable to handle kernel paging request at virtual address <memmap of pfn " +
                       logHex(base / k_.pageSize()) + "> when read"));
    logs.push_back(log("Internal error: Oops: <esr> [#1] SMP ARM"));
  } else {
    logs.push_back(log("Unable to handle kernel paging request at virtual address <vmemmap of pfn " +
                       logHex(base / k_.pageSize()) + ">"));
    const bool esr6 = partly || has(KernelRule::kCmaWarnRelease6_1);
    logs.push_back(log(std::string("Internal error: Oops: ") + (esr6 ? "0000000096000006" : "0000000096000005") +
                       (has(KernelRule::kWarnFormat7) ? " [#1]  SMP" : " [#1] SMP")));
  }
  std::string pc = has(KernelRule::kCmaMultiRange) ? "init_cma_reserved_pageblock" : "cma_init_reserved_areas";
  if (has(KernelRule::kCmaOutsideRamWarnsTwice)) pc = partly ? "free_unref_page" : "set_pfnblock_flags_mask";
  logs.push_back(log("pc : " + pc));
  logs.push_back(log("Kernel panic - not syncing: Attempted to kill init! exitcode=0x0000000b"));
}

void CmaActivation::activateAreas() {
  bool aborted = false;
  const auto limits = mb_.memory().empty() ? std::vector<uint64_t>{} : zoneLimits();
  for (auto& a : plan_.cma_areas) {
    if (aborted) {
      a.activated = false;
      continue;
    }
    if (!no_memory_ && !mb_.isAllMemory(a.base, a.size)) {
      crash(a, mb_.overlapsMemory(a.base, a.size));
      break;  // the kernel is dead: nothing after this runs
    }
    if (no_memory_ && !a.from_dt) continue;
    if (no_memory_) {
      crash(a, false);
      continue;
    }
    uint64_t boundary = 0;
    for (uint64_t l : limits)
      if (a.base < l && a.base + a.size > l && boundary == 0) boundary = l;
    if (boundary == 0) continue;
    // The zones either side of the (first) boundary crossed (docs/kernel-behaviour.md §6.10).
    std::string below = "DMA32", above = "Normal";
    for (const auto& z : s_.zones.zones) {
      if (z.end == boundary && z.end > z.base) below = z.name;
      if (z.base == boundary && z.end > z.base) above = z.name;
    }
    a.activated = false;
    const std::string line = log(std::string(kCmaLog) + "CMA area " + a.name + " could not be activated");
    const bool stops = has(KernelRule::kCmaActivationStopsOnFailure);
    record(DiagEvent::kCmaCrossesZones, a.path.empty() ? "/chosen" : a.path,
           {{"name", a.name},
            {"range", logRange(a.base, a.size)},
            {"boundary", logPa(boundary)},
            {"below", below},
            {"above", above},
            {"stops", stops ? "1" : ""}},
           {line});
    if (stops) aborted = true;
  }
}

}  // namespace dmaheap::dt
