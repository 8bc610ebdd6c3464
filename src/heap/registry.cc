// The heap framework core: registry and allocation; decoding and validation are the front door's.
#include "heap/registry.h"

#include <cstring>

namespace dmaheap {

Status HeapRegistry::add(std::string name, std::shared_ptr<Heap> heap, std::string* log) {
  std::vector<std::string> lines;
  auto node = naming_.add(name, heap != nullptr, &lines);
  if (!node) {
    // The dma_heap line is the last; a sysfs warning may precede it.
    if (log && !lines.empty()) *log = lines.back();
    return node.error();
  }
  HeapEntry e;
  e.node_name = std::move(node.value());
  e.name = std::move(name);
  e.minor = static_cast<unsigned>(entries_.size());
  e.heap = std::move(heap);
  entries_.push_back(std::move(e));
  return {};
}

std::vector<const HeapEntry*> HeapRegistry::heaps() const {
  std::vector<const HeapEntry*> out;
  for (auto it = entries_.rbegin(); it != entries_.rend(); ++it) out.push_back(&*it);
  return out;
}

const HeapEntry* HeapRegistry::find(std::string_view name) const {
  for (const auto& e : entries_)
    if (e.name == name || e.node_name == name) return &e;
  return nullptr;
}

Result<std::unique_ptr<Buffer>> HeapRegistry::allocate(const HeapEntry& heap, const uapi::AllocationData& r) const {
  auto request = dmabuf::validateAlloc(r, kernel_);
  if (!request) return request.error();
  return allocate(heap, request.value());
}

Result<std::unique_ptr<Buffer>> HeapRegistry::allocate(const HeapEntry& heap, const dmabuf::AllocRequest& r) const {
  auto memory = heap.heap->allocate(r.len);
  if (!memory) return memory.error();
  Buffer::Options opts;
  opts.heap_name = heap.name;
  opts.map_error_errno = heap.heap->mapErrorErrno();
  opts.fd_flags = r.fd_flags;
  opts.backing = backing_.get();
  return Buffer::create(std::move(memory.value()), r.len, kernel_, std::move(opts));
}

Result<std::unique_ptr<Buffer>> HeapRegistry::ioctl(const HeapEntry& heap, uint32_t cmd, void* arg) const {
  auto plan = planHeapIoctl(cmd);
  if (!plan) return plan.error();
  if (arg == nullptr && (plan->in_size > 0 || plan->out_size > 0)) return makeError(EFAULT, "bad address");
  std::vector<uint8_t> k = heapIoctlKernelBuffer(
      *plan, std::span<const uint8_t>(static_cast<const uint8_t*>(arg), arg ? plan->in_size : 0));
  auto buffer = allocate(heap, dmabuf::allocationDataOf(k));
  if (!buffer) return buffer.error();
  dmabuf::storeAllocatedFd(k, static_cast<uint32_t>(buffer.value()->fd()));
  if (plan->out_size > 0) std::memcpy(arg, k.data(), plan->out_size);
  return buffer;
}

}  // namespace dmaheap
