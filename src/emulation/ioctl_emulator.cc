// Emulation of the heap ALLOC ioctl and the dma-buf ioctls on top of a HeapBackend.
#include "emulation/ioctl_emulator.h"

#include <fcntl.h>

#include <algorithm>
#include <cstring>
#include <span>
#include <variant>
#include <vector>

#include "heap/dmabuf_ioctl.h"

namespace dmaheap::emul {

Status emulateHeapIoctl(HeapBackend& backend, std::string_view heap, IoctlCall call, Caller& caller,
                        AllocOutcome* outcome) {
  auto plan = dmabuf::planHeapIoctl(call.cmd);
  if (!plan) return plan.error();
  std::vector<uint8_t> user(plan->in_size);
  if (!user.empty()) {
    if (auto st = caller.read(call.arg, user.data(), user.size()); !st) return st;
  }
  // A non-null span even when nothing was copied in (memcpy of 0 bytes from null is UB).
  static const uint8_t kNothing = 0;
  std::vector<uint8_t> k = dmabuf::heapIoctlKernelBuffer(
      *plan, user.empty() ? std::span<const uint8_t>(&kNothing, 0) : std::span<const uint8_t>(user));
  const uapi::AllocationData request = dmabuf::allocationDataOf(k);
  if (outcome) {
    outcome->decoded = true;
    outcome->request = request;
  }
  if (auto st = caller.stillWaiting(); !st) return st;
  // Validated by the heap's owner with the front door, after its open-time checks.
  auto buffer = backend.allocate(heap, request);
  if (!buffer) return buffer.error();
  if (outcome) {
    outcome->size = buffer->size;
    outcome->key = buffer->key;
    outcome->buffer.reset(::fcntl(buffer->fd.get(), F_DUPFD_CLOEXEC, 0));
  }
  auto fd = caller.installFd(std::move(buffer->fd), (request.fd_flags & uapi::kOCloexec) != 0);
  if (!fd) return fd.error();  // our reference is gone with it: the backend reclaims the buffer
  if (outcome) outcome->fd = fd.value();
  dmabuf::storeAllocatedFd(k, static_cast<uint32_t>(fd.value()));
  if (plan->out_size > 0) {
    // As in the kernel, a failed copy-back leaves the new fd installed.
    if (auto st = caller.write(call.arg, k.data(), plan->out_size); !st) return st;
  }
  return {};
}

bool isBufferIoctl(uint32_t cmd) { return dmabuf::isBufferIoctlNumber(cmd); }

namespace {

// Runs one request the front door validated.
struct Executor {
  HeapBackend& backend;
  const FileKey& key;
  int local_fd;
  IoctlCall call;
  Caller& caller;
  std::span<const uint8_t> fetched;  // the argument as copied in

  Status operator()(const dmabuf::SyncRequest& r) { return backend.sync(key, local_fd, r); }
  Status operator()(const dmabuf::SetNameRequest& r) { return backend.setName(key, local_fd, r); }
  Status operator()(const dmabuf::ExportSyncFileRequest& r) {
    auto fence = backend.exportSyncFile(key, local_fd, r);
    if (!fence) return fence.error();
    // The kernel installs the fd only after the copy-back succeeded; check writability first
    // by writing the caller's own bytes back.
    uapi::ExportSyncFile arg{};
    std::memcpy(&arg, fetched.data(), std::min(fetched.size(), sizeof arg));
    if (auto st = caller.write(call.arg, &arg, sizeof arg); !st) return st;
    auto fd = caller.installFd(std::move(fence.value()), true);
    if (!fd) return fd.error();
    arg.fd = fd.value();
    return caller.write(call.arg, &arg, sizeof arg);
  }
  Status operator()(const dmabuf::ImportSyncFileRequest& r) {
    if (!caller.isSyncFile(r.fd)) return makeError(EINVAL, "the fd is not a sync_file");
    return {};  // the fence is already signalled: nothing to wait for later
  }
};

}  // namespace

Status emulateBufferIoctl(HeapBackend& backend, const FileKey& key, int local_fd, IoctlCall call, Caller& caller,
                          std::optional<std::string>* set_name) {
  // Which ioctl, and how the kernel fetches its argument (ENOTTY for unknown or not-yet numbers).
  auto plan = dmabuf::planBufferIoctl(call.cmd, backend.kernel());
  if (!plan) return plan.error();
  std::vector<uint8_t> arg;
  if (plan->fetch == dmabuf::ArgFetch::kString) {
    auto name = caller.readString(call.arg, plan->arg_size);  // EFAULT, or EINVAL past the limit
    if (!name) return name.error();
    arg.assign(name->begin(), name->end());
  } else {
    arg.resize(plan->arg_size);
    if (auto st = caller.read(call.arg, arg.data(), arg.size()); !st) return st;
  }
  auto request = dmabuf::decodeBufferIoctl(call.cmd, arg, backend.kernel());
  if (!request) return request.error();
  if (set_name) {
    if (const auto* named = std::get_if<dmabuf::SetNameRequest>(&request.value())) *set_name = named->name;
  }
  return std::visit(Executor{backend, key, local_fd, call, caller, arg}, request.value());
}

}  // namespace dmaheap::emul
