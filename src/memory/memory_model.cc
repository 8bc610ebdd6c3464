// The buddy allocator, pageblocks, zones and CMA bitmaps of MemoryModel.
#include "memory/memory_model.h"

#include <algorithm>
#include <cassert>
#include <cstdio>
#include <cstdlib>
#include <sys/mman.h>
#include <sstream>

#include "base/size.h"
#include "memory/cma_bitmap.h"

namespace dmaheap {

const char* migrateTypeName(MigrateType t) {
  switch (t) {
    case MigrateType::kUnmovable: return "unmovable";
    case MigrateType::kMovable: return "movable";
    case MigrateType::kCma: return "cma";
  }
  return "?";
}

namespace {

constexpr uint32_t kNil = 0xffffffffu;
constexpr uint8_t kNotFree = 0xff;

// Per-page metadata (one entry per page of RAM: hundreds of MiB for a large board) in anonymous
// memory that the kernel hands out zeroed. Building a board writes only the entries of the free
// heads, one per max-order block, which is one entry per 4 KiB page of the next/prev arrays:
// with 4 KiB pages that is one page fault per entry, and the faults, not our work, were the
// build's cost (and grew faster than the board). Arrays of 2 MiB and more ask for transparent
// huge pages (MADV_HUGEPAGE; this host's THP mode is "madvise"), as the kernel maps its own
// memmap with PMD-sized pages: 512 times fewer faults for the same bytes zeroed.
template <typename T>
class PageArray {
 public:
  PageArray() = default;
  PageArray(const PageArray&) = delete;
  PageArray& operator=(const PageArray&) = delete;
  ~PageArray() { release(); }
  bool allocate(uint64_t count) {
    release();
    bytes_ = count * sizeof(T);
    void* p = ::mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
      bytes_ = 0;
      return false;
    }
    if (bytes_ >= (uint64_t{2} << 20)) ::madvise(p, bytes_, MADV_HUGEPAGE);  // a hint: failure is harmless
    data_ = static_cast<T*>(p);
    return true;
  }
  T& operator[](uint64_t i) { return data_[i]; }
  const T& operator[](uint64_t i) const { return data_[i]; }

 private:
  void release() {
    if (data_) ::munmap(data_, bytes_);
    data_ = nullptr;
  }
  T* data_ = nullptr;
  uint64_t bytes_ = 0;
};

// The per-page "free block of order N starts here" byte, stored as N + 1 so that the zero the
// kernel fills a fresh array with means "not free" and the array needs no first pass.
class FreeOrders {
 public:
  bool allocate(uint64_t pages) { return bytes_.allocate(pages); }
  uint8_t get(uint64_t i) const { return bytes_[i] == 0 ? kNotFree : static_cast<uint8_t>(bytes_[i] - 1); }
  void set(uint64_t i, uint8_t order) { bytes_[i] = order == kNotFree ? 0 : static_cast<uint8_t>(order + 1); }

 private:
  PageArray<uint8_t> bytes_;
};
constexpr uint64_t k4GiB = uint64_t{4} << 30;

[[noreturn]] void invariantFailed(const char* what) {
  std::fprintf(stderr, "dmaheap: memory model invariant violated: %s\n", what);
  std::abort();
}
#define DMAHEAP_CHECK(cond) \
  do {                      \
    if (!(cond)) invariantFailed(#cond); \
  } while (0)

}  // namespace

struct MemoryModel::Impl {
  struct Section {
    uint64_t start_pfn;
    uint64_t pages;
    uint32_t first_index;  // index of start_pfn in the per-page arrays
  };
  struct CmaArea {
    std::string name;
    uint64_t base_pfn;
    uint64_t count;
    CmaBitmap bitmap;
  };

  unsigned page_shift = 12;
  unsigned pageblock_order = 9;
  uint64_t dma32_end_pfn = 0;
  std::vector<Section> sections;
  uint64_t total_index = 0;
  // Per page: order of the free block that starts here, or kNotFree (FreeOrders).
  FreeOrders free_order;
  PageArray<uint32_t> next;  // only meaningful for free heads
  PageArray<uint32_t> prev;
  // Per pageblock (indexed like pages >> pageblock_order within the section; see blockIndex).
  std::vector<uint8_t> block_type;
  std::vector<uint32_t> section_first_block;
  // List heads per zone, type, order.
  uint32_t head[kZones][kMigrateTypes][kMaxOrder + 1];
  uint64_t nr_free[kZones][kMigrateTypes][kMaxOrder + 1] = {};
  uint64_t managed[kZones] = {};
  std::vector<CmaArea> cma;
  // Tracked movable pages (the simulation's page cache): owner id per page, made on first use.
  std::unique_ptr<uint32_t[]> owner;
  std::vector<uint64_t> movable_pfn;    // id -> pfn, kNoPfn when the id is free
  std::vector<uint8_t> movable_pinned;  // id -> pinned
  std::vector<uint32_t> free_ids;
  std::vector<uint64_t> cma_borrowed;   // per area: tracked movable pages inside it
  std::vector<uint64_t> cma_pinned;     // per area: of those, pinned
  static constexpr uint64_t kNoPfn = ~uint64_t{0};
  // The vmstat model (setVmstatThreshold): 0 off; the counters the CMA rule last read.
  uint64_t vmstat_threshold = 0;
  uint64_t pub_free[kZones] = {kNoPfn, kNoPfn};
  uint64_t pub_free_cma[kZones] = {kNoPfn, kNoPfn};

