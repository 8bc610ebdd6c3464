// The heap framework core: registry, ioctl decoding and request validation.
#include "heap/registry.h"

#include <algorithm>
#include <cstring>

#include "base/size.h"

namespace dmaheap {

Result<HeapIoctlPlan> planHeapIoctl(uint32_t cmd) {
  if (uapi::iocNr(cmd) >= 1) {
    return makeError(EINVAL, "ioctl nr " + std::to_string(uapi::iocNr(cmd)) + " does not exist (only ALLOC, nr 0)");
  }
  HeapIoctlPlan p;
  const size_t size = uapi::iocSize(cmd);
  if (uapi::iocDir(cmd) & uapi::kIocWrite) p.in_size = size;
  if (uapi::iocDir(cmd) & uapi::kIocRead) p.out_size = size;
  p.ksize = std::max({p.in_size, p.out_size, sizeof(uapi::AllocationData)});
  return p;
}

std::vector<uint8_t> heapIoctlKernelBuffer(const HeapIoctlPlan& plan, std::span<const uint8_t> user_in) {
  std::vector<uint8_t> k(plan.ksize, 0);
  const size_t n = std::min(user_in.size(), plan.in_size);
  if (n > 0) std::memcpy(k.data(), user_in.data(), n);
  return k;
}

Status HeapRegistry::add(std::string name, std::shared_ptr<Heap> heap, std::string* log) {
  auto say = [&](std::string line) {
    if (log) *log = std::move(line);
  };
  if (name.empty()) {
    say("dma_heap: Cannot add heap without a name");
    return makeError(EINVAL, "a heap needs a name");
  }
  if (!heap) {
    say("dma_heap: Cannot add heap with invalid ops struct");
    return makeError(EINVAL, "a heap needs an allocate operation");
  }
  // The lowest free minor; heaps are never removed, so that is the count.
  if (entries_.size() >= kMaxHeaps) {
    say("dma_heap: Unable to get minor number for heap");
    return makeError(EBUSY, "all 128 heap minors are in use");
  }
  if (find(name) != nullptr) {
    if (kernel_.duplicateHeapNameErrno() == EINVAL) {
      say("dma_heap: Already registered heap named " + name);
      return makeError(EINVAL, "a heap named '" + name + "' is already registered");
    }
    say("dma_heap: Unable to create device");
    return makeError(EEXIST, "a heap named '" + name + "' is already registered (device_create: sysfs name exists)");
  }
  HeapEntry e;
  e.node_name = name;
  std::replace(e.node_name.begin(), e.node_name.end(), '/', '!');
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

Result<uint64_t> HeapRegistry::validate(const uapi::AllocationData& r) const {
  if (r.fd != 0) return makeError(EINVAL, "the fd field must be 0 on input");
  if (r.fd_flags & ~uapi::kValidFdFlags) {
    return makeError(EINVAL, "fd_flags may only hold O_CLOEXEC and the access mode");
  }
  if (r.heap_flags & ~uapi::kValidHeapFlags) return makeError(EINVAL, "no heap flags are defined");
  const uint64_t page = kernel_.pageSize();
  const uint64_t len = (r.len + page - 1) & ~(page - 1);  // PAGE_ALIGN, wrapping as the kernel does
  if (len == 0) {
    return makeError(EINVAL, r.len == 0 ? "length 0" : "length wraps to 0 when page aligned");
  }
  return len;
}

Result<std::unique_ptr<Buffer>> HeapRegistry::allocate(const HeapEntry& heap, const uapi::AllocationData& r) const {
  auto validated = validate(r);
  if (!validated) return validated.error();
  const uint64_t len = validated.value();
  auto memory = heap.heap->allocate(len);
  if (!memory) return memory.error();
  Buffer::Options opts;
  opts.heap_name = heap.name;
  opts.map_error_errno = heap.heap->mapErrorErrno();
  opts.fd_flags = r.fd_flags;
  return Buffer::create(std::move(memory.value()), len, kernel_, std::move(opts));
}

Result<std::unique_ptr<Buffer>> HeapRegistry::ioctl(const HeapEntry& heap, uint32_t cmd, void* arg) const {
  auto plan = planHeapIoctl(cmd);
  if (!plan) return plan.error();
  if (arg == nullptr && (plan->in_size > 0 || plan->out_size > 0)) return makeError(EFAULT, "bad address");
  std::vector<uint8_t> k = heapIoctlKernelBuffer(
      *plan, std::span<const uint8_t>(static_cast<const uint8_t*>(arg), arg ? plan->in_size : 0));
  uapi::AllocationData req;
  std::memcpy(&req, k.data(), sizeof req);
  auto buffer = allocate(heap, req);
  if (!buffer) return buffer.error();
  req.fd = static_cast<uint32_t>(buffer.value()->fd());
  std::memcpy(k.data(), &req, sizeof req);
  if (plan->out_size > 0) std::memcpy(arg, k.data(), plan->out_size);
  return buffer;
}

}  // namespace dmaheap
