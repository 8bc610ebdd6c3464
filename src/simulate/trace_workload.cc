// Reading an allocation trace into a workload of the trace kind.
#include "simulate/trace_workload.h"

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>

#include "base/rng.h"
#include "trace/trace_event.h"

namespace dmaheap::sim {
namespace {

constexpr uint64_t kMaxSteps = 10'000'000;  // as a workload's steps (workload.cc)
constexpr uint64_t kMaxBufferBytes = uint64_t{1} << 40;
constexpr uint64_t kNsPerMs = 1'000'000;

Error atLine(uint64_t line, const std::string& what) { return makeError(EINVAL, "line " + std::to_string(line) + ": " + what); }

void assignSteps(TraceReplay& t) {
  for (TraceOp& op : t.ops) op.step = op.time_ns / t.step_ns;
}

}  // namespace

uint64_t traceSteps(const TraceReplay& t) { return t.ops.empty() ? 1 : t.ops.back().step + 1; }

Result<TraceReplay> parseTrace(std::string_view text, uint64_t speed) {
  if (speed == 0 || speed > 1'000'000) return makeError(EINVAL, "--speed must be from 1 to 1000000");
  TraceReplay out;
  out.step_ns = speed * kNsPerMs;
  struct Session {
    uint64_t line = 0;
    std::map<std::string, trace::TraceHeap> heaps;
    std::map<uint64_t, size_t> live;       // trace buffer id -> index, until released
    std::map<uint64_t, uint64_t> released;  // trace buffer id -> line of its release
    std::map<uint64_t, uint64_t> seen;      // every id allocated -> its line
    uint64_t page_size = 4096;
  };
  Session session;
  bool started = false;
  uint64_t t0 = 0;
  std::vector<uint64_t> alloc_time;  // per buffer
  uint64_t line_no = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    const bool last = end == std::string_view::npos;
    if (last) end = text.size();
    const std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) {
      // Blank lines may end the file; inside it every line is one JSON event.
      if (last || text.substr(pos).find_first_not_of(" \t\r\n") == std::string_view::npos) break;
      return atLine(line_no, "an empty line (every line of a trace is one JSON event)");
    }
    auto event = trace::parseEventLine(line);
    if (!event) return atLine(line_no, event.error().message());
    const trace::Event& e = event.value();
    if (!started && e.kind != trace::EventKind::kStart) {
      return atLine(line_no, "a trace begins with a start event (the writer's first line)");
    }
    if (!started) t0 = e.time_ns;
    if (e.time_ns < t0) return atLine(line_no, "time " + std::to_string(e.time_ns) + " is before the trace's first event");
    const uint64_t t = e.time_ns - t0;
    switch (e.kind) {
      case trace::EventKind::kStart: {
        // A later writer appended to the same file: its buffers are numbered afresh.
        out.never_released += session.live.size();
        session = Session{};
        session.line = line_no;
        session.page_size = e.page_size;
        for (const auto& h : e.heaps) session.heaps[h.name] = h;
        started = true;
        break;
      }
      case trace::EventKind::kAlloc: {
        auto heap = session.heaps.find(e.heap);
        if (heap == session.heaps.end()) {
          std::string known;
          for (const auto& [name, h] : session.heaps) known += (known.empty() ? "" : ", ") + name;
          return atLine(line_no, "unknown heap '" + e.heap + "' (the start event of line " + std::to_string(session.line) +
                                     " lists " + (known.empty() ? "no heap" : known) + ")");
        }
        if (e.error != 0) {
          ++out.failed_when_recorded;
          break;
        }
        const uint64_t rounded = *e.rounded;
        const uint64_t page = session.page_size;
        if (e.len == 0 || rounded == 0 || rounded > kMaxBufferBytes) {
          return atLine(line_no, "a successful allocation of " + std::to_string(e.len) + " bytes (rounded " +
                                     std::to_string(rounded) + "): sizes are from 1 byte to 1 TiB");
        }
        if (rounded % page != 0 || rounded < e.len || rounded - e.len >= page) {
          return atLine(line_no, "'rounded' " + std::to_string(rounded) + " is not 'len' " + std::to_string(e.len) +
                                     " rounded up to the " + std::to_string(page) + "-byte page");
        }
        if (auto seen = session.seen.find(e.buffer); seen != session.seen.end()) {
          return atLine(line_no, "buffer " + std::to_string(e.buffer) + " allocated again (first at line " +
                                     std::to_string(seen->second) + ")");
        }
        if (out.buffers.size() >= kMaxTraceBuffers) {
          return atLine(line_no, "more than " + std::to_string(kMaxTraceBuffers) + " buffers");
        }
        session.seen[e.buffer] = line_no;
        session.live[e.buffer] = out.buffers.size();
        out.buffers.push_back(TraceBuffer{e.heap, heap->second.capability, rounded, line_no, e.buffer});
        alloc_time.push_back(t);
        out.bytes += rounded;
        out.ops.push_back(TraceOp{TraceOp::Kind::kAlloc, t, 0, out.buffers.size() - 1, line_no});
        break;
      }
      case trace::EventKind::kSetName:
      case trace::EventKind::kRelease: {
        const char* what = e.kind == trace::EventKind::kRelease ? "release" : "set_name";
        auto live = session.live.find(e.buffer);
        if (live == session.live.end()) {
          if (auto r = session.released.find(e.buffer); r != session.released.end()) {
            return atLine(line_no, std::string(what) + " of buffer " + std::to_string(e.buffer) + ", released at line " +
                                       std::to_string(r->second));
          }
          return atLine(line_no, std::string(what) + " of buffer " + std::to_string(e.buffer) +
                                     " before its allocation (no alloc event gave that buffer)");
        }
        if (e.kind == trace::EventKind::kSetName) break;
        if (t < alloc_time[live->second]) {
          return atLine(line_no, "buffer " + std::to_string(e.buffer) + " released before the time of its allocation (line " +
                                     std::to_string(out.buffers[live->second].line) + ")");
        }
        out.ops.push_back(TraceOp{TraceOp::Kind::kRelease, t, 0, live->second, line_no});
        session.released[e.buffer] = line_no;
        session.live.erase(live);
        break;
      }
    }
  }
  if (!started) return makeError(EINVAL, "line 1: empty trace (no start event)");
  out.never_released += session.live.size();
  if (out.buffers.empty()) {
    return makeError(EINVAL, "the trace has no successful allocation to replay (" + std::to_string(out.failed_when_recorded) +
                                 " failed when recorded)");
  }
  // Several writers appending to one file may interleave slightly out of time order.
  std::stable_sort(out.ops.begin(), out.ops.end(), [](const TraceOp& a, const TraceOp& b) { return a.time_ns < b.time_ns; });
  assignSteps(out);
  if (traceSteps(out) > kMaxSteps) {
    return makeError(EINVAL, "the trace spans " + std::to_string(out.ops.back().time_ns / kNsPerMs) + " ms: " +
                                 std::to_string(traceSteps(out)) + " steps at --speed " + std::to_string(speed) +
                                 ", more than " + std::to_string(kMaxSteps) + "; give a larger --speed");
  }
  return out;
}

