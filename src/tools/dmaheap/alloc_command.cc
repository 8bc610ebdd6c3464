// dmaheap alloc HEAP SIZE [--count N]: allocate through the heap core and show where each
// buffer landed in physical memory.
#include <fcntl.h>

#include <cstdio>

#include <nlohmann/json.hpp>

#include "base/errno_name.h"
#include "base/size.h"
#include "tools/dmaheap/board_args.h"
#include "tools/dmaheap/commands.h"
#include "tools/dmaheap/service_views.h"

namespace dmaheap::cli {

int runAlloc(const std::vector<std::string>& argv) {
  ArgSpec spec;
  spec.flags = {"--json"};
  spec.options = {"--count"};
  addBoardOptions(&spec);
  auto args = parseArgs(argv, spec);
  if (!args) {
    std::fprintf(stderr, "dmaheap alloc: %s\n", args.error().message().c_str());
    return kExitUsage;
  }
  if (args->positional.size() != 2) {
    std::fprintf(stderr, "usage: dmaheap alloc HEAP SIZE [--count N] [--dtb FILE] [--kernel V] [--json]\n");
    return kExitUsage;
  }
  auto size = parseSize(args->positional[1]);
  if (!size) {
    std::fprintf(stderr, "dmaheap alloc: %s\n", size.error().message().c_str());
    return kExitUsage;
  }
  uint64_t count = 1;
  if (auto* c = args->option("--count")) {
    auto n = parseSize(*c);
    if (!n || n.value() == 0 || n.value() > 1000000) {
      std::fprintf(stderr, "dmaheap alloc: --count wants a number from 1 to 1000000, not '%s'\n", c->c_str());
      return kExitUsage;
    }
    count = n.value();
  }
  if (auto service = serviceIfRunning(*args)) return allocFromService(*args, *service, size.value(), count);
  auto board = loadBoard(boardOptionsFrom(*args));
  if (!board) {
    std::fprintf(stderr, "dmaheap alloc: %s\n", board.error().message().c_str());
    return kExitUsage;
  }
  const HeapRegistry& registry = *board.value()->registry;
  const std::string& name = args->positional[0];
  const HeapEntry* heap = registry.find(name);
  if (!heap) {
    std::string known;
    for (const HeapEntry* h : registry.heaps()) known += (known.empty() ? "" : ", ") + h->node_name;
    std::fprintf(stderr, "dmaheap alloc: ENOENT: no heap named '%s' on this board (heaps: %s)\n", name.c_str(),
                 known.empty() ? "none" : known.c_str());
    return kExitFailure;
  }
  std::vector<std::unique_ptr<Buffer>> buffers;
  for (uint64_t i = 0; i < count; ++i) {
    auto b = registry.allocate(*heap, uapi::AllocationData{size.value(), 0, O_RDWR | O_CLOEXEC, 0});
    if (!b) {
      std::fprintf(stderr, "dmaheap alloc: %s: buffer %llu of %llu from '%s' failed: %s\n",
                   errnoName(b.code()).c_str(), static_cast<unsigned long long>(i + 1),
                   static_cast<unsigned long long>(count), name.c_str(), b.error().message().c_str());
      return kExitFailure;
    }
    buffers.push_back(std::move(b.value()));
  }
  if (args->has("--json")) {
    nlohmann::json out;
    out["buffers"] = nlohmann::json::array();
    for (const auto& b : buffers) {
      nlohmann::json segs = nlohmann::json::array();
      for (const Segment& s : b->segments()) segs.push_back({{"base", s.base}, {"size", s.size}});
      out["buffers"].push_back({{"heap", b->heapName()}, {"size", b->size()}, {"inode", b->inode()}, {"segments", segs}});
    }
    std::printf("%s\n", out.dump(2).c_str());
    return kExitOk;
  }
  for (size_t i = 0; i < buffers.size(); ++i) {
    const auto& b = buffers[i];
    std::printf("buffer %zu: %s from heap '%s', %zu segment%s\n", i + 1, formatSize(b->size()).c_str(),
                b->heapName().c_str(), b->segments().size(), b->segments().size() == 1 ? "" : "s");
    for (const Segment& s : b->segments()) {
      std::printf("  %s-%s  %s\n", formatAddr(s.base).c_str(), formatAddr(s.base + s.size - 1).c_str(),
                  formatSize(s.size).c_str());
    }
  }
  const HeapUsage u = heap->heap->usage();
  std::printf("heap '%s' now: %s free of %s, largest free block %s\n", name.c_str(), formatSize(u.free).c_str(),
              formatSize(u.size).c_str(), formatSize(u.largest_free_block).c_str());
  return kExitOk;
}

}  // namespace dmaheap::cli
