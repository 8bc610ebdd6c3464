// libdmaheap C API: a thin wrapper of the C++ Allocator behind an opaque handle.
#include "dmaheap/dmaheap.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <new>
#include <optional>
#include <string>
#include <vector>

#include "client/backend_names.h"
#include "client/capability.h"
#include "dmaheap/allocator.h"

struct dmaheap_allocator {
  dmaheap::Allocator allocator;
  std::vector<dmaheap::HeapDescription> heaps;  // snapshot for index-based access
};

namespace {

template <typename O>
int negErrno(const O& o) {
  const int e = o.error().value();
  return e > 0 ? -e : -EIO;
}

int copyName(const std::string& s, char* out, size_t len) {
  if (!out || s.size() + 1 > len) return -ERANGE;
  std::memcpy(out, s.c_str(), s.size() + 1);
  return 0;
}

}  // namespace

extern "C" {

int dmaheap_allocator_create(const char* backend, dmaheap_allocator** out) {
  if (!out) return -EINVAL;
  *out = nullptr;
  dmaheap::AllocatorOptions options;
  auto name = dmaheap::parseBackendName(backend ? backend : "", dmaheap::BackendNameSource::kApi);
  if (!name) return -name.code();
  options.backend = dmaheap::client::backendOf(name.value());
  auto a = dmaheap::Allocator::create(options);
  if (!a) return negErrno(a);
  auto* handle = new (std::nothrow) dmaheap_allocator{std::move(a.value()), {}};
  if (!handle) return -ENOMEM;
  *out = handle;
  return 0;
}

void dmaheap_allocator_destroy(dmaheap_allocator* allocator) { delete allocator; }

const char* dmaheap_allocator_backend(const dmaheap_allocator* allocator) {
  return allocator ? dmaheap::backendName(allocator->allocator.backend()) : "";
}

int dmaheap_heap_count(dmaheap_allocator* allocator) {
  if (!allocator) return -EINVAL;
  auto heaps = allocator->allocator.heaps();
  if (!heaps) return negErrno(heaps);
  allocator->heaps = std::move(heaps.value());
  return static_cast<int>(allocator->heaps.size());
}

int dmaheap_heap_get_info(dmaheap_allocator* allocator, int index, struct dmaheap_heap_info* out) {
  if (!allocator || !out) return -EINVAL;
  if (allocator->heaps.empty()) {
    if (int n = dmaheap_heap_count(allocator); n < 0) return n;
  }
  if (index < 0 || static_cast<size_t>(index) >= allocator->heaps.size()) return -ERANGE;
  const auto& h = allocator->heaps[static_cast<size_t>(index)];
  std::memset(out, 0, sizeof *out);
  std::snprintf(out->name, sizeof out->name, "%s", h.name.c_str());
  std::snprintf(out->type, sizeof out->type, "%s", h.type.c_str());
  out->contiguous = h.has(dmaheap::Capability::kContiguous) ? 1 : 0;
  out->size = h.size;
  out->free = h.free;
  return 0;
}

int dmaheap_alloc(dmaheap_allocator* allocator, const char* heap, uint64_t len, int* fd_out) {
  if (!allocator || !heap || !fd_out) return -EINVAL;
  auto buf = allocator->allocator.allocate(heap, len);
  if (!buf) return negErrno(buf);
  *fd_out = buf->release();
  return 0;
}

int dmaheap_resolve_capability(dmaheap_allocator* allocator, const char* capability, char* name, size_t name_len) {
  if (!allocator || !capability) return -EINVAL;
  auto cap = dmaheap::client::parseCapability(capability);
  if (!cap) return -EINVAL;
  auto resolved = allocator->allocator.resolve(*cap);
  if (!resolved) return negErrno(resolved);
  return copyName(resolved.value(), name, name_len);
}

int dmaheap_alloc_capability(dmaheap_allocator* allocator, const char* capability, uint64_t len, int* fd_out) {
  if (!allocator || !capability || !fd_out) return -EINVAL;
  auto cap = dmaheap::client::parseCapability(capability);
  if (!cap) return -EINVAL;
  auto buf = allocator->allocator.allocate(*cap, len);
  if (!buf) return negErrno(buf);
  *fd_out = buf->release();
  return 0;
}

static int syncCall(dmaheap_allocator* allocator, int fd, unsigned direction, uint64_t end) {
  if (!allocator) return -EINVAL;
  if (direction < 1 || direction > 3) return -EINVAL;
  uint64_t flags = direction | end;
  auto st = allocator->allocator.bufferIoctl(fd, 0x40086200u /* DMA_BUF_IOCTL_SYNC */, &flags);
  return st ? 0 : negErrno(st);
}

int dmaheap_cpu_access_begin(dmaheap_allocator* allocator, int fd, unsigned direction) {
  return syncCall(allocator, fd, direction, 0);
}

int dmaheap_cpu_access_end(dmaheap_allocator* allocator, int fd, unsigned direction) {
  return syncCall(allocator, fd, direction, 4 /* DMA_BUF_SYNC_END */);
}

int dmaheap_set_name(dmaheap_allocator* allocator, int fd, const char* name) {
  if (!allocator) return -EINVAL;
  auto st = allocator->allocator.bufferIoctl(fd, 0x40086201u /* DMA_BUF_SET_NAME_B */, const_cast<char*>(name));
  return st ? 0 : negErrno(st);
}

int dmaheap_heap_ioctl(dmaheap_allocator* allocator, const char* heap, unsigned long cmd, void* arg) {
  if (!allocator || !heap) return -EINVAL;
  auto st = allocator->allocator.heapIoctl(heap, cmd, arg);
  return st ? 0 : negErrno(st);
}

int dmaheap_buffer_ioctl(dmaheap_allocator* allocator, int fd, unsigned long cmd, void* arg) {
  if (!allocator) return -EINVAL;
  auto st = allocator->allocator.bufferIoctl(fd, cmd, arg);
  return st ? 0 : negErrno(st);
}

}  // extern "C"