  int areaOf(uint64_t pfn) const {
    for (size_t i = 0; i < cma.size(); ++i)
      if (pfn - cma[i].base_pfn < cma[i].count) return static_cast<int>(i);
    return -1;
  }
  uint32_t ownerOf(uint64_t pfn) const { return owner ? owner[indexOf(pfn)] : kNil; }
  void setOwner(uint64_t pfn, uint32_t id) {
    if (!owner) {
      owner.reset(new uint32_t[total_index]);
      std::fill_n(owner.get(), total_index, kNil);
    }
    const int area = areaOf(pfn);
    const uint32_t old = owner[indexOf(pfn)];
    if (area >= 0) {
      if (old != kNil) {
        cma_borrowed[static_cast<size_t>(area)]--;
        if (movable_pinned[old]) cma_pinned[static_cast<size_t>(area)]--;
      }
      if (id != kNil) {
        cma_borrowed[static_cast<size_t>(area)]++;
        if (movable_pinned[id]) cma_pinned[static_cast<size_t>(area)]++;
      }
    }
    owner[indexOf(pfn)] = id;
  }

  uint64_t zoneFree(int z, int t) const {
    uint64_t n = 0;
    for (unsigned o = 0; o <= kMaxOrder; ++o) n += nr_free[z][t][o] << o;
    return n;
  }

  // alloc_pages for unmovable/movable requests: the zonelist, the CMA balance rule for movable
  // requests, then fallbacks.
  bool allocInternal(unsigned order, MigrateType type, uint64_t* pfn, Zone highest = Zone::kNormal,
                     MovableSource source = MovableSource::kByRule) {
    for (int z = static_cast<int>(highest); z >= 0; --z) {
      if (source == MovableSource::kCma) {
        if (takeSmallest(z, MigrateType::kCma, order, pfn)) return true;
        continue;
      }
      if (source == MovableSource::kCmaHighest) {
        if (order == 0 && takeHighestPage(z, MigrateType::kCma, pfn)) return true;
        continue;
      }
      if (type == MigrateType::kMovable && source == MovableSource::kByRule) {
        uint64_t free_all = 0;
        for (int t = 0; t < kMigrateTypes; ++t) free_all += zoneFree(z, t);
        uint64_t free_cma = zoneFree(z, static_cast<int>(MigrateType::kCma));
        if (vmstat_threshold) {
          // The counters as the kernel reads them: a CPU's changes reach them only once they
          // exceed the threshold (docs/kernel-behaviour.md §6.8), so the rule sees them late and
          // takes runs of pages from one side.
          const auto published = [&](uint64_t live, uint64_t& pub) {
            if (pub == kNoPfn || (live > pub ? live - pub : pub - live) > vmstat_threshold) pub = live;
            return pub;
          };
          free_all = published(free_all, pub_free[z]);
          free_cma = published(free_cma, pub_free_cma[z]);
        }
        if (free_cma > free_all / 2 && takeSmallest(z, MigrateType::kCma, order, pfn)) return true;
      }
      if (takeSmallest(z, type, order, pfn)) return true;
      if (type == MigrateType::kMovable && source == MovableSource::kByRule &&
          takeSmallest(z, MigrateType::kCma, order, pfn))
        return true;
      if (takeFallback(z, type, order, pfn)) return true;
    }
    return false;
  }

  // ---- page indexing ----
  const Section* sectionOf(uint64_t pfn) const {
    auto it = std::upper_bound(sections.begin(), sections.end(), pfn,
                               [](uint64_t p, const Section& s) { return p < s.start_pfn; });
    if (it == sections.begin()) return nullptr;
    --it;
    if (pfn - it->start_pfn >= it->pages) return nullptr;
    return &*it;
  }
  uint32_t indexOf(uint64_t pfn) const {
    const Section* s = sectionOf(pfn);
    DMAHEAP_CHECK(s != nullptr);
    return static_cast<uint32_t>(s->first_index + (pfn - s->start_pfn));
  }
  uint64_t pfnOf(uint32_t index) const {
    auto it = std::upper_bound(sections.begin(), sections.end(), index,
                               [](uint32_t i, const Section& s) { return i < s.first_index; });
    --it;
    return it->start_pfn + (index - it->first_index);
  }
  size_t blockIndex(const Section& s, uint64_t pfn) const {
    const uint64_t first_block = s.start_pfn >> pageblock_order;
    return section_first_block[static_cast<size_t>(&s - sections.data())] +
           static_cast<size_t>((pfn >> pageblock_order) - first_block);
  }
  MigrateType typeOf(uint64_t pfn) const {
    const Section* s = sectionOf(pfn);
    DMAHEAP_CHECK(s != nullptr);
    return static_cast<MigrateType>(block_type[blockIndex(*s, pfn)]);
  }
  void setType(uint64_t pfn, MigrateType t) {
    const Section* s = sectionOf(pfn);
    DMAHEAP_CHECK(s != nullptr);
    block_type[blockIndex(*s, pfn)] = static_cast<uint8_t>(t);
  }
  Zone zoneOf(uint64_t pfn) const { return pfn < dma32_end_pfn ? Zone::kDma32 : Zone::kNormal; }

  // ---- free lists ----
  void listAdd(uint64_t pfn, unsigned order, MigrateType t) {
    const uint32_t i = indexOf(pfn);
    const int z = static_cast<int>(zoneOf(pfn));
    const int ti = static_cast<int>(t);
    uint32_t& h = head[z][ti][order];
    free_order.set(i, static_cast<uint8_t>(order));
    prev[i] = kNil;
    next[i] = h;
    if (h != kNil) prev[h] = i;
    h = i;
    nr_free[z][ti][order]++;
  }
  // The list a free block sits on is recorded by its type at insertion; we recover it from the
  // pageblock type, which never changes while a block is free except through moveBlockType.
  void listDel(uint64_t pfn, unsigned order, MigrateType t) {
    const uint32_t i = indexOf(pfn);
    const int z = static_cast<int>(zoneOf(pfn));
    const int ti = static_cast<int>(t);
    DMAHEAP_CHECK(free_order.get(i) == order);
    if (prev[i] != kNil) next[prev[i]] = next[i];
    else head[z][ti][order] = next[i];
    if (next[i] != kNil) prev[next[i]] = prev[i];
    free_order.set(i, kNotFree);
    nr_free[z][ti][order]--;
  }

