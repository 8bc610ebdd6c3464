// dmaheap list: the heaps /dev/dma_heap would show on the board (or that a running dmaheapd
// serves), with type, size and free.
#include <cstdio>

#include "base/errno_name.h"
#include "tools/dmaheap/board_args.h"
#include "tools/dmaheap/commands.h"
#include "tools/dmaheap/heap_views.h"

namespace dmaheap::cli {

int runList(const std::vector<std::string>& argv) {
  ArgSpec spec;
  spec.flags = {"--json"};
  addBoardOptions(&spec);
  auto args = parseArgs(argv, spec);
  if (!args || !args->positional.empty()) {
    std::fprintf(stderr, "dmaheap list: %s\n", args ? "takes no positional arguments" : args.error().message().c_str());
    return kExitUsage;
  }
  const bool json = args->has("--json");
  if (auto service = serviceIfRunning(*args)) {
    auto heaps = service->describeHeaps();
    if (!heaps) {
      std::fprintf(stderr, "dmaheap list: %s: %s\n", errnoName(heaps.code()).c_str(), heaps.error().message().c_str());
      return kExitFailure;
    }
    printHeapList(json, service->service().kernel, std::move(heaps.value()),
                  "dmaheapd pid " + std::to_string(service->service().pid));
    return kExitOk;
  }
  auto board = loadBoard(boardOptionsFrom(*args));
  if (!board) {
    std::fprintf(stderr, "dmaheap list: %s\n", board.error().message().c_str());
    return kExitUsage;
  }
  const HeapRegistry& registry = *board.value()->registry;
  std::vector<proto::HeapRecord> heaps;
  for (const HeapEntry* h : registry.heaps()) heaps.push_back(heapRecordOf(*h));
  printHeapList(json, registry.kernel().version.str(), std::move(heaps), "", &board.value()->plan);
  return kExitOk;
}

}  // namespace dmaheap::cli
