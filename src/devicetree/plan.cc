// The device-tree rules: one boot replay per call, for one kernel. The steps follow what early
// boot does with the tree, each in its own file:
//   memory_scan        /memory into memblock, the root's cell sizes (docs/kernel-behaviour.md §5.1)
//   reserved_scan      /memreserve/ and the /reserved-memory scan, 5.3-6.11 order or the 6.12+
//                      early/late split (§5.2-§5.7)
//   reserved_handlers  the handlers keyed by compatible (§5.5, §5.8, §6.2)
//   zones              zone_sizes_init from RAM and the tree's dma-ranges (§6.9, §6.10)
//   cma_declare        cma_init_reserved_mem, the cma=/Kconfig default area (§6.3-§6.5)
//   cma_activation     activation at core_initcall, the crash outside RAM (§6.6, §6.7)
// Each step writes the kernel's log lines and records events; the diagnostics are made from the
// events at the end by one pass over one catalogue (diagnostics_catalogue.h, docs/diagnostics.md).
// A bootloader fix-up of /memory (memory_fixup.h) edits a copy of the tree before the replay.
#include "devicetree/plan.h"

#include "base/size.h"
#include "devicetree/boot_state.h"
#include "devicetree/cma_activation.h"
#include "devicetree/cma_declare.h"
#include "devicetree/diagnostics_catalogue.h"
#include "devicetree/loader.h"
#include "devicetree/memory_scan.h"
#include "devicetree/reserved_scan.h"

namespace dmaheap::dt {
namespace {

// The cma= words of a command line, in order (words split at spaces, as the kernel's parse_args
// does for unquoted ones).
std::vector<std::string_view> cmaWords(std::string_view cmdline) {
  std::vector<std::string_view> out;
  size_t pos = 0;
  while (pos < cmdline.size()) {
    while (pos < cmdline.size() && cmdline[pos] == ' ') ++pos;
    size_t end = cmdline.find(' ', pos);
    if (end == std::string_view::npos) end = cmdline.size();
    const std::string_view word = cmdline.substr(pos, end - pos);
    if (word.substr(0, 4) == "cma=") out.push_back(word);
    pos = end;
  }
  return out;
}

// The order of the steps, and the summary after them.
class BootReplay : public BootStep {
 public:
  explicit BootReplay(BootState& s, std::vector<PhysRange> default_banks = {})
      : BootStep(s), default_banks_(std::move(default_banks)) {}

  BoardPlan run() {
    // 32-bit ARM and riscv64 reserve the default CMA area (arm_memblock_init, setup_bootmem) before
    // the late phase of the reserved-memory scan (unflatten_device_tree) sets up the static regions
    // (docs/kernel-behaviour.md §11.2, §11.5).
    ReservedMemoryScan scan(s_);
    const bool late_after_cma = fdt_ && has(KernelRule::kRmemLateAfterDefaultCma) && has(KernelRule::kRmemEarlyLateSplit);
    if (fdt_) {
      MemoryScan memory(s_);
      memory.readRootCells();
      memory.scanMemory();
      for (const auto& e : fdt_->memReserves()) mb_.reserve(e.address, e.size);
      if (late_after_cma) scan.scanEarly();
      else scan.run();
    } else if (!default_banks_.empty()) {
      for (const auto& b : default_banks_) mb_.addMemory(b.base, b.size);
    } else {
      mb_.addMemory(0x40000000, 2 * kGiB);
    }
    sizeZones();
    CmaDeclaration cma(s_);
    cma.dmaContiguousReserve();
    if (late_after_cma) scan.scanLate();
    cma.markDefaultArea();
    unknownCmaParameters();
    CmaActivation(s_).activateAreas();
    finish();
    plan_.diagnostics = diagnose(s_.events, !no_memory_);
    return std::move(plan_);
  }

 private:
  std::vector<PhysRange> default_banks_;  // the built-in board's RAM when --memory/-size changed it

  // Without DMA_CMA no early_param claims "cma=": start_kernel lists it among the unknown
  // parameters, once on one line and then one per line (docs/kernel-behaviour.md §11.5). Other
  // unknown parameters would be on the same lines; the model knows only cma=.
  void unknownCmaParameters() {
    if (k_.config.cma || !has(KernelRule::kUnknownBootOptionsLine)) return;
    const auto words = cmaWords(plan_.cmdline);
    if (words.empty()) return;
    std::string joined;
    for (const auto w : words) joined += (joined.empty() ? "" : " ") + std::string(w);
    log("Unknown kernel command line parameters \"" + joined + "\", will be passed to user space.");
    for (const auto w : words) log("    " + std::string(w));
  }

