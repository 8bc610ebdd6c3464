// Emulation of the heap ALLOC ioctl and the dma-buf ioctls on top of a HeapBackend.
#include "emulation/ioctl_emulator.h"

#include <cstring>
#include <span>
#include <vector>

#include "heap/registry.h"

namespace dmaheap::emul {

Status emulateHeapIoctl(HeapBackend& backend, std::string_view heap, IoctlCall call, Caller& caller) {
  auto plan = planHeapIoctl(call.cmd);
  if (!plan) return plan.error();
  std::vector<uint8_t> user(plan->in_size);
  if (!user.empty()) {
    if (auto st = caller.read(call.arg, user.data(), user.size()); !st) return st;
  }
  // A non-null span even when nothing was copied in (memcpy of 0 bytes from null is UB).
  static const uint8_t kNothing = 0;
  std::vector<uint8_t> k = heapIoctlKernelBuffer(
      *plan, user.empty() ? std::span<const uint8_t>(&kNothing, 0) : std::span<const uint8_t>(user));
  uapi::AllocationData request;
  std::memcpy(&request, k.data(), sizeof request);
  if (auto st = caller.stillWaiting(); !st) return st;
  auto buffer = backend.allocate(heap, request);
  if (!buffer) return buffer.error();
  auto fd = caller.installFd(std::move(buffer->fd), (request.fd_flags & uapi::kOCloexec) != 0);
  if (!fd) return fd.error();  // our reference is gone with it: the backend reclaims the buffer
  request.fd = static_cast<uint32_t>(fd.value());
  std::memcpy(k.data(), &request, sizeof request);
  if (plan->out_size > 0) {
    // As in the kernel, a failed copy-back leaves the new fd installed.
    if (auto st = caller.write(call.arg, k.data(), plan->out_size); !st) return st;
  }
  return {};
}

bool isBufferIoctl(uint32_t cmd) {
  return cmd == uapi::kBufIoctlSync || cmd == uapi::kBufSetNameA || cmd == uapi::kBufSetNameB ||
         cmd == uapi::kBufExportSyncFile || cmd == uapi::kBufImportSyncFile;
}

namespace {

Status validateSyncFileFlags(uint32_t flags) {
  if (flags & ~static_cast<uint32_t>(uapi::kSyncRw)) return makeError(EINVAL, "unknown sync_file flag bits");
  if ((flags & uapi::kSyncRw) == 0) return makeError(EINVAL, "a sync_file ioctl needs READ, WRITE or both");
  return {};
}

}  // namespace

Status emulateBufferIoctl(HeapBackend& backend, const FileKey& key, int local_fd, IoctlCall call, Caller& caller) {
  switch (call.cmd) {
    case uapi::kBufIoctlSync: {
      uapi::BufSync sync{};
      if (auto st = caller.read(call.arg, &sync, sizeof sync); !st) return st;
      return backend.sync(key, local_fd, sync.flags);
    }
    case uapi::kBufSetNameA:
    case uapi::kBufSetNameB: {
      // The argument is the string pointer itself; both numbers take the whole register (the
      // size field only differs by the ABI that defined it).
      auto name = caller.readString(call.arg, uapi::kBufNameLen);
      if (!name) return name.error();
      return backend.setName(key, local_fd, name.value());
    }
    case uapi::kBufExportSyncFile: {
      if (!backend.hasSyncFileIoctls()) return makeError(ENOTTY, "EXPORT_SYNC_FILE exists from 6.0");
      uapi::ExportSyncFile arg{};
      if (auto st = caller.read(call.arg, &arg, sizeof arg); !st) return st;
      auto fence = backend.exportSyncFile(key, local_fd, arg.flags);
      if (!fence) return fence.error();
      // The kernel installs the fd only after the copy-back succeeded; check writability first.
      if (auto st = caller.write(call.arg, &arg, sizeof arg); !st) return st;
      auto fd = caller.installFd(std::move(fence.value()), true);
      if (!fd) return fd.error();
      arg.fd = fd.value();
      return caller.write(call.arg, &arg, sizeof arg);
    }
    case uapi::kBufImportSyncFile: {
      if (!backend.hasSyncFileIoctls()) return makeError(ENOTTY, "IMPORT_SYNC_FILE exists from 6.0");
      uapi::ExportSyncFile arg{};
      if (auto st = caller.read(call.arg, &arg, sizeof arg); !st) return st;
      if (auto st = validateSyncFileFlags(arg.flags); !st) return st;
      if (!caller.isSyncFile(arg.fd)) return makeError(EINVAL, "the fd is not a sync_file");
      return {};  // the fence is already signalled: nothing to wait for later
    }
    default:
      return makeError(ENOTTY, "not a dma-buf ioctl");
  }
}

}  // namespace dmaheap::emul
