// PreparedPool: memfds made, populated and sealed ahead of the ALLOCs that take them.
#include "heap/prepared_pool.h"

#include <pthread.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/stat.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "heap/buffer.h"

namespace dmaheap {
namespace {

// Forks seen in this process (pthread_atfork's child handler): a pool made before the last fork
// belongs to the parent.
std::atomic<unsigned> g_forks{0};

unsigned forkGeneration() {
  static std::once_flag once;
  std::call_once(once, [] { ::pthread_atfork(nullptr, nullptr, [] { g_forks.fetch_add(1); }); });
  return g_forks.load();
}

Result<UniqueFd> freshMemfd(uint64_t size) {
  // Exactly the fresh path's file (MemfdBacking): a close-on-exec copy, populated.
  return createSealedMemfd("dmabuf", size, /*populate=*/true, /*cloexec=*/true);
}

}  // namespace

Result<PreparedPoolOptions> PreparedPoolOptions::fromEnvironment() {
  PreparedPoolOptions o;
  const char* v = std::getenv("DMAHEAP_PREPARED");
  if (v == nullptr || *v == '\0' || std::string_view(v) == "on") return o;
  const std::string_view text(v);
  if (text == "off" || text == "0") {
    o.enabled = false;
    return o;
  }
  if (text.size() > 6 || text.find_first_not_of("0123456789") != std::string_view::npos) {
    return makeError(EINVAL, "DMAHEAP_PREPARED='" + std::string(text) + "': on, off or a number of buffers");
  }
  o.max_count = std::stoul(std::string(text));
  return o;
}

PreparedPool::PreparedPool(PreparedPoolOptions options, Maker maker)
    : options_(std::move(options)),
      maker_(maker ? std::move(maker) : Maker(freshMemfd)),
      fork_generation_(forkGeneration()),
      state_(std::make_unique<State>()) {
  for (uint64_t size : options_.sizes) {
    if (size > 0) state_->slots[size];
  }
}

PreparedPool::~PreparedPool() {
  if (inForkedChild()) {
    (void)state_.release();  // the parent's thread is not ours to join, its files not ours to tidy
    return;
  }
  {
    std::lock_guard lock(state_->mu);
    state_->stop = true;
  }
  state_->wake.notify_all();
  if (state_->thread.joinable()) state_->thread.join();
  if (std::getenv("DMAHEAP_PREPARED_REPORT") != nullptr) {
    // For measurements (README.md "Performance"): how often the request path found one ready.
    const Stats s = stats();
    std::fprintf(stderr, "dmaheap: prepared buffers: %llu hits, %llu misses, %llu failures\n",
                 static_cast<unsigned long long>(s.hits), static_cast<unsigned long long>(s.misses),
                 static_cast<unsigned long long>(s.failures));
  }
  // The slots close every prepared fd with the state.
}

bool PreparedPool::inForkedChild() const { return g_forks.load(std::memory_order_relaxed) != fork_generation_; }

std::optional<PreparedFile> PreparedPool::take(uint64_t size) {
  if (!options_.enabled || inForkedChild()) return std::nullopt;
  State& s = *state_;
  std::optional<PreparedFile> out;
  bool wake = true;
  {
    std::lock_guard lock(s.mu);
    if (!s.thread.joinable()) startLocked();
    ++s.takes;
    auto it = s.slots.find(size);
    if (it == s.slots.end() || it->second.files.empty()) {
      ++s.stats.misses;
      if (it == s.slots.end()) noteMissLocked(size);
    } else {
      out = std::move(it->second.files.front());
      it->second.files.pop_front();
      it->second.last_take = s.takes;
      --s.count;
      s.bytes -= size;
      ++s.stats.hits;
      // Woken at the low-water mark only, so that the refill is a batch and most takes cost no
      // futex wake on the request path; a working thread finds the gap by itself.
      wake = !s.working && it->second.files.size() <= options_.per_size / 2;
    }
    if (wake) {
      s.stopped_by_failure = false;  // a wake is the moment to try again
      s.wake_pending = true;
    }
  }
  if (wake) s.wake.notify_one();
  return out;
}

void PreparedPool::startLocked() {
  // The thread blocks every signal: the program's handlers (and dmaheapd's signalfd) must not
  // find it.
  sigset_t all, old;
  ::sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &old);
  state_->working = true;  // until it has looked for work (waitIdle)
  state_->thread = std::thread([this] { run(); });
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

void PreparedPool::noteMissLocked(uint64_t size) {
  if (size == 0 || size > options_.max_buffer_bytes || options_.max_sizes == 0) return;
  auto& misses = state_->miss_counts;
  if (misses.size() >= 64 && !misses.count(size)) misses.clear();  // bounded: one-off sizes age out
  if (++misses[size] < options_.learn_after) return;
  misses.erase(size);
  learnLocked(size);
}

void PreparedPool::learnLocked(uint64_t size) {
  State& s = *state_;
  if (s.slots.size() >= options_.max_sizes) {
    // The learnt size taken least recently makes room; fixed sizes stay.
    auto victim = s.slots.end();
    for (auto it = s.slots.begin(); it != s.slots.end(); ++it) {
      if (it->second.learnt && (victim == s.slots.end() || it->second.last_take < victim->second.last_take)) victim = it;
    }
    if (victim == s.slots.end()) return;
    s.count -= victim->second.files.size();
    s.bytes -= victim->second.files.size() * victim->first;
    s.slots.erase(victim);  // closes its files
  }
  Slot& slot = s.slots[size];
  slot.learnt = true;
  slot.last_take = s.takes;
}

std::optional<uint64_t> PreparedPool::nextToPrepareLocked() const {
  const State& s = *state_;
  std::optional<uint64_t> best;
  size_t best_have = options_.per_size;
  for (const auto& [size, slot] : s.slots) {
    const size_t have = slot.files.size();
    if (have >= best_have) continue;
    if (s.count + 1 > options_.max_count || size > options_.max_bytes - std::min(options_.max_bytes, s.bytes)) continue;
    best = size;
    best_have = have;
  }
  return best;
}

void PreparedPool::run() {
  ::prctl(PR_SET_NAME, "dmaheap-prepare");  // scripts/syscall-counts.sh tells its calls apart by it
  State& s = *state_;
  std::unique_lock lock(s.mu);
  while (!s.stop) {
    s.wake_pending = false;
    const std::optional<uint64_t> size = s.stopped_by_failure ? std::nullopt : nextToPrepareLocked();
    if (!size) {
      s.working = false;
      s.idle.notify_all();
      s.wake.wait(lock, [&] { return s.wake_pending || s.stop; });
      continue;
    }
    // Counted before it exists, so that the bounds hold while it is being made.
    s.working = true;
    ++s.count;
    s.bytes += *size;
    const int watch_fd = s.watch_fd;
    const uint64_t watcher = s.watcher;
    lock.unlock();
    auto file = prepare(*size, watch_fd, watcher);
    lock.lock();
    auto slot = s.slots.find(*size);
    if (file && slot != s.slots.end() && !s.stop) {
      slot->second.files.push_back(std::move(file.value()));
      continue;
    }
    --s.count;
    s.bytes -= *size;
    if (!file) {
      ++s.stats.failures;
      s.stats.last_error = file.code();
      s.stopped_by_failure = true;  // until the next take: no retrying in a loop at RLIMIT_NOFILE
    }
  }
  s.working = false;
  s.idle.notify_all();
}

Result<PreparedFile> PreparedPool::prepare(uint64_t size, int watch_fd, uint64_t watcher) {
  auto fd = maker_(size);
  if (!fd) return fd.error();
  struct stat st {};
  if (::fstat(fd->get(), &st) != 0) return makeError(errno, std::string("fstat: ") + std::strerror(errno));
  PreparedFile out{std::move(fd.value()), static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino)};
  if (watch_fd >= 0) {
    // The same watch BufferWatcher::watch adds (heap/buffer_watcher.h), added here instead of on
    // the request path.
    const std::string path = "/proc/self/fd/" + std::to_string(out.fd.get());
    out.wd = ::inotify_add_watch(watch_fd, path.c_str(), IN_MOVE_SELF);
    if (out.wd >= 0) out.watcher = watcher;
  }
  return out;
}

void PreparedPool::watchWith(int inotify_fd, uint64_t watcher) {
  std::lock_guard lock(state_->mu);
  state_->watch_fd = inotify_fd;
  state_->watcher = watcher;
}

PreparedPool::Stats PreparedPool::stats() const {
  std::lock_guard lock(state_->mu);
  Stats out = state_->stats;
  for (const auto& [size, slot] : state_->slots) {
    out.count += slot.files.size();
    out.bytes += slot.files.size() * size;
  }
  out.sizes = state_->slots.size();
  return out;
}

void PreparedPool::waitIdle() {
  if (!options_.enabled || inForkedChild()) return;
  State& s = *state_;
  std::unique_lock lock(s.mu);
  s.idle.wait(lock, [&] {
    // Idle: waiting for a wake that nobody has sent (what is left to prepare waits for the next
    // low-water take, as it would without this call).
    return !s.thread.joinable() || s.stop || (!s.working && !s.wake_pending);
  });
}

}  // namespace dmaheap
