// ALLOC with and without an allocation trace (docs/traces.md): the ioctl emulation of
// `dmaheap run` (emulateHeapIoctl on the embedded backend, for this process) alone, and with
// what the supervisor adds when tracing: the outcome, the descriptor kept for the release
// watch, traceAlloc (the /proc read for the process id, one JSON line, one write(2) to an
// O_APPEND file, one inotify watch), and the release line when the buffer is closed.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "board/board_loader.h"
#include "emulation/caller.h"
#include "emulation/embedded_backend.h"
#include "emulation/ioctl_emulator.h"
#include "emulation/supervisor.h"
#include "heap/dmabuf_ioctl.h"
#include "trace/trace_log.h"

namespace {

using namespace dmaheap;

void allocLoop(benchmark::State& state, bool traced) {
  auto board = loadBoard({});
  if (!board) {
    state.SkipWithError(board.error().message().c_str());
    return;
  }
  auto backend = emul::EmbeddedBackend::create(std::move(board.value()));
  if (!backend) {
    state.SkipWithError(backend.error().message().c_str());
    return;
  }
  char path[] = "/tmp/dmaheap-trace-bench-XXXXXX";
  const int tmp = ::mkstemp(path);
  if (tmp < 0) {
    state.SkipWithError("mkstemp");
    return;
  }
  ::close(tmp);
  std::unique_ptr<trace::TraceLog> log;
  if (traced) {
    auto opened = trace::TraceLog::open(path, trace::Releases::kWatched);
    if (!opened) {
      state.SkipWithError(opened.error().message().c_str());
      return;
    }
    log = std::move(opened.value());
    log->start("trace_bench", "6.18", 4096, {});
  }
  const pid_t tid = static_cast<pid_t>(::syscall(SYS_gettid));
  emul::SelfCaller caller;
  uapi::AllocationData data{};
  const emul::IoctlCall call{uapi::kHeapIoctlAlloc, reinterpret_cast<uint64_t>(&data)};
  for (auto _ : state) {
    data = {static_cast<uint64_t>(state.range(0)), 0, O_RDWR | O_CLOEXEC, 0};
    emul::AllocOutcome outcome;
    Status st = emul::emulateHeapIoctl(*backend.value(), "system", call, caller, traced ? &outcome : nullptr);
    if (!st) {
      state.SkipWithError(st.error().message().c_str());
      break;
    }
    if (traced) emul::traceAlloc(*log, tid, "system", outcome, 0);
    outcome.buffer.reset();
    ::close(static_cast<int>(data.fd));
    if (traced) log->pollReleases();
  }
  if (log && log->lost() != 0) state.SkipWithError("trace lines lost");
  ::unlink(path);
}

void BM_AllocUntraced(benchmark::State& state) { allocLoop(state, false); }
void BM_AllocTraced(benchmark::State& state) { allocLoop(state, true); }

BENCHMARK(BM_AllocUntraced)->Name("trace/untraced/system")->Arg(4 << 10)->Arg(1 << 20)->UseRealTime()
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_AllocTraced)->Name("trace/traced/system")->Arg(4 << 10)->Arg(1 << 20)->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
