// The simulation behind `dmaheap simulate`: replays a Workload on a Board step by step —
// background movable pages that borrow CMA pageblocks (some pinned for a while), streams of heap
// buffers — and records successes, failures, migration cost and fragmentation over time.
// Deterministic: the same board, workload, seed and policy give the same result.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/result.h"
#include "board/board.h"
#include "simulate/workload.h"

namespace dmaheap::sim {

struct SimOptions {
  CmaPlacement placement = CmaPlacement::kFirstFit;
};

struct StreamResult {
  std::string name;
  std::string heap;            // resolved heap name
  uint64_t attempts = 0;
  uint64_t successes = 0;
  uint64_t failures = 0;
  uint64_t pages_migrated = 0;     // the latency model: pages copied to make room
  uint64_t max_pages_migrated = 0; // worst single allocation
  uint64_t busy_candidates = 0;    // candidates abandoned because of a pinned page
};

struct AreaState {
  uint64_t free_pages = 0;         // not held by CMA buffers
  uint64_t largest_free_run = 0;   // pages, in the CMA bitmap
  uint64_t free_pageblocks = 0;    // entirely free in the buddy allocator (no migration needed)
  uint64_t borrowed_pages = 0;     // movable pages living in the area
  uint64_t pinned_pages = 0;       // of those, pinned
};

struct Sample {
  uint64_t step = 0;
  uint64_t movable_pages = 0;
  uint64_t failures = 0;           // so far
  std::vector<AreaState> areas;    // one per CMA area of the board
};

struct FirstFailure {
  bool happened = false;
  uint64_t step = 0;
  std::string stream;
  std::string heap;
  uint64_t size = 0;
  int error = 0;
  std::string message;
  int area = -1;                   // the CMA area, -1 for the system heap
  AreaState state;                 // the area's state right after the failure
  uint64_t live_buffers = 0;       // heap buffers live at that moment
};

struct SimResult {
  std::string workload;
  std::string placement;
  std::vector<std::string> area_names;
  std::vector<uint64_t> area_pages;
  std::vector<StreamResult> streams;
  std::vector<Sample> samples;
  FirstFailure first_failure;
  uint64_t failures = 0;
  uint64_t pages_migrated = 0;
};

// Runs `workload` on `board` (whose heaps and memory it uses and gives back at the end).
// EINVAL if a stream names a heap the board does not have (the message lists the heaps).
Result<SimResult> simulate(Board& board, const Workload& workload, const SimOptions& options);

// The smallest size of the board's CMA area (the one the streams' contiguous heap uses), in
// pageblocks, for which the workload has no failure; binary search between one pageblock and
// twice the current size (keeping the area's end), assuming more CMA never hurts.
struct MinCmaResult {
  bool found = false;
  uint64_t bytes = 0;
  std::vector<std::pair<uint64_t, uint64_t>> tried;  // (bytes, failures)
};
// `profile`: the heap profile's extra heaps (heaps/heap_profile.h), added to every board tried.
Result<MinCmaResult> findMinCma(const dt::BoardPlan& plan, const Workload& workload, const SimOptions& options,
                                const std::vector<HeapSpec>& profile = {});

}  // namespace dmaheap::sim
