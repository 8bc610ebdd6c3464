// Workload: what `dmaheap simulate` replays, read from a small JSON file (see
// examples/simulate/README.md for the format). Plain data; parsing checks every field.
#pragma once

#include <cstdint>
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

struct Workload {
  std::string name;
  uint64_t seed = 1;
  uint64_t steps = 1000;
  uint64_t sample_every = 0;    // 0: steps / 200
  Pressure pressure;
  std::vector<Stream> streams;
};

// EINVAL with the offending field named ("streams[1].size: ...") for anything malformed:
// not JSON, unknown fields, wrong types, zero or absurd values.
Result<Workload> parseWorkload(std::string_view json_text);
Result<Workload> loadWorkload(const std::string& path);

}  // namespace dmaheap::sim
