// dmaheap list: the heaps /dev/dma_heap would show on the board (or that a running dmaheapd
// serves), with type, size and free.
#include <cstdio>
#include <memory>

#include "base/errno_name.h"
#include "heap/backing.h"
#include "tools/cli/board_args.h"
#include "tools/dmaheap/commands.h"
#include "tools/dmaheap/heap_views.h"

namespace dmaheap::cli {

namespace {

struct ListArgs {
  BoardArgs board;
  bool json = false;
};

int runList(const ListArgs& args) {
  const bool json = args.json;
  if (auto service = serviceIfRunning(args.board)) {
    auto heaps = service->describeHeaps();
    if (!heaps) {
      std::fprintf(stderr, "dmaheap list: %s: %s\n", errnoName(heaps.code()).c_str(), heaps.error().message().c_str());
      return kExitFailure;
    }
    BackingView backing;
    if (auto b = service->backings()) backing = {b->backing, b->description};
    printHeapList(json, service->service().kernel, std::move(heaps.value()),
                  "dmaheapd pid " + std::to_string(service->service().pid), nullptr, backing);
    return kExitOk;
  }
  auto board = loadBoard(args.board.options());
  if (!board) {
    std::fprintf(stderr, "dmaheap list: %s\n", board.error().message().c_str());
    return kExitUsage;
  }
  const HeapRegistry& registry = *board.value()->registry;
  std::vector<proto::HeapRecord> heaps;
  for (const HeapEntry* h : registry.heaps()) heaps.push_back(heapRecordOf(*h));
  // What `dmaheap run` and dmaheapd would choose here by default (auto), without its fallback lines.
  BackingView backing;
  BackingOptions o;
  o.paths = HostPaths::fromEnvironment();
  o.notice = [](const std::string&) {};
  if (auto b = selectBacking(o)) backing = {std::string(backingName(b.value()->kind())), b.value()->description()};
  printHeapList(json, registry.kernel().version.str(), std::move(heaps), "", &board.value()->plan, backing);
  return kExitOk;
}

}  // namespace

void defineList(Cli& cli) {
  auto args = std::make_shared<ListArgs>();
  CLI::App* sub = cli.command("list", "The heaps /dev/dma_heap would list on the board (or that dmaheapd serves)");
  addBoardOptions(cli, sub, &args->board);
  sub->add_flag("--json", args->json, "Print one JSON object instead of text")->disable_flag_override();
  cli.onRun(sub, [args] { return runList(*args); });
}

}  // namespace dmaheap::cli
