// Supervisor: seccomp user notifications -> emulated heap and dma-buf ioctls.
#include "emulation/supervisor.h"

#include <fcntl.h>
#include <linux/seccomp.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "emulation/caller.h"
#include "emulation/ioctl_emulator.h"
#include "emulation/seccomp_filter.h"

// Linux 6.6 UAPI, newer than Debian 12's headers.
#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#endif
#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (1UL << 0)
#endif

namespace dmaheap::emul {
namespace {

// The traced thread that issued one notification.
class TracedCaller final : public Caller {
 public:
  TracedCaller(int listener, uint64_t id, pid_t tid) : listener_(listener), id_(id), tid_(tid) {}
  Status read(uint64_t addr, void* out, size_t len) override { return readProcessMemory(tid_, addr, out, len); }
  Status write(uint64_t addr, const void* in, size_t len) override {
    return writeProcessMemory(tid_, addr, in, len);
  }
  Result<int> installFd(UniqueFd fd, bool cloexec) override {
    struct seccomp_notif_addfd addfd {};
    addfd.id = id_;
    addfd.srcfd = static_cast<__u32>(fd.get());
    addfd.newfd_flags = cloexec ? O_CLOEXEC : 0;
    const int n = ::ioctl(listener_, SECCOMP_IOCTL_NOTIF_ADDFD, &addfd);
    if (n < 0) return makeError(errno, std::string("SECCOMP_IOCTL_NOTIF_ADDFD: ") + std::strerror(errno));
    return n;  // our copy closes when `fd` goes out of scope
  }
  Status stillWaiting() override {
    uint64_t id = id_;
    if (::ioctl(listener_, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) != 0) return makeError(ENOENT, "the caller went away");
    return {};
  }
  bool isSyncFile(int n) override { return isEmulatedSyncFile(tid_, n); }

 private:
  int listener_;
  uint64_t id_;
  pid_t tid_;
};

// pidfd_open wants a process, the notification names a thread.
pid_t threadGroupOf(pid_t tid) {
  const std::string path = "/proc/" + std::to_string(tid) + "/status";
  FILE* f = std::fopen(path.c_str(), "re");
  if (!f) return tid;
  char line[256];
  pid_t tgid = tid;
  while (std::fgets(line, sizeof line, f)) {
    if (std::strncmp(line, "Tgid:", 5) == 0) {
      tgid = static_cast<pid_t>(std::atoi(line + 5));
      break;
    }
  }
  std::fclose(f);
  return tgid;
}

}  // namespace

Supervisor::Supervisor(UniqueFd listener, HeapBackend& backend, std::vector<SupervisedHeap> heaps)
    : listener_(std::move(listener)), backend_(backend) {
  for (auto& h : heaps) heap_by_mount_[h.mount_id] = std::move(h.node);
  struct stat st {};
  if (::stat("/dev/null", &st) == 0) null_key_ = FileKey{st.st_rdev, st.st_ino};
  struct seccomp_notif_sizes sizes {};
  if (::syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) != 0) {
    sizes.seccomp_notif = sizeof(struct seccomp_notif);
    sizes.seccomp_notif_resp = sizeof(struct seccomp_notif_resp);
  }
  notif_buf_.resize(std::max<size_t>(sizes.seccomp_notif, sizeof(struct seccomp_notif)));
  resp_buf_.resize(std::max<size_t>(sizes.seccomp_notif_resp, sizeof(struct seccomp_notif_resp)));
  uint64_t flags = SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP;
  (void)::ioctl(listener_.get(), SECCOMP_IOCTL_NOTIF_SET_FLAGS, flags);  // best effort (6.6+)
}

Status Supervisor::reply(uint64_t id, int error, bool continue_syscall) {
  std::fill(resp_buf_.begin(), resp_buf_.end(), 0);
  auto* resp = reinterpret_cast<struct seccomp_notif_resp*>(resp_buf_.data());
  resp->id = id;
  resp->error = error ? -error : 0;
  resp->val = 0;
  resp->flags = continue_syscall ? SECCOMP_USER_NOTIF_FLAG_CONTINUE : 0;
  if (::ioctl(listener_.get(), SECCOMP_IOCTL_NOTIF_SEND, resp) != 0) {
    // ENOENT: the task was killed while we worked; what we installed died with it.
    return makeError(errno, std::string("SECCOMP_IOCTL_NOTIF_SEND: ") + std::strerror(errno));
  }
  return {};
}

