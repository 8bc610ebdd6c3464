// EmbeddedBackend: the heaps of an in-process Board (the memory model, the heap registry and its
// heaps) behind the HeapBackend seam. Allocation goes through HeapRegistry::allocate, so the
// validation order and errno are the core's. A buffer's memory is given back when its last
// holder anywhere is gone (BufferWatcher), so a program that frees buffers can allocate again.
// Buffers are made by the board registry's backing (heap/backing.h): real dma-bufs of the host
// where it offers them, whose ioctls the host kernel answers where it agrees with the target.
//
// Thread-safe: one mutex serialises every call.
#pragma once

#include <map>
#include <memory>
#include <mutex>

#include "board/board.h"
#include "emulation/heap_backend.h"
#include "heap/buffer_watcher.h"
#include "heap/buffer.h"

namespace dmaheap::emul {

class EmbeddedBackend final : public HeapBackend {
 public:
  // Takes the board. The BufferWatcher's errno (EMFILE, ...) on failure.
  static Result<std::unique_ptr<EmbeddedBackend>> create(std::unique_ptr<Board> board);
  // Stops the prepared memfds' watches on our instance before it closes.
  ~EmbeddedBackend() override;

  const char* kind() const override { return "embedded"; }
  Result<std::vector<HeapInfo>> heaps() override;
  Result<AllocatedBuffer> allocate(std::string_view heap, const uapi::AllocationData& request) override;
  bool owns(const FileKey& key) override;
  const Kernel& kernel() const override;
  bool realDmabufsOnly() const override;
  bool hostAnswers(const FileKey& key) override;

  // Buffers whose holders are not all gone yet (after reaping the finished ones).
  size_t liveBuffers();
  // The buffer's name as SET_NAME left it; ENOENT if `key` is not a live buffer.
  Result<std::string> bufferName(const FileKey& key);
  // Which backing made the buffer; ENOENT if `key` is not a live buffer.
  Result<BackingKind> bufferBacking(const FileKey& key);
  const Board& board() const { return *board_; }

 protected:
  Status runSync(const FileKey& key, int fd, const dmabuf::SyncRequest& request) override;
  Status runSetName(const FileKey& key, int fd, const dmabuf::SetNameRequest& request) override;
  Result<UniqueFd> runExportSyncFile(const FileKey& key, int fd, const dmabuf::ExportSyncFileRequest& request) override;

 private:
  EmbeddedBackend(std::unique_ptr<Board> board, BufferWatcher watch)
      : board_(std::move(board)), watch_(std::move(watch)) {}
  // Gives back every released buffer; counted=false looks at the inotify events only (enough
  // for a lookup by file identity: BufferWatcher::poll).
  void reapLocked(bool counted = true);
  // The live buffer of `key` (the lookup of every call on a buffer: no fdinfo is read).
  Buffer* findLocked(const FileKey& key);

  struct Live {
    std::unique_ptr<Buffer> buffer;
    FileKey key;
  };
  std::mutex mu_;
  std::unique_ptr<Board> board_;
  BufferWatcher watch_;
  std::map<int, Live> by_watch_;                        // watch id -> buffer
  std::map<std::pair<uint64_t, uint64_t>, int> by_file_;  // (dev, inode) -> watch id
};

}  // namespace dmaheap::emul
