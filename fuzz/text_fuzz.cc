// libFuzzer targets for the text parsers of outside input, one binary per parser (chosen at build
// time with -DDMAHEAP_FUZZ_<NAME>, see fuzz/targets.sh): simulate workloads, allocation traces, kernel .config
// files, the `cma=` command line and size arguments, heap profiles (`--heaps FILE`, built into a
// board), dmaheapd's access configuration (`--config FILE`). A parser may only ever answer a value or an
// error with a message; a crash, hang, sanitizer report or an accepted value that breaks the
// parser's documented invariants is a bug.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "base/kernel.h"
#include "board/board.h"
#include "heaps/heap_profile.h"
#include "service/access.h"
#include "base/size.h"
#include "devicetree/plan.h"
#include "simulate/workload.h"
#include "simulate/trace_workload.h"
#include "trace/trace_event.h"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace dmaheap;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
#if defined(DMAHEAP_FUZZ_WORKLOAD)
  auto w = sim::parseWorkload(text);
  if (w) {
    check(w->steps > 0);
    for (const auto& s : w->streams) check(s.size > 0 && (s.size_max == 0 || s.size_max >= s.size));
  } else {
    check(w.code() == EINVAL && !w.error().message().empty());
  }
#elif defined(DMAHEAP_FUZZ_TRACE)
  // Each line alone: what parses writes back to the same event.
  for (size_t pos = 0; pos < text.size();) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    auto e = trace::parseEventLine(text.substr(pos, end - pos));
    if (e) {
      auto again = trace::parseEventLine(trace::eventLine(*e));
      check(again && *again == *e);
    } else {
      check(e.code() == EINVAL && !e.error().message().empty());
    }
    pos = end + 1;
  }
  // The whole input as a trace: every buffer allocated once, released at most once after it.
  auto t = sim::parseTrace(text, 1);
  if (!t) {
    check(t.code() == EINVAL && !t.error().message().empty());
    return 0;
  }
  const auto consistent = [](const sim::TraceReplay& r) {
    std::vector<int> state(r.buffers.size(), 0);
    uint64_t prev = 0, bytes = 0;
    for (const auto& op : r.ops) {
      check(op.buffer < r.buffers.size() && op.time_ns >= prev && op.step == op.time_ns / r.step_ns);
      prev = op.time_ns;
      int& s = state[op.buffer];
      check(op.kind == sim::TraceOp::Kind::kAlloc ? s == 0 : s == 1);
      s += 1;
    }
    for (size_t i = 0; i < state.size(); ++i) {
      check(state[i] >= 1);
      bytes += r.buffers[i].size;
    }
    check(bytes == r.bytes);
  };
  check(!t->buffers.empty());
  consistent(*t);
  consistent(sim::jitterTrace(*t, 7, 1'000'000));
#elif defined(DMAHEAP_FUZZ_KCONFIG)
  auto c = KernelConfig::fromText(text);
  if (c) {
    Kernel k;
    k.config = *c;
    // Whatever was read, the derived sizes must stay sane.
    check(k.pageblockOrder() <= 20 && k.cmaMinAlignmentBytes() >= k.pageSize());
  } else {
    check(c.code() == EINVAL && !c.error().message().empty());
  }
#elif defined(DMAHEAP_FUZZ_CMDLINE)
  const auto cma = dt::parseCmaCmdline(text);
  if (cma.fixed()) check(cma.base + cma.size == cma.limit);
  auto sz = parseSize(text);
  if (!sz) check(sz.code() == EINVAL || sz.code() == ERANGE);
  (void)memparse(text);
#elif defined(DMAHEAP_FUZZ_HEAPS)
  auto specs = parseHeapProfile(text, "fuzz");
  if (!specs) {
    check(specs.code() == EINVAL && !specs.error().message().empty());
    return 0;
  }
  // What parses is built into a board with every kind of region a profile can name: the default
  // CMA area, a device-tree CMA area and a no-map carve-out (examples/carveout-heap.dts).
  static const dt::BoardPlan plan = [] {
    dt::BoardPlan p = dt::planDefaultBoard(Kernel{}, "cma=64M");
    dt::ReservedRegion r;
    r.name = "vendor-carveout@70000000";
    r.path = "/reserved-memory/" + r.name;
    r.base = 0x70000000;
    r.size = 64ull << 20;
    r.no_map = true;
    r.removed_from_memory = true;
    p.regions.push_back(r);
    p.reserved.push_back({r.base, r.size});
    return p;
  }();
  auto board = buildBoard(plan, *specs);
  if (board) {
    check((*board)->heaps.size() >= specs->size());
    for (const auto& h : (*board)->heaps) check(!h.name.empty());
  } else {
    check(!board.error().message().empty());
  }
#elif defined(DMAHEAP_FUZZ_ACCESS)
  auto config = service::AccessConfig::parse(text);
  if (config) {
    for (const auto& [name, a] : config->heaps) check(a.mode <= 07777 && !name.empty());
    service::PeerCredentials who;
    who.uid = 1000;
    who.gid = 1000;
    for (const auto& [name, a] : config->heaps) {
      const auto ok = config->checkOpen(name, who);
      check(ok || ok.code() == EACCES);
    }
  } else {
    check(config.code() == EINVAL && !config.error().message().empty());
  }
#else
#error "build with -DDMAHEAP_FUZZ_WORKLOAD, _KCONFIG, _CMDLINE, _HEAPS or _ACCESS"
#endif
  return 0;
}
