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
#include "heap/dmabuf_ioctl.h"


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

// One ALLOC for the trace (docs/traces.md): what the caller asked and what it got.
void traceAlloc(trace::TraceLog& log, pid_t tid, const std::string& heap, const AllocOutcome& outcome, int error) {
  trace::AllocRecord r;
  r.pid = threadGroupOf(tid);
  r.tid = tid;
  r.heap = heap;
  r.len = outcome.request.len;
  r.fd_flags = outcome.request.fd_flags;
  r.heap_flags = outcome.request.heap_flags;
  r.error = error;
  if (error == 0) {
    r.size = outcome.size;
    r.fd = outcome.fd;
    r.dev = outcome.key.dev;
    r.ino = outcome.key.ino;
    r.watch_fd = outcome.buffer.get();
  }
  (void)log.allocated(r);
}

Supervisor::Supervisor(UniqueFd listener, HeapBackend& backend, std::vector<SupervisedHeap> heaps, DevPaths* paths,
                       trace::TraceLog* trace)
    : listener_(std::move(listener)), backend_(backend), paths_(paths), trace_(trace), host_(dmabuf::runningKernel()) {
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
  const auto decoded = decodeCall(notif->data.arch, static_cast<uint32_t>(notif->data.nr));
  if (!decoded) {
    ++stats_.continued;  // not a call the filter sends: the kernel decides
    return reply(notif->id, 0, true);
  }
  const FilterAbi* abi = &decoded->abi;
  if (decoded->call != Syscall::kIoctl) {
    if (abi->pointers_32bit) ++stats_.compat_calls;
    return handlePathCall(*notif, *decoded);
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
    std::optional<std::string> heap;
    if (auto by_mount = heap_by_mount_.find(stx.stx_mnt_id); by_mount != heap_by_mount_.end()) {
      heap = by_mount->second;
    } else if (paths_) {
      heap = paths_->heapOf(tid, fd);  // kcmp takes a thread id as well
    }
    if (heap) {
      ++stats_.heap_ioctls;
      AllocOutcome outcome;
      Status st = emulateHeapIoctl(backend_, *heap, call, caller, trace_ ? &outcome : nullptr);
      if (st.code() == ENODEV) reportBackendLoss(st.error().message());
      if (trace_ && outcome.decoded) traceAlloc(*trace_, tid, *heap, outcome, st.code());
      return reply(notif->id, st.code(), false);
    }
  }
  if (isBufferIoctl(call.cmd) && !is_char && backend_.owns(key)) {
    if (backend_.hostAnswers(key)) {
      // A real dma-buf: the host kernel runs what it answers as the target would; what only
      // one of them has is the front door's (docs/emulation.md "Backings").
      if (dmabuf::hostAnswersAsTarget(call.cmd, backend_.kernel(), host_)) {
        ++stats_.host_ioctls;
        return reply(notif->id, 0, true);
      }
      if (auto plan = dmabuf::planBufferIoctl(call.cmd, backend_.kernel()); !plan) {
        ++stats_.buffer_ioctls;
        return reply(notif->id, plan.code(), false);
      }
    }
    ++stats_.buffer_ioctls;
    UniqueFd local;
    if (backend_.needsLocalFd()) {
      // Borrow the program's fd (the same open file) for a backend that names buffers by fd.
      UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, threadGroupOf(tid), 0)));
      if (pidfd) local.reset(static_cast<int>(::syscall(SYS_pidfd_getfd, pidfd.get(), fd, 0)));
    }
    std::optional<std::string> set_name;
    Status st = emulateBufferIoctl(backend_, key, local.get(), call, caller, trace_ ? &set_name : nullptr);
    if (trace_ && set_name) trace_->named(threadGroupOf(tid), tid, key.dev, key.ino, *set_name, st.code());
    return reply(notif->id, st.code(), false);
  }
  ++stats_.continued;
  return reply(notif->id, 0, true);
}

namespace {

std::string readLink(const std::string& path) {
  char buf[4096];
  const ssize_t n = ::readlink(path.c_str(), buf, sizeof buf - 1);
  if (n < 0) return {};
  return std::string(buf, static_cast<size_t>(n));
}

}  // namespace

