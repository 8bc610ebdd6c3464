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

// A trace replay's use of one heap (docs/traces.md).
struct HeapPeak {
  std::string trace_heap;          // as recorded
  std::string heap;                // where it was replayed
  uint64_t buffers = 0;            // allocations replayed
  uint64_t bytes = 0;              // their sizes, summed
  uint64_t peak_bytes = 0;         // most live at once (of those that succeeded)
  uint64_t peak_buffers = 0;
  uint64_t failures = 0;
};

// One allocation of a trace that failed in the replay.
struct TraceFailure {
  uint64_t step = 0;
  uint64_t line = 0;               // of the trace
  uint64_t buffer = 0;             // the trace's buffer number
  std::string heap;
  uint64_t size = 0;
  int error = 0;
  std::string kernel_log;          // the line the kernel logs for it ("" when it logs none)
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
  // The trace kind only:
  bool traced = false;
  std::string trace_path;
  uint64_t trace_step_ns = 0;
  uint64_t trace_buffers = 0, trace_bytes = 0, trace_failed_when_recorded = 0;
  std::vector<HeapPeak> heap_peaks;
  std::vector<TraceFailure> trace_failures;  // the first kMaxTraceFailures
  static constexpr size_t kMaxTraceFailures = 1000;
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
  uint64_t pageblock = 0;      // the kernel's pageblock: the step of the search
  std::string area;            // the CMA area sized
  // The edge: the run with one pageblock less than `bytes` (when `bytes` is more than one).
  bool edge_checked = false;
  uint64_t edge_failures = 0;
  FirstFailure edge_failure;
  TraceFailure edge_trace_failure;   // the trace kind: its first failed allocation
  std::string no_edge;         // why there is no edge to check, when there is none
};
// `profile`: the heap profile's extra heaps (heaps/heap_profile.h), added to every board tried.
// A trace that uses no CMA heap is no error: the result has `no_edge` saying so (a workload of
// streams gets EINVAL, as it always did).
Result<MinCmaResult> findMinCma(const dt::BoardPlan& plan, const Workload& workload, const SimOptions& options,
                                const std::vector<HeapSpec>& profile = {});

// The margin of --find-min-cma for a trace: findMinCma over `runs` time-jittered copies of the
// trace (seeds seed, seed+1, ...; jitterTrace), their sizes sorted.
struct JitterMargin {
  uint64_t seed = 0, runs = 0, jitter_ns = 0;
  std::vector<uint64_t> sizes;  // bytes, sorted; a run no size up to the search's top fixed is left out
  uint64_t unfixable = 0;       // runs for which no size was found
  uint64_t percentile99 = 0;    // nearest rank
  uint64_t largest = 0;
};
Result<JitterMargin> jitterMargin(const dt::BoardPlan& plan, const Workload& workload, const SimOptions& options,
                                  const std::vector<HeapSpec>& profile, uint64_t seed, uint64_t runs, uint64_t jitter_ns);

}  // namespace dmaheap::sim
