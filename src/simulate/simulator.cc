// The step loop of the simulation.
#include "simulate/simulator.h"

#include "base/heap_descriptor.h"

#include <algorithm>
#include <deque>
#include <list>
#include <map>
#include <memory>

#include "base/rng.h"
#include "heaps/cma_heap.h"
#include "simulate/trace_workload.h"

namespace dmaheap::sim {
namespace {

struct ResolvedStream {
  const Stream* spec;
  const HeapEntry* heap;
  CmaHeap* cma;  // null for non-CMA heaps
  StreamResult result;
  struct Live {
    uint64_t expires;
    std::unique_ptr<PhysicalAllocation> memory;
  };
  std::deque<Live> live;
};

Result<const HeapEntry*> resolveHeap(const HeapRegistry& registry, const std::string& name) {
  if (const HeapEntry* h = registry.find(name)) return h;
  // By capability, with the resolver libdmaheap uses (base/heap_descriptor.h).
  std::vector<NamedHeap> named;
  for (const HeapEntry* h : registry.heaps()) named.push_back(NamedHeap{h->node_name, h->heap->descriptor()});
  if (auto capability = parseCapability(name)) {
    if (auto resolved = resolveCapability(*capability, named)) return registry.find(*resolved);
  }
  std::string known;
  for (auto it = named.rbegin(); it != named.rend(); ++it) known += (known.empty() ? "" : ", ") + it->name;
  return makeError(EINVAL, "no heap '" + name + "' on this board (heaps: " + (known.empty() ? "none" : known) +
                               "; or use \"contiguous\" / \"system\" / \"uncached\" / \"dma32\")");
}

AreaState areaState(const MemoryModel& m, size_t area) {
  AreaState s;
  s.free_pages = m.cmaAreaFreePages(area);
  s.largest_free_run = m.cmaAreaLargestFreeRun(area);
  s.free_pageblocks = m.cmaAreaFreePageblocks(area);
  s.borrowed_pages = m.cmaAreaBorrowedPages(area);
  s.pinned_pages = m.cmaAreaPinnedPages(area);
  return s;
}

// The heap a trace's recorded heap is replayed on: the same name, else the heap that serves
// what the recorded one served (another kernel names its CMA heap differently).
Result<const HeapEntry*> resolveTraceHeap(const HeapRegistry& registry, const TraceBuffer& b) {
  if (const HeapEntry* h = registry.find(b.heap)) return h;
  if (!b.capability.empty()) {
    if (auto h = resolveHeap(registry, b.capability)) return h;
  }
  std::string known;
  for (const HeapEntry* h : registry.heaps()) known += (known.empty() ? "" : ", ") + h->node_name;
  return makeError(EINVAL, "trace line " + std::to_string(b.line) + ": this board has no heap '" + b.heap + "'" +
                               (b.capability.empty() ? "" : " and none that is " + b.capability) + " (heaps: " +
                               (known.empty() ? "none" : known) + ")");
}

}  // namespace

Result<SimResult> simulate(Board& board, const Workload& w, const SimOptions& options) {
  MemoryModel& mem = *board.memory;
  const uint64_t page = mem.pageSize();
  SimResult out;
  out.workload = w.name;
  out.placement = cmaPlacementName(options.placement);
  for (size_t a = 0; a < mem.cmaAreaCount(); ++a) {
    out.area_names.push_back(mem.cmaAreaName(a));
    out.area_pages.push_back(mem.cmaAreaRange(a).size / page);
  }
  std::list<ResolvedStream> streams;  // stable addresses; holds move-only buffers
  for (const Stream& s : w.streams) {
    auto h = resolveHeap(*board.registry, s.heap);
    if (!h) return makeError(EINVAL, "stream '" + s.name + "': " + h.error().message());
    ResolvedStream r{&s, h.value(), dynamic_cast<CmaHeap*>(h.value()->heap.get()), {}, {}};
    r.result.name = s.name;
    r.result.heap = h.value()->name;
    streams.push_back(std::move(r));
  }

  // The trace kind: one entry per recorded heap.
  struct TraceHeapState {
    const HeapEntry* heap = nullptr;
    CmaHeap* cma = nullptr;
    StreamResult result;
    HeapPeak peak;
    uint64_t live_bytes = 0, live_buffers = 0;
  };
  std::list<TraceHeapState> trace_heaps;
  // The per-CPU lists' pages of the fill (pressure.pcp_pages): back to the buddy allocator
  // before a CMA allocation.
  std::vector<MovablePageId> per_cpu;
  // One allocation of a stream or the trace from its heap, counted in its result and the run's
  // totals (attempts, migration cost, failures).
  auto allocateCounted = [&](const HeapEntry& heap, CmaHeap* cma, StreamResult& result, uint64_t len) {
    if (cma) {
      for (MovablePageId id : per_cpu) mem.freeMovablePage(id);
      per_cpu.clear();
    }
    result.attempts++;
    CmaAllocStats cost;
    auto memory = cma ? cma->allocate(len, options.placement, &cost) : heap.heap->allocate(len);
    result.pages_migrated += cost.pages_migrated;
    result.max_pages_migrated = std::max(result.max_pages_migrated, cost.pages_migrated);
    result.busy_candidates += cost.busy_candidates;
    out.pages_migrated += cost.pages_migrated;
    if (!memory) {
      result.failures++;
      out.failures++;
    }
    return memory;
  };
  // The run's first failed allocation, from a stream or the trace: where, what, and the state of
  // its CMA area; live buffers count both the streams' and the trace's.
  auto noteFirstFailure = [&](uint64_t step, std::string stream, const auto& heap, const auto* cma, uint64_t len,
                              const auto& memory) {
    if (out.first_failure.happened) return;
    FirstFailure& f = out.first_failure;
    f.happened = true;
    f.step = step;
    f.stream = std::move(stream);
    f.heap = heap.name;
    f.size = len;
    f.error = memory.code();
    f.message = memory.error().message();
    if (cma) {
      f.area = static_cast<int>(cma->area());
      f.state = areaState(mem, cma->area());
    }
    for (const auto& o : streams) f.live_buffers += o.live.size();
    for (const auto& t : trace_heaps) f.live_buffers += t.live_buffers;
  };
  std::vector<TraceHeapState*> heap_of_buffer;
  std::vector<std::unique_ptr<PhysicalAllocation>> trace_live;
  size_t next_op = 0;
  if (w.trace) {
    std::map<std::string, TraceHeapState*> by_name;
    out.traced = true;
    out.trace_path = w.trace->path;
    out.trace_step_ns = w.trace->step_ns;
    out.trace_buffers = w.trace->buffers.size();
    out.trace_bytes = w.trace->bytes;
    out.trace_failed_when_recorded = w.trace->failed_when_recorded;
    for (const TraceBuffer& b : w.trace->buffers) {
      auto it = by_name.find(b.heap);
      if (it == by_name.end()) {
        auto h = resolveTraceHeap(*board.registry, b);
        if (!h) return h.error();
        TraceHeapState& s = trace_heaps.emplace_back();
        s.heap = h.value();
        s.cma = dynamic_cast<CmaHeap*>(h.value()->heap.get());
        s.result.name = "trace:" + b.heap;
        s.result.heap = h.value()->name;
        s.peak.trace_heap = b.heap;
        s.peak.heap = h.value()->node_name;
        it = by_name.emplace(b.heap, &s).first;
      }
      heap_of_buffer.push_back(it->second);
    }
    trace_live.resize(w.trace->buffers.size());
  }

  mem.setVmstatThreshold(w.pressure.vmstat_threshold);
  SplitMix64 rng(w.seed);
  std::vector<MovablePageId> movable;
  std::vector<uint32_t> generation;  // per movable id, to drop stale unpin events
  struct Unpin {
    uint64_t step;
    MovablePageId id;
    uint32_t gen;
  };
  std::deque<Unpin> unpins;
  // The fill, from step pressure.start on: movable bytes, or as much as leaves leave_free bytes of
  // the board free at that step (set then: buffers allocated before it count).
  const uint64_t leave = w.pressure.leave_free_bytes / page;
  uint64_t target = w.pressure.movable_bytes / page;
  const uint64_t churn = w.pressure.churn_bytes / page;
  uint64_t filled_at_start = 0;

  // Pages read at start-up (the fill's first step) are settled, but for every pin_every-th one of
  // them; pages read later may be pinned while their I/O (or a DMA into them) is in flight.
  const auto addMovable = [&](uint64_t step) -> bool {
    const bool pinned = step == w.pressure.start
                            ? w.pressure.pin_every && filled_at_start++ % w.pressure.pin_every == 0
                            : rng.chance(w.pressure.pinned_share);
    auto id = mem.allocMovablePage(pinned);
    if (!id) return false;
    if (generation.size() <= id->value) generation.resize(id->value + 1, 0);
    generation[id->value]++;
    movable.push_back(*id);
    if (pinned) unpins.push_back({step + w.pressure.pin_steps, *id, generation[id->value]});
    return true;
  };
  const auto sample = [&](uint64_t step) {
    Sample s;
    s.step = step;
    s.movable_pages = movable.size();
    s.failures = out.failures;
    for (size_t a = 0; a < mem.cmaAreaCount(); ++a) s.areas.push_back(areaState(mem, a));
    out.samples.push_back(std::move(s));
  };

  for (uint64_t step = 0; step < w.steps; ++step) {
    // 1. Buffers whose lifetime ended are freed.
    for (auto& s : streams)
      while (!s.live.empty() && s.live.front().expires <= step) s.live.pop_front();
    // 2. Pins that ended are released.
    while (!unpins.empty() && unpins.front().step <= step) {
      const Unpin u = unpins.front();
      unpins.pop_front();
      if (u.id.value < generation.size() && generation[u.id.value] == u.gen) mem.setMovablePagePinned(u.id, false);
    }
    // 3. Page-cache churn, then top up to the target.
    if (step == w.pressure.start) {
      // The per-CPU lists first: the kernel's rule for where a movable page goes counts the free
      // pages without them, so the fill after them borrows as much CMA as it did there.
      for (uint64_t i = 0; i < w.pressure.pcp_pages; ++i) {
        auto id = mem.allocMovablePage(false, i < w.pressure.pcp_cma_pages ? MovableSource::kCmaHighest : MovableSource::kNotCma);
        if (id) per_cpu.push_back(*id);
      }
      if (w.pressure.leave_free_bytes) {
        const uint64_t free_now = mem.stats().free_pages;
        target = free_now > leave ? free_now - leave : 0;
      }
    }
    for (uint64_t i = 0; step >= w.pressure.start && i < churn && !movable.empty(); ++i) {
      const size_t k = static_cast<size_t>(rng.next() % movable.size());
      const MovablePageId id = movable[k];
      movable[k] = movable.back();
      movable.pop_back();
      generation[id.value]++;  // any pending unpin is now stale
      mem.freeMovablePage(id);
    }
    while (step >= w.pressure.start && movable.size() < target && addMovable(step)) {
    }

    // 4. Each stream allocates on its beat while below its count.
    for (auto& s : streams) {
      const Stream& spec = *s.spec;
      if (step < spec.start || (step - spec.start) % spec.interval != 0 || s.live.size() >= spec.count) continue;
      const uint64_t size = spec.size_max ? rng.between(spec.size, spec.size_max) : spec.size;
      const uint64_t len = alignUp(size, page);
      auto memory = allocateCounted(*s.heap, s.cma, s.result, len);
      if (!memory) {
        noteFirstFailure(step, spec.name, *s.heap, s.cma, len, memory);
        continue;
      }
      s.result.successes++;
      const uint64_t hold = spec.hold_max ? rng.between(spec.hold, spec.hold_max) : spec.hold;
      // Keep the queue ordered by expiry (lifetimes may vary).
      ResolvedStream::Live live{step + hold, std::move(memory.value())};
      auto it = std::upper_bound(s.live.begin(), s.live.end(), live.expires,
                                 [](uint64_t e, const ResolvedStream::Live& l) { return e < l.expires; });
      s.live.insert(it, std::move(live));
    }
    // 5. The trace's allocations and releases of this step, in their recorded order.
    while (w.trace && next_op < w.trace->ops.size() && w.trace->ops[next_op].step <= step) {
      const TraceOp& op = w.trace->ops[next_op++];
      const TraceBuffer& b = w.trace->buffers[op.buffer];
      TraceHeapState& s = *heap_of_buffer[op.buffer];
      if (op.kind == TraceOp::Kind::kRelease) {
        if (trace_live[op.buffer]) {
          trace_live[op.buffer].reset();
          s.live_bytes -= b.size;
          s.live_buffers -= 1;
        }
        continue;
      }
      const uint64_t len = alignUp(b.size, page);
      s.peak.buffers++;
      s.peak.bytes += len;
      auto memory = allocateCounted(*s.heap, s.cma, s.result, len);
      if (!memory) {
        s.peak.failures++;
        // The CMA heap's error message is the line the kernel logs (heaps/cma_heap.cc).
        if (out.trace_failures.size() < SimResult::kMaxTraceFailures) {
          out.trace_failures.push_back(TraceFailure{step, op.line, b.id, s.heap->node_name, len, memory.code(),
                                                    s.cma ? memory.error().message() : ""});
        }
        noteFirstFailure(step, "trace line " + std::to_string(op.line), *s.heap, s.cma, len, memory);
        continue;
      }
      s.result.successes++;
      trace_live[op.buffer] = std::move(memory.value());
      s.live_bytes += len;
      s.live_buffers += 1;
      s.peak.peak_bytes = std::max(s.peak.peak_bytes, s.live_bytes);
      s.peak.peak_buffers = std::max(s.peak.peak_buffers, s.live_buffers);
    }
    if (step % w.sample_every == 0 || step + 1 == w.steps) sample(step);
  }
  // Give everything back.
  for (auto& s : streams) {
    s.live.clear();
    out.streams.push_back(s.result);
  }
  for (auto& t : trace_heaps) {
    out.streams.push_back(t.result);
    out.heap_peaks.push_back(t.peak);
  }
  trace_live.clear();
  for (MovablePageId id : movable) mem.freeMovablePage(id);
  for (MovablePageId id : per_cpu) mem.freeMovablePage(id);
  mem.setVmstatThreshold(0);
  return out;
}

Result<MinCmaResult> findMinCma(const dt::BoardPlan& plan, const Workload& w, const SimOptions& options,
                                const std::vector<HeapSpec>& profile) {
  // Which plan area do the streams (or the trace) use?
  auto first = buildBoard(plan, profile);
  if (!first) return first.error();
  int plan_area = -1;
  const auto areaOf = [&](const HeapEntry* h) {
    if (auto* cma = dynamic_cast<CmaHeap*>(h->heap.get())) {
      const PhysRange r = first.value()->memory->cmaAreaRange(cma->area());
      for (size_t i = 0; i < plan.cma_areas.size(); ++i)
        if (plan.cma_areas[i].base == r.base && plan.cma_areas[i].size == r.size) plan_area = static_cast<int>(i);
      return true;
    }
    return false;
  };
  for (const Stream& s : w.streams) {
    auto h = resolveHeap(*first.value()->registry, s.heap);
    if (!h) return makeError(EINVAL, "stream '" + s.name + "': " + h.error().message());
    if (areaOf(h.value())) break;
  }
  if (plan_area < 0 && w.trace) {
    for (const TraceBuffer& b : w.trace->buffers) {
      auto h = resolveTraceHeap(*first.value()->registry, b);
      if (!h) return h.error();
      if (areaOf(h.value())) break;
    }
  }
  MinCmaResult result;
  result.pageblock = plan.kernel.pageblockBytes();
  if (plan_area < 0) {
    if (!w.trace) return makeError(EINVAL, "no stream uses a CMA heap: nothing to size");
    result.no_edge = "the trace allocates from no CMA heap on this board, so no CMA size changes its outcome: there is no CMA edge";
    return result;
  }
  const dt::CmaArea original = plan.cma_areas[static_cast<size_t>(plan_area)];
  result.area = original.name;
  const uint64_t block = plan.kernel.pageblockBytes();
  const uint64_t end = original.base + original.size;
  uint64_t ram_start = end;
  for (const auto& r : plan.memory)
    if (r.contains(end - 1)) ram_start = r.base;
  const uint64_t max_blocks = (end - alignUp(ram_start, block)) / block;

  struct Run {
    uint64_t failures = ~uint64_t{0};
    FirstFailure first;
    TraceFailure trace_first;
  };
  std::map<uint64_t, Run> runs;  // by pageblocks: each size is simulated once
  const auto runAt = [&](uint64_t blocks) -> Result<Run> {
    if (auto known = runs.find(blocks); known != runs.end()) return known->second;
    dt::BoardPlan p = plan;
    p.cma_areas[static_cast<size_t>(plan_area)].size = blocks * block;
    p.cma_areas[static_cast<size_t>(plan_area)].base = end - blocks * block;
    auto board = buildBoard(p, profile);
    Run run;
    if (board) {
      auto r = simulate(*board.value(), w, options);
      if (!r) return r.error();
      run.failures = r->failures;
      run.first = r->first_failure;
      if (!r->trace_failures.empty()) run.trace_first = r->trace_failures.front();
    }
    result.tried.push_back({blocks * block, run.failures});
    runs[blocks] = run;
    return run;
  };
  // Binary search for the smallest number of pageblocks with no failure.
  uint64_t lo = 1;
  uint64_t hi = std::min(max_blocks, std::max<uint64_t>(1, 2 * (original.size / block)));
  auto at_hi = runAt(hi);
  if (!at_hi) return at_hi.error();
  if (at_hi->failures != 0) return result;  // even the largest area fails
  while (lo < hi) {
    const uint64_t mid = lo + (hi - lo) / 2;
    auto f = runAt(mid);
    if (!f) return f.error();
    if (f->failures == 0) hi = mid;
    else lo = mid + 1;
  }
  result.found = true;
  result.bytes = hi * block;
  // The edge, checked rather than assumed: one pageblock less.
  if (hi > 1) {
    auto below = runAt(hi - 1);
    if (!below) return below.error();
    result.edge_checked = true;
    result.edge_failures = below->failures;
    result.edge_failure = below->first;
    result.edge_trace_failure = below->trace_first;
  } else {
    result.no_edge = "one pageblock is already enough, and a CMA area cannot be smaller than one pageblock: there is no smaller size to fail";
  }
  return result;
}

Result<JitterMargin> jitterMargin(const dt::BoardPlan& plan, const Workload& w, const SimOptions& options,
                                  const std::vector<HeapSpec>& profile, uint64_t seed, uint64_t runs, uint64_t jitter_ns) {
  if (!w.trace) return makeError(EINVAL, "time jitter needs a trace");
  JitterMargin m;
  m.seed = seed;
  m.runs = runs;
  m.jitter_ns = jitter_ns;
  for (uint64_t i = 0; i < runs; ++i) {
    Workload jittered = w;
    jittered.trace = jitterTrace(*w.trace, seed + i, jitter_ns);
    jittered.steps = std::max(w.steps, traceSteps(*jittered.trace));
    auto min = findMinCma(plan, jittered, options, profile);
    if (!min) return min.error();
    if (min->found) m.sizes.push_back(min->bytes);
    else ++m.unfixable;
  }
  std::sort(m.sizes.begin(), m.sizes.end());
  if (!m.sizes.empty()) {
    // Nearest rank: the smallest size at least 99% of the runs need no more than.
    const size_t rank = static_cast<size_t>((99 * m.sizes.size() + 99) / 100);
    m.percentile99 = m.sizes[std::max<size_t>(rank, 1) - 1];
    m.largest = m.sizes.back();
  }
  return m;
}

}  // namespace dmaheap::sim
