// MemoryModel: a board's RAM as the kernel's page allocator sees it.
//
// Model: RAM is a set of page-aligned ranges ("sections"). Every page of RAM that is not reserved
// belongs to the buddy allocator, in free blocks of order 0..10 (2^order pages, aligned to their
// size in absolute page frames). Pageblocks (2^pageblock_order pages) carry a migrate type:
// unmovable, movable or CMA; free blocks sit on one list per (zone, migrate type, order). Zones:
// DMA32 below 4 GiB, Normal above. CMA areas are ranges of CMA pageblocks with a bitmap of pages
// handed out by cmaAlloc, which places requests first-fit at an alignment counted in absolute
// page frames, exactly as the kernel's cma_alloc does.
//
// Invariants (checked with assertions): a free block never crosses a section, a zone or a
// CMA/non-CMA boundary; no page is both free and allocated; the free counters equal the sum of
// the free lists; every tracked movable page is allocated and owned by exactly one id.
// Metadata: 9 bytes per page plus one byte per pageblock and one bit per CMA page; 4 more bytes
// per page once tracked movable pages are used (the simulation).
//
// Thread safety: every public member takes an internal lock, so heaps in a service may share one
// model. Not copyable.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "base/kernel.h"
#include "base/result.h"
#include "base/types.h"

namespace dmaheap {

enum class MigrateType : uint8_t { kUnmovable = 0, kMovable = 1, kCma = 2 };
inline constexpr int kMigrateTypes = 3;
const char* migrateTypeName(MigrateType t);

enum class Zone : uint8_t { kDma32 = 0, kNormal = 1 };
inline constexpr int kZones = 2;
inline constexpr unsigned kMaxOrder = 10;  // orders 0..10, as MAX_ORDER-1 / MAX_PAGE_ORDER

// What the model is built from: RAM, the parts of it kept from the page allocator, CMA areas.
struct MemoryLayout {
  std::vector<PhysRange> ram;        // need not be sorted; must not overlap
  std::vector<PhysRange> reserved;   // never handed to the page allocator
  struct Area {
    std::string name;
    PhysRange range;                 // must lie in RAM and be pageblock aligned
  };
  std::vector<Area> cma_areas;
};

// Where cmaAlloc looks first. kFirstFit is the kernel's. Ours: kBestFit takes the smallest free
// run of the bitmap that holds the request; kSegregated places small requests (below
// kSegregatedSmallBytes) top-down from the end of the area and large ones first-fit from its
// start, so short-lived small buffers do not cut the runs large ones need.
enum class CmaPlacement { kFirstFit, kBestFit, kSegregated };
inline constexpr uint64_t kSegregatedSmallBytes = 4 << 20;
const char* cmaPlacementName(CmaPlacement p);

// What one cmaAlloc cost: pages copied by migration (including copies wasted on candidates that
// turned out busy) and candidates abandoned because of a pinned page.
struct CmaAllocStats {
  uint64_t pages_migrated = 0;
  uint64_t busy_candidates = 0;
};

// Where a tracked movable page may come from: by the kernel's rule (allocMovablePage), or only
// from CMA pageblocks (as the rule's CMA fallback takes them, or the highest free CMA page), or
// only from elsewhere: pages whose kind was measured on a real kernel, such as those on its
// per-CPU lists (docs/traces.md, "CMA scenarios").
enum class MovableSource { kByRule, kCma, kCmaHighest, kNotCma };

struct MovablePageId {
  uint32_t value = 0;
  bool operator==(const MovablePageId&) const = default;
};

// A block of pages allocated from the buddy allocator.
struct PageBlock {
  Pfn pfn;
  unsigned order = 0;
};

// Counters for one zone or the whole model.
struct FreeStats {
  uint64_t total_pages = 0;          // pages managed by the buddy allocator
  uint64_t free_pages = 0;
  uint64_t free_cma_pages = 0;       // part of free_pages on CMA pageblocks
  uint64_t largest_free_block_pages = 0;  // largest free buddy block outside CMA areas
};

class MemoryModel {
 public:
  // EINVAL if the layout is inconsistent (overlapping RAM, CMA areas outside RAM or misaligned
  // to the pageblock, more pages than 2^32), with a sentence saying which range.
  static Result<std::unique_ptr<MemoryModel>> create(const Kernel& kernel, const MemoryLayout& layout);

  MemoryModel(const MemoryModel&) = delete;
  MemoryModel& operator=(const MemoryModel&) = delete;
  ~MemoryModel();

  const Kernel& kernel() const { return kernel_; }
  uint64_t pageSize() const { return page_size_; }
  unsigned pageShift() const { return page_shift_; }
  unsigned pageblockOrder() const { return pageblock_order_; }

