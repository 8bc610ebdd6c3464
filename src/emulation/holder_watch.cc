// HolderWatch: inotify IN_IGNORED as the "last holder gone" signal.
#include "emulation/holder_watch.h"

#include <sys/inotify.h>
#include <unistd.h>

#include <cstring>
#include <string>

namespace dmaheap::emul {

Result<HolderWatch> HolderWatch::create() {
  UniqueFd fd(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (!fd) return makeError(errno, std::string("inotify_init1: ") + std::strerror(errno));
  return HolderWatch(std::move(fd));
}

Result<int> HolderWatch::watch(int fd) {
  // The /proc/self/fd link reaches the file even though a memfd has no name in any directory.
  // IN_DELETE_SELF is the event asked for; the removal of the watch (IN_IGNORED) follows it and
  // is what drain() acts on, as it also covers a watch removed for any other reason.
  const std::string path = "/proc/self/fd/" + std::to_string(fd);
  const int wd = ::inotify_add_watch(fd_.get(), path.c_str(), IN_DELETE_SELF);
  if (wd < 0) return makeError(errno, "inotify_add_watch " + path + ": " + std::strerror(errno));
  return wd;
}

std::vector<int> HolderWatch::drain(bool* overflowed) {
  std::vector<int> gone;
  alignas(struct inotify_event) char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd_.get(), buf, sizeof buf);
    if (n <= 0) break;  // EAGAIN: nothing more queued
    for (ssize_t off = 0; off < n;) {
      const auto* ev = reinterpret_cast<const struct inotify_event*>(buf + off);
      if (ev->mask & IN_Q_OVERFLOW) {
        if (overflowed) *overflowed = true;
      } else if (ev->mask & IN_IGNORED) {
        gone.push_back(ev->wd);
      }
      off += static_cast<ssize_t>(sizeof(struct inotify_event) + ev->len);
    }
  }
  return gone;
}

}  // namespace dmaheap::emul
