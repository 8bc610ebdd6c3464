// The front door of the dma-heap and dma-buf ioctls: which command numbers exist, how their
// argument is fetched, the validation of what was fetched and every version gate, in the
// kernel's order with the kernel's errno (docs/kernel-behaviour.md §1.3, §1.4, §2). Every path
// that answers one of these ioctls calls this file and then only executes the validated request
// it got back: HeapRegistry and Buffer (the heap core, used in-process, by the embedded backend
// and by dmaheapd), the HeapBackend seam of `dmaheap run` and libdmaheap
// (emulation/heap_backend.h) and the ioctl emulator on top of it.
//
// Plain functions over plain data: no state, no I/O; a test can feed any bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/kernel.h"
#include "base/result.h"
#include "heap/uapi.h"

namespace dmaheap::dmabuf {

// ---- DMA_HEAP_IOCTL_ALLOC on /dev/dma_heap/<name> (docs/kernel-behaviour.md §1.3, §1.4) ----

// How the ALLOC ioctl moves data for a given command word.
struct HeapIoctlPlan {
  size_t in_size = 0;   // bytes copied from the caller (write direction bit)
  size_t out_size = 0;  // bytes copied back (read direction bit)
  size_t ksize = 0;     // max(in, out, 24): the kernel's buffer size
};

// Step 1 of dma_heap_ioctl: EINVAL when _IOC_NR(cmd) >= 1 (the type byte is not checked).
Result<HeapIoctlPlan> planHeapIoctl(uint32_t cmd);
// The kernel buffer after copy_from_user: the caller's bytes, zero-filled up to ksize.
std::vector<uint8_t> heapIoctlKernelBuffer(const HeapIoctlPlan& plan, std::span<const uint8_t> user_in);
// The request struct at the start of a kernel buffer (at least 24 bytes, as ksize is).
uapi::AllocationData allocationDataOf(std::span<const uint8_t> kernel_buffer);
// Stores the new fd in the fd field of a kernel buffer, which is then copied back (out_size bytes).
void storeAllocatedFd(std::span<uint8_t> kernel_buffer, uint32_t fd);

// A validated ALLOC request: all a heap and the fd export need.
struct AllocRequest {
  uint64_t len = 0;       // page aligned and non-zero
  uint32_t fd_flags = 0;  // O_CLOEXEC and the access mode, nothing else
};

// dma_heap_ioctl_allocate's checks, in order, each EINVAL: fd != 0; fd_flags outside
// O_CLOEXEC|O_ACCMODE; any heap flag; the length page aligned with `kernel`'s page size is 0
// (length 0, or within a page of 2^64 so that it wraps).
Result<AllocRequest> validateAlloc(const uapi::AllocationData& data, const Kernel& kernel);

// ---- the dma-buf ioctls on a buffer fd (docs/kernel-behaviour.md §2) ----

enum class BufferIoctl { kSync, kSetName, kExportSyncFile, kImportSyncFile };

// How the kernel fetches a dma-buf ioctl's argument.
enum class ArgFetch {
  kStruct,  // copy_from_user of `arg_size` bytes (EFAULT if unreadable)
  kString,  // strndup_user(arg, arg_size): EFAULT unreadable, EINVAL with no NUL in arg_size
};

struct BufferIoctlPlan {
  BufferIoctl ioctl = BufferIoctl::kSync;
  ArgFetch fetch = ArgFetch::kStruct;
  size_t arg_size = 0;
};

// Whether `cmd` is one of the dma-buf ioctl numbers of any release (SYNC, both SET_NAME numbers,
// EXPORT and IMPORT_SYNC_FILE). Every other number on a dma-buf is the file's ENOTTY.
bool isBufferIoctlNumber(uint32_t cmd);
// dma_buf_ioctl's dispatch: ENOTTY for every other number, and for EXPORT/IMPORT_SYNC_FILE on
// releases before they exist (Kernel::hasSyncFileIoctls).
Result<BufferIoctlPlan> planBufferIoctl(uint32_t cmd, const Kernel& kernel);

// DMA_BUF_IOCTL_SYNC, validated: the flags hold only READ, WRITE and END, and a direction.
struct SyncRequest {
  uint64_t flags = 0;
  bool end() const { return (flags & uapi::kSyncEnd) != 0; }
};
// DMA_BUF_SET_NAME, validated: at most 31 characters.
struct SetNameRequest {
  std::string name;
};
// DMA_BUF_IOCTL_EXPORT_SYNC_FILE, validated: READ, WRITE or both.
struct ExportSyncFileRequest {
  uint32_t flags = 0;
};
// DMA_BUF_IOCTL_IMPORT_SYNC_FILE, validated flags; whether `fd` is a sync_file is the
// executor's check (it needs the caller's fd table), made after this one as in the kernel.
struct ImportSyncFileRequest {
  uint32_t flags = 0;
  int32_t fd = -1;
};
using BufferRequest = std::variant<SyncRequest, SetNameRequest, ExportSyncFileRequest, ImportSyncFileRequest>;

// The validation of each dma-buf ioctl once its argument is fetched.
// SYNC: EINVAL for bits outside READ|WRITE|END, then EINVAL when neither READ nor WRITE is set.
Result<SyncRequest> validateSync(uint64_t flags);
// SET_NAME: EINVAL past 31 characters (DMA_BUF_NAME_LEN counts the NUL).
Result<SetNameRequest> validateSetName(std::string_view name);
// EXPORT_SYNC_FILE: ENOTTY before the ioctl exists; EINVAL for bits outside READ|WRITE, then
// EINVAL for neither.
Result<ExportSyncFileRequest> validateExportSyncFile(uint32_t flags, const Kernel& kernel);
// IMPORT_SYNC_FILE: as EXPORT_SYNC_FILE.
Result<ImportSyncFileRequest> validateImportSyncFile(uint32_t flags, int32_t fd, const Kernel& kernel);

// The whole decode of a dma-buf ioctl: planBufferIoctl (ENOTTY), then the argument as fetched
// (kStruct: the copied bytes, EFAULT when fewer than arg_size arrived; kString: the characters
// before the NUL), then the ioctl's validation. The exact errno in the kernel's order.
Result<BufferRequest> decodeBufferIoctl(uint32_t cmd, std::span<const uint8_t> arg, const Kernel& kernel);

// ---- a real dma-buf of the host under the target's ABI (docs/emulation.md "Backings") ----

// The kernel this process runs on (uname's release); the newest release we know when it is
// past the supported range, the oldest when before it.
Kernel runningKernel();
// Whether the host kernel's own answer to `cmd` on a real dma-buf is the target's: both have that
// dma-buf ioctl number or both lack it. Then the host runs it directly (same validation, same
// errno); otherwise the front door answers (ENOTTY for what the target lacks).
bool hostAnswersAsTarget(uint32_t cmd, const Kernel& target, const Kernel& host);
// The five dma-buf ioctl numbers.
std::vector<uint32_t> bufferIoctlNumbers();

// SET_NAME's check of the buffer's state, made by the executor under its lock: EBUSY while
// devices are attached on the releases that refuse it (Kernel::setNameBusyWhenAttached).
Status checkSetNameAttachments(const Kernel& kernel, size_t attachments);

}  // namespace dmaheap::dmabuf
