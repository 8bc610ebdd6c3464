// inotify-based last-reference detection for memfds.
#include "heap/buffer_watcher.h"

#include <sys/inotify.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

namespace dmaheap {

Result<BufferWatcher> BufferWatcher::create() {
  UniqueFd fd(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (!fd) return makeError(errno, std::string("inotify_init1: ") + std::strerror(errno));
  return BufferWatcher(std::move(fd));
}

BufferWatcher BufferWatcher::adopt(UniqueFd inotify, const std::vector<int>& wds) {
  BufferWatcher w(std::move(inotify));
  w.live_.insert(wds.begin(), wds.end());
  return w;
}

Result<std::vector<BufferWatcher::KernelWatch>> BufferWatcher::kernelWatches(int inotify_fd) {
  // "inotify wd:3 ino:1a2b sdev:f mask:... ...": numbers in hex; sdev in the kernel's own dev_t
  // layout (major << 20 | minor), turned into the one stat reports.
  std::ifstream info("/proc/self/fdinfo/" + std::to_string(inotify_fd));
  if (!info) return makeError(ENOENT, "cannot read /proc/self/fdinfo/" + std::to_string(inotify_fd));
  std::vector<KernelWatch> out;
  for (std::string line; std::getline(info, line);) {
    if (line.rfind("inotify wd:", 0) != 0) continue;
    unsigned wd = 0;
    unsigned long long ino = 0, sdev = 0;
    if (std::sscanf(line.c_str(), "inotify wd:%x ino:%llx sdev:%llx", &wd, &ino, &sdev) != 3) continue;
    const unsigned major = static_cast<unsigned>(sdev >> 20), minor = static_cast<unsigned>(sdev & 0xfffff);
    out.push_back(KernelWatch{static_cast<int>(wd), static_cast<uint64_t>(makedev(major, minor)), ino});
  }
  return out;
}

Result<int> BufferWatcher::watch(int fd) {
  const std::string path = "/proc/self/fd/" + std::to_string(fd);
  const int wd = ::inotify_add_watch(fd_.get(), path.c_str(), IN_MOVE_SELF);
  if (wd < 0) {
    const int e = errno;
    return makeError(e, "inotify_add_watch: " + std::string(std::strerror(e)) +
                            (e == ENOSPC ? " (fs.inotify.max_user_watches reached)" : ""));
  }
  live_.insert(wd);
  return wd;
}

std::vector<int> BufferWatcher::poll() {
  std::vector<int> gone;
  bool overflow = false;
  alignas(inotify_event) char buf[64 * 1024];
  for (;;) {
    const ssize_t n = ::read(fd_.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // EAGAIN: drained
    for (ssize_t off = 0; off < n;) {
      const auto* ev = reinterpret_cast<const inotify_event*>(buf + off);
      if (ev->mask & IN_Q_OVERFLOW) {
        overflow = true;
      } else if ((ev->mask & IN_IGNORED) && live_.erase(ev->wd) == 1) {
        gone.push_back(ev->wd);
      }
      off += static_cast<ssize_t>(sizeof(inotify_event) + ev->len);
    }
  }
  if (overflow) {
    ++overflows_;
    for (int wd : recheck()) gone.push_back(wd);
  }
  return gone;
}

std::vector<int> BufferWatcher::recheck() {
  // Lines look like "inotify wd:3 ino:... sdev:... mask:... ignored_mask:0 ...", wd in hex.
  std::unordered_set<int> kernel;
  std::ifstream info("/proc/self/fdinfo/" + std::to_string(fd_.get()));
  std::vector<int> gone;
  if (!info) return gone;  // cannot tell: keep everything rather than free live memory
  for (std::string line; std::getline(info, line);) {
    if (line.rfind("inotify wd:", 0) != 0) continue;
    kernel.insert(static_cast<int>(std::stoul(line.substr(11), nullptr, 16)));
  }
  for (auto it = live_.begin(); it != live_.end();) {
    if (kernel.count(*it) == 0) {
      gone.push_back(*it);
      it = live_.erase(it);
    } else {
      ++it;
    }
  }
  return gone;
}

}  // namespace dmaheap