void Supervisor::reportBackendLoss(const std::string& line) {
  if (loss_reported_) return;
  loss_reported_ = true;
  std::fprintf(stderr, "dmaheap run: %s\n", line.c_str());
}

Status Supervisor::handleOne() {
  std::fill(notif_buf_.begin(), notif_buf_.end(), 0);
  auto* notif = reinterpret_cast<struct seccomp_notif*>(notif_buf_.data());
  if (::ioctl(listener_.get(), SECCOMP_IOCTL_NOTIF_RECV, notif) != 0) {
    return makeError(errno, std::string("SECCOMP_IOCTL_NOTIF_RECV: ") + std::strerror(errno));
  }
  ++stats_.notifications;
  const pid_t tid = static_cast<pid_t>(notif->pid);
  // The filter matches ioctl on every ABI of the host; which one says how wide the pointer is.
  const auto abi = abiOfIoctl(notif->data.arch, static_cast<uint32_t>(notif->data.nr));
  if (!abi) {
    ++stats_.continued;  // not an ioctl the filter sends: the kernel decides
    return reply(notif->id, 0, true);
  }
  if (abi->pointers_32bit) ++stats_.compat_calls;
  // fd and cmd are the kernel's int and unsigned int (the low 32 bits on every ABI); a compat
  // caller's pointer is 32 bits, zero-extended as the kernel's compat_ptr_ioctl does. The
  // dma-heap and dma-buf argument structs have one layout on every ABI (__u64/__u32 fields), and
  // DMA_BUF_SET_NAME of a 32-bit program is the 4-byte-size number SET_NAME_A, which both the
  // kernel and the emulator accept (docs/kernel-behaviour.md §2.1).
  const int fd = static_cast<int>(notif->data.args[0]);
  const uint64_t arg = abi->pointers_32bit ? (notif->data.args[2] & 0xffffffffu) : notif->data.args[2];
  const IoctlCall call{static_cast<uint32_t>(notif->data.args[1]), arg};

  // Which file is it? statx follows the /proc magic link to the open file itself.
  const std::string path = "/proc/" + std::to_string(tid) + "/fd/" + std::to_string(fd);
  struct statx stx {};
  if (fd < 0 || ::statx(AT_FDCWD, path.c_str(), 0, STATX_INO | STATX_MNT_ID, &stx) != 0) {
    ++stats_.continued;  // not an open fd (EBADF follows), or a task gone: the kernel decides
    return reply(notif->id, 0, true);
  }
  TracedCaller caller(listener_.get(), notif->id, tid);
  const FileKey key{static_cast<uint64_t>(makedev(stx.stx_dev_major, stx.stx_dev_minor)), stx.stx_ino};
  const bool is_char = S_ISCHR(stx.stx_mode);
  const FileKey rdev_key{static_cast<uint64_t>(makedev(stx.stx_rdev_major, stx.stx_rdev_minor)), stx.stx_ino};
  if (is_char && rdev_key == null_key_) {
    auto heap = heap_by_mount_.find(stx.stx_mnt_id);
    if (heap != heap_by_mount_.end()) {
      ++stats_.heap_ioctls;
      Status st = emulateHeapIoctl(backend_, heap->second, call, caller);
      if (st.code() == ENODEV) reportBackendLoss(st.error().message());
      return reply(notif->id, st.code(), false);
    }
  }
  if (isBufferIoctl(call.cmd) && S_ISREG(stx.stx_mode) && backend_.owns(key)) {
    ++stats_.buffer_ioctls;
    UniqueFd local;
    if (backend_.needsLocalFd()) {
      // Borrow the program's fd (the same open file) for a backend that names buffers by fd.
      UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, threadGroupOf(tid), 0)));
      if (pidfd) local.reset(static_cast<int>(::syscall(SYS_pidfd_getfd, pidfd.get(), fd, 0)));
    }
    Status st = emulateBufferIoctl(backend_, key, local.get(), call, caller);
    return reply(notif->id, st.code(), false);
  }
  ++stats_.continued;
  return reply(notif->id, 0, true);
}

}  // namespace dmaheap::emul
