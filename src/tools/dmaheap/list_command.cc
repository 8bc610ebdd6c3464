// dmaheap list: the heaps /dev/dma_heap would show on the board, with type, size and free.
#include <algorithm>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "base/errno_name.h"
#include "base/size.h"
#include "tools/dmaheap/board_args.h"
#include "tools/dmaheap/commands.h"
#include "tools/dmaheap/service_views.h"

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
  if (auto service = serviceIfRunning(*args)) return listFromService(*args, *service);
  auto board = loadBoard(boardOptionsFrom(*args));
  if (!board) {
    std::fprintf(stderr, "dmaheap list: %s\n", board.error().message().c_str());
    return kExitUsage;
  }
  const auto& registry = *board.value()->registry;
  // Sorted by name, as `ls /dev/dma_heap` shows them.
  auto heaps = registry.heaps();
  std::sort(heaps.begin(), heaps.end(), [](auto* a, auto* b) { return a->node_name < b->node_name; });
  if (args->has("--json")) {
    nlohmann::json out;
    out["kernel"] = registry.kernel().version.str();
    out["heaps"] = nlohmann::json::array();
    for (const HeapEntry* h : heaps) {
      const HeapUsage u = h->heap->usage();
      out["heaps"].push_back({{"name", h->node_name},
                              {"type", h->heap->traits().type},
                              {"size", u.size},
                              {"free", u.free},
                              {"largest_free_block", u.largest_free_block}});
    }
    std::printf("%s\n", out.dump(2).c_str());
    return kExitOk;
  }
  std::printf("/dev/dma_heap on kernel %s:\n", registry.kernel().version.str().c_str());
  std::printf("  %-28s %-7s %12s %12s %14s\n", "HEAP", "TYPE", "SIZE", "FREE", "LARGEST BLOCK");
  for (const HeapEntry* h : heaps) {
    const HeapUsage u = h->heap->usage();
    std::printf("  %-28s %-7s %12s %12s %14s\n", h->node_name.c_str(), h->heap->traits().type,
                formatSize(u.size).c_str(), formatSize(u.free).c_str(), formatSize(u.largest_free_block).c_str());
  }
  if (heaps.empty()) std::printf("  (none: this kernel creates no DMA-BUF heaps)\n");
  return kExitOk;
}

}  // namespace dmaheap::cli
