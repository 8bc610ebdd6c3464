// Caller: the process that issued an emulated ioctl, as the emulation sees it — its memory (read
// and written the way copy_from_user/copy_to_user would, EFAULT for a bad address), its fd table
// (where new fds are installed) and a liveness check. The seccomp supervisor implements it for a
// traced process; libdmaheap for its own process.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "base/result.h"
#include "base/unique_fd.h"

namespace dmaheap::emul {

class Caller {
 public:
  virtual ~Caller() = default;
  // Exactly `len` bytes at `addr`, or EFAULT.
  virtual Status read(uint64_t addr, void* out, size_t len) = 0;
  virtual Status write(uint64_t addr, const void* in, size_t len) = 0;
  // Installs `fd` (one of ours) in the caller's fd table, close-on-exec if asked; returns the
  // number there. EMFILE when the table is full; the caller's death is ENOENT.
  virtual Result<int> installFd(UniqueFd fd, bool cloexec) = 0;
  // Whether the caller is still waiting for this ioctl (the seccomp notification is valid).
  virtual Status stillWaiting() { return {}; }
  // Whether fd `n` in the caller is an (emulated) sync_file.
  virtual bool isSyncFile(int n) = 0;

  // strndup_user(addr, max): the NUL-terminated string at `addr`, at most max-1 characters.
  // EFAULT when a byte before the NUL is unreadable, EINVAL when no NUL comes within `max`.
  Result<std::string> readString(uint64_t addr, size_t max);
};

// Memory of process `pid` through process_vm_readv/writev (pid may be this process, which makes
// bad pointers EFAULT instead of a crash).
Status readProcessMemory(pid_t pid, uint64_t addr, void* out, size_t len);
Status writeProcessMemory(pid_t pid, uint64_t addr, const void* in, size_t len);

// The caller is this very process: fds are already in our table.
class SelfCaller final : public Caller {
 public:
  Status read(uint64_t addr, void* out, size_t len) override;
  Status write(uint64_t addr, const void* in, size_t len) override;
  Result<int> installFd(UniqueFd fd, bool cloexec) override;
  bool isSyncFile(int n) override;
};

// True if /proc/PID/fd/N is one of our emulated sync_files (an eventfd).
bool isEmulatedSyncFile(pid_t pid, int n);

}  // namespace dmaheap::emul
