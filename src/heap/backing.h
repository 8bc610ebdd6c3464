// Backing: the real memory under a Buffer (docs/emulation.md "Backings"). The heap core decides
// a buffer's physical placement, accounting and errno; the backing only makes the file the
// program holds: a real dma-buf from the host's DMA-BUF heap, a udmabuf over a sealed memfd, a
// vgem dumb buffer exported with PRIME, or a sealed memfd. One interface, one class per backing
// (backing.cc), one selection function, chosen once at start.
//
// Per-buffer fallback: a backing that cannot make one buffer (udmabuf past size_limit_mb, an
// access mode udmabuf or vgem cannot give, a host call that fails) hands it to the next backing
// of its chain (the ones after it in the auto order that the host offers, memfd last) and says
// so once on the notice sink.
//
// Thread-safe: create() may run concurrently (the registry's allocate may).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"
#include "base/unique_fd.h"
#include "heap/prepared_pool.h"

namespace dmaheap {

enum class BackingKind : uint8_t { kHostHeap, kUdmabuf, kVgem, kMemfd };
// --backing's values; kAuto is the best the host offers, in the order of BackingKind.
enum class BackingChoice : uint8_t { kAuto, kHostHeap, kUdmabuf, kVgem, kMemfd };

// "host-heap", "udmabuf", "vgem", "memfd" (and "auto" for the choice).
std::string_view backingName(BackingKind kind);
std::string_view backingChoiceName(BackingChoice choice);
// EINVAL naming the accepted values.
Result<BackingChoice> parseBackingChoice(std::string_view text);

// How a buffer's release is learnt (BufferWatcher): an inotify watch and no reference, or a
// dup the watcher keeps whose fdinfo `count` falls back to what one fd alone shows.
enum class ReleaseSignal : uint8_t { kInotify, kCountedDup };

// Where the host's devices are. Tests point them at fake or unopenable paths; the environment
// overrides each (DMAHEAP_HOST_DMA_HEAP, DMAHEAP_HOST_UDMABUF, DMAHEAP_HOST_UDMABUF_PARAMETERS,
// DMAHEAP_HOST_DRI).
struct HostPaths {
  std::string dma_heap = "/dev/dma_heap/system";
  std::string udmabuf = "/dev/udmabuf";
  std::string udmabuf_parameters = "/sys/module/udmabuf/parameters";
  std::string dri = "/dev/dri";
  static HostPaths fromEnvironment();
};

// udmabuf's module parameters. A missing directory means the kernel's defaults (64 MiB per
// buffer, 1024 ranges per list); EINVAL for a file that does not hold one decimal number.
struct UdmabufLimits {
  uint64_t size_limit_mb = 64;
  uint64_t list_limit = 1024;
  bool from_sysfs = false;  // false: the defaults, the directory was absent
  uint64_t sizeLimitBytes() const { return size_limit_mb << 20; }
};
Result<UdmabufLimits> readUdmabufLimits(const std::string& parameters_dir);

// A file's st_dev and st_ino when the backing knows them without asking (a prepared memfd's,
// read while it was prepared); ino 0: unknown, fstat it.
struct FileIdentity {
  uint64_t dev = 0;
  uint64_t ino = 0;
  bool known() const { return ino != 0; }
  // The release watch a prepared memfd already has (PreparedPool::watchWith): its id and the
  // BufferWatcher it belongs to; -1 and 0 when none.
  int wd = -1;
  uint64_t watcher = 0;
};

// One buffer's memory: a file descriptor with the requested access mode and close-on-exec, and
// which backing made it (another than the chosen one after a per-buffer fallback).
struct BackedMemory {
  UniqueFd fd;
  FileIdentity identity;
  BackingKind kind = BackingKind::kMemfd;
  ReleaseSignal release = ReleaseSignal::kInotify;  // of the backing that made it
  long lone_count = 1;
};

class Backing {
 public:
  using Notice = std::function<void(const std::string&)>;
  virtual ~Backing() = default;

