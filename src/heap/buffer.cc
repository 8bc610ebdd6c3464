// Buffer: a dma-buf over its backing, with physical placement, name, sync and attachments.
#include "heap/buffer.h"

#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "heap/uapi.h"

namespace dmaheap {

Result<UniqueFd> createSealedMemfd(const char* name, uint64_t size, bool populate, bool cloexec) {
  UniqueFd fd(::memfd_create(name, MFD_ALLOW_SEALING | (cloexec ? MFD_CLOEXEC : 0u)));
  if (!fd) return makeError(errno, std::string("memfd_create: ") + std::strerror(errno));
  if (::ftruncate(fd.get(), static_cast<off_t>(size)) != 0) {
    const int e = errno;
    return makeError(e == EFBIG || e == EINVAL ? ENOMEM : e, std::string("ftruncate: ") + std::strerror(e));
  }
  if (populate && size > 0 && ::fallocate(fd.get(), 0, 0, static_cast<off_t>(size)) != 0) {
    const int e = errno;
    return makeError(e == ENOSPC ? ENOMEM : e, std::string("fallocate: ") + std::strerror(e));
  }
  if (::fcntl(fd.get(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) {
    return makeError(errno, std::string("F_ADD_SEALS: ") + std::strerror(errno));
  }
  return fd;
}

Result<UniqueFd> reopenWithAccessMode(int fd, uint32_t fd_flags) {
  const std::string path = "/proc/self/fd/" + std::to_string(fd);
  int flags = static_cast<int>(fd_flags & uapi::kOAccmode);
  if (fd_flags & uapi::kOCloexec) flags |= O_CLOEXEC;
  UniqueFd out(::open(path.c_str(), flags));
  if (!out) return makeError(errno, "reopen " + path + ": " + std::strerror(errno));
  return out;
}

Buffer::Buffer(std::unique_ptr<PhysicalAllocation> memory, uint64_t size, const Kernel& kernel, Options options)
    : memory_(std::move(memory)), size_(size), kernel_(kernel), options_(std::move(options)) {}

Buffer::~Buffer() = default;

Result<std::unique_ptr<Buffer>> Buffer::create(std::unique_ptr<PhysicalAllocation> memory, uint64_t size,
                                               const Kernel& kernel, Options options) {
  static const std::unique_ptr<Backing> kMemfd = makeMemfdBacking();
  Backing& backing = options.backing ? *options.backing : *kMemfd;
  auto made = backing.create(size, options.fd_flags, options.populate);
  if (!made) return made.error();
  std::unique_ptr<Buffer> b(new Buffer(std::move(memory), size, kernel, std::move(options)));
  b->fd_ = std::move(made->fd);
  b->backing_ = made->kind;
  b->release_ = made->release;
  b->lone_count_ = made->lone_count;
  if (made->identity.known()) {
    // A prepared memfd's, read ahead of the request (heap/prepared_pool.h).
    b->device_ = made->identity.dev;
    b->inode_ = made->identity.ino;
    b->prepared_wd_ = made->identity.wd;
    b->prepared_watcher_ = made->identity.watcher;
  } else if (struct stat st {}; ::fstat(b->fd_.get(), &st) == 0) {
    b->device_ = st.st_dev;
    b->inode_ = st.st_ino;
  }
  return b;
}

std::unique_ptr<Buffer> Buffer::adopt(std::unique_ptr<PhysicalAllocation> memory, uint64_t size, const Kernel& kernel,
                                      Options options, std::string name, uint64_t inode) {
  std::unique_ptr<Buffer> b(new Buffer(std::move(memory), size, kernel, std::move(options)));
  b->name_ = std::move(name);
  b->inode_ = inode;
  return b;
}

Status Buffer::setName(std::string_view name) {
  auto request = dmabuf::validateSetName(name);
  if (!request) return request.error();
  return setName(request.value());
}

Status Buffer::setName(const dmabuf::SetNameRequest& request) {
  if (auto st = dmabuf::checkSetNameAttachments(kernel_, attachments_.size()); !st) return st;
  name_ = request.name;
  return {};
}

Status Buffer::sync(uint64_t flags) {
  auto request = dmabuf::validateSync(flags);
  if (!request) return request.error();
  return sync(request.value());
}

Status Buffer::sync(const dmabuf::SyncRequest&) {
  ++sync_count_;
  return {};
}

Result<UniqueFd> Buffer::exportSyncFile(uint32_t flags) {
  auto request = dmabuf::validateExportSyncFile(flags, kernel_);
  if (!request) return request.error();
  return exportSyncFile(request.value());
}

Result<UniqueFd> Buffer::exportSyncFile(const dmabuf::ExportSyncFileRequest&) { return makeSignalledFence(); }

Result<UniqueFd> makeSignalledFence() {
  UniqueFd fence(::eventfd(1, EFD_CLOEXEC));
  if (!fence) return makeError(errno, std::string("eventfd: ") + std::strerror(errno));
  return fence;
}

int Buffer::attach(const DeviceConstraints& device) {
  const int id = next_attachment_++;
  attachments_.push_back(Attachment{id, device, false});
  return id;
}

Buffer::Attachment* Buffer::findAttachment(int id) {
  auto it = std::find_if(attachments_.begin(), attachments_.end(), [&](const Attachment& a) { return a.id == id; });
  return it == attachments_.end() ? nullptr : &*it;
}

Result<std::vector<Segment>> Buffer::map(int attachment) {
  Attachment* a = findAttachment(attachment);
  if (!a) return makeError(EINVAL, "no such attachment");
  const auto& segs = segments();
  // The importer's own check (e.g. a display controller without an IOMMU): one segment only.
  if (a->device.needs_contiguous && segs.size() > 1) {
    return makeError(EINVAL, a->device.name + " needs one contiguous segment; the buffer has " +
                                 std::to_string(segs.size()));
  }
  for (const auto& s : segs) {
    if (s.base + s.size - 1 > a->device.dma_limit) {
      return makeError(options_.map_error_errno,
                       a->device.name + " cannot reach a segment ending above its DMA limit");
    }
  }
  a->mapped = true;
  return segs;
}

Status Buffer::unmap(int attachment) {
  Attachment* a = findAttachment(attachment);
  if (!a || !a->mapped) return makeError(EINVAL, "attachment is not mapped");
  a->mapped = false;
  return {};
}

Status Buffer::detach(int attachment) {
  auto it = std::find_if(attachments_.begin(), attachments_.end(), [&](const Attachment& a) { return a.id == attachment; });
  if (it == attachments_.end()) return makeError(EINVAL, "no such attachment");
  attachments_.erase(it);
  return {};
}

size_t Buffer::attachmentCount() const { return attachments_.size(); }

}  // namespace dmaheap
