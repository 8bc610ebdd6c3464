// KernelBackend: /dev/dma_heap and dma-buf ioctls of the running kernel.
#include "client/kernel_backend.h"

#include "base/heap_descriptor.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

namespace dmaheap::client {
namespace {

Error sysError(const std::string& what) { return makeError(errno, what + ": " + std::strerror(errno)); }

// The names kernels have given the default CMA area's heap (docs/kernel-behaviour.md §4.1).
bool isKnownCmaName(std::string_view name) {
  return name == "default_cma_region" || name == "reserved" || name == "linux,cma";
}

}  // namespace

bool KernelBackend::available(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) return false;
  bool any = false;
  while (const struct dirent* e = ::readdir(d)) {
    if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) {
      any = true;
      break;
    }
  }
  ::closedir(d);
  return any;
}

Result<std::vector<emul::HeapInfo>> KernelBackend::heaps() {
  DIR* d = ::opendir(dir_.c_str());
  if (!d) return sysError("opendir " + dir_);
  std::vector<emul::HeapInfo> out;
  while (const struct dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    emul::HeapInfo h;
    h.name = name;
    struct stat st {};
    const std::string reusable = devicetree_ + "/reserved-memory/" + name + "/reusable";
    // A CMA heap: the default area's names (and a vendor's "-uncached" view of one), or a
    // 6.19+ heap named after a reusable DT region.
    const std::string base = name.size() > 9 && name.ends_with("-uncached") ? name.substr(0, name.size() - 9) : name;
    const bool cma = isKnownCmaName(name) || isKnownCmaName(base) || ::stat(reusable.c_str(), &st) == 0;
    h.descriptor = descriptorFromKernelName(name, cma);
    out.push_back(std::move(h));
  }
  ::closedir(d);
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return out;
}

Result<int> KernelBackend::heapFd(std::string_view heap) {
  std::lock_guard lock(mu_);
  auto it = heap_fds_.find(heap);
  if (it != heap_fds_.end()) return it->second.get();
  const std::string path = dir_ + "/" + std::string(heap);
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return sysError("open " + path);
  const int raw = fd.get();
  heap_fds_.emplace(std::string(heap), std::move(fd));
  return raw;
}

Result<emul::AllocatedBuffer> KernelBackend::allocate(std::string_view heap, const uapi::AllocationData& request) {
  auto hfd = heapFd(heap);
  if (!hfd) return hfd.error();
  uapi::AllocationData data = request;
  if (::ioctl(hfd.value(), uapi::kHeapIoctlAlloc, &data) != 0) return sysError("DMA_HEAP_IOCTL_ALLOC");
  emul::AllocatedBuffer out;
  out.fd.reset(static_cast<int>(data.fd));
  out.key = emul::fileKeyOf(out.fd.get());
  out.size = static_cast<uint64_t>(::lseek(out.fd.get(), 0, SEEK_END));
  return out;
}

Status KernelBackend::runSync(const emul::FileKey&, int fd, const dmabuf::SyncRequest& request) {
  uapi::BufSync s{request.flags};
  if (::ioctl(fd, uapi::kBufIoctlSync, &s) != 0) return sysError("DMA_BUF_IOCTL_SYNC");
  return {};
}

Status KernelBackend::runSetName(const emul::FileKey&, int fd, const dmabuf::SetNameRequest& request) {
  if (::ioctl(fd, uapi::kBufSetNameB, request.name.c_str()) != 0) return sysError("DMA_BUF_SET_NAME");
  return {};
}

Result<UniqueFd> KernelBackend::runExportSyncFile(const emul::FileKey&, int fd,
                                                 const dmabuf::ExportSyncFileRequest& request) {
  uapi::ExportSyncFile arg{request.flags, -1};
  if (::ioctl(fd, uapi::kBufExportSyncFile, &arg) != 0) return sysError("DMA_BUF_IOCTL_EXPORT_SYNC_FILE");
  return UniqueFd(arg.fd);
}

}  // namespace dmaheap::client