  bool isFreeHead(uint64_t pfn, unsigned order) const {
    const Section* s = sectionOf(pfn);
    if (!s) return false;
    return free_order.get(s->first_index + (pfn - s->start_pfn)) == order;
  }

  // Two blocks may merge only inside one section, one zone, and never across CMA and non-CMA.
  bool mayMerge(uint64_t a, uint64_t b) const {
    if (zoneOf(a) != zoneOf(b)) return false;
    const bool ca = typeOf(a) == MigrateType::kCma;
    const bool cb = typeOf(b) == MigrateType::kCma;
    return ca == cb;
  }

  // __free_one_page: merge upwards while the buddy is a free block of the same order.
  void freeOne(uint64_t pfn, unsigned order) {
    while (order < kMaxOrder) {
      const uint64_t buddy = pfn ^ (uint64_t{1} << order);
      const Section* s = sectionOf(pfn);
      const Section* bs = sectionOf(buddy);
      if (bs == nullptr || bs != s) break;
      if (!isFreeHead(buddy, order)) break;
      if (!mayMerge(pfn, buddy)) break;
      listDel(buddy, order, typeOf(buddy));
      pfn = std::min(pfn, buddy);
      ++order;
    }
    // A block spanning several pageblocks takes the type of its first one, so that every free
    // block sits on the list of each of its pageblocks (as kernels from 6.9 do when merging).
    const MigrateType t = typeOf(pfn);
    if (order > pageblock_order) {
      for (uint64_t b = 0; b < (uint64_t{1} << order); b += uint64_t{1} << pageblock_order) setType(pfn + b, t);
    }
    listAdd(pfn, order, t);
  }

  // Frees [pfn, pfn+count) as maximal aligned blocks, merging (like __free_pages_memory).
  void freeRange(uint64_t pfn, uint64_t count) {
    const uint64_t end = pfn + count;
    while (pfn < end) {
      unsigned order = kMaxOrder;
      while (order > 0 && ((pfn & ((uint64_t{1} << order) - 1)) != 0 || pfn + (uint64_t{1} << order) > end)) --order;
      freeOne(pfn, order);
      pfn += uint64_t{1} << order;
    }
  }

  // expand(): the block at pfn of order `high` was taken for a request of order `low`; hand the
  // upper halves back to the free lists of type t.
  void expand(uint64_t pfn, unsigned low, unsigned high, MigrateType t) {
    while (high > low) {
      --high;
      listAdd(pfn + (uint64_t{1} << high), high, t);
    }
  }

  // The highest free page of type t in zone z (the last page of the highest free block; the
  // rest of that block stays free as smaller blocks below it).
  bool takeHighestPage(int z, MigrateType t, uint64_t* out) {
    const int ti = static_cast<int>(t);
    bool found = false;
    uint64_t best = 0;
    unsigned best_order = 0;
    for (unsigned o = 0; o <= kMaxOrder; ++o)
      for (uint32_t i = head[z][ti][o]; i != kNil; i = next[i]) {
        const uint64_t pfn = pfnOf(i);
        if (!found || pfn > best) {
          found = true;
          best = pfn;
          best_order = o;
        }
      }
    if (!found) return false;
    listDel(best, best_order, t);
    uint64_t pfn = best;
    for (unsigned o = best_order; o > 0;) {
      --o;
      listAdd(pfn, o, t);
      pfn += uint64_t{1} << o;
    }
    *out = pfn;
    return true;
  }

  // __rmqueue_smallest for one zone and type.
  bool takeSmallest(int z, MigrateType t, unsigned order, uint64_t* out) {
    const int ti = static_cast<int>(t);
    for (unsigned o = order; o <= kMaxOrder; ++o) {
      const uint32_t i = head[z][ti][o];
      if (i == kNil) continue;
      const uint64_t pfn = pfnOf(i);
      listDel(pfn, o, t);
      expand(pfn, order, o, t);
      *out = pfn;
      return true;
    }
    return false;
  }

  // Changes the type of the pageblock holding pfn, moving its free blocks to the new lists.
  void convertPageblock(uint64_t pfn, MigrateType to) {
    const uint64_t start = pfn & ~((uint64_t{1} << pageblock_order) - 1);
    const uint64_t end = start + (uint64_t{1} << pageblock_order);
    const MigrateType from = typeOf(pfn);
    if (from == to) return;
    // Free blocks larger than a pageblock that contain this one: only possible for order >
    // pageblock_order, which the caller handles by converting each pageblock of the block.
    for (uint64_t p = start; p < end;) {
      const Section* s = sectionOf(p);
      if (!s) { ++p; continue; }
      const uint8_t o = free_order.get(s->first_index + (p - s->start_pfn));
      if (o != kNotFree && o <= pageblock_order) {
        listDel(p, o, from);
        listAdd(p, o, to);
        p += uint64_t{1} << o;
      } else {
        ++p;
      }
    }
    setType(start, to);
  }

  // __rmqueue_fallback: steal the largest block of the other non-CMA type.
  bool takeFallback(int z, MigrateType want, unsigned order, uint64_t* out) {
    const MigrateType other = want == MigrateType::kUnmovable ? MigrateType::kMovable : MigrateType::kUnmovable;
    const int oi = static_cast<int>(other);
    for (int o = static_cast<int>(kMaxOrder); o >= static_cast<int>(order); --o) {
      const uint32_t i = head[z][oi][o];
      if (i == kNil) continue;
      const uint64_t pfn = pfnOf(i);
      const unsigned uo = static_cast<unsigned>(o);
      if (uo >= pageblock_order) {
        // A whole pageblock (or more) is stolen: it changes type, and the rest of it follows.
        listDel(pfn, uo, other);
        for (uint64_t b = 0; b < (uint64_t{1} << uo); b += uint64_t{1} << pageblock_order) setType(pfn + b, want);
        expand(pfn, order, uo, want);
      } else {
        // Part of a pageblock: unmovable requests claim the pageblock (steal_suitable_fallback);
        // movable ones claim it when the block is at least half a pageblock.
        const bool claim = want == MigrateType::kUnmovable || uo >= pageblock_order / 2;
        if (claim) {
          convertPageblock(pfn, want);
          listDel(pfn, uo, want);
          expand(pfn, order, uo, want);
        } else {
          listDel(pfn, uo, other);
          expand(pfn, order, uo, other);
        }
      }
      *out = pfn;
      return true;
    }
    return false;
  }

