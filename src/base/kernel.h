// The kernel-version model: which release we emulate and how it was configured. Every rule that
// changed between releases is a function here, so the memory model, the device-tree rules and the
// heaps ask one place ("from which release does X apply?").
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"

namespace dmaheap {

// A mainline release MAJOR.MINOR, 5.3 to 7.2 (7.0 follows 6.19 as 6.0 followed 5.19).
class KernelVersion {
 public:
  static constexpr int kDefaultMajor = 6;
  static constexpr int kDefaultMinor = 18;

  constexpr KernelVersion() : major_(kDefaultMajor), minor_(kDefaultMinor) {}

  // "6.18", "5.3", also "6.12.118" or "6.12.0-rc1" (the patch level and suffix are ignored).
  // EINVAL with a message naming the supported range for anything else.
  static Result<KernelVersion> parse(std::string_view text);
  // For tests and internal tables; the caller guarantees the release exists.
  static constexpr KernelVersion of(int major, int minor) { return KernelVersion(major, minor); }

  int major() const { return major_; }
  int minor() const { return minor_; }
  std::string str() const;
  // True if this release is `major.minor` or newer.
  constexpr bool atLeast(int major, int minor) const {
    return major_ > major || (major_ == major && minor_ >= minor);
  }
  constexpr auto operator<=>(const KernelVersion&) const = default;

  static std::string supportedRange();

 private:
  constexpr KernelVersion(int major, int minor) : major_(major), minor_(minor) {}
  int major_;
  int minor_;
};

// The target architecture whose rules apply (docs/kernel-behaviour.md §11): 32-bit ARM (armmp,
// armmp-lpae), arm64, riscv64. The host the emulation runs on is a separate matter.
enum class Arch { kArm, kArm64, kRiscv64 };
// "arm", "arm64", "riscv64".
const char* str(Arch arch);
// The inverse of str(); EINVAL with a message naming the three for anything else.
Result<Arch> parseArch(std::string_view text);
// "arm, arm64 or riscv64" (for messages and help).
std::string supportedArchs();

// A set of architectures: which ones a release rule applies to.
class ArchSet {
 public:
  constexpr ArchSet() = default;
  constexpr ArchSet(std::initializer_list<Arch> archs) {
    for (Arch a : archs) bits_ |= bit(a);
  }
  static constexpr ArchSet all() { return {Arch::kArm, Arch::kArm64, Arch::kRiscv64}; }
  constexpr bool has(Arch a) const { return (bits_ & bit(a)) != 0; }

