// The messages of the dmaheapd protocol, version 1, as plain structs. Each struct lists its wire
// fields once (DMAHEAP_WIRE_FIELDS, in wire order); protocol.cc encodes and decodes them from
// that list. Requests name their reply type and whether an fd travels with them.
//
// Adding a field to a message breaks the wire format (decoding is strict): old peers would
// refuse it. Add a message type instead (an old service answers an unknown type with EOPNOTSUPP
// and keeps the connection, and an old client never sends it): DescribeHeaps carries the heap
// descriptor that ListHeaps, frozen in its version-1 form, lacks.
#pragma once

#include <cstdint>
#include <string>
#include <tuple>
#include <variant>
#include <vector>

#include "dmaheap/heap_descriptor.h"

// Defines tie() (const and non-const) over the struct's wire fields, in wire order.
#define DMAHEAP_WIRE_FIELDS(...)                             \
  auto tie() { return std::tie(__VA_ARGS__); }               \
  auto tie() const { return std::tie(__VA_ARGS__); }

namespace dmaheap::proto {

enum class MsgType : uint8_t {
  kHello = 1,
  kListHeaps = 2,
  kAlloc = 3,
  kSetName = 4,
  kBufferInfo = 5,
  kStats = 6,
  kDescribeHeaps = 7,  // added after version 1's first release; see DescribeHeapsRequest
  kBackings = 8,       // added after DescribeHeaps; see BackingsRequest
};
// A reply has the request's type with this bit set.
inline constexpr uint8_t kReplyFlag = 0x80;
// The service's last word before it closes a connection for a protocol violation: the reply
// to no request in particular (id 0), carrying the errno and the reason.
inline constexpr uint8_t kProtocolErrorType = 0xff;

// ---- shared pieces ----

struct HeapInfo {
  std::string name;   // the /dev/dma_heap entry
  std::string type;   // "system", "cma", ...
  uint32_t minor = 0;
  uint64_t size = 0;  // bytes the heap can hand out at most
  uint64_t free = 0;
  uint64_t largest_free_block = 0;  // largest physically contiguous free block, bytes
  DMAHEAP_WIRE_FIELDS(name, type, minor, size, free, largest_free_block)
  bool operator==(const HeapInfo&) const = default;
};

// A heap with everything the service knows of it: the version-1 listing plus the descriptor.
struct HeapRecord {
  HeapInfo heap;               // heap.type == descriptor.kind
  HeapDescriptor descriptor;
  DMAHEAP_WIRE_FIELDS(heap, descriptor)
  bool operator==(const HeapRecord&) const = default;
};

struct Segment {
  uint64_t base = 0;  // physical address in the emulated board
  uint64_t size = 0;
  DMAHEAP_WIRE_FIELDS(base, size)
  bool operator==(const Segment&) const = default;
};

struct BufferInfo {
  uint64_t inode = 0;  // of the memfd: the buffer's identity, as st_ino of the fd
  uint64_t size = 0;   // page aligned
  std::string heap;
  std::string name;    // DMA_BUF_SET_NAME, "" if never named
  std::vector<Segment> segments;
  DMAHEAP_WIRE_FIELDS(inode, size, heap, name, segments)
  bool operator==(const BufferInfo&) const = default;
};

// ---- replies ----

struct HelloReply {
  static constexpr MsgType kType = MsgType::kHello;
  static constexpr bool kCarriesFd = false;
  uint16_t version = 0;     // the protocol version the service speaks
  std::string service;      // "dmaheapd 0.1.0"
  std::string kernel;       // the emulated release, "6.18"
  uint32_t page_size = 0;
  uint32_t pid = 0;         // of the service
  DMAHEAP_WIRE_FIELDS(version, service, kernel, page_size, pid)
  bool operator==(const HelloReply&) const = default;
};

struct ListHeapsReply {
  static constexpr MsgType kType = MsgType::kListHeaps;
  static constexpr bool kCarriesFd = false;
  std::vector<HeapInfo> heaps;  // in the kernel's list order
  DMAHEAP_WIRE_FIELDS(heaps)
  bool operator==(const ListHeapsReply&) const = default;
};

struct AllocReply {  // the buffer's fd travels with it
  static constexpr MsgType kType = MsgType::kAlloc;
  static constexpr bool kCarriesFd = true;
  BufferInfo buffer;
  DMAHEAP_WIRE_FIELDS(buffer)
  bool operator==(const AllocReply&) const = default;
};

struct SetNameReply {
  static constexpr MsgType kType = MsgType::kSetName;
  static constexpr bool kCarriesFd = false;
  auto tie() { return std::tie(); }
  auto tie() const { return std::tie(); }
  bool operator==(const SetNameReply&) const = default;
};

struct BufferInfoReply {
  static constexpr MsgType kType = MsgType::kBufferInfo;
  static constexpr bool kCarriesFd = false;
  BufferInfo buffer;
  DMAHEAP_WIRE_FIELDS(buffer)
  bool operator==(const BufferInfoReply&) const = default;
};

// A process holding a buffer: open fds on it and mappings of it.
struct Holder {
  uint32_t pid = 0;
  std::string comm;
  uint32_t fds = 0;
  uint32_t mappings = 0;
  DMAHEAP_WIRE_FIELDS(pid, comm, fds, mappings)
  bool operator==(const Holder&) const = default;
};

struct BufferStats {
  BufferInfo buffer;
  uint64_t client = 0;       // id of the connection that allocated it
  uint32_t owner_pid = 0;    // the allocating process
  uint32_t owner_uid = 0;    // charged for it
  std::string owner_comm;
  std::vector<Holder> holders;  // empty when not asked for, or not visible to the service
  DMAHEAP_WIRE_FIELDS(buffer, client, owner_pid, owner_uid, owner_comm, holders)
  bool operator==(const BufferStats&) const = default;
};

struct HeapStats {
  HeapInfo heap;
  uint64_t used = 0;     // size - free
  uint32_t buffers = 0;  // live buffers from this heap handed out by the service
  uint64_t buffer_bytes = 0;
  DMAHEAP_WIRE_FIELDS(heap, used, buffers, buffer_bytes)
  bool operator==(const HeapStats&) const = default;
};

struct ClientStats {
  uint64_t id = 0;
  uint32_t pid = 0;
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::string comm;
  uint64_t requests = 0;
  uint64_t allocations = 0;  // successful
  uint64_t refusals = 0;     // allocations refused (any errno)
  uint32_t live_buffers = 0; // allocated by this client and still held by someone
  uint64_t live_bytes = 0;
  DMAHEAP_WIRE_FIELDS(id, pid, uid, gid, comm, requests, allocations, refusals, live_buffers, live_bytes)
  bool operator==(const ClientStats&) const = default;
};

struct UidStats {
  uint32_t uid = 0;
  uint32_t buffers = 0;
  uint64_t bytes = 0;
  bool has_quota = false;
  uint64_t quota = 0;
  DMAHEAP_WIRE_FIELDS(uid, buffers, bytes, has_quota, quota)
  bool operator==(const UidStats&) const = default;
};

struct StatsReply {
  static constexpr MsgType kType = MsgType::kStats;
  static constexpr bool kCarriesFd = false;
  uint32_t service_pid = 0;
  uint64_t buffers_freed = 0;     // since the service started
  uint64_t watch_rechecks = 0;    // inotify queue overflows recovered from
  std::vector<HeapStats> heaps;
  std::vector<BufferStats> buffers;
  std::vector<ClientStats> clients;  // connected now
  std::vector<UidStats> uids;
  DMAHEAP_WIRE_FIELDS(service_pid, buffers_freed, watch_rechecks, heaps, buffers, clients, uids)
  bool operator==(const StatsReply&) const = default;
};

struct DescribeHeapsReply {
  static constexpr MsgType kType = MsgType::kDescribeHeaps;
  static constexpr bool kCarriesFd = false;
  std::vector<HeapRecord> heaps;  // in the kernel's list order
  DMAHEAP_WIRE_FIELDS(heaps)
  bool operator==(const DescribeHeapsReply&) const = default;
};

// What backs the service's buffers (heap/backing.h): the backing chosen at start and, per live
// buffer (by inode, as StatsReply lists them), the one that made it.
struct BufferBacking {
  uint64_t inode = 0;
  std::string backing;  // "host-heap", "udmabuf", "vgem" or "memfd"
  DMAHEAP_WIRE_FIELDS(inode, backing)
  bool operator==(const BufferBacking&) const = default;
};

struct BackingsReply {
  static constexpr MsgType kType = MsgType::kBackings;
  static constexpr bool kCarriesFd = false;
  std::string backing;      // the chosen one's name
  std::string description;  // its description: device, limits
  std::vector<BufferBacking> buffers;
  DMAHEAP_WIRE_FIELDS(backing, description, buffers)
  bool operator==(const BackingsReply&) const = default;
};

// ---- requests ----

struct HelloRequest {
  using Reply = HelloReply;
  static constexpr MsgType kType = MsgType::kHello;
  static constexpr bool kCarriesFd = false;
  std::string client;  // free text for logs, e.g. "libdmaheap 0.1"
  DMAHEAP_WIRE_FIELDS(client)
  bool operator==(const HelloRequest&) const = default;
};

struct ListHeapsRequest {
  using Reply = ListHeapsReply;
  static constexpr MsgType kType = MsgType::kListHeaps;
  static constexpr bool kCarriesFd = false;
  auto tie() { return std::tie(); }
  auto tie() const { return std::tie(); }
  bool operator==(const ListHeapsRequest&) const = default;
};

// DMA_HEAP_IOCTL_ALLOC on /dev/dma_heap/<heap>: the struct's fields travel unchanged so the
// service validates them exactly as the kernel does (fd must be 0, ...).
struct AllocRequest {
  using Reply = AllocReply;
  static constexpr MsgType kType = MsgType::kAlloc;
  static constexpr bool kCarriesFd = false;
  std::string heap;
  uint64_t len = 0;
  uint32_t fd = 0;
  uint32_t fd_flags = 0;
  uint64_t heap_flags = 0;
  DMAHEAP_WIRE_FIELDS(heap, len, fd, fd_flags, heap_flags)
  bool operator==(const AllocRequest&) const = default;
};

// DMA_BUF_SET_NAME on the buffer whose fd travels with the request.
struct SetNameRequest {
  using Reply = SetNameReply;
  static constexpr MsgType kType = MsgType::kSetName;
  static constexpr bool kCarriesFd = true;
  std::string name;
  DMAHEAP_WIRE_FIELDS(name)
  bool operator==(const SetNameRequest&) const = default;
};

// What the service knows about the buffer whose fd travels with the request.
struct BufferInfoRequest {
  using Reply = BufferInfoReply;
  static constexpr MsgType kType = MsgType::kBufferInfo;
  static constexpr bool kCarriesFd = true;
  auto tie() { return std::tie(); }
  auto tie() const { return std::tie(); }
  bool operator==(const BufferInfoRequest&) const = default;
};

struct StatsRequest {
  using Reply = StatsReply;
  static constexpr MsgType kType = MsgType::kStats;
  static constexpr bool kCarriesFd = false;
  bool holders = true;  // scan /proc for the processes holding each buffer (slower)
  DMAHEAP_WIRE_FIELDS(holders)
  bool operator==(const StatsRequest&) const = default;
};

// The heaps with their descriptors. A service that predates it answers EOPNOTSUPP; the client
// then asks ListHeaps and derives the descriptor from `type` (descriptorFromType).
struct DescribeHeapsRequest {
  using Reply = DescribeHeapsReply;
  static constexpr MsgType kType = MsgType::kDescribeHeaps;
  static constexpr bool kCarriesFd = false;
  auto tie() { return std::tie(); }
  auto tie() const { return std::tie(); }
  bool operator==(const DescribeHeapsRequest&) const = default;
};

// The backings. A service that predates it answers EOPNOTSUPP (its buffers are memfds).
struct BackingsRequest {
  using Reply = BackingsReply;
  static constexpr MsgType kType = MsgType::kBackings;
  static constexpr bool kCarriesFd = false;
  auto tie() { return std::tie(); }
  auto tie() const { return std::tie(); }
  bool operator==(const BackingsRequest&) const = default;
};

using Request = std::variant<HelloRequest, ListHeapsRequest, AllocRequest, SetNameRequest, BufferInfoRequest,
                             StatsRequest, DescribeHeapsRequest, BackingsRequest>;
using ReplyBody = std::variant<std::monostate, HelloReply, ListHeapsReply, AllocReply, SetNameReply, BufferInfoReply,
                               StatsReply, DescribeHeapsReply, BackingsReply>;

// A reply: errno 0 and a body of the request's reply type, or a positive errno, a sentence and
// no body (std::monostate).
struct Reply {
  int32_t error = 0;
  std::string message;
  ReplyBody body;
  bool operator==(const Reply&) const = default;
};

}  // namespace dmaheap::proto

namespace dmaheap {
// The descriptor's wire fields, in wire order: kind (string), contiguous, cached (bool),
// address_limit, source (u8), region (string).
inline auto wireFields(HeapDescriptor& d) {
  return std::tie(d.kind, d.contiguous, d.cached, d.address_limit, d.source, d.region);
}
inline auto wireFields(const HeapDescriptor& d) {
  return std::tie(d.kind, d.contiguous, d.cached, d.address_limit, d.source, d.region);
}
}  // namespace dmaheap
