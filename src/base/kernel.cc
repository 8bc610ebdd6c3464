// Kernel version parsing, .config parsing and the version-dependent rules.
#include "base/kernel.h"

#include <charconv>
#include <iterator>
#include <fstream>
#include <sstream>

namespace dmaheap {
namespace {

// The last minor release of each major series we know of.
int lastMinorOf(int major) {
  switch (major) {
    case 5: return 19;
    case 6: return 19;
    case 7: return 2;
    default: return -1;
  }
}

bool parseInt(std::string_view s, int* out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

}  // namespace

std::string KernelVersion::supportedRange() { return "5.3 to 7.2"; }

std::string KernelVersion::str() const { return std::to_string(major_) + "." + std::to_string(minor_); }

Result<KernelVersion> KernelVersion::parse(std::string_view text) {
  const auto bad = [&] {
    return makeError(EINVAL, "kernel version '" + std::string(text) +
                                 "' is not supported: give MAJOR.MINOR from " + supportedRange());
  };
  const size_t dot = text.find('.');
  if (dot == std::string_view::npos) return bad();
  std::string_view rest = text.substr(dot + 1);
  const size_t end = rest.find_first_not_of("0123456789");
  std::string_view minor_text = rest.substr(0, end);
  if (end != std::string_view::npos) {
    // Allow a patch level (".118") and a local suffix ("-rc1", "+deb13-arm64").
    const char c = rest[end];
    if (c != '.' && c != '-' && c != '+') return bad();
  }
  int major = 0;
  int minor = 0;
  if (!parseInt(text.substr(0, dot), &major) || !parseInt(minor_text, &minor)) return bad();
  const int last = lastMinorOf(major);
  if (last < 0 || minor < 0 || minor > last) return bad();
  if (major == 5 && minor < 3) return bad();
  return KernelVersion(major, minor);
}

const char* str(Arch arch) {
  switch (arch) {
    case Arch::kArm: return "arm";
    case Arch::kArm64: return "arm64";
    case Arch::kRiscv64: return "riscv64";
  }
  return "arm64";
}

std::string supportedArchs() { return "arm, arm64 or riscv64"; }

Result<Arch> parseArch(std::string_view text) {
  for (Arch a : {Arch::kArm, Arch::kArm64, Arch::kRiscv64})
    if (text == str(a)) return a;
  return makeError(EINVAL, "architecture '" + std::string(text) + "' is not supported: give " + supportedArchs());
}

unsigned Kernel::maxOrder() const {
  // The Kconfig value is MAX_ORDER (one more than the largest order) up to 6.3, the largest order
  // itself from 6.4 (docs/kernel-behaviour.md §11.1).
  if (config.force_max_order) {
    const unsigned v = *config.force_max_order;
    return ruleApplies(KernelRule::kMaxOrderInclusive, version) ? v : (v > 0 ? v - 1 : 0);
  }
  return config.max_order;
}

unsigned Kernel::pageblockOrder() const {
  unsigned order = maxOrder();
  if (hugetlbPages()) {
    // HUGETLB_PAGE_ORDER is the PMD order: PAGE_SHIFT - 3 bits of index per level.
    const unsigned pmd_order = config.page_shift - 3;
    order = std::min(pmd_order, maxOrder());
  }
  if (ruleApplies(KernelRule::kPageBlockOrderCapped, version)) order = std::min(order, config.page_block_order_cap);
  return order;
}

uint64_t Kernel::cmaMinAlignmentBytes() const {
  if (!ruleApplies(KernelRule::kCmaAlignmentIsPageblock, version)) {
    return pageSize() << std::max(maxOrder(), pageblockOrder());
  }
  return pageblockBytes();
}

unsigned Kernel::maxReservedRegions() const {
  return ruleApplies(KernelRule::kReservedRegions64, version) ? 64 : 32;
}

unsigned Kernel::maxCmaAreas() const {
  // Up to 6.2 the array had one slot more than CONFIG_CMA_AREAS (the "+1 for the global area";
  // Debian's 6.1 sets CMA_AREAS=19 for 20 slots); from 6.3 CONFIG_CMA_AREAS is the count (docs/kernel-behaviour.md §6.1).
  if (config.cma_areas_set) {
    return ruleApplies(KernelRule::kCmaAreasExactCount, version) ? config.cma_areas : config.cma_areas + 1;
  }
  // Kconfig default: 7 (+1 slot for the default area) without NUMA, 19 (+1) with NUMA from 5.9.
  if (config.numa && ruleApplies(KernelRule::kCmaAreasNumaDefault, version)) return 20;
  return 8;
}

int Kernel::duplicateHeapNameErrno() const {
  return heapNameClash() == HeapNameClash::kListCheckFirst ? EINVAL : EEXIST;
}

CmaHeapEra Kernel::cmaHeapEra() const {
  if (!hasCmaHeap()) return CmaHeapEra::kNone;
  if (ruleApplies(KernelRule::kCmaHeapPerRegion, version)) return CmaHeapEra::kPerRegion;
  if (ruleApplies(KernelRule::kCmaHeapDefaultRegionName, version)) return CmaHeapEra::kDefaultNamePlusLegacy;
  return CmaHeapEra::kDefaultOnly;
}

// ---- Rules of the dma-heap core and the dma-buf ioctls (see kernel.h) ----

Kernel::HeapNameClash Kernel::heapNameClash() const {
  return version.atLeast(6, 2) ? HeapNameClash::kSysfsAtDeviceCreate : HeapNameClash::kListCheckFirst;
}

Result<KernelConfig> KernelConfig::fromFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return makeError(errno ? errno : ENOENT, "cannot read kernel config '" + path + "'");
  std::stringstream ss;
  ss << in.rdbuf();
  return fromText(ss.str());
}

Result<KernelConfig> KernelConfig::fromText(std::string_view text) {
  // Start from the kernel's own defaults for options missing from a real .config: a .config lists
  // every visible option, so "absent" means "not built" for bools.
  KernelConfig c;
  c.hugetlb = false;
  c.cma = false;
  c.dmabuf_heaps = false;
  c.system_heap = false;
  c.cma_heap = false;
  c.cma_heap_legacy = false;
  c.restricted_dma_pool = false;
  c.numa = false;
  c.cma_size_mbytes = 0;
  c.highmem = false;
  bool dma_cma = false;
  bool has_cma = false;
  bool zone_dma_named = false;  // the .config says CONFIG_ZONE_DMA=y or "is not set"
  int line_no = 0;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view line = text.substr(pos, nl - pos);
    pos = nl + 1;
    ++line_no;
    // ZONE_DMA/ZONE_DMA32 default to y on arm64 and are visible only with EXPERT: absent means built
    // there (32-bit ARM: see the end).
    if (line == "# CONFIG_ZONE_DMA is not set") {
      c.zone_dma = false;
      zone_dma_named = true;
    }
    if (line == "# CONFIG_ZONE_DMA32 is not set") c.zone_dma32 = false;
    if (line.empty() || line[0] == '#') continue;
    if (line.substr(0, 7) != "CONFIG_") continue;
    const size_t eq = line.find('=');
    if (eq == std::string_view::npos) {
      return makeError(EINVAL, "kernel config line " + std::to_string(line_no) + ": no '=' in '" +
                                   std::string(line) + "'");
    }
    const std::string_view key = line.substr(7, eq - 7);
    std::string_view val = line.substr(eq + 1);
    const bool yes = val == "y" || val == "m";
    const auto number = [&](uint64_t* out) -> bool {
      std::string_view v = val;
      if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
      uint64_t n = 0;
      auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
      if (ec != std::errc() || p != v.data() + v.size()) return false;
      *out = n;
      return true;
    };
    uint64_t n = 0;
    const auto need_number = [&](const char* what) -> Status {
      if (!number(&n)) {
        return makeError(EINVAL, "kernel config line " + std::to_string(line_no) + ": " + what +
                                     " is not a number: '" + std::string(val) + "'");
      }
      return {};
    };
    if (key == "ARM64_4K_PAGES" && yes) c.page_shift = 12;
    else if (key == "ARM64_16K_PAGES" && yes) c.page_shift = 14;
    else if (key == "ARM64_64K_PAGES" && yes) c.page_shift = 16;
    else if (key == "HUGETLB_PAGE") c.hugetlb = yes;
    else if (key == "CMA") has_cma = yes;
    else if (key == "DMA_CMA") dma_cma = yes;
    else if (key == "NUMA") c.numa = yes;
    else if (key == "DMABUF_HEAPS") c.dmabuf_heaps = yes;
    else if (key == "DMABUF_HEAPS_SYSTEM") c.system_heap = yes;
    else if (key == "DMABUF_HEAPS_CMA") c.cma_heap = yes;
    else if (key == "DMABUF_HEAPS_CMA_LEGACY") c.cma_heap_legacy = yes;
    else if (key == "DMA_RESTRICTED_POOL") c.restricted_dma_pool = yes;
    else if (key == "ZONE_DMA") {
      c.zone_dma = yes;
      zone_dma_named = true;
    }
    else if (key == "ZONE_DMA32") c.zone_dma32 = yes;
    else if (key == "ARM_LPAE") c.arm_lpae = yes;
    else if (key == "HIGHMEM") c.highmem = yes;
    else if (key == "ARM" && yes) c.arch = Arch::kArm;
    else if (key == "ARM64" && yes) c.arch = Arch::kArm64;
    else if (key == "RISCV" && yes) c.arch = Arch::kRiscv64;
    else if (key == "PAGE_OFFSET") {
      uint64_t off = 0;
      std::string_view v = val;
      if (v.substr(0, 2) == "0x" || v.substr(0, 2) == "0X") v.remove_prefix(2);
      auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), off, 16);
      if (ec != std::errc() || p != v.data() + v.size() || v.empty()) {
        return makeError(EINVAL, "kernel config line " + std::to_string(line_no) + ": PAGE_OFFSET is not a hex number: '" +
                                     std::string(val) + "'");
      }
      c.arm_page_offset = off;
    } else if (key == "ARCH_FORCE_MAX_ORDER" || key == "FORCE_MAX_ZONEORDER") {
      if (auto s = need_number(key == "ARCH_FORCE_MAX_ORDER" ? "ARCH_FORCE_MAX_ORDER" : "FORCE_MAX_ZONEORDER"); !s) return s.error();
      if (n == 0 || n > 20) return makeError(EINVAL, "kernel config line " + std::to_string(line_no) + ": max order out of range");
      c.force_max_order = static_cast<unsigned>(n);
    }
    else if (key == "CMA_AREAS") {
      if (auto s = need_number("CMA_AREAS"); !s) return s.error();
      if (n == 0 || n > 4096) return makeError(EINVAL, "kernel config line " + std::to_string(line_no) + ": CMA_AREAS out of range");
      c.cma_areas = static_cast<unsigned>(n);
      c.cma_areas_set = true;
    } else if (key == "CMA_SIZE_MBYTES") {
      if (auto s = need_number("CMA_SIZE_MBYTES"); !s) return s.error();
      if (n > (uint64_t{1} << 40)) return makeError(EINVAL, "kernel config line " + std::to_string(line_no) + ": CMA_SIZE_MBYTES out of range");
      c.cma_size_mbytes = n;
    } else if (key == "CMA_ALIGNMENT") {
      if (auto s = need_number("CMA_ALIGNMENT"); !s) return s.error();
      if (n > 12) return makeError(EINVAL, "kernel config line " + std::to_string(line_no) + ": CMA_ALIGNMENT above 12");
      c.cma_alignment = static_cast<unsigned>(n);
    } else if (key == "PAGE_BLOCK_ORDER") {
      if (auto s = need_number("PAGE_BLOCK_ORDER"); !s) return s.error();
      if (n == 0 || n > 10) return makeError(EINVAL, "kernel config line " + std::to_string(line_no) + ": PAGE_BLOCK_ORDER out of range");
      c.page_block_order_cap = static_cast<unsigned>(n);
    }
  }
  c.cma = has_cma && dma_cma;
  // On 32-bit ARM ZONE_DMA has no prompt and defaults to n (mm/Kconfig: "default y if ARM64 ||
  // X86"); only platforms select it. A 32-bit ARM .config that does not name it was built
  // without it (docs/kernel-behaviour.md §11.2).
  if (c.arch == Arch::kArm && !zone_dma_named) c.zone_dma = false;
  return c;
}

}  // namespace dmaheap