Result<TraceReplay> loadTrace(const std::string& path, uint64_t speed) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return makeError(errno ? errno : ENOENT, "cannot read trace '" + path + "'");
  in.seekg(0, std::ios::end);
  const auto size = static_cast<uint64_t>(in.tellg());
  if (size > kMaxTraceBytes) return makeError(EFBIG, "trace '" + path + "' is larger than 256 MiB");
  in.seekg(0);
  std::string text(size, '\0');
  in.read(text.data(), static_cast<std::streamsize>(size));
  auto t = parseTrace(text, speed);
  if (!t) return makeError(t.code(), path + ": " + t.error().message());
  t->path = path;
  return t;
}

Workload traceWorkload(TraceReplay trace, const std::string& name) {
  Workload w;
  w.name = name;
  w.steps = traceSteps(trace);
  w.sample_every = std::max<uint64_t>(1, w.steps / 200);
  w.trace = std::move(trace);
  return w;
}

Status attachTrace(Workload& w, const std::string& workload_path) {
  if (w.trace_file.empty()) return {};
  std::string path = w.trace_file;
  if (path[0] != '/') {
    const size_t slash = workload_path.rfind('/');
    if (slash != std::string::npos) path = workload_path.substr(0, slash + 1) + path;
  }
  auto t = loadTrace(path, w.speed);
  if (!t) return t.error();
  w.steps = traceSteps(t.value());
  w.sample_every = std::max<uint64_t>(1, w.steps / 200);
  w.trace = std::move(t.value());
  return {};
}

TraceReplay jitterTrace(const TraceReplay& trace, uint64_t seed, uint64_t jitter_ns) {
  TraceReplay out = trace;
  SplitMix64 rng(seed);
  std::vector<uint64_t> alloc_time(out.buffers.size(), 0);
  // Ops are in time order, so a buffer's alloc is moved before its release is.
  for (TraceOp& op : out.ops) {
    const uint64_t shift = rng.between(0, 2 * jitter_ns);
    uint64_t t = op.time_ns + shift;
    t = t >= jitter_ns ? t - jitter_ns : 0;
    if (op.kind == TraceOp::Kind::kAlloc) alloc_time[op.buffer] = t;
    else t = std::max(t, alloc_time[op.buffer]);
    op.time_ns = t;
  }
  // Equal times keep their order, so an alloc stays ahead of its release.
  std::stable_sort(out.ops.begin(), out.ops.end(), [](const TraceOp& a, const TraceOp& b) { return a.time_ns < b.time_ns; });
  assignSteps(out);
  return out;
}

}  // namespace dmaheap::sim
