// The protocol's plain views of the core's heaps and buffers: what the service sends, and what
// `dmaheap list/alloc` print for embedded heaps too, so both show the same fields.
#pragma once

#include <cstdint>

#include "heap/buffer.h"
#include "heap/registry.h"
#include "protocol/messages.h"

namespace dmaheap::service {

inline proto::HeapInfo heapInfoOf(const HeapEntry& e) {
  const HeapUsage u = e.heap->usage();
  proto::HeapInfo h;
  h.name = e.node_name;
  h.type = e.heap->descriptor().kind;
  h.minor = e.minor;
  h.size = u.size;
  h.free = u.free;
  h.largest_free_block = u.largest_free_block;
  return h;
}

inline proto::HeapRecord heapRecordOf(const HeapEntry& e) {
  return proto::HeapRecord{heapInfoOf(e), e.heap->descriptor()};
}

// `inode` is passed in: the service gives its buffers up (releaseFd) and keeps the inode apart.
inline proto::BufferInfo bufferInfoOf(const Buffer& b, uint64_t inode) {
  proto::BufferInfo info;
  info.inode = inode;
  info.size = b.size();
  info.heap = b.heapName();
  info.name = b.name();
  for (const Segment& s : b.segments()) info.segments.push_back({s.base, s.size});
  return info;
}

}  // namespace dmaheap::service
