// Workload: what `dmaheap simulate` replays, read from a small JSON file (see
// examples/simulate/README.md for the format). Plain data; parsing checks every field.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace dmaheap::sim {

// Background movable memory: page cache / anonymous pages that borrow free CMA pageblocks.
struct Pressure {
  uint64_t movable_bytes = 0;   // kept allocated (as far as memory allows)
  uint64_t churn_bytes = 0;     // freed and re-allocated every step
  double pinned_share = 0.0;    // share of pages allocated after step 0 that are pinned for a while
                                // (I/O or DMA in flight); the initial fill is settled
  uint64_t pin_steps = 1;       // how many steps a pin lasts
  // Instead of movable_bytes: the initial fill takes movable pages until this many bytes of the
  // board are free (a real system's free memory, whatever its kernel itself uses; 0: not used).
  uint64_t leave_free_bytes = 0;
  // The step the fill (and churn) begins at; the fill of that step is the initial fill. Buffers
  // allocated before it are in place when movable pages arrive (those a kernel takes at boot).
  uint64_t start = 0;
  // Every pin_every-th page of the initial fill (in the order they are allocated) is pinned for
  // pin_steps steps from the fill's start, as by I/O in flight on them (0: none; docs/traces.md, "CMA
  // scenarios").
  uint64_t pin_every = 0;
  // Pages the kernel's per-CPU free lists hold right after the fill, and how many of them are
  // CMA pages (measured in a guest: /proc/zoneinfo, /proc/kpageflags): taken from the buddy
  // allocator just before the fill (pcp_cma_pages from CMA pageblocks, the rest from elsewhere),
  // counted neither free nor movable, and given back before the next CMA allocation, as
  // alloc_contig_range drains the lists (docs/kernel-behaviour.md §6.8). The fill after them
  // sees the free pages without them, as the kernel's NR_FREE_PAGES counts them out.
  uint64_t pcp_pages = 0;
  uint64_t pcp_cma_pages = 0;
  // The kernel's vmstat threshold for the run (MemoryModel::setVmstatThreshold; 0: exact
  // counters, as before).
  uint64_t vmstat_threshold = 0;
};

// A stream of heap buffers: every `interval` steps (from `start`) one buffer of `size`
// (or uniformly in [size, size_max]) while fewer than `count` are live; each lives `hold` steps
// (or uniformly in [hold, hold_max]).
struct Stream {
  std::string name;
  std::string heap;             // a heap name, or "contiguous" / "system" by capability
  uint64_t size = 0;
  uint64_t size_max = 0;        // 0: fixed size
  uint64_t count = 1;
  uint64_t hold = 1;
  uint64_t hold_max = 0;        // 0: fixed lifetime
  uint64_t interval = 1;
  uint64_t start = 0;
};

// A recorded allocation trace (docs/traces.md) as a workload: the allocations that succeeded
// when it was recorded and their releases, in the order they happened, each at the step its time
// falls in (one step is `step_ns` of trace time). Read by simulate/trace_workload.h.
struct TraceBuffer {
  std::string heap;        // as recorded
  std::string capability;  // what the recorded heap served ("contiguous", "system", ...; "" none)
  uint64_t size = 0;       // the rounded length
  uint64_t line = 0;       // of its alloc event
  uint64_t id = 0;         // the trace's buffer number
};
struct TraceOp {
  enum class Kind { kAlloc, kRelease };
  Kind kind = Kind::kAlloc;
  uint64_t time_ns = 0;    // since the trace's first event
  uint64_t step = 0;
  size_t buffer = 0;       // index into TraceReplay::buffers
  uint64_t line = 0;
};
struct TraceReplay {
  std::string path;
  std::vector<TraceBuffer> buffers;
  std::vector<TraceOp> ops;      // ordered by time; a buffer's release after its alloc
  uint64_t step_ns = 1'000'000;  // --speed N: N ms per step
  uint64_t bytes = 0;            // of all buffers
  uint64_t failed_when_recorded = 0;  // allocations that failed in the recorded run: not replayed
  uint64_t never_released = 0;   // live when the trace ends
};

struct Workload {
  std::string name;
  uint64_t seed = 1;
  uint64_t steps = 1000;
  uint64_t sample_every = 0;    // 0: steps / 200
  Pressure pressure;
  std::vector<Stream> streams;    // may be empty with a trace
  // The trace kind: `"trace": "FILE"` in the workload (relative to the workload's directory)
  // or `dmaheap simulate --trace FILE`; `"speed"` sets its step length.
  std::string trace_file;         // as the workload names it
  uint64_t speed = 1;
  std::optional<TraceReplay> trace;
};

// EINVAL with the offending field named ("streams[1].size: ...") for anything malformed:
// not JSON, unknown fields, wrong types, zero or absurd values.
Result<Workload> parseWorkload(std::string_view json_text);
Result<Workload> loadWorkload(const std::string& path);

}  // namespace dmaheap::sim