 private:
  static constexpr unsigned bit(Arch a) { return 1u << static_cast<unsigned>(a); }
  unsigned bits_ = 0;
};

// Which CMA areas become heaps (docs/kernel-behaviour.md §4.1).
enum class CmaHeapEra {
  kNone,               // before 5.6: no DMA-BUF heaps at all
  kDefaultOnly,        // 5.6-6.16: the default area, named after the area
  kDefaultNamePlusLegacy,  // 6.17-6.18: "default_cma_region" (+ legacy name if CMA_LEGACY)
  kPerRegion,          // 6.19+: "default_cma_region" + one heap per registered area
};

// The .config options that change what we model. Defaults: a Debian-like arm64 kernel with the
// heaps built in (4 KiB pages, hugetlb on so 2 MiB pageblocks, CMA_SIZE_MBYTES=64).
struct KernelConfig {
  unsigned page_shift = 12;        // CONFIG_ARM64_{4K,16K,64K}_PAGES
  bool hugetlb = true;             // CONFIG_HUGETLB_PAGE
  unsigned page_block_order_cap = 10;  // CONFIG_PAGE_BLOCK_ORDER (6.16+), caps pageblock_order
  unsigned cma_areas = 20;         // CONFIG_CMA_AREAS (Debian arm64: NUMA, so 20 on 6.12)
  bool cma_areas_set = false;      // cma_areas came from a .config (else version default applies)
  uint64_t cma_size_mbytes = 64;   // CONFIG_CMA_SIZE_MBYTES
  unsigned cma_alignment = 8;      // CONFIG_CMA_ALIGNMENT (max order of CMA heap alignment)
  bool cma = true;                 // CONFIG_CMA + CONFIG_DMA_CMA
  bool dmabuf_heaps = true;        // CONFIG_DMABUF_HEAPS
  bool system_heap = true;         // CONFIG_DMABUF_HEAPS_SYSTEM
  bool cma_heap = true;            // CONFIG_DMABUF_HEAPS_CMA
  bool cma_heap_legacy = true;     // CONFIG_DMABUF_HEAPS_CMA_LEGACY (6.17-6.18, default y)
  bool restricted_dma_pool = true; // CONFIG_DMA_RESTRICTED_POOL
  bool numa = true;                // CONFIG_NUMA (only changes the CMA_AREAS default)
  bool zone_dma = true;            // CONFIG_ZONE_DMA (arm64 from 5.5; off only when "is not set", and on 32-bit ARM when a .config with CONFIG_ARM=y does not name it)
  bool zone_dma32 = true;          // CONFIG_ZONE_DMA32 (off only when "is not set")
  // The largest buddy order, MAX_ORDER-1 before 6.4 and MAX_PAGE_ORDER after (10 by default on
  // all three architectures; 32-bit ARM with SOC_AM33XX: 11). From CONFIG_ARCH_FORCE_MAX_ORDER
  // or CONFIG_FORCE_MAX_ZONEORDER, whose meaning changed in 6.4 (docs/kernel-behaviour.md §11.1).
  unsigned max_order = 10;
  std::optional<unsigned> force_max_order;  // the raw Kconfig value, resolved per release
  // 32-bit ARM only (docs/kernel-behaviour.md §11.1, §11.2).
  bool arm_lpae = false;           // CONFIG_ARM_LPAE: 3-level tables, hugetlb, 64-bit phys_addr_t
  bool highmem = true;             // CONFIG_HIGHMEM (Debian's armmp: y)
  uint64_t arm_page_offset = 0xC0000000;  // CONFIG_PAGE_OFFSET (VMSPLIT_3G)
  // The architecture a .config was built for (CONFIG_ARM, CONFIG_ARM64, CONFIG_RISCV).
  std::optional<Arch> arch;

  // Reads a kernel .config (CONFIG_X=y/n/value, "# CONFIG_X is not set"). Options absent from
  // the file take the kernel's Kconfig defaults, not ours. ENOENT/EACCES if unreadable, EINVAL
  // with the line number for a malformed value.
  static Result<KernelConfig> fromFile(const std::string& path);
  static Result<KernelConfig> fromText(std::string_view text);
};

// Where the architecture came from: --arch, the .config, the tree, or the fallback.
enum class ArchOrigin { kDefault, kOption, kConfig, kTree };

// A release plus its configuration and architecture: the complete answer to "which kernel?".
struct Kernel {
  KernelVersion version;
  KernelConfig config;
  Arch arch = Arch::kArm64;
  ArchOrigin arch_origin = ArchOrigin::kDefault;

  uint64_t pageSize() const { return uint64_t{1} << config.page_shift; }
  // MAX_ORDER-1 in the old sense: the largest buddy order (10 with 4 KiB pages unless the
  // .config forces another; docs/kernel-behaviour.md §11.1).
  unsigned maxOrder() const;
  // CONFIG_HUGETLB_PAGE as the architecture allows it: 32-bit ARM has hugetlb only with LPAE.
  bool hugetlbPages() const { return config.hugetlb && (arch != Arch::kArm || config.arm_lpae); }
  // phys_addr_t is 64 bits (arm64, riscv64, 32-bit ARM with LPAE): %pa prints 16 hex digits, else 8.
  bool physAddr64() const { return arch != Arch::kArm || config.arm_lpae; }
  // pageblock_order (docs/kernel-behaviour.md §6.1, §11.1): HUGETLB_PAGE_ORDER when hugetlb is on (PMD order, 9 with
  // 4 KiB pages), else maxOrder(); capped by CONFIG_PAGE_BLOCK_ORDER from 6.16.
  unsigned pageblockOrder() const;
  uint64_t pageblockBytes() const { return pageSize() << pageblockOrder(); }
  // CMA_MIN_ALIGNMENT_BYTES: max(MAX_ORDER-1, pageblock_order) pages up to 5.18, then one pageblock.
  uint64_t cmaMinAlignmentBytes() const;
  // MAX_RESERVED_REGIONS: 32 up to 5.6, 64 from 5.7.
  unsigned maxReservedRegions() const;
  // MAX_CMA_AREAS: the number of CMA area slots.
  unsigned maxCmaAreas() const;
  // Duplicate heap name errno: EINVAL up to 6.1, EEXIST (from device_create) from 6.2.
  int duplicateHeapNameErrno() const;
  // SET_NAME refuses a buffer with attachments (EBUSY) up to 5.15.
  bool setNameBusyWhenAttached() const { return !version.atLeast(5, 16); }
  bool hasDmaBufHeaps() const { return version.atLeast(5, 6) && config.dmabuf_heaps; }
  bool hasSystemHeap() const { return hasDmaBufHeaps() && config.system_heap; }
  bool hasCmaHeap() const { return hasDmaBufHeaps() && config.cma_heap && config.cma; }
  CmaHeapEra cmaHeapEra() const;
  // EXPORT/IMPORT_SYNC_FILE exist from 6.0.
  bool hasSyncFileIoctls() const { return version.atLeast(6, 0); }