  bool findFreeBlock(uint64_t p, uint64_t* head_pfn, unsigned* order) const {
    for (unsigned o = 0; o <= kMaxOrder; ++o) {
      const uint64_t h = p & ~((uint64_t{1} << o) - 1);
      if (isFreeHead(h, o)) {
        *head_pfn = h;
        *order = o;
        return true;
      }
    }
    return false;
  }

  // Takes every free page of [pfn, pfn+count) off the free lists (the kernel isolates the
  // pageblocks); returns the pages of the range that are allocated, in address order.
  std::vector<uint64_t> isolateFreeIn(uint64_t pfn, uint64_t count) {
    std::vector<uint64_t> allocated;
    const uint64_t end = pfn + count;
    uint64_t p = pfn;
    while (p < end) {
      uint64_t h = 0;
      unsigned o = 0;
      if (!findFreeBlock(p, &h, &o)) {
        allocated.push_back(p++);
        continue;
      }
      const MigrateType t = typeOf(h);
      listDel(h, o, t);
      const uint64_t bend = h + (uint64_t{1} << o);
      // The parts of the block outside the range go back; they cannot merge with anything
      // outside the block, which was maximal.
      addAlignedNoMerge(h, std::max(h, std::min(pfn, bend)), t);
      addAlignedNoMerge(std::min(bend, std::max(end, h)), bend, t);
      p = bend;
    }
    return allocated;
  }

  // Undoes a failed isolation: every page of the range not owned by a movable page goes back.
  void releaseIsolated(uint64_t pfn, uint64_t count) {
    const uint64_t end = pfn + count;
    uint64_t run = pfn;
    for (uint64_t p = pfn; p <= end; ++p) {
      const bool busy = p < end && ownerOf(p) != kNil;
      if (p == end || busy) {
        if (p > run) freeRange(run, p - run);
        run = p + 1;
      }
    }
  }

  enum class Claim { kOk, kBusy, kNoMemory };

  // alloc_contig_range on [pfn, pfn+count): isolate, then migrate each borrowed movable page
  // elsewhere in address order. A pinned or untracked page makes the range busy; pages already
  // migrated stay where they went, as in the kernel.
  Claim claimRange(uint64_t pfn, uint64_t count, CmaAllocStats* stats) {
    const std::vector<uint64_t> allocated = isolateFreeIn(pfn, count);
    // A pinned page does not stop the migration of the others: the kernel migrates every page of
    // the range it can and only then finds the range busy, so those copies are made (and stay
    // moved) for nothing (docs/kernel-behaviour.md §6.8, observed in oracle/cma-scenarios).
    bool pinned_seen = false;
    for (uint64_t p : allocated) {
      const uint32_t id = ownerOf(p);
      if (id == kNil) {
        releaseIsolated(pfn, count);
        return Claim::kBusy;
      }
      if (movable_pinned[id]) {
        pinned_seen = true;
        continue;
      }
      uint64_t dest = 0;
      if (!allocInternal(0, MigrateType::kMovable, &dest)) {
        releaseIsolated(pfn, count);
        return Claim::kNoMemory;
      }
      setOwner(p, kNil);
      setOwner(dest, id);
      movable_pfn[id] = dest;
      stats->pages_migrated++;
    }
    if (pinned_seen) {
      releaseIsolated(pfn, count);
      return Claim::kBusy;
    }
    return Claim::kOk;
  }

  // Every page of [pfn, pfn+count) is RAM, free in the buddy allocator and untracked.
  bool allFree(uint64_t pfn, uint64_t count) const {
    const uint64_t end = pfn + count;
    for (uint64_t p = pfn; p < end;) {
      uint64_t h = 0;
      unsigned o = 0;
      if (!findFreeBlock(p, &h, &o)) return false;
      p = h + (uint64_t{1} << o);
    }
    return true;
  }

