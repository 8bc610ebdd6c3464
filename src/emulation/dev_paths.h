// /dev/dma_heap without any namespace: what the supervisor needs to answer a program's open,
// stat and access calls on those paths itself (docs/emulation.md "Without user namespaces").
// A private directory (under $XDG_RUNTIME_DIR or /tmp) stands in for /dev/dma_heap: its entries
// are symbolic links to /dev/null, so the kernel lists it (getdents) and fstat on an opened
// node says character device. Heap nodes the supervisor opened for the program are recognised
// later by their open file (kcmp), since all of them are /dev/null.
#pragma once

#include <sys/types.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "base/unique_fd.h"

namespace dmaheap::emul {

// `path` made absolute against `base` (when relative) and normalised lexically: empty and "."
// components dropped, ".." removes the previous one. `trailing_slash` says whether it ended in
// '/'. Pure; symbolic links are not followed (nothing on the way to /dev/dma_heap is one).
std::string normalisePath(const std::string& base, const std::string& path, bool* trailing_slash = nullptr);

// What a normalised path names.
struct DevPath {
  enum Kind { kOther, kDirectory, kHeap, kMissing, kBelowHeap } kind = kOther;  // kBelowHeap: ENOTDIR
  std::string heap;  // kHeap: its name; kMissing: the name asked for
};

class DevPaths {
 public:
  // Creates the stand-in directory with one entry per heap.
  static Result<std::unique_ptr<DevPaths>> create(const std::vector<std::string>& heaps);
  ~DevPaths();  // removes it
  DevPaths(const DevPaths&) = delete;
  DevPaths& operator=(const DevPaths&) = delete;

  DevPath classify(const std::string& normalised) const;
  // The real file the supervisor opens, stats or checks for a path of ours.
  const std::string& directory() const { return directory_; }
  static constexpr const char* kNodeTarget = "/dev/null";

  // An open heap node the program got from us: our reference to the same open file.
  void remember(const std::string& heap, UniqueFd ours);
  // Which heap fd `fd` of thread `tid` is, by its open file; nullopt if none of ours. Every
  // node opened stays remembered until the program exits (the supervisor cannot tell when the
  // program's last reference is gone: all of them are /dev/null).
  std::optional<std::string> heapOf(pid_t tid, int fd) const;

 private:
  DevPaths() = default;
  std::string top_;        // the mkdtemp directory
  std::string directory_;  // top_/dma_heap
  std::vector<std::string> heaps_;
  std::map<std::string, std::vector<UniqueFd>> opened_;
};

}  // namespace dmaheap::emul