  // ---- Rules of the dma-heap core and the dma-buf ioctls (issue 11, the front door:
  // ---- heap/dmabuf_ioctl.h, heap/heap_naming.h; docs/kernel-behaviour.md §1.6, §2).
  // How dma_heap_add finds a second heap of the same name.
  enum class HeapNameClash {
    kListCheckFirst,     // up to 6.1: the heap list is searched before anything is created, so
                         // the name is refused (EINVAL) before a minor is taken
    kSysfsAtDeviceCreate,  // from 6.2: the list check moved after device_create, whose sysfs name
                           // clash (EEXIST) comes first, after the minor was taken
  };
  HeapNameClash heapNameClash() const;
};

}  // namespace dmaheap

// ================================================================================================
// Named release rules of the device-tree, CMA and memory model (issue 11, deliverable 3).
// Every fact of those parts that changed between releases is one row of the table in kernel.cc:
// a name, the first release it applies to, the last one (or none: still true), and a doc line.
// Code asks `kernel.applies(KernelRule::kX)`; no other file compares versions
// (scripts/lint-kernel-rules.sh enforces that). Sections: docs/kernel-behaviour.md §5 and §6.
// ================================================================================================
namespace dmaheap {

enum class KernelRule {
  kMemoryScanRootChildrenOnly,    // /memory nodes are looked for among the root's children only
  kRmemContainerByPath,           // /reserved-memory is found by path, not by exact child name
  kRmemEarlyLateSplit,            // the reserved-memory scan runs as an early and a late phase
  kNomapMarksMemblock,            // no-map marks memblock NOMAP instead of removing the range
  kNomapRefusesReserved,          // no-map fails (EBUSY) on a range that is already reserved
  kNomapRefusesReservedInRamOnly, // ... and only when the range also overlaps RAM
  kRmemAllocInRangeBottomUp,      // dynamic allocation goes bottom-up next to a neighbour
  kRmemAllocFailLogsSize,         // "failed to allocate memory for node" names the size
  kRmemSummaryLine,               // one "base..end (N KiB) map|nomap ..." line per region
  kRmemHandlerNotMineEnodev,      // a handler's "not my node" is -ENODEV (was -EINVAL)
  kRmemFirstRegPairOnly,          // only the first <base size> pair of reg is reserved
  kRmemInvalidRegLogged,          // an invalid reg length is logged by the scan
  kRmemScanSkipsCmaDefault,       // with cma=, the scan itself skips a linux,cma-default node
  kCmaValidateHook,               // the CMA handler's validate hook rejects the node during the scan
  kCmaCmdlineBypassesDtDefault,   // with cma=, rmem_cma_setup bypasses linux,cma-default
  kRestrictedDmaPool,             // the restricted-dma-pool handler exists
  kCmaLogNamesNode,               // cma_declare_contiguous lines end with " on node -1"
  kCmaFixedBaseChecked,           // a fixed cma= base is checked for alignment and limit
  kCmaDefaultPrefersAbove4G,      // the default area is placed above 4 GiB when RAM allows
  kCmaDeclareReportsFailure,      // the _nid wrapper adds its own "Failed to reserve" line
  kCmaMultiRange,                 // CMA areas are multi-range (cma_validate_zones, no WARN at the edge)
  kCmaActivationStopsOnFailure,   // the first area that cannot be activated stops the rest
  kZoneDmaFixed1G,                // arm64 ZONE_DMA is the first GiB (plus ZONE_DMA32 to 4 GiB)
  kZoneDmaFromDt,                 // arm64 zone limits come from the tree (one DMA zone below 4 GiB)
  // The three zone rules above are arm64's (src/devicetree/zones.cc); arm's and riscv64's follow kZoneDmaLimitAddress.
  kCmaWarnRelease6_1,             // releases whose recorded WARN/Oops details we replay
  kCmaWarnRelease6_12,
  kCmaWarnRelease7_2,
  kWarnFormat7,                   // the 7.x WARNING/Oops line format
  // Behind the named accessors of Kernel above (pageblockOrder, cmaMinAlignmentBytes, ...).
  kReservedRegions64,             // MAX_RESERVED_REGIONS is 64 (was 32)
  kCmaAreasNumaDefault,           // CONFIG_CMA_AREAS defaults to 19 (+1) with NUMA
  kCmaAreasExactCount,            // CONFIG_CMA_AREAS is the slot count (no +1 for the global area)
  kCmaAlignmentIsPageblock,       // CMA_MIN_ALIGNMENT_BYTES is one pageblock (was max(MAX_ORDER-1, pageblock))
  kPageBlockOrderCapped,          // CONFIG_PAGE_BLOCK_ORDER caps pageblock_order
  kCmaHeapDefaultRegionName,      // the default area's heap is "default_cma_region" (+ legacy name)
  kCmaHeapPerRegion,              // one CMA heap per registered area
  kZoneDmaLimitAddress,           // arm64 ZONE_DMA ends at the tree's DMA limit itself (zone_dma_limit), not a power of two
  // 32-bit ARM and RISC-V (docs/kernel-behaviour.md §11).
  kMaxOrderInclusive,             // ARCH_FORCE_MAX_ORDER is MAX_PAGE_ORDER itself (was MAX_ORDER, one more)
  kArmCoherentPoolNeedsNoMap,     // 32-bit ARM: rmem_dma_setup refuses a coherent pool without no-map
  kArmZonesLowHigh,               // 32-bit ARM: ZONE_DMA (machine's dma_zone_size), Normal = lowmem, HighMem
  kRiscvZoneDma32,                // riscv64: ZONE_DMA32 below min(4 GiB, end of RAM), the CMA limit too
  kRmemLateAfterDefaultCma,       // 32-bit ARM, riscv64: the late (static) reserved-memory phase follows the default CMA area
  kArmCmaPastRamCrash,            // 32-bit ARM: how a CMA area outside RAM ends the boot (two WARNs, Bad page state)
  kUnknownBootOptionsLine,        // a kernel without CMA reports cma= among the unknown command-line parameters
  kCmaOutsideRamWarnsTwice,       // 32-bit ARM, riscv64: an area wholly outside RAM hits both WARNs of the activation loop
  kCount
};

// One row: the rule applies to releases since..until, both inclusive; open_ended: no last release.
// `archs`: the architectures whose kernels have the rule (most rules are generic code: all three).
struct KernelRuleInfo {
  KernelRule rule;
  const char* name;
  KernelVersion since;
  KernelVersion until;
  bool open_ended;
  ArchSet archs;
  const char* doc;
  constexpr bool appliesTo(KernelVersion v) const { return since <= v && (open_ended || v <= until); }
  constexpr bool appliesTo(KernelVersion v, Arch a) const { return appliesTo(v) && archs.has(a); }
};

// The whole table, in enum order (for tests and documentation).
const KernelRuleInfo* kernelRuleTable(size_t* count);
const KernelRuleInfo& kernelRuleInfo(KernelRule rule);
// True if `rule` holds for release `v` (whatever the architecture).
bool ruleApplies(KernelRule rule, KernelVersion v);
// True if `rule` holds for this kernel: its release and its architecture.
bool ruleApplies(KernelRule rule, const Kernel& kernel);

}  // namespace dmaheap
