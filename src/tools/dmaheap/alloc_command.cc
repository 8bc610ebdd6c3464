// dmaheap alloc HEAP SIZE [--count N]: allocate through the heap core (or a running dmaheapd)
// and show where each buffer landed in physical memory.
#include <fcntl.h>

#include <cstdio>
#include <memory>

#include "base/errno_name.h"
#include "base/size.h"
#include "tools/cli/board_args.h"
#include "tools/dmaheap/commands.h"
#include "tools/dmaheap/heap_views.h"

namespace dmaheap::cli {

namespace {

struct AllocArgs {
  std::string heap, size;
  std::optional<std::string> count;
  BoardArgs board;
  bool json = false;
};

int runAlloc(const AllocArgs& args) {
  auto size = parseSize(args.size);
  if (!size) {
    std::fprintf(stderr, "dmaheap alloc: %s\n", size.error().message().c_str());
    return kExitUsage;
  }
  uint64_t count = 1;
  if (const auto& c = args.count) {
    auto n = parseSize(*c);
    if (!n || n.value() == 0 || n.value() > 1000000) {
      std::fprintf(stderr, "dmaheap alloc: --count wants a number from 1 to 1000000, not '%s'\n", c->c_str());
      return kExitUsage;
    }
    count = n.value();
  }
  const std::string& name = args.heap;
  const bool json = args.json;
  if (auto service = serviceIfRunning(args.board)) {
    std::vector<proto::ServiceBuffer> held;  // let go on exit, as the embedded path does
    std::vector<proto::BufferInfo> shown;
    for (uint64_t i = 0; i < count; ++i) {
      auto b = service->allocate(name, size.value(), O_RDWR | O_CLOEXEC);
      if (!b) {
        printAllocFailure(b.code(), i, count, name, b.error().message());
        return kExitFailure;
      }
      shown.push_back(b->info);
      held.push_back(std::move(b.value()));
    }
    printBuffers(json, shown);
    if (auto heaps = service->listHeaps(); heaps && !json) {
      for (const auto& h : *heaps)
        if (h.name == name) printHeapNow(h, "dmaheapd pid " + std::to_string(service->service().pid));
    }
    return kExitOk;
  }
  auto board = loadBoard(args.board.options());
  if (!board) {
    std::fprintf(stderr, "dmaheap alloc: %s\n", board.error().message().c_str());
    return kExitUsage;
  }
  const HeapRegistry& registry = *board.value()->registry;
  const HeapEntry* heap = registry.find(name);
  if (!heap) {
    std::string known;
    for (const HeapEntry* h : registry.heaps()) known += (known.empty() ? "" : ", ") + h->node_name;
    std::fprintf(stderr, "dmaheap alloc: ENOENT: no heap named '%s' on this board (heaps: %s)\n", name.c_str(),
                 known.empty() ? "none" : known.c_str());
    return kExitFailure;
  }
  std::vector<std::unique_ptr<Buffer>> buffers;
  std::vector<proto::BufferInfo> shown;
  for (uint64_t i = 0; i < count; ++i) {
    auto b = registry.allocate(*heap, uapi::AllocationData{size.value(), 0, O_RDWR | O_CLOEXEC, 0});
    if (!b) {
      printAllocFailure(b.code(), i, count, name, b.error().message());
      return kExitFailure;
    }
    shown.push_back(bufferInfoOf(*b.value(), b.value()->inode()));
    buffers.push_back(std::move(b.value()));
  }
  printBuffers(json, shown);
  if (!json) printHeapNow(heapInfoOf(*heap), "");
  return kExitOk;
}

}  // namespace

void defineAlloc(Cli& cli) {
  auto args = std::make_shared<AllocArgs>();
  CLI::App* sub = cli.command("alloc", "Allocate from a heap and show each buffer's physical segments");
  sub->add_option("HEAP", args->heap, "The heap's /dev/dma_heap name (see dmaheap list)")->type_name("")->required();
  sub->add_option("SIZE", args->size, "Bytes per buffer: 4096, 4K, 64M, 1G")->type_name("")->required();
  sub->add_option("--count", args->count, "Allocate N buffers of SIZE, all held until the end (default 1)")
      ->type_name("N");
  addBoardOptions(cli, sub, &args->board);
  sub->add_flag("--json", args->json, "Print one JSON object instead of text")->disable_flag_override();
  cli.onRun(sub, [args] { return runAlloc(*args); });
}

}  // namespace dmaheap::cli