  // alloc_pages(order) for an unmovable or movable request: Normal zone first, then DMA32;
  // falls back to the other of unmovable/movable as the kernel does (stealing a whole pageblock
  // when it can). Movable requests may also use CMA pageblocks. ENOMEM when nothing fits.
  Result<PageBlock> allocPages(unsigned order, MigrateType type);
  // The same from `highest_zone` and the zones below it only, as a GFP_DMA32 request does:
  // Zone::kDma32 gives pages below 4 GiB (ENOMEM when that zone has none free).
  Result<PageBlock> allocPages(unsigned order, MigrateType type, Zone highest_zone);
  // Gives a block from allocPages back; merges with free buddies.
  void freePages(PageBlock block);

  size_t cmaAreaCount() const;
  std::string cmaAreaName(size_t area) const;
  PhysRange cmaAreaRange(size_t area) const;
  uint64_t cmaAreaFreePages(size_t area) const;
  // Longest run of free pages in the area's bitmap.
  uint64_t cmaAreaLargestFreeRun(size_t area) const;
  // cma_alloc(area, count, align): count pages aligned to 2^align_order page frames (absolute).
  // The candidate range is isolated and movable pages borrowed from it are migrated elsewhere;
  // a pinned page makes the candidate busy (EBUSY inside) and the next candidate is tried, as the
  // kernel does. EINVAL for count 0; ENOMEM when no candidate works or count exceeds the area.
  // `stats` (optional) receives the migration cost, also on failure.
  Result<Pfn> cmaAlloc(size_t area, uint64_t count, unsigned align_order,
                       CmaPlacement placement = CmaPlacement::kFirstFit, CmaAllocStats* stats = nullptr);
  // cma_release: EINVAL (and nothing changes) if the range is not an allocated range of the area.
  Status cmaRelease(size_t area, Pfn pfn, uint64_t count);

  // Taking back exactly the pages a buffer of an earlier run of the service holds (a restarted
  // dmaheapd rebuilding its allocator, docs/service-restart.md). Nothing changes on failure.
  // cmaClaim: [pfn, pfn + count) inside the area, none of it allocated from the area's bitmap
  // and every page free in the buddy allocator (EINVAL outside the area, EBUSY otherwise); then
  // it is allocated as if cmaAlloc had returned it, and cmaRelease gives it back.
  Status cmaClaim(size_t area, Pfn pfn, uint64_t count);
  // claimPages: the block of 2^order pages at `pfn` (aligned to its size), every page free in the
  // buddy allocator and none on a CMA pageblock (EINVAL for a misaligned block or one outside
  // RAM, EBUSY otherwise); then allocated as if allocPages had returned it, for freePages.
  Result<PageBlock> claimPages(Pfn pfn, unsigned order);

  // Tracked movable pages: order-0 pages of page cache or anonymous memory that cmaAlloc may
  // migrate. They prefer CMA pageblocks when more than half of a zone's free pages are CMA, as
  // the kernel's __rmqueue does. A pinned page cannot be migrated. Ids are reused after free.
  // ENOMEM when no page is free.
  Result<MovablePageId> allocMovablePage(bool pinned, MovableSource source = MovableSource::kByRule);
  // The kernel's per-CPU vmstat counters: the CMA rule above reads a zone's free and free-CMA
  // counts as last published, republished once they drifted by more than `pages` (the kernel's
  // stat threshold, docs/kernel-behaviour.md §6.8). 0 (the default): exact counts.
  void setVmstatThreshold(uint64_t pages);
  void freeMovablePage(MovablePageId id);
  Pfn movablePagePfn(MovablePageId id) const;
  bool movablePagePinned(MovablePageId id) const;
  void setMovablePagePinned(MovablePageId id, bool pinned);
  // Tracked movable pages currently inside the CMA area (borrowed), and how many are pinned.
  uint64_t cmaAreaBorrowedPages(size_t area) const;
  uint64_t cmaAreaPinnedPages(size_t area) const;
  // Pageblocks of the area with every page free in the buddy allocator (no CMA buffer, no
  // borrowed page): what an allocation can take without migrating anything.
  uint64_t cmaAreaFreePageblocks(size_t area) const;

  FreeStats stats() const;
  FreeStats zoneStats(Zone zone) const;
  MigrateType pageblockType(Pfn pfn) const;
  Zone zoneOf(Pfn pfn) const;
  bool isRam(Pfn pfn) const;

  // Bytes of metadata the model holds (arrays and bitmaps), for the footprint benchmark.
  uint64_t metadataBytes() const;

  // A canonical description of the free state: every free block (pfn, order, list type) plus
  // every CMA bitmap. Two equal snapshots mean the allocator is in the same state.
  std::string snapshot() const;
  // Only the free blocks (pfn, order), without migrate types: what "all memory came back" means
  // even when pageblocks changed type on the way (the kernel never changes them back).
  std::string freeBlockSnapshot() const;

  // Verifies every invariant; aborts on violation. For tests.
  void checkInvariants() const;

 private:
  struct Impl;
  MemoryModel(const Kernel& kernel, std::unique_ptr<Impl> impl);
  Kernel kernel_;
  uint64_t page_size_;
  unsigned page_shift_;
  unsigned pageblock_order_;
  std::unique_ptr<Impl> impl_;
  mutable std::mutex mu_;
};

}  // namespace dmaheap