  virtual BackingKind kind() const = 0;
  // What it is and where: "udmabuf (/dev/udmabuf, size_limit_mb 64, list_limit 1024)".
  virtual std::string description() const = 0;
  bool realDmabuf() const { return kind() != BackingKind::kMemfd; }
  // How this backing's buffers are known to be released on this kernel (probed at selection).
  ReleaseSignal releaseSignal() const { return release_; }
  // What fdinfo `count` shows for a buffer of this backing held by one fd (kCountedDup).
  long loneCount() const { return lone_count_; }
  const Backing* next() const { return next_.get(); }
  // True when every buffer is a real dma-buf of this backing: no chain to fall back to.
  bool alwaysRealDmabuf() const { return realDmabuf() && !next_; }

  // `size` bytes (page aligned, non-zero) of zeroed memory; `fd_flags` are ALLOC's validated
  // O_CLOEXEC and access-mode bits; `populate` asks memfds to be populated now. Falls back per
  // buffer as the header says. Errors: the last backing's (ENOMEM, EMFILE, ...).
  Result<BackedMemory> create(uint64_t size, uint32_t fd_flags, bool populate = true);

  // Wiring, for selectBacking and tests.
  void setNext(std::unique_ptr<Backing> next) { next_ = std::move(next); }
  void setNotice(Notice notice);
  // The memfds prepared ahead (heap/prepared_pool.h), for this backing and its chain; the memfd
  // backing and udmabuf's memfd take from it. Null: every memfd is made on the request path.
  void setPreparedPool(std::shared_ptr<PreparedPool> pool);
  PreparedPool* preparedPool() const { return pool_.get(); }
  void setReleaseSignal(ReleaseSignal signal, long lone_count) {
    release_ = signal;
    lone_count_ = lone_count;
  }

 protected:
  // This backing's own buffer. Called only when cannotMake() said nothing. `identity` may be
  // filled in when the backing knows the file's without an fstat.
  virtual Result<UniqueFd> make(uint64_t size, uint32_t fd_flags, bool populate, FileIdentity* identity) = 0;
  // A prepared sealed, populated, close-on-exec memfd of `size` bytes (its identity filled in),
  // or nothing: then the caller makes it fresh, with the fresh path's errno.
  std::optional<UniqueFd> takePrepared(uint64_t size, FileIdentity* identity);
  // Why this backing cannot make such a buffer at all ("" when it can).
  virtual std::string cannotMake(uint64_t size, uint32_t fd_flags) const {
    (void)size;
    (void)fd_flags;
    return {};
  }

 private:
  void noticeOnce(const std::string& line);
  std::unique_ptr<Backing> next_;
  Notice notice_;
  std::shared_ptr<PreparedPool> pool_;
  std::atomic<bool> noticed_{false};
  ReleaseSignal release_ = ReleaseSignal::kInotify;
  long lone_count_ = 1;
};

// The memfd backing alone (what a registry without a selected backing uses).
std::unique_ptr<Backing> makeMemfdBacking();

struct BackingOptions {
  BackingChoice choice = BackingChoice::kAuto;
  HostPaths paths;
  // Where per-buffer fallback lines go; unset: stderr, prefixed with `notice_prefix`.
  Backing::Notice notice;
  std::string notice_prefix = "dmaheap";
  // Memfds prepared ahead for the chosen backing's chain (heap/prepared_pool.h); `enabled =
  // false` makes every memfd on the request path, as before.
  PreparedPoolOptions prepared;
};

// Chooses the backing once. auto: the first of host heap (its node opens), udmabuf (the device
// opens), vgem (a /dev/dri/card* whose driver is "vgem" opens), memfd; each candidate must also
// make and release one page before it is chosen. `why` (when given) gets one sentence: what was
// chosen, how its releases are seen (inotify, or the fdinfo count of a kept dup), and why each
// better one was not. An explicit choice that the host cannot give fails
// with that step's errno (ENOENT, EACCES, ...) and a message naming the device and the errno.
// The chosen backing's chain is the remaining candidates the host offers, memfd last; the host
// heap has none (its failures are the program's errno).
Result<std::unique_ptr<Backing>> selectBacking(const BackingOptions& options, std::string* why = nullptr);

}  // namespace dmaheap
