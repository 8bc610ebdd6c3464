// The catalogue of dt-check diagnostics (one row per happening) and the pass that applies it.
// docs/diagnostics.md explains every code; keep the two in step (tests/devicetree/diagnostics_test.cc).
#include "devicetree/diagnostics_catalogue.h"

#include <cctype>
#include <cstdlib>
#include <iterator>

namespace dmaheap::dt {
namespace {

using E = DiagEvent;
constexpr Severity kErr = Severity::kError;
constexpr Severity kWarn = Severity::kWarning;
constexpr Severity kNote = Severity::kNote;

// The default CMA area (cma= or CONFIG_CMA_SIZE_MBYTES) could not be reserved, for `why`.
#define DMAHEAP_DEFAULT_AREA_FAILED(why)                                                            \
  "the default CMA area ({size}{?cmdline: from cma=}{!cmdline: from CONFIG_CMA_SIZE_MBYTES}) cannot be " \
  "reserved: " why "; the kernel has no default CMA area"
#define DMAHEAP_DEFAULT_AREA_FIX                                                                \
  "{?cmdline:change cma= (size, @base, -limit) to fit free RAM below the DMA limit}"            \
  "{!cmdline:lower CONFIG_CMA_SIZE_MBYTES or pass a smaller cma=}"

constexpr CatalogueEntry kCatalogue[] = {
    // ---- the root node and /memory (docs/kernel-behaviour.md §5.1) ----
    {E::kRootCellsShort, "dt-bad-cells", kWarn, false,
     "the root {prop} property is shorter than one cell", "give the root node {prop} = <1> or <2>"},
    {E::kRootCellsUnusable, "dt-bad-cells", kErr, false,
     "root #address-cells = {ac}, #size-cells = {sc}: no reg, size or alloc-ranges in this tree can be read",
     "use #address-cells = <2> and #size-cells = <2> (or <1>/<1>) at the root"},
    {E::kNoMemory, "memory-missing", kNote, false,
     "the tree describes no usable RAM (no /memory node with device_type = \"memory\" and a non-zero reg); "
     "a bootloader usually fills it in, so checks that need RAM are reported as notes",
     "give the RAM the bootloader writes: --memory-size SIZE (fills the tree's placeholder /memory at the base it "
     "gives, else at the SoC's usual DRAM base) or --memory BASE:SIZE[,BASE:SIZE...]; or add it to the tree, e.g. "
     "memory@80000000 { device_type = \"memory\"; reg = <0x0 0x80000000 0x0 0x80000000>; };"},
    {E::kMemoryBlockTooSmall, "memory-ignored", kWarn, false,
     "memory block {base} - {end} is smaller than one page after alignment",
     "describe RAM in whole pages, below 2^48, in the /memory reg"},
    {E::kMemoryBlockTooHigh, "memory-ignored", kWarn, false,
     "memory block at {base} lies above the largest physical address (2^48)",
     "describe RAM in whole pages, below 2^48, in the /memory reg"},
    {E::kMemoryRangeTruncated, "memory-ignored", kWarn, false, "the part of this memory above 2^48 is ignored",
     "describe RAM in whole pages, below 2^48, in the /memory reg"},
    // ---- the /reserved-memory scan (docs/kernel-behaviour.md §5.2-§5.4, §5.6) ----
    {E::kContainerMisnamed, "reserved-bad-container", kErr, false,
     "kernel {kernel} looks for a root child named exactly \"reserved-memory\"; '{name}' is not found, so every "
     "reserved region in it is ignored",
     "rename the node to reserved-memory (no unit address)"},
    {E::kContainerBadFormat, "reserved-bad-container", kErr, false,
     "/reserved-memory must have #address-cells = <{ac}>, #size-cells = <{sc}> (the root's values) and a ranges "
     "property; the kernel ignores every region in it",
     "set #address-cells = <{ac}>; #size-cells = <{sc}>; ranges; in /reserved-memory"},
    {E::kRegLengthInvalid, "reserved-bad-reg", kErr, false,
     "reg is {len} bytes, not a multiple of {tlen} (#address-cells {ac} + #size-cells {sc} cells of 4 bytes): the "
     "node is skipped, nothing is reserved",
     "write reg as <base size> pairs using the root's cell counts ({ac} address + {sc} size cells)"},
    {E::kRegPairSizeZero, "reserved-bad-reg", kErr, false, "reg pair {pair} has size 0: nothing is reserved for it",
     "give the region its real size, or delete the pair"},
    {E::kRegPairNomapBusy, "reserved-bad-reg", kErr, false,
     "reg pair {pair} ({range}) is no-map but overlaps memory that is already reserved, so it cannot be marked no-map",
     "move the region off the other reservation (see the overlap), or drop no-map"},
    {E::kReservedArrayFull, "reserved-too-many", kErr, false,
     "more than {max} reserved regions (MAX_RESERVED_REGIONS on {kernel}): this one is "
     "{?dynamic:never allocated}{!dynamic:reserved but never initialised}",
     "merge regions, or use a kernel from 5.7 on (64 regions)"},
    {E::kDynamicArrayOverflow, "reserved-too-many", kErr, false,
     "{count} dynamically placed regions: the early scan keeps them in a 64-entry array without a bounds check "
     "(fixed in 2026), so early boot memory is overwritten",
     "use at most 64 size/alloc-ranges regions, or give some a fixed reg"},
    {E::kSizeBadLength, "reserved-bad-size", kErr, false,
     "size is {len} bytes but #size-cells = {sc} needs {want}: the region is not allocated",
     "write size with exactly #size-cells ({sc}) cells"},
    {E::kAlignmentBadLength, "reserved-bad-alignment", kErr, false,
     "alignment is {len} bytes but the kernel reads it with #address-cells = {ac} ({want} bytes): the region is not "
     "allocated",
     "write alignment with exactly #address-cells ({ac}) cells"},
    {E::kAllocRangesBadLength, "reserved-bad-alloc-ranges", kErr, false,
     "alloc-ranges is {len} bytes, not a multiple of {tlen}: the node is skipped",
     "write alloc-ranges as <base size> pairs with the root's cell counts"},
    {E::kDynamicAllocFailed, "reserved-alloc-failed", kErr, true,
     "no free {size} block{?align: aligned to {align}}{?in_ranges: inside alloc-ranges}{!in_ranges: in RAM}: the "
     "region does not exist and no device can use it",
     "reduce size or alignment, or widen alloc-ranges to cover free RAM"},
    {E::kOverlap, "reserved-overlap", kWarn, false, "{name} overlaps {other}; the kernel only warns and keeps both",
     "make the two regions disjoint (or delete the duplicate)"},
    // ---- the compatible handlers (docs/kernel-behaviour.md §5.5, §5.8, §6.2) ----
    {E::kCmaReusableNoMap, "cma-no-map", kErr, false,
     "reusable and no-map together: the CMA handler refuses no-map memory and the coherent-pool handler refuses "
     "reusable memory, so no CMA area is made"
     "{?stays:; the region stays carved out as no-map memory nobody uses}{!stays:; the memory is handed back to the kernel}",
     "drop no-map (CMA memory must stay mapped so the kernel can use it while it is free)"},
    {E::kCmaDefaultBypassed, "cma-default-overridden", kWarn, false,
     "cma= on the command line takes precedence over linux,cma-default: this node is bypassed and its memory "
     "freed; the default CMA area comes from cma=",
     "drop cma= from the command line to use this node, or drop the node"},
    {E::kCmaMisaligned, "cma-misaligned", kErr, false,
     "base {base} and size {size} must be multiples of {align} (the CMA minimum alignment on {kernel} with "
     "{pageblock} pageblocks): no CMA area is made from this node and its memory is handed back"
     "{?default:; the default CMA area falls back to cma=/CONFIG_CMA_SIZE_MBYTES}",
     "align base and size to {align} (4 MiB works on every kernel and pageblock size)"},
    {E::kCmaNoSlot, "cma-too-many-areas", kErr, false,
     "every CMA area slot is used (MAX_CMA_AREAS = {max}): no CMA area is made from this node",
     "merge CMA regions, or raise CONFIG_CMA_AREAS"},
    {E::kCmaSetupFailed, "cma-setup-failed", kErr, false,
     "the CMA handler refused this region ({?einval:its range is not reserved memory}{!einval:error {errno}}): no "
     "CMA area is made and the memory is handed back",
     "check that the reg pair reserves the whole region (size not 0, no conflicting no-map)"},
    {E::kCoherentPoolClaimsDefault, "cma-not-reusable", kWarn, false,
     "shared-dma-pool without reusable is a per-device coherent DMA pool, not a CMA area: no CMA heap is made from "
     "it and linux,cma-default has no effect; the default CMA area comes from cma=/CONFIG_CMA_SIZE_MBYTES instead",
     "add reusable; to make it a CMA area (and a heap candidate); keep it as is for a device-private pool"},
    {E::kCoherentPool, "cma-not-reusable", kNote, false,
     "shared-dma-pool without reusable is a per-device coherent DMA pool, not a CMA area: no CMA heap is made from it",
     "add reusable; to make it a CMA area (and a heap candidate); keep it as is for a device-private pool"},
    {E::kCoherentPoolMapped, "dma-pool-needs-no-map", kNote, false,
     "a coherent pool without no-map is accepted on {arch} but refused on 32-bit ARM kernels "
     "(\"Reserved memory: regions without no-map are not yet supported\")",
     "add no-map; if the tree is also used with 32-bit ARM kernels"},
    {E::kCoherentPoolRefusedMapped, "dma-pool-needs-no-map", kErr, false,
     "32-bit ARM refuses a coherent pool without no-map (rmem_dma_setup): no pool is made from this region, its "
     "memory is handed back to the kernel, and a device naming it in memory-region gets no pool",
     "add no-map; to the node (a coherent pool must stay out of the linear map on 32-bit ARM)"},
    {E::kHandlerFailed, "reserved-handler-failed", kErr, false,
     "the {compatible} handler refused this region; its memory is handed back to the kernel",
     "check the binding of {compatible} for forbidden property combinations"},
    {E::kNoHandler, "reserved-no-handler", kNote, false,
     "no early handler for compatible \"{compatible}\": the memory stays reserved as a plain carve-out for a driver "
     "to claim",
     "nothing to do if a driver claims it through memory-region; otherwise check the compatible"},
    // ---- the default CMA area (docs/kernel-behaviour.md §6.4, §6.5) ----
    {E::kDefaultAreaMisaligned, "cma-reserve-failed", kErr, true,
     DMAHEAP_DEFAULT_AREA_FAILED("base {base} is not aligned to {align}"), DMAHEAP_DEFAULT_AREA_FIX},
    {E::kDefaultAreaCrossesLowHigh, "cma-reserve-failed", kErr, true,
     DMAHEAP_DEFAULT_AREA_FAILED("the range crosses the end of low memory"), DMAHEAP_DEFAULT_AREA_FIX},
    {E::kDefaultAreaAboveLimit, "cma-reserve-failed", kErr, true,
     DMAHEAP_DEFAULT_AREA_FAILED("the range ends above the limit"), DMAHEAP_DEFAULT_AREA_FIX},
    {E::kDefaultAreaBusy, "cma-reserve-failed", kErr, true,
     DMAHEAP_DEFAULT_AREA_FAILED("{range} is already reserved"), DMAHEAP_DEFAULT_AREA_FIX},
    {E::kDefaultAreaNoFreeBlock, "cma-reserve-failed", kErr, true,
     DMAHEAP_DEFAULT_AREA_FAILED("no free {size} block below {limit}"), DMAHEAP_DEFAULT_AREA_FIX},
    {E::kDefaultAreaLimitBelowRam, "cma-reserve-failed", kErr, true,
     DMAHEAP_DEFAULT_AREA_FAILED("the DMA zone limit {limit} (from the tree's dma-ranges, lowest reach {reach}) "
                                 "lies at or below the start of RAM ({start}), so ZONE_DMA is empty and there is no "
                                 "RAM below the limit"),
     "widen the dma-ranges of the bus that limits DMA (or the disabled status of a bus no device uses), give the "
     "default area a fixed place with cma=SIZE@BASE, or declare a reusable linux,cma-default region"},
    {E::kDefaultAreaInitRefused, "cma-reserve-failed", kErr, true,
     DMAHEAP_DEFAULT_AREA_FAILED("cma_init_reserved_mem refused it"), DMAHEAP_DEFAULT_AREA_FIX},
    {E::kDefaultAreaInitNoSlot, "cma-too-many-areas", kErr, true,
     DMAHEAP_DEFAULT_AREA_FAILED("cma_init_reserved_mem refused it"), DMAHEAP_DEFAULT_AREA_FIX},
    {E::kDefaultAreaNoSlot, "cma-too-many-areas", kErr, false,
     "every CMA area slot is used by the device tree: the default area cannot be made",
     "merge CMA regions, or raise CONFIG_CMA_AREAS"},
    {E::kDtDefaultIgnoresCmdline, "cma-default-overridden", kWarn, false,
     "kernel {kernel} sets up the device-tree default CMA area before looking at cma=, so cma= is ignored (cma= "
     "wins from 5.7)",
     "drop cma= from the command line, or drop linux,cma-default from the node"},
    {E::kCmaDefaultDuplicate, "cma-default-duplicate", kWarn, false,
     "more than one reusable region has linux,cma-default; the kernel silently keeps the last one initialised "
     "({winner})",
     "keep linux,cma-default on exactly one region"},
    // ---- activation (docs/kernel-behaviour.md §6.6, §6.7) ----
    {E::kCmaOutsideMemory, "cma-outside-memory", kErr, true,
     "CMA area {name} ({range}) lies {?partly:partly}{!partly:wholly} outside every /memory range: set-up accepts "
     "it (\"created CMA memory pool\") because only memblock reservation is checked, then activation at "
     "core_initcall reads the struct pages of non-RAM pfns: {?warn:WARN, }\"Unable to handle kernel paging "
     "request\" Oops in PID 1 and a kernel panic"
     "{?no_memory: (the tree has no /memory, so this depends on what the bootloader adds)}",
     "move the region inside RAM (a /memory reg range), or extend /memory if the RAM is really there"},
    {E::kCmaCrossesZones, "cma-crosses-zones", kErr, false,
     "CMA area {name} ({range}) spans the zone boundary at {boundary} (ZONE_{below} below, ZONE_{above} above); "
     "all pages of an area must be in one zone, so it is not activated and every allocation from it fails"
     "{?stops:; on this kernel the first failure also stops the activation of every later area}",
     "keep the area entirely below or entirely above {boundary}"},
    {E::kCmaDefaultSkippedForCmdline, "cma-default-overridden", kWarn, false,
     "cma= on the command line takes precedence: this linux,cma-default node is skipped while the tree is scanned "
     "(nothing is reserved for it) and the default CMA area comes from cma=",
     "drop cma= from the command line to use this node, or drop the node"},
    // ---- heaps (docs/kernel-behaviour.md §4.1) ----
    {E::kHeapNameChanged, "heap-name-changed", kNote, false,
     "the heap of this default CMA area is /dev/dma_heap/{name} on 5.6-6.16; from 6.17 it is "
     "/dev/dma_heap/default_cma_region, and {name} remains only with CONFIG_DMABUF_HEAPS_CMA_LEGACY=y (6.17-6.18) "
     "or as its per-region heap (6.19+)",
     "open /dev/dma_heap/default_cma_region and fall back to /dev/dma_heap/{name}"},
    {E::kCmaAreaNoHeap, "cma-area-no-heap", kNote, false,
     "CMA area {name} is not the default area: kernels before 6.19 make no /dev/dma_heap node for it (devices "
     "reach it through memory-region); from 6.19 it is /dev/dma_heap/{name}",
     "add linux,cma-default; if user space must allocate from it on this kernel"},
    // ---- devices that name regions, dt-check --devices (docs/device-trees.md, "Devices and their regions") ----
#define DMAHEAP_ENTRY "memory-region entry {index}{?label: (\"{label}\")}"
    {E::kDeviceRegionNowhere, "device-region-missing", kErr, false,
     DMAHEAP_ENTRY " is phandle {phandle}, which matches no node: of_reserved_mem_device_init_by_idx answers -ENODEV "
     "and the device gets no reserved memory",
     "point the entry at a /reserved-memory child (memory-region = <&label>), or delete it"},
    {E::kDeviceRegionNotReserved, "device-region-missing", kErr, false,
     DMAHEAP_ENTRY " points at {target}, which is not a /reserved-memory region: the kernel finds no region of that "
     "name (-EINVAL) and the device gets no reserved memory",
     "point the entry at a child of /reserved-memory"},
    {E::kDeviceRegionDisabled, "device-region-disabled", kWarn, false,
     DMAHEAP_ENTRY " points at {target}, which is disabled: of_reserved_mem_device_init_by_idx returns 0 without "
     "assigning anything, so the driver runs as if it had its region and allocates from the default DMA memory",
     "set status = \"okay\" on {target}, or drop the entry from memory-region"},
    {E::kDeviceRegionFailed, "device-region-failed", kErr, true,
     DMAHEAP_ENTRY " points at {target}, which the kernel did not set up ({reason}): the device gets no memory from it",
     "fix the region first (see its own diagnostic)"},
    {E::kDeviceRegionUnreachable, "device-region-unreachable", kErr, false,
     DMAHEAP_ENTRY ": region {target} ({range}) is not inside the device's DMA reach ({reach}, from dma-ranges): "
     "memory the kernel hands the device from it cannot be addressed by the device",
     "place the region (reg or alloc-ranges) inside the reach of the device's bus"},
    {E::kPipelineNoCmaHeap, "pipeline-no-cma-heap", kWarn, true,
     "{members} {?several:have}{!several:has} no IOMMU and no CMA heap on {kernel} lies inside {?several:the DMA "
     "reach of all of them}{!several:its DMA reach}: no /dev/dma_heap node gives buffers {?several:they}{!several:it} "
     "can use{?why: ({why})}",
     "make a reachable region a CMA heap on this kernel (reusable shared-dma-pool; linux,cma-default before 6.19), "
     "or move the default CMA area into their reach with cma="},
#undef DMAHEAP_ENTRY
};
#undef DMAHEAP_DEFAULT_AREA_FAILED
#undef DMAHEAP_DEFAULT_AREA_FIX

constexpr bool rowsInEventOrder() {
  if (std::size(kCatalogue) != static_cast<size_t>(DiagEvent::kCount)) return false;
  for (size_t i = 0; i < std::size(kCatalogue); ++i)
    if (static_cast<size_t>(kCatalogue[i].event) != i) return false;
  return true;
}
static_assert(rowsInEventOrder(), "one catalogue row per DiagEvent, in enum order");

const std::string* findArg(const DiagArgs& args, std::string_view name) {
  for (const auto& [k, v] : args)
    if (k == name) return &v;
  return nullptr;
}

bool startsPlaceholder(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '?' || c == '!'; }

// The index of the `}` closing the placeholder opened at `open`, or npos.
size_t closingBrace(std::string_view t, size_t open) {
  int depth = 0;
  for (size_t i = open; i < t.size(); ++i) {
    if (t[i] == '{' && i + 1 < t.size() && startsPlaceholder(t[i + 1])) ++depth;
    else if (t[i] == '}' && --depth == 0) return i;
  }
  return std::string_view::npos;
}

void fill(std::string_view t, const DiagArgs& args, std::string* out) {
  size_t i = 0;
  while (i < t.size()) {
    const char c = t[i];
    if (c != '{' || i + 1 >= t.size() || !startsPlaceholder(t[i + 1])) {
      out->push_back(c);
      ++i;
      continue;
    }
    const size_t close = closingBrace(t, i);
    if (close == std::string_view::npos) {  // unbalanced: plain text
      out->append(t.substr(i));
      return;
    }
    const std::string_view inner = t.substr(i + 1, close - i - 1);
    if (inner[0] == '?' || inner[0] == '!') {
      const size_t colon = inner.find(':');
      const std::string_view name = inner.substr(1, colon == std::string_view::npos ? inner.size() - 1 : colon - 1);
      const std::string* v = findArg(args, name);
      const bool set = v != nullptr && !v->empty();
      if (colon != std::string_view::npos && set == (inner[0] == '?')) fill(inner.substr(colon + 1), args, out);
    } else if (const std::string* v = findArg(args, inner)) {
      out->append(*v);
    } else {
      out->append("{").append(inner).append("?}");
    }
    i = close + 1;
  }
}

}  // namespace

std::span<const CatalogueEntry> diagnosticsCatalogue() { return kCatalogue; }

const CatalogueEntry& catalogueEntry(DiagEvent event) { return kCatalogue[static_cast<size_t>(event)]; }

std::string fillTemplate(const char* text, const DiagArgs& args) {
  std::string out;
  fill(text, args, &out);
  return out;
}

std::vector<Diagnostic> diagnose(std::span<const RecordedEvent> events, bool tree_has_memory) {
  std::vector<Diagnostic> out;
  out.reserve(events.size());
  for (const RecordedEvent& e : events) {
    const CatalogueEntry& row = catalogueEntry(e.event);
    DiagArgs args = e.args;
    args.emplace_back("no_memory", tree_has_memory ? "" : "1");
    Diagnostic d;
    d.severity = row.note_without_memory && !tree_has_memory ? Severity::kNote : row.severity;
    d.code = row.code;
    d.node = e.node;
    d.message = fillTemplate(row.message, args);
    d.kernel_log = e.kernel_log;
    d.fix = fillTemplate(row.fix, args);
    out.push_back(std::move(d));
  }
  return out;
}

}  // namespace dmaheap::dt
