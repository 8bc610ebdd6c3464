// EmbeddedBackend: a Board's heaps in this process, buffers freed when their last holder goes.
#include "emulation/embedded_backend.h"

#include <algorithm>

namespace dmaheap::emul {

Result<std::unique_ptr<EmbeddedBackend>> EmbeddedBackend::create(std::unique_ptr<Board> board) {
  auto watch = BufferWatcher::create();
  if (!watch) return watch.error();
  // Memfds prepared ahead are watched ahead on our instance too.
  if (const Backing* backing = board->registry->backing(); backing && backing->preparedPool()) {
    backing->preparedPool()->watchWith(watch->fd(), watch->id());
  }
  return std::unique_ptr<EmbeddedBackend>(new EmbeddedBackend(std::move(board), std::move(watch.value())));
}

EmbeddedBackend::~EmbeddedBackend() {
  if (const Backing* backing = board_->registry->backing(); backing && backing->preparedPool()) {
    backing->preparedPool()->watchWith(-1, 0);
  }
}

void EmbeddedBackend::reapLocked(bool counted) {
  for (int wd : watch_.poll(counted)) {
    auto it = by_watch_.find(wd);
    if (it == by_watch_.end()) continue;
    by_file_.erase({it->second.key.dev, it->second.key.ino});
    by_watch_.erase(it);  // gives the physical memory back to the heap
  }
}

Result<std::vector<HeapInfo>> EmbeddedBackend::heaps() {
  std::lock_guard lock(mu_);
  reapLocked();
  std::vector<HeapInfo> out;
  for (const HeapEntry* e : board_->registry->heaps()) {
    const HeapUsage u = e->heap->usage();
    out.push_back(HeapInfo{e->node_name, e->heap->descriptor(), u.size, u.free});
  }
  std::sort(out.begin(), out.end(), [](const HeapInfo& a, const HeapInfo& b) { return a.name < b.name; });
  return out;
}

Result<AllocatedBuffer> EmbeddedBackend::allocate(std::string_view heap, const uapi::AllocationData& request) {
  std::lock_guard lock(mu_);
  reapLocked();  // every release so far, counted ones too, is back before the heap is asked
  const HeapEntry* entry = board_->registry->find(heap);
  if (!entry) return makeError(ENOENT, "no heap named '" + std::string(heap) + "'");
  auto buffer = board_->registry->allocate(*entry, request);
  if (!buffer) return buffer.error();
  Buffer& b = *buffer.value();
  // Buffer::create knows the identity already (from the fstat it did, or the prepared memfd's).
  const FileKey key = b.inode() != 0 ? FileKey{b.device(), b.inode()} : fileKeyOf(b.fd());
  // A prepared memfd comes watched already (heap/prepared_pool.h).
  auto wd = watch_.watchOrAdopt(b.fd(), b.releaseSignal(), b.loneCount(), b.preparedWatchFor(watch_.id()));
  if (!wd) return wd.error();  // the Buffer dies here and gives its memory back
  AllocatedBuffer out;
  out.size = b.size();
  out.key = key;
  out.fd = b.releaseFd();  // the caller holds the only reference; we keep the watch
  by_file_[{key.dev, key.ino}] = wd.value();
  by_watch_[wd.value()] = Live{std::move(buffer.value()), key};
  return out;
}

Buffer* EmbeddedBackend::findLocked(const FileKey& key) {
  reapLocked(false);
  auto it = by_file_.find({key.dev, key.ino});
  if (it == by_file_.end()) return nullptr;
  return by_watch_.at(it->second).buffer.get();
}

bool EmbeddedBackend::owns(const FileKey& key) {
  std::lock_guard lock(mu_);
  return findLocked(key) != nullptr;
}

Status EmbeddedBackend::runSync(const FileKey& key, int, const dmabuf::SyncRequest& request) {
  std::lock_guard lock(mu_);
  Buffer* b = findLocked(key);
  if (!b) return makeError(ENOTTY, "not a dma-buf of this backend");
  return b->sync(request);
}

Status EmbeddedBackend::runSetName(const FileKey& key, int, const dmabuf::SetNameRequest& request) {
  std::lock_guard lock(mu_);
  Buffer* b = findLocked(key);
  if (!b) return makeError(ENOTTY, "not a dma-buf of this backend");
  return b->setName(request);
}

Result<UniqueFd> EmbeddedBackend::runExportSyncFile(const FileKey& key, int, const dmabuf::ExportSyncFileRequest& request) {
  std::lock_guard lock(mu_);
  Buffer* b = findLocked(key);
  if (!b) return makeError(ENOTTY, "not a dma-buf of this backend");
  return b->exportSyncFile(request);
}

const Kernel& EmbeddedBackend::kernel() const { return board_->registry->kernel(); }

bool EmbeddedBackend::realDmabufsOnly() const {
  const Backing* backing = board_->registry->backing();
  return backing != nullptr && backing->alwaysRealDmabuf();
}

bool EmbeddedBackend::hostAnswers(const FileKey& key) {
  std::lock_guard lock(mu_);
  Buffer* b = findLocked(key);
  return b != nullptr && b->backing() != BackingKind::kMemfd;
}

Result<BackingKind> EmbeddedBackend::bufferBacking(const FileKey& key) {
  std::lock_guard lock(mu_);
  Buffer* b = findLocked(key);
  if (!b) return makeError(ENOENT, "not a live buffer");
  return b->backing();
}

size_t EmbeddedBackend::liveBuffers() {
  std::lock_guard lock(mu_);
  reapLocked();
  return by_watch_.size();
}

Result<std::string> EmbeddedBackend::bufferName(const FileKey& key) {
  std::lock_guard lock(mu_);
  Buffer* b = findLocked(key);
  if (!b) return makeError(ENOENT, "not a live buffer");
  return b->name();
}

}  // namespace dmaheap::emul