// open, openat, the stat family and access on /dev/dma_heap, answered as the private /dev of the
// namespace mode would: the directory and the nodes are the stand-ins of DevPaths; everything
// else continues to the kernel.
Status Supervisor::handlePathCall(const struct seccomp_notif& notif, const DecodedCall& decoded) {
  const __u64* a = notif.data.args;
  const bool compat = decoded.abi.pointers_32bit;
  auto ptr = [&](int i) { return compat ? (a[i] & 0xffffffffu) : a[i]; };
  // Where each call keeps its directory fd and path (AT_FDCWD when it has none).
  int dirfd = AT_FDCWD;
  uint64_t path_addr = 0;
  switch (decoded.call) {
    case Syscall::kOpen: case Syscall::kStat: case Syscall::kLstat: case Syscall::kAccess: path_addr = ptr(0); break;
    default: dirfd = static_cast<int>(a[0]); path_addr = ptr(1); break;
  }
  const bool native_stat = decoded.abi.native;  // struct stat of our own ABI
  if (!paths_ || ((decoded.call == Syscall::kStat || decoded.call == Syscall::kLstat ||
                   decoded.call == Syscall::kNewfstatat) && !native_stat)) {
    ++stats_.continued;
    return reply(notif.id, 0, true);
  }
  const pid_t tid = static_cast<pid_t>(notif.pid);
  TracedCaller caller(listener_.get(), notif.id, tid);
  auto path = caller.readString(path_addr, 4096);
  if (!path || path->empty()) {  // EFAULT, ENAMETOOLONG, AT_EMPTY_PATH: the kernel's answer
    ++stats_.continued;
    return reply(notif.id, 0, true);
  }
  std::string base = "/";
  if ((*path)[0] != '/') {
    const std::string proc = "/proc/" + std::to_string(tid);
    base = readLink(dirfd == AT_FDCWD ? proc + "/cwd" : proc + "/fd/" + std::to_string(dirfd));
    if (base == paths_->directory()) base = "/dev/dma_heap";  // relative to a directory we opened
    if (base.empty() || base[0] != '/') {
      ++stats_.continued;
      return reply(notif.id, 0, true);
    }
  }
  bool trailing_slash = false;
  const DevPath what = paths_->classify(normalisePath(base, *path, &trailing_slash));
  if (what.kind == DevPath::kOther) {
    ++stats_.continued;
    return reply(notif.id, 0, true);
  }
  ++stats_.path_calls;
  const bool is_dir = what.kind == DevPath::kDirectory;
  const std::string target = is_dir ? paths_->directory() : std::string(DevPaths::kNodeTarget);
  if (what.kind == DevPath::kBelowHeap || (what.kind == DevPath::kHeap && trailing_slash)) {
    return reply(notif.id, ENOTDIR, false);
  }

  if (decoded.call == Syscall::kOpen || decoded.call == Syscall::kOpenat) {
    const int flags = static_cast<int>(decoded.call == Syscall::kOpen ? a[1] : a[2]);
    const int accmode = flags & O_ACCMODE;
    if (what.kind == DevPath::kMissing) return reply(notif.id, (flags & O_CREAT) ? EROFS : ENOENT, false);
    if ((flags & O_CREAT) && (flags & O_EXCL)) return reply(notif.id, EEXIST, false);
    if (is_dir && (accmode != O_RDONLY || (flags & O_CREAT)) && !(flags & O_PATH)) return reply(notif.id, EISDIR, false);
    if (!is_dir && (flags & O_DIRECTORY)) return reply(notif.id, ENOTDIR, false);
    const int keep = O_ACCMODE | O_NONBLOCK | O_DIRECTORY | O_PATH | O_NOCTTY | O_NOFOLLOW;
    UniqueFd ours(::open(target.c_str(), (flags & keep & ~O_NOFOLLOW) | O_CLOEXEC));
    if (!ours) return reply(notif.id, errno, false);
    UniqueFd mine;
    if (!is_dir) {
      // The same open file, kept to recognise the node later (kcmp); without it the program would
      // get a node whose ioctls reach /dev/null, so it gets our EMFILE instead.
      mine.reset(::fcntl(ours.get(), F_DUPFD_CLOEXEC, 0));
      if (!mine) return reply(notif.id, EMFILE, false);
    }
    struct seccomp_notif_addfd addfd {};
    addfd.id = notif.id;
    addfd.flags = SECCOMP_ADDFD_FLAG_SEND;  // the new fd is the call's result
    addfd.srcfd = static_cast<__u32>(ours.get());
    addfd.newfd_flags = (flags & O_CLOEXEC) ? O_CLOEXEC : 0;
    if (::ioctl(listener_.get(), SECCOMP_IOCTL_NOTIF_ADDFD, &addfd) < 0) {
      const int e = errno;
      if (e == ENOENT || e == EINPROGRESS) return makeError(e, "the caller went away");
      return reply(notif.id, e, false);  // EMFILE and the like are the program's errno
    }
    if (mine) paths_->remember(what.heap, std::move(mine));
    return {};
  }
  if (what.kind == DevPath::kMissing) return reply(notif.id, ENOENT, false);
  switch (decoded.call) {
    case Syscall::kStat:
    case Syscall::kLstat:
    case Syscall::kNewfstatat: {
      struct stat st {};
      if (::stat(target.c_str(), &st) != 0) return reply(notif.id, errno, false);
      const uint64_t buf = decoded.call == Syscall::kNewfstatat ? ptr(2) : ptr(1);
      Status w = caller.write(buf, &st, sizeof st);
      return reply(notif.id, w.ok() ? 0 : EFAULT, false);
    }
    case Syscall::kStatx: {
      const int flags = static_cast<int>(a[2]) & ~(AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW);
      struct statx stx {};
      if (::statx(AT_FDCWD, target.c_str(), flags, static_cast<unsigned>(a[3]), &stx) != 0) return reply(notif.id, errno, false);
      Status w = caller.write(ptr(4), &stx, sizeof stx);
      return reply(notif.id, w.ok() ? 0 : EFAULT, false);
    }
    case Syscall::kAccess:
    case Syscall::kFaccessat:
    case Syscall::kFaccessat2: {
      const int mode = static_cast<int>(decoded.call == Syscall::kAccess ? a[1] : a[2]);
      const int flags = decoded.call == Syscall::kFaccessat2 ? (static_cast<int>(a[3]) & AT_EACCESS) : 0;
      // The nodes are read-only stand-ins as in the namespace mode's read-only /dev.
      if ((mode & W_OK) && is_dir) return reply(notif.id, EROFS, false);
      const int r = ::faccessat(AT_FDCWD, target.c_str(), mode, flags);
      return reply(notif.id, r == 0 ? 0 : errno, false);
    }
    default:
      ++stats_.continued;
      return reply(notif.id, 0, true);
  }
}

}  // namespace dmaheap::emul
