// HolderWatch: learns when the last reference to a file anywhere is gone — every fd in every
// process closed and every mapping unmapped — without holding a reference itself. An inotify
// watch on a memfd reports IN_IGNORED exactly then (reference: userspace-mechanisms.md).
//
// The owner adds a watch while it still holds an fd, then gives its fd away; drain() later
// returns the watches whose file is gone. Not thread-safe; the owner serialises calls.
#pragma once

#include <vector>

#include "base/result.h"
#include "base/unique_fd.h"

namespace dmaheap::emul {

class HolderWatch {
 public:
  // EMFILE/ENFILE/ENOMEM from inotify_init1.
  static Result<HolderWatch> create();

  // Watches the file open as `fd` in this process. Returns the watch id (unique among live
  // watches). ENOSPC when the per-user watch limit (fs.inotify.max_user_watches) is reached.
  Result<int> watch(int fd);

  // Without blocking: the watch ids whose file has no holder left since the previous call.
  // Sets *overflowed when the kernel's event queue overflowed (some events were lost).
  std::vector<int> drain(bool* overflowed = nullptr);

  // Readable when drain() has something to return.
  int pollFd() const { return fd_.get(); }

 private:
  explicit HolderWatch(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

}  // namespace dmaheap::emul
