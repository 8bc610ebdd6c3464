// A tiny "camera" that allocates contiguous frame buffers through libdmaheap, whatever the
// machine offers: the kernel's CMA heap, the dmaheapd service, or embedded emulated heaps.
#include <dmaheap/allocator.h>

#include <cstdio>
#include <cstring>
#include <vector>

int main() {
  auto allocator = dmaheap::Allocator::create();
  if (!allocator) {
    std::fprintf(stderr, "no allocator: %s\n", allocator.message().c_str());
    return 1;
  }
  std::printf("backend: %s\n", dmaheap::backendName(allocator->backend()));
  auto heaps = allocator->heaps();
  if (heaps) {
    for (const auto& h : *heaps) {
      std::printf("  heap %-24s %-8s%s\n", h.name.c_str(), h.type.c_str(),
                  h.has(dmaheap::Capability::kContiguous) ? " contiguous" : "");
    }
  }
  constexpr uint64_t kFrame = 1920 * 1080 * 2;  // one YUYV 1080p frame
  std::vector<dmaheap::DmaBuf> frames;
  for (int i = 0; i < 4; ++i) {
    auto frame = allocator->allocate(dmaheap::Capability::kContiguous, kFrame);
    if (!frame) {
      std::fprintf(stderr, "frame %d: %s\n", i, frame.message().c_str());
      return 1;
    }
    (void)frame->setName("frame-" + std::to_string(i));
    auto map = frame->map();
    if (!map) return 1;
    {
      auto cpu = frame->cpuAccess(dmaheap::CpuAccess::kWrite);
      std::memset(map->data(), 0x80, map->size());  // grey
    }
    std::printf("frame %d: %llu bytes from %s, fd %d\n", i, static_cast<unsigned long long>(frame->size()),
                frame->heap().c_str(), frame->fd());
    frames.push_back(std::move(frame.value()));
  }
  return 0;
}
