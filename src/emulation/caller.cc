// Caller helpers: process memory access with kernel-like EFAULT, strndup_user, SelfCaller.
#include "emulation/caller.h"

#include <fcntl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

namespace dmaheap::emul {
namespace {

constexpr uint64_t kPage = 4096;

// process_vm_* transfer partially only at iovec granularity, so split the remote range at page
// boundaries and count what moved.
template <typename Fn>
Status transfer(Fn fn, pid_t pid, uint64_t addr, void* local, size_t len) {
  if (len == 0) return {};
  if (addr + len < addr) return makeError(EFAULT, "bad address");
  size_t done = 0;
  while (done < len) {
    constexpr size_t kMaxIov = 64;
    struct iovec remote[kMaxIov];
    size_t n = 0;
    size_t batch = 0;
    for (uint64_t a = addr + done; done + batch < len && n < kMaxIov; ++n) {
      const size_t chunk = std::min<uint64_t>(len - done - batch, kPage - (a % kPage));
      remote[n] = {reinterpret_cast<void*>(a), chunk};
      a += chunk;
      batch += chunk;
    }
    struct iovec l = {static_cast<char*>(local) + done, batch};
    const ssize_t r = fn(pid, &l, 1, remote, n, 0);
    if (r < 0 || static_cast<size_t>(r) != batch) return makeError(EFAULT, "bad address");
    done += batch;
  }
  return {};
}

}  // namespace

Status readProcessMemory(pid_t pid, uint64_t addr, void* out, size_t len) {
  return transfer(::process_vm_readv, pid, addr, out, len);
}

Status writeProcessMemory(pid_t pid, uint64_t addr, const void* in, size_t len) {
  auto writev = [](pid_t p, const struct iovec* l, unsigned long ln, const struct iovec* r, unsigned long rn,
                   unsigned long f) { return ::process_vm_writev(p, l, ln, r, rn, f); };
  return transfer(writev, pid, addr, const_cast<void*>(in), len);
}

Result<std::string> Caller::readString(uint64_t addr, size_t max) {
  std::string out;
  uint64_t a = addr;
  while (out.size() < max) {
    const size_t chunk = std::min<uint64_t>(max - out.size(), kPage - (a % kPage));
    char buf[kPage];
    if (auto st = read(a, buf, chunk); !st) return makeError(EFAULT, "the name pointer is not readable");
    const void* nul = std::memchr(buf, '\0', chunk);
    if (nul) {
      out.append(buf, static_cast<const char*>(nul) - buf);
      return out;
    }
    out.append(buf, chunk);
    a += chunk;
  }
  return makeError(EINVAL, "the name is longer than " + std::to_string(max - 1) + " characters");
}

Status SelfCaller::read(uint64_t addr, void* out, size_t len) { return readProcessMemory(::getpid(), addr, out, len); }

Status SelfCaller::write(uint64_t addr, const void* in, size_t len) {
  return writeProcessMemory(::getpid(), addr, in, len);
}

Result<int> SelfCaller::installFd(UniqueFd fd, bool cloexec) {
  const int flags = ::fcntl(fd.get(), F_GETFD);
  if (flags >= 0) ::fcntl(fd.get(), F_SETFD, cloexec ? (flags | FD_CLOEXEC) : (flags & ~FD_CLOEXEC));
  return fd.release();
}

bool isEmulatedSyncFile(pid_t pid, int n) {
  const std::string path = "/proc/" + std::to_string(pid) + "/fd/" + std::to_string(n);
  char link[64];
  const ssize_t len = ::readlink(path.c_str(), link, sizeof link - 1);
  if (len <= 0) return false;
  return std::string_view(link, static_cast<size_t>(len)) == "anon_inode:[eventfd]";
}

bool SelfCaller::isSyncFile(int n) { return isEmulatedSyncFile(::getpid(), n); }

}  // namespace dmaheap::emul