  // What the kernel holds back from the page allocator, and the heap notes.
  void finish() {
    plan_.memory = mb_.memory();
    std::vector<PhysRange> held = mb_.reserved();
    for (const auto& r : mb_.nomap()) rangeAdd(&held, r.base, r.size);
    for (const auto& a : plan_.cma_areas) rangeRemove(&held, a.base, a.size);
    plan_.reserved = rangeIntersect(held, plan_.memory);

    for (const auto& s : skip_logs_) {
      const ReservedRegion& r = plan_.regions[regionOf(s.first)];
      record(DiagEvent::kCmaDefaultSkippedForCmdline, r.path, {}, s.second);
    }

    // Which DT CMA areas become heaps on this kernel, and how names differ on others
    // (docs/kernel-behaviour.md §4.1).
    const auto era = k_.cmaHeapEra();
    for (const auto& a : plan_.cma_areas) {
      if (!a.from_dt) continue;
      if (a.is_default && era != CmaHeapEra::kNone) {
        record(DiagEvent::kHeapNameChanged, a.path, {{"name", a.name}});
      } else if (!a.is_default && (era == CmaHeapEra::kDefaultOnly || era == CmaHeapEra::kDefaultNamePlusLegacy)) {
        record(DiagEvent::kCmaAreaNoHeap, a.path, {{"name", a.name}});
      }
    }
  }
};

BoardPlan replay(const Fdt* fdt, const Kernel& kernel, std::string_view cmdline,
                 std::vector<PhysRange> default_banks = {}) {
  BootState state(fdt, kernel, cmdline);
  return BootReplay(state, std::move(default_banks)).run();
}

}  // namespace

CmaCmdline parseCmaCmdline(std::string_view cmdline) {
  CmaCmdline out;
  for (const std::string_view word : cmaWords(cmdline)) {
    std::string_view p = word.substr(4);
    CmaCmdline c;
    c.present = true;
    const auto num = [](std::string_view* s) -> uint64_t {
      auto r = memparse(*s);
      if (!r) return 0;  // the kernel's memparse reads no digits as 0 and does not move
      *s = r->rest;
      return r->value;
    };
    c.size = num(&p);
    if (!p.empty() && p[0] == '@') {
      p.remove_prefix(1);
      c.base = num(&p);
      if (!p.empty() && p[0] == '-') {
        p.remove_prefix(1);
        c.limit = num(&p);
      } else {
        c.limit = c.base + c.size;
      }
    }
    out = c;  // the last cma= wins
  }
  return out;
}

BoardPlan planFromFdt(const Fdt& fdt, const Kernel& kernel, std::string_view cmdline) {
  BoardPlan plan = replay(&fdt, kernel, cmdline);
  plan.memory_origin = treeMemorySource(fdt);
  return plan;
}

Result<BoardPlan> planFromBlob(std::span<const uint8_t> blob, const Kernel& kernel, std::string_view cmdline) {
  auto fdt = Fdt::fromBlob(blob);
  if (!fdt) return fdt.error();
  return planFromFdt(*fdt, kernel, cmdline);
}

Result<BoardPlan> planFromFile(const std::string& path, const Kernel& kernel, std::string_view cmdline) {
  auto fdt = loadDeviceTree(path);
  if (!fdt) return fdt.error();
  return planFromFdt(*fdt, kernel, cmdline);
}

BoardPlan planDefaultBoard(const Kernel& kernel, std::string_view cmdline) {
  BoardPlan plan = replay(nullptr, kernel, cmdline);
  plan.memory_origin.from = "built-in";
  plan.memory_origin.detail = "the built-in default board: 2 GiB at 0x40000000 (QEMU virt)";
  return plan;
}

BoardPlan planDefaultBoard(const Kernel& kernel, std::string_view cmdline, const MemoryFixup& fixup) {
  if (!fixup.any()) return planDefaultBoard(kernel, cmdline);
  std::vector<PhysRange> banks = fixup.banks;
  MemoryOrigin origin;
  if (banks.empty()) {
    banks = {PhysRange{0x40000000, fixup.fill_size}};
    origin.from = "--memory-size";
    origin.detail = "the built-in default board with --memory-size " + formatSize(fixup.fill_size) + " at 0x40000000 (QEMU virt)";
  } else {
    origin.from = "--memory";
    origin.detail = "the built-in default board with its RAM replaced by --memory";
  }
  BoardPlan plan = replay(nullptr, kernel, cmdline, banks);
  plan.memory_origin = origin;
  return plan;
}

Result<BoardPlan> planFromFdt(const Fdt& fdt, const Kernel& kernel, std::string_view cmdline, const MemoryFixup& fixup) {
  auto fixed = applyMemoryFixup(fdt, fixup);
  if (!fixed) return fixed.error();
  BoardPlan plan = replay(&fixed->fdt, kernel, cmdline);
  plan.memory_origin = fixed->source;
  return plan;
}

Result<BoardPlan> planFromBlob(std::span<const uint8_t> blob, const Kernel& kernel, std::string_view cmdline,
                               const MemoryFixup& fixup) {
  auto fdt = Fdt::fromBlob(blob);
  if (!fdt) return fdt.error();
  return planFromFdt(*fdt, kernel, cmdline, fixup);
}

Result<BoardPlan> planFromFile(const std::string& path, const Kernel& kernel, std::string_view cmdline,
                               const MemoryFixup& fixup) {
  auto fdt = loadDeviceTree(path);
  if (!fdt) return fdt.error();
  return planFromFdt(*fdt, kernel, cmdline, fixup);
}

const char* outcomeName(RegionOutcome outcome) {
  switch (outcome) {
    case RegionOutcome::kInitialized: return "initialized";
    case RegionOutcome::kNoHandler: return "no-handler";
    case RegionOutcome::kFailed: return "failed";
    case RegionOutcome::kNotReserved: return "not-reserved";
    case RegionOutcome::kSkipped: return "skipped";
    case RegionOutcome::kCrashed: return "crashed";
  }
  return "unknown";
}

const char* severityName(Severity severity) {
  switch (severity) {
    case Severity::kError: return "error";
    case Severity::kWarning: return "warning";
    case Severity::kNote: return "note";
  }
  return "unknown";
}

}  // namespace dmaheap::dt
