// An allocation trace (docs/traces.md) read as a simulate workload of the trace kind
// (examples/simulate/README.md): the allocations that succeeded when it was recorded, their
// releases, in order, each at the step its time falls in. Time-jittered copies give the margin
// of --find-min-cma.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.h"
#include "simulate/workload.h"

namespace dmaheap::sim {

inline constexpr uint64_t kMaxTraceBytes = uint64_t{256} << 20;
inline constexpr uint64_t kMaxTraceBuffers = 1'000'000;

// EINVAL "line N: ..." for a line that is not a trace event (trace::parseEventLine) or does not
// fit the ones before it: no start line first, an alloc on a heap the start line does not list,
// a buffer allocated twice, a set_name or release of a buffer not allocated (or already
// released, or released before its allocation's time), a successful allocation whose rounded
// length is not its length rounded up to the page (or is 0 or above 1 TiB). EINVAL (no line)
// when the trace holds no allocation or spans more than 10,000,000 steps at this speed.
// `speed`: one step is `speed` milliseconds of trace time.
Result<TraceReplay> parseTrace(std::string_view text, uint64_t speed);
// The file's errno (ENOENT, ...), EFBIG past kMaxTraceBytes, else parseTrace's errors prefixed
// with the path.
Result<TraceReplay> loadTrace(const std::string& path, uint64_t speed);

// A workload of the trace kind for `trace` (no streams, no pressure).
Workload traceWorkload(TraceReplay trace, const std::string& name);
// Attaches the trace a workload file names ("trace": relative to `workload_path`'s directory)
// and takes its steps from it. Nothing to do without one.
Status attachTrace(Workload& w, const std::string& workload_path);

// A copy of `trace` whose every event time moved by a uniform amount in [-jitter_ns, +jitter_ns]
// (not before the trace's start, a release not before its allocation), re-ordered by the new
// times: how another run of the same program could have interleaved. Deterministic per seed.
TraceReplay jitterTrace(const TraceReplay& trace, uint64_t seed, uint64_t jitter_ns);

// The steps a workload with this trace runs: one past the last event's step.
uint64_t traceSteps(const TraceReplay& trace);

}  // namespace dmaheap::sim
