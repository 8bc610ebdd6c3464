// TraceLog: one write(2) per event line, O_APPEND.
#include "trace/trace_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

namespace dmaheap::trace {

uint64_t monotonicNs() {
  struct timespec ts {};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(ts.tv_nsec);
}

namespace {

// Out of line: inlined into onFd, g++ 12 reports a false free-nonheap-object on the Result.
[[gnu::noinline]] Status makeWatcher(std::unique_ptr<BufferWatcher>* out) {
  auto w = BufferWatcher::create();
  if (!w) return w.error();
  *out = std::make_unique<BufferWatcher>(std::move(w.value()));
  return {};
}

}  // namespace

TraceLog::TraceLog(UniqueFd fd, std::unique_ptr<BufferWatcher> watcher)
    : fd_(std::move(fd)), watcher_(std::move(watcher)) {}

Result<std::unique_ptr<TraceLog>> TraceLog::open(const std::string& path, Releases releases) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  if (!fd) {
    const int e = errno;
    return makeError(e, "cannot open trace '" + path + "': " + std::strerror(e));
  }
  return onFd(std::move(fd), releases);
}

Result<std::unique_ptr<TraceLog>> TraceLog::onFd(UniqueFd fd, Releases releases) {
  std::unique_ptr<BufferWatcher> watcher;
  if (releases == Releases::kWatched) {
    if (auto st = makeWatcher(&watcher); !st) return st.error();
  }
  return std::unique_ptr<TraceLog>(new TraceLog(std::move(fd), std::move(watcher)));
}

void TraceLog::writeLocked(Event& event) {
  event.time_ns = monotonicNs();
  const std::string line = eventLine(event);
  // One write of the whole line: with O_APPEND the kernel places it at the end in one piece.
  // A short write (a full disk) is finished if it can be; what is missing counts as lost.
  size_t done = 0;
  while (done < line.size()) {
    const ssize_t n = ::write(fd_.get(), line.data() + done, line.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ++lost_;
      return;
    }
    done += static_cast<size_t>(n);
  }
  ++events_;
}

void TraceLog::start(const std::string& source, const std::string& kernel, uint64_t page_size,
                     std::vector<TraceHeap> heaps) {
  std::lock_guard lock(mu_);
  page_size_ = page_size ? page_size : 4096;
  next_buffer_ = 1;
  by_file_.clear();
  Event e;
  e.kind = EventKind::kStart;
  e.pid = static_cast<int64_t>(::getpid());
  e.source = source;
  e.kernel = kernel;
  e.page_size = page_size_;
  e.heaps = std::move(heaps);
  writeLocked(e);
}

uint64_t TraceLog::allocated(const AllocRecord& r) {
  std::lock_guard lock(mu_);
  pollLocked();
  Event e;
  e.kind = EventKind::kAlloc;
  e.pid = r.pid;
  e.tid = r.tid;
  e.heap = r.heap;
  e.len = r.len;
  e.fd_flags = r.fd_flags;
  e.heap_flags = r.heap_flags;
  e.error = r.error;
  if (r.error == 0) {
    e.rounded = r.size;
    e.fd = r.fd;
    e.buffer = next_buffer_++;
    e.inode = r.ino;
    by_file_[{r.dev, r.ino}] = e.buffer;
    if (watcher_ && r.watch_fd >= 0) {
      if (auto wd = watcher_->watch(r.watch_fd)) by_watch_[wd.value()] = Watched{{r.dev, r.ino}, e.buffer};
    }
  } else if (r.len <= ~uint64_t{0} - (page_size_ - 1)) {
    e.rounded = (r.len + page_size_ - 1) / page_size_ * page_size_;
  }
  writeLocked(e);
  return e.buffer;
}

void TraceLog::named(std::optional<int64_t> pid, std::optional<int64_t> tid, uint64_t dev, uint64_t ino,
                     const std::string& name, int error) {
  std::lock_guard lock(mu_);
  auto it = by_file_.find({dev, ino});
  if (it == by_file_.end()) return;
  Event e;
  e.kind = EventKind::kSetName;
  e.pid = pid;
  e.tid = tid;
  e.buffer = it->second;
  e.inode = ino;
  e.name = name;
  e.error = error;
  writeLocked(e);
}

void TraceLog::released(uint64_t dev, uint64_t ino) {
  std::lock_guard lock(mu_);
  auto it = by_file_.find({dev, ino});
  if (it == by_file_.end()) return;
  Event e;
  e.kind = EventKind::kRelease;
  e.buffer = it->second;
  e.inode = ino;
  by_file_.erase(it);
  writeLocked(e);
}

int TraceLog::watchFd() const { return watcher_ ? watcher_->fd() : -1; }

void TraceLog::pollReleases() {
  std::lock_guard lock(mu_);
  pollLocked();
}

void TraceLog::pollLocked() {
  if (!watcher_) return;
  for (int wd : watcher_->poll()) {
    auto w = by_watch_.find(wd);
    if (w == by_watch_.end()) continue;
    const Watched gone = w->second;
    by_watch_.erase(w);
    // The file's entry may already name a newer buffer with the same inode.
    if (auto it = by_file_.find(gone.file); it != by_file_.end() && it->second == gone.buffer) by_file_.erase(it);
    Event e;
    e.kind = EventKind::kRelease;
    e.buffer = gone.buffer;
    e.inode = gone.file.second;
    writeLocked(e);
  }
}

uint64_t TraceLog::events() const {
  std::lock_guard lock(mu_);
  return events_;
}

uint64_t TraceLog::lost() const {
  std::lock_guard lock(mu_);
  return lost_;
}

}  // namespace dmaheap::trace
