// One line of an allocation trace (docs/traces.md): what `dmaheap run --trace` and
// `dmaheapd --trace` write and `dmaheap simulate --trace` reads. The field names live here and
// nowhere else; writer and reader both go through eventLine() / parseEventLine().
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "dmaheap/heap_descriptor.h"

namespace dmaheap::trace {

inline constexpr int kFormatVersion = 1;
// A longer line is refused by the reader (a start line with 64 heaps is about 6 KiB).
inline constexpr size_t kMaxLineBytes = 64 * 1024;

enum class EventKind {
  kStart,    // a writer opened the trace: the board's heaps, kernel and page size
  kAlloc,    // one DMA_HEAP_IOCTL_ALLOC (or the service's Alloc request), failed or not
  kSetName,  // DMA_BUF_SET_NAME on a traced buffer
  kRelease,  // the last holder of a traced buffer anywhere is gone
};
const char* eventKindName(EventKind kind);

// A heap as the start line lists it.
struct TraceHeap {
  std::string name;        // the /dev/dma_heap node
  std::string kind;        // the heap descriptor's kind: "system", "cma", ...
  std::string capability;  // what it serves by capability ("system", "contiguous", ...; "" none)
  uint64_t size = 0;       // bytes, 0 when unknown
  bool operator==(const TraceHeap&) const = default;
};

// The start line's entry for a heap: its kind and the first capability it serves.
TraceHeap traceHeapOf(const std::string& name, const HeapDescriptor& descriptor, uint64_t size);

struct Event {
  EventKind kind = EventKind::kAlloc;
  uint64_t time_ns = 0;            // CLOCK_MONOTONIC
  std::optional<int64_t> pid;      // the calling process, when known
  std::optional<int64_t> tid;      // the calling thread, when known (not through dmaheapd)
  // start
  std::string source;              // "dmaheap run", "dmaheapd"
  std::string kernel;              // the emulated release, "6.18"
  uint64_t page_size = 0;
  std::vector<TraceHeap> heaps;
  // alloc
  std::string heap;
  uint64_t len = 0;                // as requested
  std::optional<uint64_t> rounded; // page-aligned; absent when rounding overflows
  uint64_t fd_flags = 0;
  uint64_t heap_flags = 0;
  std::optional<int64_t> fd;       // the new fd in the caller, when known
  int error = 0;                   // alloc, set_name: 0 for success, else the errno
  // alloc (success), set_name, release
  uint64_t buffer = 0;             // 1, 2, ... in the order of allocation, per start line
  uint64_t inode = 0;              // of the buffer's file, 0 when unknown
  // set_name
  std::string name;
  bool operator==(const Event&) const = default;
};

// The event as one JSON object followed by '\n' (nlohmann_json; never pasted strings).
std::string eventLine(const Event& event);

// One line (without or with its '\n'). EINVAL with the field named for anything malformed: not
// JSON, not an object, an unknown event or format version, a missing or mistyped field.
Result<Event> parseEventLine(std::string_view line);

}  // namespace dmaheap::trace
