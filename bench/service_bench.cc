// dmaheapd allocation round trip (request -> fd received -> fd closed) against the in-process
// floor: memfd_create + ftruncate (+ fallocate) + seals + close, measured in the same run.
// The service runs on a thread of this process over a real Unix socket; its work (allocation,
// populating the memfd, SCM_RIGHTS, the inotify release) is all in the measured time.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <thread>

#include "board/board.h"
#include "heap/buffer.h"
#include "protocol/service_client.h"
#include "service/service.h"

namespace dmaheap {
namespace {

// The built-in default board's shape: 2 GiB at 0x40000000, 64 MiB default CMA area.
dt::BoardPlan benchPlan() {
  dt::BoardPlan plan;
  plan.memory = {{0x40000000, 2 * kGiB}};
  dt::CmaArea area;
  area.name = "reserved";
  area.base = 0x40000000 + kGiB;
  area.size = 64 * kMiB;
  area.is_default = true;
  plan.cma_areas.push_back(area);
  return plan;
}

class BenchService {
 public:
  BenchService() {
    char tmpl[] = "/tmp/dmaheapd-bench-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    path_ = dir_ + "/dmaheap.sock";
    board_ = std::move(buildBoard(benchPlan()).value());
    service::ServiceOptions o;
    o.log = [](const std::string&) {};
    service_ = std::move(service::Service::create(*board_->registry, o).value());
    if (!service_->listen(path_)) std::abort();
    thread_ = std::thread([this] { (void)service_->run(); });
  }
  ~BenchService() {
    service_->stop();
    thread_.join();
    std::filesystem::remove_all(dir_);
  }
  const std::string& path() const { return path_; }

 private:
  std::string dir_, path_;
  std::unique_ptr<Board> board_;
  std::unique_ptr<service::Service> service_;
  std::thread thread_;
};

BenchService& benchService() {
  static BenchService* s = [] {
    ::signal(SIGPIPE, SIG_IGN);
    auto* service = new BenchService();
    std::atexit([] { delete s; });  // stop the loop thread and remove the socket directory
    return service;
  }();
  return *s;
}

void BM_ServiceAllocRoundTrip(benchmark::State& state) {
  auto client = proto::ServiceClient::connect(benchService().path());
  if (!client) {
    state.SkipWithError(client.error().message().c_str());
    return;
  }
  const uint64_t size = static_cast<uint64_t>(state.range(0));
  for (auto _ : state) {
    auto b = client->allocate("system", size);
    if (!b) {
      state.SkipWithError(b.error().message().c_str());
      return;
    }
    benchmark::DoNotOptimize(b->fd.get());
  }  // the fd closes at the end of each iteration: the buffer goes back through inotify
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * size));
}

void BM_ServiceHelloRoundTrip(benchmark::State& state) {
  auto client = proto::ServiceClient::connect(benchService().path());
  if (!client) {
    state.SkipWithError(client.error().message().c_str());
    return;
  }
  for (auto _ : state) benchmark::DoNotOptimize(client->hello().ok());
}

void BM_FloorMemfdPopulated(benchmark::State& state) {
  const uint64_t size = static_cast<uint64_t>(state.range(0));
  for (auto _ : state) {
    auto fd = createSealedMemfd("dmabuf", size, true, true);
    benchmark::DoNotOptimize(fd->get());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * size));
}

void BM_FloorMemfdLazy(benchmark::State& state) {
  const uint64_t size = static_cast<uint64_t>(state.range(0));
  for (auto _ : state) {
    auto fd = createSealedMemfd("dmabuf", size, false, true);
    benchmark::DoNotOptimize(fd->get());
  }
}

constexpr int64_t k4K = 4096;
constexpr int64_t k64M = 64 << 20;

BENCHMARK(BM_ServiceHelloRoundTrip)->UseRealTime()->Repetitions(5)->ReportAggregatesOnly(true);
BENCHMARK(BM_ServiceAllocRoundTrip)->Arg(k4K)->Arg(k64M)->UseRealTime()->Repetitions(5)->ReportAggregatesOnly(true);
BENCHMARK(BM_FloorMemfdPopulated)->Arg(k4K)->Arg(k64M)->UseRealTime()->Repetitions(5)->ReportAggregatesOnly(true);
BENCHMARK(BM_FloorMemfdLazy)->Arg(k4K)->Arg(k64M)->UseRealTime()->Repetitions(5)->ReportAggregatesOnly(true);

}  // namespace
}  // namespace dmaheap

BENCHMARK_MAIN();
