// inotify-based last-reference detection for memfds.
#include "heap/buffer_watcher.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/inotify.h>
#include <sys/sysmacros.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

namespace dmaheap {

long fdinfoCount(int fd) {
  std::ifstream info("/proc/self/fdinfo/" + std::to_string(fd));
  for (std::string line; std::getline(info, line);) {
    if (line.rfind("count:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
  }
  return -1;
}

Result<ReleaseProbe> probeReleaseSignal(UniqueFd fd) {
  UniqueFd in(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (!in) return makeError(errno, std::string("inotify_init1: ") + std::strerror(errno));
  ReleaseProbe probe;
  probe.lone_count = fdinfoCount(fd.get());
  const std::string path = "/proc/self/fd/" + std::to_string(fd.get());
  const bool watched = ::inotify_add_watch(in.get(), path.c_str(), IN_MOVE_SELF) >= 0;
  fd.reset();  // the last reference: close releases the file before it returns
  bool ignored = false;
  alignas(inotify_event) char buf[4096];
  for (ssize_t n; watched && (n = ::read(in.get(), buf, sizeof buf)) > 0;) {
    for (ssize_t off = 0; off < n;) {
      const auto* ev = reinterpret_cast<const inotify_event*>(buf + off);
      if (ev->mask & IN_IGNORED) ignored = true;
      off += static_cast<ssize_t>(sizeof(inotify_event) + ev->len);
    }
  }
  if (ignored) {
    probe.signal = ReleaseSignal::kInotify;
  } else if (probe.lone_count > 0) {
    probe.signal = ReleaseSignal::kCountedDup;
  } else {
    return makeError(ENOTSUP, "neither an inotify watch nor fdinfo's count tells when such a buffer is released");
  }
  return probe;
}

BufferWatcher::BufferWatcher(UniqueFd fd) : fd_(std::move(fd)) {
  static std::atomic<uint64_t> next_id{1};
  id_ = next_id.fetch_add(1);
}

Result<int> BufferWatcher::watchOrAdopt(int fd, ReleaseSignal signal, long lone_count, int prepared_wd) {
  if (prepared_wd < 0) return watch(fd, signal, lone_count);
  live_.insert(prepared_wd);
  return prepared_wd;
}

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

Result<int> BufferWatcher::watch(int fd, ReleaseSignal signal, long lone_count) {
  if (signal == ReleaseSignal::kCountedDup) {
    if (!timer_) {
      UniqueFd t(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
      if (!t) return makeError(errno, std::string("timerfd_create: ") + std::strerror(errno));
      const struct itimerspec every{{0, 50'000'000}, {0, 50'000'000}};
      if (::timerfd_settime(t.get(), 0, &every, nullptr) != 0) {
        return makeError(errno, std::string("timerfd_settime: ") + std::strerror(errno));
      }
      timer_ = std::move(t);
    }
    UniqueFd dup(::fcntl(fd, F_DUPFD_CLOEXEC, 0));
    if (!dup) return makeError(errno, std::string("dup of a buffer to watch: ") + std::strerror(errno));
    const int id = next_counted_--;
    counted_[id] = Counted{std::move(dup), lone_count};
    return id;
  }
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

std::vector<int> BufferWatcher::poll(bool counted) {
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
    // A read stops only at an event that does not fit; with room for the largest one left, the
    // queue was empty when it returned, and a second read would only say EAGAIN (a syscall per
    // request saved, README.md "Performance"). Later events are the next poll's, as before.
    if (static_cast<size_t>(n) + sizeof(inotify_event) + NAME_MAX + 1 <= sizeof buf) break;
  }
  if (overflow) {
    ++overflows_;
    for (int wd : recheck()) gone.push_back(wd);
  } else if (counted) {
    for (int id : pollCounted()) gone.push_back(id);
  }
  return gone;
}

std::vector<int> BufferWatcher::pollCounted() {
  if (timer_) {
    uint64_t ticks = 0;
    (void)!::read(timer_.get(), &ticks, sizeof ticks);
  }
  std::vector<int> gone;
  for (auto it = counted_.begin(); it != counted_.end();) {
    // Unreadable (-1) keeps the buffer: never free memory someone may hold.
    ++count_reads_;
    if (fdinfoCount(it->second.dup.get()) == it->second.lone_count) {
      gone.push_back(it->first);
      it = counted_.erase(it);  // closes our dup: the last reference
    } else {
      ++it;
    }
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
  for (int id : pollCounted()) gone.push_back(id);
  return gone;
}

}  // namespace dmaheap