  void addAlignedNoMerge(uint64_t from, uint64_t to, MigrateType t) {
    while (from < to) {
      unsigned order = kMaxOrder;
      while (order > 0 && ((from & ((uint64_t{1} << order) - 1)) != 0 || from + (uint64_t{1} << order) > to)) --order;
      listAdd(from, order, t);
      from += uint64_t{1} << order;
    }
  }
};

Result<std::unique_ptr<MemoryModel>> MemoryModel::create(const Kernel& kernel, const MemoryLayout& layout) {
  auto impl = std::make_unique<Impl>();
  const unsigned shift = kernel.config.page_shift;
  const uint64_t page = uint64_t{1} << shift;
  impl->page_shift = shift;
  impl->pageblock_order = kernel.pageblockOrder();
  impl->dma32_end_pfn = k4GiB >> shift;
  const uint64_t block_bytes = page << impl->pageblock_order;

  std::vector<PhysRange> ram = layout.ram;
  std::sort(ram.begin(), ram.end(), [](const PhysRange& a, const PhysRange& b) { return a.base < b.base; });
  uint64_t total = 0;
  for (size_t i = 0; i < ram.size(); ++i) {
    const PhysRange& r = ram[i];
    if (r.size == 0) continue;
    if (r.base % page || r.size % page) {
      return makeError(EINVAL, "RAM range " + formatAddr(r.base) + " size " + formatSize(r.size) + " is not page aligned");
    }
    if (r.end() < r.base) return makeError(EINVAL, "RAM range at " + formatAddr(r.base) + " wraps around");
    if (i + 1 < ram.size() && ram[i + 1].base < r.end()) {
      return makeError(EINVAL, "RAM ranges at " + formatAddr(r.base) + " and " + formatAddr(ram[i + 1].base) + " overlap");
    }
    // Merge adjacent ranges into one section so buddies may span them, as in the kernel.
    if (!impl->sections.empty() && impl->sections.back().start_pfn + impl->sections.back().pages == r.base >> shift) {
      impl->sections.back().pages += r.size >> shift;
    } else {
      impl->sections.push_back({r.base >> shift, r.size >> shift, static_cast<uint32_t>(total)});
    }
    total += r.size >> shift;
    if (total >= kNil) return makeError(EINVAL, "more than 2^32 pages of RAM are not supported");
  }
  if (impl->sections.empty()) return makeError(EINVAL, "the board has no RAM");
  impl->total_index = total;
  if (!impl->free_order.allocate(total)) return makeError(ENOMEM, "no memory for the page metadata of " + formatSize(total << shift));
  if (!impl->next.allocate(total) || !impl->prev.allocate(total)) {
    return makeError(ENOMEM, "no memory for the page metadata of " + formatSize(total << shift));
  }
  for (auto& z : impl->head)
    for (auto& t : z)
      for (auto& h : t) h = kNil;
  size_t blocks = 0;
  for (const auto& s : impl->sections) {
    impl->section_first_block.push_back(static_cast<uint32_t>(blocks));
    const uint64_t first = s.start_pfn >> impl->pageblock_order;
    const uint64_t last = (s.start_pfn + s.pages - 1) >> impl->pageblock_order;
    blocks += static_cast<size_t>(last - first + 1);
  }
  impl->block_type.assign(blocks, static_cast<uint8_t>(MigrateType::kMovable));

  // CMA areas: pageblock aligned, inside one section.
  for (const auto& a : layout.cma_areas) {
    const PhysRange& r = a.range;
    if (r.size == 0 || r.base % block_bytes || r.size % block_bytes) {
      return makeError(EINVAL, "CMA area '" + a.name + "' at " + formatAddr(r.base) + " is not aligned to the pageblock size " + formatSize(block_bytes));
    }
    const Impl::Section* s = impl->sectionOf(r.base >> shift);
    if (!s || (r.end() >> shift) - s->start_pfn > s->pages) {
      return makeError(EINVAL, "CMA area '" + a.name + "' at " + formatAddr(r.base) + " is not inside RAM");
    }
    for (const auto& other : impl->cma) {
      const PhysRange o{other.base_pfn << shift, other.count << shift};
      if (o.overlaps(r)) return makeError(EINVAL, "CMA areas '" + other.name + "' and '" + a.name + "' overlap");
    }
    Impl::CmaArea area{a.name, r.base >> shift, r.size >> shift, CmaBitmap(r.base >> shift, r.size >> shift)};
    impl->cma.push_back(std::move(area));
  }
  impl->cma_borrowed.assign(impl->cma.size(), 0);
  impl->cma_pinned.assign(impl->cma.size(), 0);
  for (const auto& area : impl->cma)
    for (uint64_t p = area.base_pfn; p < area.base_pfn + area.count; p += uint64_t{1} << impl->pageblock_order)
      impl->setType(p, MigrateType::kCma);

  // Every RAM page not reserved goes to the buddy allocator.
  std::vector<PhysRange> reserved;
  for (const auto& r : layout.reserved) {
    if (r.size == 0) continue;
    const uint64_t b = alignDown(r.base, page);
    reserved.push_back({b, alignUp(r.end(), page) - b});
  }
  std::sort(reserved.begin(), reserved.end(), [](const PhysRange& a, const PhysRange& b) { return a.base < b.base; });
  for (const auto& area : impl->cma) {
    const PhysRange ar{area.base_pfn << shift, area.count << shift};
    for (const auto& r : reserved)
      if (r.overlaps(ar)) return makeError(EINVAL, "CMA area '" + area.name + "' overlaps a reserved range at " + formatAddr(r.base));
  }
  for (const auto& s : impl->sections) {
    uint64_t p = s.start_pfn;
    const uint64_t end = s.start_pfn + s.pages;
    for (const auto& r : reserved) {
      const uint64_t rb = r.base >> shift;
      const uint64_t re = r.end() >> shift;
      if (re <= p || rb >= end) continue;
      if (rb > p) impl->freeRange(p, rb - p);
      p = std::max(p, re);
    }
    if (p < end) impl->freeRange(p, end - p);
  }
  // Managed pages per zone: everything free now, since nothing is allocated yet.
  for (int z = 0; z < kZones; ++z)
    for (int t = 0; t < kMigrateTypes; ++t)
      for (unsigned o = 0; o <= kMaxOrder; ++o) impl->managed[z] += impl->nr_free[z][t][o] << o;
  return std::unique_ptr<MemoryModel>(new MemoryModel(kernel, std::move(impl)));
}

MemoryModel::MemoryModel(const Kernel& kernel, std::unique_ptr<Impl> impl)
    : kernel_(kernel),
      page_size_(uint64_t{1} << impl->page_shift),
      page_shift_(impl->page_shift),
      pageblock_order_(impl->pageblock_order),
      impl_(std::move(impl)) {}

MemoryModel::~MemoryModel() = default;

Result<PageBlock> MemoryModel::allocPages(unsigned order, MigrateType type) {
  return allocPages(order, type, Zone::kNormal);
}

Result<PageBlock> MemoryModel::allocPages(unsigned order, MigrateType type, Zone highest_zone) {
  if (order > kMaxOrder) return makeError(EINVAL, "order " + std::to_string(order) + " is above the maximum order 10");
  if (type == MigrateType::kCma) return makeError(EINVAL, "CMA pages come from cmaAlloc, not allocPages");
  std::lock_guard lock(mu_);
  uint64_t pfn = 0;
  if (impl_->allocInternal(order, type, &pfn, highest_zone)) return PageBlock{Pfn{pfn}, order};
  return makeError(ENOMEM, "no free block of order " + std::to_string(order));
}

void MemoryModel::setVmstatThreshold(uint64_t pages) {
  std::lock_guard lock(mu_);
  impl_->vmstat_threshold = pages;
  for (int z = 0; z < kZones; ++z) impl_->pub_free[z] = impl_->pub_free_cma[z] = Impl::kNoPfn;
}

Result<MovablePageId> MemoryModel::allocMovablePage(bool pinned, MovableSource source) {
  std::lock_guard lock(mu_);
  uint64_t pfn = 0;
  if (!impl_->allocInternal(0, MigrateType::kMovable, &pfn, Zone::kNormal, source)) {
    return makeError(ENOMEM, "no free page");
  }
  uint32_t id;
  if (!impl_->free_ids.empty()) {
    id = impl_->free_ids.back();
    impl_->free_ids.pop_back();
  } else {
    id = static_cast<uint32_t>(impl_->movable_pfn.size());
    impl_->movable_pfn.push_back(Impl::kNoPfn);
    impl_->movable_pinned.push_back(0);
  }
  impl_->movable_pfn[id] = pfn;
  impl_->movable_pinned[id] = pinned ? 1 : 0;
  impl_->setOwner(pfn, id);
  return MovablePageId{id};
}

void MemoryModel::freeMovablePage(MovablePageId id) {
  std::lock_guard lock(mu_);
  DMAHEAP_CHECK(id.value < impl_->movable_pfn.size() && impl_->movable_pfn[id.value] != Impl::kNoPfn);
  const uint64_t pfn = impl_->movable_pfn[id.value];
  impl_->setOwner(pfn, kNil);
  impl_->movable_pfn[id.value] = Impl::kNoPfn;
  impl_->movable_pinned[id.value] = 0;
  impl_->free_ids.push_back(id.value);
  impl_->freeOne(pfn, 0);
}

Pfn MemoryModel::movablePagePfn(MovablePageId id) const {
  std::lock_guard lock(mu_);
  DMAHEAP_CHECK(id.value < impl_->movable_pfn.size() && impl_->movable_pfn[id.value] != Impl::kNoPfn);
  return Pfn{impl_->movable_pfn[id.value]};
}

bool MemoryModel::movablePagePinned(MovablePageId id) const {
  std::lock_guard lock(mu_);
  DMAHEAP_CHECK(id.value < impl_->movable_pinned.size());
  return impl_->movable_pinned[id.value] != 0;
}

void MemoryModel::setMovablePagePinned(MovablePageId id, bool pinned) {
  std::lock_guard lock(mu_);
  DMAHEAP_CHECK(id.value < impl_->movable_pfn.size() && impl_->movable_pfn[id.value] != Impl::kNoPfn);
  const uint64_t pfn = impl_->movable_pfn[id.value];
  impl_->setOwner(pfn, kNil);
  impl_->movable_pinned[id.value] = pinned ? 1 : 0;
  impl_->setOwner(pfn, id.value);
}

uint64_t MemoryModel::cmaAreaBorrowedPages(size_t area) const {
  std::lock_guard lock(mu_);
  return impl_->cma_borrowed.at(area);
}

uint64_t MemoryModel::cmaAreaPinnedPages(size_t area) const {
  std::lock_guard lock(mu_);
  return impl_->cma_pinned.at(area);
}

uint64_t MemoryModel::cmaAreaFreePageblocks(size_t area_index) const {
  std::lock_guard lock(mu_);
  const auto& a = impl_->cma.at(area_index);
  const unsigned pbo = impl_->pageblock_order;
  uint64_t blocks = 0;
  const int t = static_cast<int>(MigrateType::kCma);
  for (int z = 0; z < kZones; ++z)
    for (unsigned o = pbo; o <= kMaxOrder; ++o)
      for (uint32_t i = impl_->head[z][t][o]; i != kNil; i = impl_->next[i]) {
        const uint64_t pfn = impl_->pfnOf(i);
        if (pfn - a.base_pfn < a.count) blocks += uint64_t{1} << (o - pbo);
      }
  return blocks;
}

void MemoryModel::freePages(PageBlock block) {
  std::lock_guard lock(mu_);
  DMAHEAP_CHECK(block.order <= kMaxOrder);
  DMAHEAP_CHECK(impl_->sectionOf(block.pfn.value) != nullptr);
  impl_->freeOne(block.pfn.value, block.order);
}

size_t MemoryModel::cmaAreaCount() const { return impl_->cma.size(); }
std::string MemoryModel::cmaAreaName(size_t area) const { return impl_->cma.at(area).name; }
PhysRange MemoryModel::cmaAreaRange(size_t area) const {
  const auto& a = impl_->cma.at(area);
  return {a.base_pfn << page_shift_, a.count << page_shift_};
}
uint64_t MemoryModel::cmaAreaFreePages(size_t area) const {
  std::lock_guard lock(mu_);
  const auto& a = impl_->cma.at(area);
  return a.count - a.bitmap.used();
}
uint64_t MemoryModel::cmaAreaLargestFreeRun(size_t area) const {
  std::lock_guard lock(mu_);
  return impl_->cma.at(area).bitmap.largestFreeRun();
}

const char* cmaPlacementName(CmaPlacement p) {
  switch (p) {
    case CmaPlacement::kFirstFit: return "first-fit";
    case CmaPlacement::kBestFit: return "best-fit";
    case CmaPlacement::kSegregated: return "segregated";
  }
  return "?";
}

Result<Pfn> MemoryModel::cmaAlloc(size_t area_index, uint64_t count, unsigned align_order, CmaPlacement placement,
                                  CmaAllocStats* stats) {
  CmaAllocStats local;
  if (!stats) stats = &local;
  std::lock_guard lock(mu_);
  if (area_index >= impl_->cma.size()) return makeError(EINVAL, "no such CMA area");
  auto& a = impl_->cma[area_index];
  if (count == 0) return makeError(EINVAL, "cma_alloc of 0 pages");
  if (count > a.count) return makeError(ENOMEM, "request larger than the CMA area");
  if (align_order > 63) return makeError(EINVAL, "alignment order too large");
  const uint64_t step = uint64_t{1} << align_order;
  CmaBitmap& bm = a.bitmap;
  const auto tryCandidate = [&](uint64_t idx, bool* stop) -> bool {
    const uint64_t pfn = a.base_pfn + idx;
    switch (impl_->claimRange(pfn, count, stats)) {
      case Impl::Claim::kOk:
        bm.set(idx, count);
        return true;
      case Impl::Claim::kBusy:
        stats->busy_candidates++;
        return false;
      case Impl::Claim::kNoMemory:
        *stop = true;  // only EBUSY moves on to the next slot
        return false;
    }
    return false;
  };
  bool stop = false;
  const bool small = (count << page_shift_) < kSegregatedSmallBytes;
  if (placement == CmaPlacement::kSegregated && !small) placement = CmaPlacement::kFirstFit;
  if (placement == CmaPlacement::kFirstFit) {
    // The kernel's loop: first fit; on EBUSY, the next aligned slot after this one.
    for (uint64_t idx = bm.nextFit(0, count, align_order); idx < a.count && !stop;
         idx = bm.nextFit(idx + step, count, align_order)) {
      if (tryCandidate(idx, &stop)) return Pfn{a.base_pfn + idx};
    }
  } else {
    // Best fit: free runs of the bitmap, smallest first (then lowest address); inside a run,
    // aligned slots in address order.
    std::vector<CmaBitmap::Run> runs;
    for (const CmaBitmap::Run& r : bm.freeRuns()) {
      const uint64_t first = bm.alignedIndex(r.start, align_order);
      if (first < r.start + r.length && r.start + r.length - first >= count) runs.push_back(r);
    }
    if (placement == CmaPlacement::kBestFit) {
      std::stable_sort(runs.begin(), runs.end(),
                       [](const CmaBitmap::Run& x, const CmaBitmap::Run& y) { return x.length < y.length; });
      for (const CmaBitmap::Run& r : runs) {
        for (uint64_t idx = bm.alignedIndex(r.start, align_order); idx + count <= r.start + r.length && !stop; idx += step) {
          if (tryCandidate(idx, &stop)) return Pfn{a.base_pfn + idx};
        }
        if (stop) break;
      }
    } else {
      // Small request under kSegregated: the highest aligned slot first, downwards.
      for (auto r = runs.rbegin(); r != runs.rend() && !stop; ++r) {
        const uint64_t first = bm.alignedIndex(r->start, align_order);
        // The highest aligned index whose request still ends inside the run.
        const uint64_t offset = bm.alignedIndex(0, align_order);
        uint64_t idx = alignDown(r->start + r->length - count - offset, step) + offset;
        for (;; idx -= step) {
          if (tryCandidate(idx, &stop)) return Pfn{a.base_pfn + idx};
          if (stop || idx < first + step) break;
        }
      }
    }
  }
  return makeError(ENOMEM, "no free aligned range of " + std::to_string(count) + " pages in CMA area " + a.name);
}

Status MemoryModel::cmaRelease(size_t area_index, Pfn pfn, uint64_t count) {
  std::lock_guard lock(mu_);
  if (area_index >= impl_->cma.size()) return makeError(EINVAL, "no such CMA area");
  auto& a = impl_->cma[area_index];
  if (pfn.value < a.base_pfn || count == 0 || pfn.value + count > a.base_pfn + a.count) {
    return makeError(EINVAL, "range is not inside CMA area " + a.name);
  }
  const uint64_t idx = pfn.value - a.base_pfn;
  if (a.bitmap.findClear(idx, idx + count) != idx + count) {
    return makeError(EINVAL, "range of CMA area " + a.name + " is not allocated");
  }
  a.bitmap.clear(idx, count);
  impl_->freeRange(pfn.value, count);
  return {};
}

Status MemoryModel::cmaClaim(size_t area_index, Pfn pfn, uint64_t count) {
  std::lock_guard lock(mu_);
  if (area_index >= impl_->cma.size()) return makeError(EINVAL, "no such CMA area");
  auto& a = impl_->cma[area_index];
  if (pfn.value < a.base_pfn || count == 0 || count > a.count || pfn.value - a.base_pfn > a.count - count) {
    return makeError(EINVAL, "pages " + std::to_string(pfn.value) + "+" + std::to_string(count) +
                                 " are not inside CMA area " + a.name);
  }
  const uint64_t idx = pfn.value - a.base_pfn;
  if (a.bitmap.findSet(idx, idx + count) != idx + count || !impl_->allFree(pfn.value, count)) {
    return makeError(EBUSY, "pages " + std::to_string(pfn.value) + "+" + std::to_string(count) + " of CMA area " +
                                a.name + " are not all free");
  }
  impl_->isolateFreeIn(pfn.value, count);  // every page is free: nothing is left allocated
  a.bitmap.set(idx, count);
  return {};
}

Result<PageBlock> MemoryModel::claimPages(Pfn pfn, unsigned order) {
  std::lock_guard lock(mu_);
  const uint64_t count = uint64_t{1} << std::min(order, 63u);
  if (order > kMaxOrder || (pfn.value & (count - 1)) != 0) {
    return makeError(EINVAL, "order-" + std::to_string(order) + " block at page " + std::to_string(pfn.value) +
                                 " is not a block the buddy allocator hands out");
  }
  const auto* s = impl_->sectionOf(pfn.value);
  if (s == nullptr || impl_->sectionOf(pfn.value + count - 1) != s) {
    return makeError(EINVAL, "pages " + std::to_string(pfn.value) + "+" + std::to_string(count) + " are not RAM");
  }
  for (uint64_t p = pfn.value; p < pfn.value + count; p += uint64_t{1} << pageblock_order_) {
    if (impl_->areaOf(p) >= 0 || impl_->typeOf(p) == MigrateType::kCma) {
      return makeError(EBUSY, "page " + std::to_string(p) + " is CMA memory, not a system page");
    }
  }
  if (!impl_->allFree(pfn.value, count)) {
    return makeError(EBUSY, "pages " + std::to_string(pfn.value) + "+" + std::to_string(count) + " are not all free");
  }
  impl_->isolateFreeIn(pfn.value, count);
  return PageBlock{pfn, order};
}

FreeStats MemoryModel::zoneStats(Zone zone) const {
  std::lock_guard lock(mu_);
  FreeStats s;
  const int z = static_cast<int>(zone);
  s.total_pages = impl_->managed[z];
  for (int t = 0; t < kMigrateTypes; ++t)
    for (unsigned o = 0; o <= kMaxOrder; ++o) {
      const uint64_t pages = impl_->nr_free[z][t][o] << o;
      s.free_pages += pages;
      if (t == static_cast<int>(MigrateType::kCma)) s.free_cma_pages += pages;
      else if (impl_->nr_free[z][t][o] > 0) s.largest_free_block_pages = std::max(s.largest_free_block_pages, uint64_t{1} << o);
    }
  return s;
}

FreeStats MemoryModel::stats() const {
  FreeStats all;
  for (int z = 0; z < kZones; ++z) {
    const FreeStats s = zoneStats(static_cast<Zone>(z));
    all.total_pages += s.total_pages;
    all.free_pages += s.free_pages;
    all.free_cma_pages += s.free_cma_pages;
    all.largest_free_block_pages = std::max(all.largest_free_block_pages, s.largest_free_block_pages);
  }
  return all;
}

MigrateType MemoryModel::pageblockType(Pfn pfn) const {
  std::lock_guard lock(mu_);
  return impl_->typeOf(pfn.value);
}
Zone MemoryModel::zoneOf(Pfn pfn) const { return impl_->zoneOf(pfn.value); }
bool MemoryModel::isRam(Pfn pfn) const { return impl_->sectionOf(pfn.value) != nullptr; }

uint64_t MemoryModel::metadataBytes() const {
  uint64_t bytes = impl_->total_index * (sizeof(uint8_t) + 2 * sizeof(uint32_t));
  bytes += impl_->block_type.capacity();
  bytes += impl_->sections.capacity() * sizeof(Impl::Section);
  for (const auto& a : impl_->cma) bytes += a.bitmap.metadataBytes();
  if (impl_->owner) bytes += impl_->total_index * sizeof(uint32_t) + impl_->movable_pfn.capacity() * 9;
  return bytes + sizeof(Impl);
}

std::string MemoryModel::freeBlockSnapshot() const {
  std::lock_guard lock(mu_);
  std::ostringstream out;
  for (const auto& s : impl_->sections)
    for (uint64_t p = 0; p < s.pages; ++p) {
      const uint8_t o = impl_->free_order.get(s.first_index + p);
      if (o != kNotFree) out << std::hex << (s.start_pfn + p) << ':' << std::dec << int{o} << ' ';
    }
  for (const auto& a : impl_->cma) {
    out << "| " << a.name << ' ' << a.bitmap.used();
    for (uint64_t w : a.bitmap.words()) out << ' ' << std::hex << w << std::dec;
  }
  return out.str();
}

std::string MemoryModel::snapshot() const {
  std::string s = freeBlockSnapshot();
  std::lock_guard lock(mu_);
  s += " | types ";
  for (uint8_t t : impl_->block_type) s += static_cast<char>('0' + t);
  return s;
}

void MemoryModel::checkInvariants() const {
  std::lock_guard lock(mu_);
  uint64_t counted[kZones][kMigrateTypes][kMaxOrder + 1] = {};
  for (int z = 0; z < kZones; ++z)
    for (int t = 0; t < kMigrateTypes; ++t)
      for (unsigned o = 0; o <= kMaxOrder; ++o) {
        uint32_t prev = kNil;
        for (uint32_t i = impl_->head[z][t][o]; i != kNil; i = impl_->next[i]) {
          DMAHEAP_CHECK(impl_->prev[i] == prev);
          DMAHEAP_CHECK(impl_->free_order.get(i) == o);
          const uint64_t pfn = impl_->pfnOf(i);
          DMAHEAP_CHECK((pfn & ((uint64_t{1} << o) - 1)) == 0);
          DMAHEAP_CHECK(static_cast<int>(impl_->zoneOf(pfn)) == z);
          const Impl::Section* s = impl_->sectionOf(pfn);
          DMAHEAP_CHECK(s != nullptr && pfn + (uint64_t{1} << o) <= s->start_pfn + s->pages);
          for (uint64_t b = 0; b < (uint64_t{1} << o); b += uint64_t{1} << impl_->pageblock_order) {
            DMAHEAP_CHECK(static_cast<int>(impl_->typeOf(pfn + b)) == t);
          }
          counted[z][t][o]++;
          prev = i;
        }
        DMAHEAP_CHECK(counted[z][t][o] == impl_->nr_free[z][t][o]);
      }
  for (uint32_t id = 0; id < impl_->movable_pfn.size(); ++id) {
    const uint64_t pfn = impl_->movable_pfn[id];
    if (pfn == Impl::kNoPfn) continue;
    DMAHEAP_CHECK(impl_->ownerOf(pfn) == id);
    uint64_t h = 0;
    unsigned o = 0;
    DMAHEAP_CHECK(!impl_->findFreeBlock(pfn, &h, &o));
  }
  for (const auto& a : impl_->cma) {
    uint64_t used = 0;
    for (uint64_t i = 0; i < a.count; ++i) used += a.bitmap.test(i);
    DMAHEAP_CHECK(used == a.bitmap.used());
  }
}

}  // namespace dmaheap
