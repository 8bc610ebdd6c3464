// ServiceBackend: the heaps of a running dmaheapd, through its ServiceClient. Buffers come back
// as fds over the service socket; the service frees them when their last holder is gone, and
// this backend learns the same way (BufferWatcher) which buffers are still live.
//
// A service that goes away (connection reset, protocol broken) turns every later call into
// ENODEV — what a program sees when the device behind an fd is gone.
// Thread-safe: one mutex serialises the connection.
#pragma once

#include <memory>
#include <mutex>
#include <map>
#include <string>

#include "base/kernel.h"
#include "emulation/heap_backend.h"
#include "heap/buffer_watcher.h"
#include "protocol/service_client.h"

namespace dmaheap::emul {

class ServiceBackend final : public HeapBackend {
 public:
  // ENOENT/ECONNREFUSED when no service listens at `socket_path` (the ServiceClient's errno).
  static Result<std::unique_ptr<ServiceBackend>> connect(const std::string& socket_path);

  const char* kind() const override { return "service"; }
  Result<std::vector<HeapInfo>> heaps() override;
  Result<AllocatedBuffer> allocate(std::string_view heap, const uapi::AllocationData& request) override;
  bool owns(const FileKey& key) override;
  // The release the service emulates (from its hello), default options otherwise.
  const Kernel& kernel() const override { return kernel_; }
  bool needsLocalFd() const override { return true; }

  const std::string& socketPath() const { return path_; }

 protected:
  Status runSync(const FileKey& key, int fd, const dmabuf::SyncRequest& request) override;
  Status runSetName(const FileKey& key, int fd, const dmabuf::SetNameRequest& request) override;
  Result<UniqueFd> runExportSyncFile(const FileKey& key, int fd, const dmabuf::ExportSyncFileRequest& request) override;

 private:
  ServiceBackend(proto::ServiceClient client, BufferWatcher watch, std::string path, Kernel kernel)
      : client_(std::move(client)), watch_(std::move(watch)), path_(std::move(path)), kernel_(kernel) {}
  Error lost(const Error& e);
  void reapLocked();

  std::mutex mu_;
  proto::ServiceClient client_;
  BufferWatcher watch_;
  std::string path_;
  Kernel kernel_;
  std::map<int, FileKey> by_watch_;
  std::map<uint64_t, int> by_inode_;
  uint64_t memfd_dev_ = 0;
};

}  // namespace dmaheap::emul
