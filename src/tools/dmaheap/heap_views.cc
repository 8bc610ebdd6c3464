// Rendering heap lists and allocated buffers, text and JSON.
#include "tools/dmaheap/heap_views.h"
#include "base/json_text.h"

#include <algorithm>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "base/errno_name.h"
#include "base/heap_descriptor.h"
#include "base/size.h"

namespace dmaheap::cli {

std::optional<proto::ServiceClient> serviceIfRunning(const BoardArgs& board) {
  if (board.any()) return std::nullopt;
  return proto::ServiceClient::connectIfRunning(proto::defaultSocketPath());
}

namespace {

// What the text listing adds after the numbers for a heap that is not plain: "  uncached, dma32".
std::string descriptorNote(const HeapDescriptor& d) {
  std::string note;
  auto add = [&](const std::string& s) { note += (note.empty() ? "  " : ", ") + s; };
  if (!d.cached) add("uncached");
  if (d.dma32()) add("dma32");
  if (d.source == MemorySource::kCarveout) add("carve-out " + d.region);
  return note;
}

}  // namespace

void printHeapList(bool json, const std::string& kernel, std::vector<proto::HeapRecord> records,
                   const std::string& served_by, const dt::BoardPlan* plan, const BackingView& backing) {
  // With --memory/--memory-size, which /memory the board got and where it came from.
  const bool fixed = plan && plan->memory_origin.from.rfind("--", 0) == 0;
  // Sorted by name, as `ls /dev/dma_heap` shows them.
  std::sort(records.begin(), records.end(), [](const auto& a, const auto& b) { return a.heap.name < b.heap.name; });
  if (json) {
    nlohmann::json out;
    out["kernel"] = kernel;
    out["heaps"] = nlohmann::json::array();
    for (const auto& r : records) {
      const auto& h = r.heap;
      nlohmann::json e = {{"name", h.name},
                          {"type", h.type},
                          {"size", h.size},
                          {"free", h.free},
                          {"largest_free_block", h.largest_free_block}};
      addDescriptorJson(e, r.descriptor);
      out["heaps"].push_back(std::move(e));
    }
    if (fixed) {
      out["memory"] = nlohmann::json::array();
      for (const auto& m : plan->memory) out["memory"].push_back({{"base", m.base}, {"size", m.size}});
      out["memory_origin"] = {{"from", plan->memory_origin.from},
                              {"nodes", plan->memory_origin.nodes},
                              {"detail", plan->memory_origin.detail}};
    }
    if (!backing.name.empty()) out["backing"] = {{"name", backing.name}, {"description", backing.description}};
    std::printf("%s\n", jsonText(out).c_str());
    return;
  }
  std::printf("/dev/dma_heap on kernel %s%s:\n", kernel.c_str(),
              served_by.empty() ? "" : (" (served by " + served_by + ")").c_str());
  if (fixed) {
    std::printf("  memory from %s: %s\n", plan->memory_origin.from.c_str(), plan->memory_origin.detail.c_str());
    for (const auto& m : plan->memory)
      std::printf("    %s-%s  %s\n", formatAddr(m.base).c_str(), formatAddr(m.base + m.size - 1).c_str(), formatSize(m.size).c_str());
  }
  std::printf("  %-28s %-7s %12s %12s %14s\n", "HEAP", "TYPE", "SIZE", "FREE", "LARGEST BLOCK");
  for (const auto& r : records) {
    const auto& h = r.heap;
    std::printf("  %-28s %-7s %12s %12s %14s%s\n", h.name.c_str(), h.type.c_str(), formatSize(h.size).c_str(),
                formatSize(h.free).c_str(), formatSize(h.largest_free_block).c_str(), descriptorNote(r.descriptor).c_str());
  }
  if (records.empty()) std::printf("  (none: this kernel creates no DMA-BUF heaps)\n");
  if (!backing.name.empty()) std::printf("  buffers backed by %s\n", backing.description.c_str());
}

void printBuffers(bool json, const std::vector<proto::BufferInfo>& buffers) {
  if (json) {
    nlohmann::json out;
    out["buffers"] = nlohmann::json::array();
    for (const auto& b : buffers) {
      nlohmann::json segs = nlohmann::json::array();
      for (const auto& s : b.segments) segs.push_back({{"base", s.base}, {"size", s.size}});
      out["buffers"].push_back({{"heap", b.heap}, {"size", b.size}, {"inode", b.inode}, {"segments", segs}});
    }
    std::printf("%s\n", jsonText(out).c_str());
    return;
  }
  for (size_t i = 0; i < buffers.size(); ++i) {
    const auto& b = buffers[i];
    std::printf("buffer %zu: %s from heap '%s', %zu segment%s\n", i + 1, formatSize(b.size).c_str(), b.heap.c_str(),
                b.segments.size(), b.segments.size() == 1 ? "" : "s");
    for (const auto& s : b.segments) {
      std::printf("  %s-%s  %s\n", formatAddr(s.base).c_str(), formatAddr(s.base + s.size - 1).c_str(),
                  formatSize(s.size).c_str());
    }
  }
}

void printHeapNow(const proto::HeapInfo& h, const std::string& served_by) {
  std::printf("heap '%s' now: %s free of %s, largest free block %s%s\n", h.name.c_str(), formatSize(h.free).c_str(),
              formatSize(h.size).c_str(), formatSize(h.largest_free_block).c_str(),
              served_by.empty() ? "" : (" (" + served_by + ")").c_str());
}

void printAllocFailure(int err, uint64_t index, uint64_t count, const std::string& heap, const std::string& why) {
  std::fprintf(stderr, "dmaheap alloc: %s: buffer %llu of %llu from '%s' failed: %s\n", errnoName(err).c_str(),
               static_cast<unsigned long long>(index + 1), static_cast<unsigned long long>(count), heap.c_str(),
               why.c_str());
}

}  // namespace dmaheap::cli