// ================================================================================================
// Named release rules (issue 11, deliverable 3): the table behind KernelRule.
// ================================================================================================
namespace dmaheap {
namespace {

constexpr KernelVersion R(int major, int minor) { return KernelVersion::of(major, minor); }
constexpr KernelVersion kNone = KernelVersion::of(0, 0);
// Which architectures a row applies to: generic code (mm/, kernel/dma/, drivers/of/) is all three.
constexpr ArchSet kAllArchs = ArchSet::all();
constexpr ArchSet kArm64Only{Arch::kArm64};
constexpr ArchSet kArmOnly{Arch::kArm};
constexpr ArchSet kRiscvOnly{Arch::kRiscv64};
constexpr ArchSet kArmAndRiscv{Arch::kArm, Arch::kRiscv64};

// since, until (inclusive) or open-ended; docs/kernel-behaviour.md sections in the doc lines.
constexpr KernelRuleInfo kRules[] = {
    {KernelRule::kMemoryScanRootChildrenOnly, "memory-scan-root-children-only", R(5, 17), kNone, true, kAllArchs,
     "up to 5.16 every node with device_type = \"memory\" counts, from 5.17 only root children (§5.1)"},
    {KernelRule::kRmemContainerByPath, "rmem-container-by-path", R(5, 10), kNone, true, kAllArchs,
     "from 5.10 /reserved-memory is found by path; before, a root child named exactly reserved-memory (§5.2)"},
    {KernelRule::kRmemEarlyLateSplit, "rmem-early-late-split", R(6, 12), kNone, true, kAllArchs,
     "the scan is split into an early (dynamic) and a late (static) phase; in 6.12.y stable too (§5.7)"},
    {KernelRule::kNomapMarksMemblock, "nomap-marks-memblock", R(5, 12), kNone, true, kAllArchs,
     "no-map marks the range MEMBLOCK_NOMAP; up to 5.11 it is memblock_remove'd (§5.3)"},
    {KernelRule::kNomapRefusesReserved, "nomap-refuses-reserved", R(5, 13), kNone, true, kAllArchs,
     "a no-map range that is already reserved fails with EBUSY (§5.3)"},
    {KernelRule::kNomapRefusesReservedInRamOnly, "nomap-refuses-reserved-in-ram-only", R(5, 16), kNone, true, kAllArchs,
     "the EBUSY check applies only when the range also overlaps memory (§5.3)"},
    {KernelRule::kRmemAllocInRangeBottomUp, "rmem-alloc-in-range-bottom-up", R(6, 3), kNone, true, kAllArchs,
     "a dynamic region is allocated bottom-up when a reservation touches the start of its range (§5.3)"},
    {KernelRule::kRmemAllocFailLogsSize, "rmem-alloc-fail-logs-size", R(5, 10), kNone, true, kAllArchs,
     "the \"failed to allocate memory for node\" line names the size in MiB (§5.3)"},
    {KernelRule::kRmemSummaryLine, "rmem-summary-line", R(6, 3), kNone, true, kAllArchs,
     "each initialised or unhandled region gets a \"base..end (N KiB) map reusable name\" line (§5.5)"},
    {KernelRule::kRmemHandlerNotMineEnodev, "rmem-handler-not-mine-enodev", R(7, 1), kNone, true, kAllArchs,
     "a handler answers -ENODEV for a node that is not its own (was -EINVAL); a real error of an "
     "earlier handler is kept; no-map memory of a refused node stays carved out (§5.5)"},
    {KernelRule::kRmemFirstRegPairOnly, "rmem-first-reg-pair-only", R(7, 1), kNone, true, kAllArchs,
     "only the first <base size> pair of reg is reserved, with a log line naming the count (§5.3)"},
    {KernelRule::kRmemInvalidRegLogged, "rmem-invalid-reg-logged", R(5, 3), R(7, 0), false, kAllArchs,
     "an invalid reg length prints \"invalid reg property\" (twice with the early/late split) (§5.3)"},
    {KernelRule::kRmemScanSkipsCmaDefault, "rmem-scan-skips-cma-default", R(6, 19), R(7, 0), false, kAllArchs,
     "with cma= the scan skips a linux,cma-default node outright (6.18.y backport too) (§6.4)"},
    {KernelRule::kCmaValidateHook, "cma-validate-hook", R(7, 1), kNone, true, kAllArchs,
     "the CMA handler's validate hook runs during the scan and rejects the cma= overridden default "
     "node (EBUSY), printing from kernel/dma/contiguous.c (§6.4)"},
    {KernelRule::kCmaCmdlineBypassesDtDefault, "cma-cmdline-bypasses-dt-default", R(5, 7), R(7, 0), false, kAllArchs,
     "with cma= rmem_cma_setup bypasses a linux,cma-default node (EBUSY); before 5.7 the node wins (§6.2, §6.4)"},
    {KernelRule::kRestrictedDmaPool, "restricted-dma-pool", R(5, 15), kNone, true, kAllArchs,
     "the restricted-dma-pool handler (CONFIG_DMA_RESTRICTED_POOL) exists (§5.8)"},
    {KernelRule::kCmaLogNamesNode, "cma-log-names-node", R(6, 6), R(6, 14), false, kAllArchs,
     "cma_declare_contiguous lines end with \" on node -1\" (§6.5)"},
    {KernelRule::kCmaFixedBaseChecked, "cma-fixed-base-checked", R(6, 0), kNone, true, kAllArchs,
     "a fixed base is refused when misaligned or when it ends above the limit (§6.5)"},
    {KernelRule::kCmaDefaultPrefersAbove4G, "cma-default-prefers-above-4g", R(5, 10), kNone, true, kAllArchs,
     "the default area is first tried above 4 GiB when RAM reaches that far (§6.5)"},
    {KernelRule::kCmaDeclareReportsFailure, "cma-declare-reports-failure", R(6, 15), kNone, true, kAllArchs,
     "the cma_declare_contiguous_nid wrapper prints \"Failed to reserve\" for every failure (§6.5)"},
    {KernelRule::kCmaMultiRange, "cma-multi-range", R(6, 15), kNone, true, kAllArchs,
     "areas are multi-range: zones are checked by cma_validate_zones, an area straddling the end of "
     "RAM no longer WARNs, the Oops is in init_cma_reserved_pageblock (§6.6, §6.7)"},
    {KernelRule::kCmaActivationStopsOnFailure, "cma-activation-stops-on-failure", R(5, 3), R(5, 8), false, kAllArchs,
     "an area that cannot be activated stops the activation of every later area (§6.6)"},
    {KernelRule::kZoneDmaFixed1G, "zone-dma-fixed-1g", R(5, 5), R(5, 10), false, kArm64Only,
     "arm64 has ZONE_DMA for the first GiB and ZONE_DMA32 up to 4 GiB (§6.6)"},
    {KernelRule::kZoneDmaFromDt, "zone-dma-from-dt", R(5, 11), kNone, true, kArm64Only,
     "arm64 sizes ZONE_DMA from the tree: one zone below 4 GiB, none when RAM starts above (§6.6)"},
    {KernelRule::kCmaWarnRelease6_1, "cma-warn-release-6.1", R(6, 1), R(6, 1), false, kAllArchs,
     "6.1 as recorded: WARN at mm/cma.c:110 (outside) / :113 (straddling), ESR 0x96000006 (§6.7)"},
    {KernelRule::kCmaWarnRelease6_12, "cma-warn-release-6.12", R(6, 12), R(6, 12), false, kAllArchs,
     "6.12 as recorded: WARN at mm/cma.c:106 (outside) / :109 (straddling) (§6.7)"},
    {KernelRule::kCmaWarnRelease7_2, "cma-warn-release-7.2", R(7, 2), R(7, 2), false, kAllArchs,
     "7.2 as recorded: WARN at mm/cma.c:129 in cma_validate_zones (§6.7)"},
    {KernelRule::kWarnFormat7, "warn-format-7", R(7, 0), kNone, true, kAllArchs,
     "the 7.x WARNING line (\"at FUNC, CPU#0: swapper/0/1\") and Oops line (\"[#1]  SMP\") formats (§6.7)"},
    {KernelRule::kReservedRegions64, "reserved-regions-64", R(5, 7), kNone, true, kAllArchs,
     "MAX_RESERVED_REGIONS is 64; up to 5.6 it is 32 (§5.4)"},
    {KernelRule::kCmaAreasNumaDefault, "cma-areas-numa-default", R(5, 9), kNone, true, kAllArchs,
     "with NUMA, CONFIG_CMA_AREAS defaults to 19 (20 slots); else 7 (8 slots) (§6.1)"},
    {KernelRule::kCmaAreasExactCount, "cma-areas-exact-count", R(6, 3), kNone, true, kAllArchs,
     "CONFIG_CMA_AREAS is the number of slots; up to 6.2 there is one more for the global area (§6.1)"},
    {KernelRule::kCmaAlignmentIsPageblock, "cma-alignment-is-pageblock", R(5, 19), kNone, true, kAllArchs,
     "CMA_MIN_ALIGNMENT_BYTES is one pageblock; up to 5.18 max(MAX_ORDER-1, pageblock_order) pages (§6.1)"},
    {KernelRule::kPageBlockOrderCapped, "page-block-order-capped", R(6, 16), kNone, true, kAllArchs,
     "CONFIG_PAGE_BLOCK_ORDER caps pageblock_order (§6.1)"},
    {KernelRule::kCmaHeapDefaultRegionName, "cma-heap-default-region-name", R(6, 17), kNone, true, kAllArchs,
     "the default CMA area's heap is \"default_cma_region\" (plus the area's name with "
     "CONFIG_DMABUF_HEAPS_CMA_LEGACY up to 6.18) (§4.1)"},
    {KernelRule::kCmaHeapPerRegion, "cma-heap-per-region", R(6, 19), kNone, true, kAllArchs,
     "every registered CMA area gets its own heap, besides default_cma_region (§4.1)"},
    {KernelRule::kZoneDmaLimitAddress, "zone-dma-limit-address", R(6, 12), kNone, true, kArm64Only,
     "arm64 keeps the DMA zone as an address (zone_dma_limit): it ends at the tree's DMA limit, "
     "clamped to 4 GiB when RAM starts below; before, a number of bits rounds the limit up to a "
     "power of two and RAM starting above the limit widens the zone to 4 GiB (§6.10)"},
    {KernelRule::kMaxOrderInclusive, "max-order-inclusive", R(6, 4), kNone, true, kAllArchs,
     "CONFIG_ARCH_FORCE_MAX_ORDER is the largest buddy order itself; up to 6.3 it (and "
     "FORCE_MAX_ZONEORDER before it) is one more than that (§11.1)"},
    {KernelRule::kArmCoherentPoolNeedsNoMap, "arm-coherent-pool-needs-no-map", R(5, 3), kNone, true, kArmOnly,
     "32-bit ARM: rmem_dma_setup refuses a shared-dma-pool without no-map (EINVAL, \"regions without "
     "no-map are not yet supported\"); the region is handed back (§11.3)"},
    {KernelRule::kArmZonesLowHigh, "arm-zones-low-high", R(5, 3), kNone, true, kArmOnly,
     "32-bit ARM: ZONE_DMA only for a machine with a dma_zone_size, ZONE_NORMAL up to the end of "
     "lowmem (vmalloc split), ZONE_HIGHMEM above; the default CMA limit is arm_dma_limit (§11.2)"},
    {KernelRule::kRiscvZoneDma32, "riscv-zone-dma32", R(5, 3), kNone, true, kRiscvOnly,
     "riscv64: ZONE_DMA32 up to min(4 GiB, end of RAM), ZONE_NORMAL above; the default CMA area is "
     "reserved below that same limit (dma32_phys_limit) (§11.4)"},
    {KernelRule::kRmemLateAfterDefaultCma, "rmem-late-after-default-cma", R(6, 12), kNone, true, kArmAndRiscv,
     "32-bit ARM and riscv64: the late phase of the split scan (static regions, §5.7) runs from "
     "unflatten_device_tree, after arm_memblock_init / setup_bootmem reserved the default CMA area, so a "
     "static linux,cma-default node does not stop it (§11.2, §11.5)"},
    {KernelRule::kArmCmaPastRamCrash, "arm-cma-past-ram-crash", R(6, 1), R(6, 12), false, kArmOnly,
     "32-bit ARM as recorded (armmp 6.1, 6.12): an area outside RAM WARNs twice and Oopses in set_pfnblock_flags_mask; one straddling the end WARNs once and floods \"Bad page state\" without a panic (§11.5)"},
    {KernelRule::kUnknownBootOptionsLine, "unknown-boot-options-line", R(5, 15), kNone, true, kAllArchs,
     "start_kernel lists the parameters no code claimed (\"Unknown kernel command line parameters\"), so cma= "
     "on a kernel without DMA_CMA; seen on Debian's riscv64 6.12, the first release from memory (§11.5)"},
    {KernelRule::kCmaOutsideRamWarnsTwice, "cma-outside-ram-warns-twice", R(6, 1), R(6, 12), false, kArmAndRiscv,
     "as recorded on 32-bit ARM (6.1, 6.12) and riscv64 (6.12): an area wholly outside RAM WARNs for its base pfn "
     "and again in the loop (6.12 mm/cma.c:106 and :109), where arm64 WARNs once; the Oops then comes in "
     "set_pfnblock_flags_mask (free_unref_page when straddling the end), not in the activation (§11.5)"},
};
static_assert(std::size(kRules) == static_cast<size_t>(KernelRule::kCount), "one row per KernelRule");

constexpr bool rowsInEnumOrder() {
  for (size_t i = 0; i < std::size(kRules); ++i)
    if (static_cast<size_t>(kRules[i].rule) != i) return false;
  return true;
}
static_assert(rowsInEnumOrder(), "kRules rows are in KernelRule order");

}  // namespace

const KernelRuleInfo* kernelRuleTable(size_t* count) {
  *count = std::size(kRules);
  return kRules;
}

const KernelRuleInfo& kernelRuleInfo(KernelRule rule) { return kRules[static_cast<size_t>(rule)]; }

bool ruleApplies(KernelRule rule, KernelVersion v) { return kernelRuleInfo(rule).appliesTo(v); }

bool ruleApplies(KernelRule rule, const Kernel& kernel) {
  return kernelRuleInfo(rule).appliesTo(kernel.version, kernel.arch);
}

}  // namespace dmaheap
