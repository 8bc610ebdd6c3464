// The front door of the dma-heap and dma-buf ioctls: decoding, validation, version gates.
#include "heap/dmabuf_ioctl.h"

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <sys/utsname.h>

namespace dmaheap::dmabuf {

// ---- ALLOC ----

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

uapi::AllocationData allocationDataOf(std::span<const uint8_t> kernel_buffer) {
  uapi::AllocationData d{};
  std::memcpy(&d, kernel_buffer.data(), std::min(kernel_buffer.size(), sizeof d));
  return d;
}

void storeAllocatedFd(std::span<uint8_t> kernel_buffer, uint32_t fd) {
  constexpr size_t kFdOffset = offsetof(uapi::AllocationData, fd);
  if (kernel_buffer.size() >= kFdOffset + sizeof fd) std::memcpy(kernel_buffer.data() + kFdOffset, &fd, sizeof fd);
}

Result<AllocRequest> validateAlloc(const uapi::AllocationData& r, const Kernel& kernel) {
  if (r.fd != 0) return makeError(EINVAL, "the fd field must be 0 on input");
  if (r.fd_flags & ~uapi::kValidFdFlags) {
    return makeError(EINVAL, "fd_flags may only hold O_CLOEXEC and the access mode");
  }
  if (r.heap_flags & ~uapi::kValidHeapFlags) return makeError(EINVAL, "no heap flags are defined");
  const uint64_t page = kernel.pageSize();
  const uint64_t len = (r.len + page - 1) & ~(page - 1);  // PAGE_ALIGN, wrapping as the kernel does
  if (len == 0) {
    return makeError(EINVAL, r.len == 0 ? "length 0" : "length wraps to 0 when page aligned");
  }
  return AllocRequest{len, r.fd_flags};
}

// ---- dma-buf ioctls ----

namespace {

// One row per dma-buf ioctl number: what it is, how its argument is fetched, its name for
// messages, and whether it exists only where Kernel::hasSyncFileIoctls() holds.
struct BufferIoctlRow {
  uint32_t cmd;
  BufferIoctl ioctl;
  ArgFetch fetch;
  size_t arg_size;
  const char* name;
  bool sync_file;
};

constexpr BufferIoctlRow kBufferIoctls[] = {
    {uapi::kBufIoctlSync, BufferIoctl::kSync, ArgFetch::kStruct, sizeof(uapi::BufSync), "DMA_BUF_IOCTL_SYNC", false},
    // Both SET_NAME numbers take the string pointer itself; their size fields only differ by the
    // ABI (32- or 64-bit pointer) that defined them.
    {uapi::kBufSetNameA, BufferIoctl::kSetName, ArgFetch::kString, uapi::kBufNameLen, "DMA_BUF_SET_NAME", false},
    {uapi::kBufSetNameB, BufferIoctl::kSetName, ArgFetch::kString, uapi::kBufNameLen, "DMA_BUF_SET_NAME", false},
    {uapi::kBufExportSyncFile, BufferIoctl::kExportSyncFile, ArgFetch::kStruct, sizeof(uapi::ExportSyncFile),
     "EXPORT_SYNC_FILE", true},
    {uapi::kBufImportSyncFile, BufferIoctl::kImportSyncFile, ArgFetch::kStruct, sizeof(uapi::ExportSyncFile),
     "IMPORT_SYNC_FILE", true},
};

const BufferIoctlRow* rowOf(uint32_t cmd) {
  for (const auto& row : kBufferIoctls)
    if (row.cmd == cmd) return &row;
  return nullptr;
}

const BufferIoctlRow& rowOf(BufferIoctl ioctl) {
  for (const auto& row : kBufferIoctls)
    if (row.ioctl == ioctl) return row;
  std::abort();  // invariant: every enumerator has a row
}

Status checkExists(const BufferIoctlRow& row, const Kernel& kernel) {
  if (row.sync_file && !kernel.hasSyncFileIoctls()) {
    return makeError(ENOTTY, std::string(row.name) + " exists from 6.0");
  }
  return {};
}

}  // namespace

bool isBufferIoctlNumber(uint32_t cmd) { return rowOf(cmd) != nullptr; }

Result<BufferIoctlPlan> planBufferIoctl(uint32_t cmd, const Kernel& kernel) {
  const BufferIoctlRow* row = rowOf(cmd);
  if (!row) return makeError(ENOTTY, "not a dma-buf ioctl");
  if (auto st = checkExists(*row, kernel); !st) return st.error();
  return BufferIoctlPlan{row->ioctl, row->fetch, row->arg_size};
}

Result<SyncRequest> validateSync(uint64_t flags) {
  if (flags & ~uapi::kSyncValidMask) return makeError(EINVAL, "unknown DMA_BUF_SYNC flag bits");
  if ((flags & uapi::kSyncRw) == 0) return makeError(EINVAL, "DMA_BUF_SYNC needs READ, WRITE or both");
  return SyncRequest{flags};
}

Result<SetNameRequest> validateSetName(std::string_view name) {
  if (name.size() + 1 > uapi::kBufNameLen) {
    return makeError(EINVAL, "name of " + std::to_string(name.size()) + " characters is longer than 31");
  }
  return SetNameRequest{std::string(name)};
}

Result<ExportSyncFileRequest> validateExportSyncFile(uint32_t flags, const Kernel& kernel) {
  if (auto st = checkExists(rowOf(BufferIoctl::kExportSyncFile), kernel); !st) return st.error();
  if (flags & ~static_cast<uint32_t>(uapi::kSyncRw)) return makeError(EINVAL, "unknown EXPORT_SYNC_FILE flag bits");
  if ((flags & uapi::kSyncRw) == 0) return makeError(EINVAL, "EXPORT_SYNC_FILE needs READ, WRITE or both");
  return ExportSyncFileRequest{flags};
}

Result<ImportSyncFileRequest> validateImportSyncFile(uint32_t flags, int32_t fd, const Kernel& kernel) {
  if (auto st = checkExists(rowOf(BufferIoctl::kImportSyncFile), kernel); !st) return st.error();
  if (flags & ~static_cast<uint32_t>(uapi::kSyncRw)) return makeError(EINVAL, "unknown sync_file flag bits");
  if ((flags & uapi::kSyncRw) == 0) return makeError(EINVAL, "a sync_file ioctl needs READ, WRITE or both");
  return ImportSyncFileRequest{flags, fd};
}

Result<BufferRequest> decodeBufferIoctl(uint32_t cmd, std::span<const uint8_t> arg, const Kernel& kernel) {
  auto plan = planBufferIoctl(cmd, kernel);
  if (!plan) return plan.error();
  if (plan->fetch == ArgFetch::kStruct && arg.size() < plan->arg_size) {
    return makeError(EFAULT, "bad address");  // copy_from_user came back short
  }
  const auto wrap = [](auto r) -> Result<BufferRequest> {
    if (!r) return r.error();
    return BufferRequest(std::move(r.value()));
  };
  switch (plan->ioctl) {
    case BufferIoctl::kSync: {
      uapi::BufSync s{};
      std::memcpy(&s, arg.data(), sizeof s);
      return wrap(validateSync(s.flags));
    }
    case BufferIoctl::kSetName:
      return wrap(validateSetName(std::string_view(reinterpret_cast<const char*>(arg.data()), arg.size())));
    case BufferIoctl::kExportSyncFile: {
      uapi::ExportSyncFile e{};
      std::memcpy(&e, arg.data(), sizeof e);
      return wrap(validateExportSyncFile(e.flags, kernel));
    }
    case BufferIoctl::kImportSyncFile: {
      uapi::ExportSyncFile i{};
      std::memcpy(&i, arg.data(), sizeof i);
      return wrap(validateImportSyncFile(i.flags, i.fd, kernel));
    }
  }
  std::abort();  // invariant: planBufferIoctl returns one of the enumerators above
}

Kernel runningKernel() {
  Kernel k;
  struct utsname u {};
  if (::uname(&u) != 0) return k;
  if (auto v = KernelVersion::parse(u.release)) {
    k.version = v.value();
  } else if (u.release[0] >= '0' && u.release[0] <= '4' && u.release[1] == '.') {
    k.version = KernelVersion::of(5, 3);  // older than anything we model: no sync-file ioctls
  } else {
    k.version = KernelVersion::of(7, 2);  // newer than the range: it has every ioctl we know
  }
  return k;
}

bool hostAnswersAsTarget(uint32_t cmd, const Kernel& target, const Kernel& host) {
  return planBufferIoctl(cmd, target).ok() == planBufferIoctl(cmd, host).ok();
}

std::vector<uint32_t> bufferIoctlNumbers() {
  std::vector<uint32_t> out;
  for (const auto& row : kBufferIoctls) out.push_back(row.cmd);
  return out;
}

Status checkSetNameAttachments(const Kernel& kernel, size_t attachments) {
  if (kernel.setNameBusyWhenAttached() && attachments > 0) {
    return makeError(EBUSY, "kernels up to 5.15 refuse to rename a buffer with attached devices");
  }
  return {};
}

}  // namespace dmaheap::dmabuf
