// ServiceBackend: HeapBackend over a dmaheapd connection.
#include "emulation/service_backend.h"

#include <algorithm>

#include "heap/buffer.h"

namespace dmaheap::emul {
namespace {

bool isTransportError(int e) {
  return e == EPIPE || e == ECONNRESET || e == ENOTCONN || e == EPROTO || e == ECONNREFUSED || e == ECONNABORTED || e == ESHUTDOWN;
}

}  // namespace

Result<std::unique_ptr<ServiceBackend>> ServiceBackend::connect(const std::string& socket_path) {
  auto client = proto::ServiceClient::connect(socket_path, "libdmaheap");
  if (!client) return client.error();
  auto watch = BufferWatcher::create();
  if (!watch) return watch.error();
  Kernel kernel;
  if (auto v = KernelVersion::parse(client->service().kernel); v) kernel.version = v.value();
  return std::unique_ptr<ServiceBackend>(
      new ServiceBackend(std::move(client.value()), std::move(watch.value()), socket_path, kernel));
}

Error ServiceBackend::lost(const Error& e) {
  if (!isTransportError(e.code())) return e;
  return makeError(ENODEV, "the dmaheapd service at " + path_ + " is gone (" + e.message() +
                               "); DMA-BUF heap allocations fail with ENODEV");
}

void ServiceBackend::reapLocked() {
  for (int wd : watch_.poll()) {
    auto it = by_watch_.find(wd);
    if (it == by_watch_.end()) continue;
    by_inode_.erase(it->second.ino);
    by_watch_.erase(it);
  }
}

Result<std::vector<HeapInfo>> ServiceBackend::heaps() {
  std::lock_guard lock(mu_);
  auto list = client_.describeHeaps();
  if (!list) return lost(list.error());
  std::vector<HeapInfo> out;
  for (const auto& h : list.value()) out.push_back(HeapInfo{h.heap.name, h.descriptor, h.heap.size, h.heap.free});
  std::sort(out.begin(), out.end(), [](const HeapInfo& a, const HeapInfo& b) { return a.name < b.name; });
  return out;
}

Result<AllocatedBuffer> ServiceBackend::allocate(std::string_view heap, const uapi::AllocationData& request) {
  std::lock_guard lock(mu_);
  reapLocked();
  proto::AllocRequest r;
  r.heap = std::string(heap);
  r.len = request.len;
  r.fd = request.fd;
  r.fd_flags = request.fd_flags;
  r.heap_flags = request.heap_flags;
  auto buffer = client_.allocate(r);
  if (!buffer) return lost(buffer.error());
  AllocatedBuffer out;
  out.key = fileKeyOf(buffer->fd.get());
  out.size = buffer->info.size;
  auto wd = watch_.watch(buffer->fd.get());
  if (wd) {
    memfd_dev_ = out.key.dev;
    by_watch_[wd.value()] = out.key;
    by_inode_[out.key.ino] = wd.value();
  }
  out.fd = std::move(buffer->fd);
  return out;
}

bool ServiceBackend::owns(const FileKey& key) {
  std::lock_guard lock(mu_);
  reapLocked();
  return key.dev == memfd_dev_ && by_inode_.count(key.ino) != 0;
}

// The service has no SYNC request: heaps do no cache maintenance, so once the front door
// validated the flags there is nothing left to do.
Status ServiceBackend::runSync(const FileKey&, int, const dmabuf::SyncRequest&) { return {}; }

Status ServiceBackend::runSetName(const FileKey&, int fd, const dmabuf::SetNameRequest& request) {
  std::lock_guard lock(mu_);
  auto st = client_.setName(fd, request.name);
  if (!st) return lost(st.error());
  return {};
}

// Heaps attach no fences: the service is not asked, the fence is made here.
Result<UniqueFd> ServiceBackend::runExportSyncFile(const FileKey&, int, const dmabuf::ExportSyncFileRequest&) {
  return makeSignalledFence();
}

}  // namespace dmaheap::emul
