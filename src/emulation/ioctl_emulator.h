// The ioctls of /dev/dma_heap nodes and dma-buf fds, emulated on a HeapBackend for a Caller.
// Which command numbers exist, how the argument is fetched and its validation are the front
// door's (heap/dmabuf_ioctl.h); this file moves the bytes between the caller and the front door
// (copy in, zero-fill, copy back, when the fd is installed and when EFAULT leaks it) and hands
// the validated request to the backend, which only executes it. ALLOC requests are validated by
// the heap's owner (HeapBackend::allocate says why).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"
#include "emulation/caller.h"
#include "emulation/heap_backend.h"

namespace dmaheap::emul {

struct IoctlCall {
  uint32_t cmd = 0;  // the low 32 bits, as the kernel's unsigned int cmd
  uint64_t arg = 0;  // the caller's pointer
};

// What one emulated ALLOC did, for a trace (docs/traces.md): filled in when asked for.
struct AllocOutcome {
  bool decoded = false;          // the caller's struct was read: `request` holds it
  uapi::AllocationData request{};
  int fd = -1;                   // installed in the caller, -1 if not
  uint64_t size = 0;             // the new buffer's, when the backend made one
  FileKey key;
  UniqueFd buffer;               // a descriptor of the new buffer (ours), for the trace's watch
};

// dma_heap_ioctl on the node of `heap` (docs/kernel-behaviour.md §1.3, §1.4): EINVAL for
// nr >= 1; EFAULT when the struct cannot be read; the backend's errno; EMFILE from the caller's
// fd table; EFAULT when the result cannot be written back (the fd stays installed, as in the
// kernel).
// With `outcome`, also says what happened in it.
Status emulateHeapIoctl(HeapBackend& backend, std::string_view heap, IoctlCall call, Caller& caller,
                        AllocOutcome* outcome = nullptr);

// dma_buf_ioctl on buffer `key` (docs/kernel-behaviour.md §2.1-§2.4): SYNC, SET_NAME (both
// numbers), EXPORT and IMPORT_SYNC_FILE; ENOTTY for every other command. `local_fd` as in HeapBackend.
// With `set_name`, a DMA_BUF_SET_NAME that got past decoding leaves its name there.
Status emulateBufferIoctl(HeapBackend& backend, const FileKey& key, int local_fd, IoctlCall call, Caller& caller,
                          std::optional<std::string>* set_name = nullptr);

// Whether `cmd` is one of the dma-buf ioctls handled above.
bool isBufferIoctl(uint32_t cmd);

}  // namespace dmaheap::emul
