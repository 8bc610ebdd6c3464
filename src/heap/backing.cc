// The backings (host DMA-BUF heap, udmabuf, vgem PRIME, memfd) and their selection.
#include "heap/backing.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <vector>

#include "heap/buffer.h"
#include "heap/buffer_watcher.h"
#include "heap/uapi.h"

namespace dmaheap {
namespace {

std::string errnoText(int e) { return std::strerror(e); }

// ---- memfd: what every buffer was before real dma-bufs (docs/emulation.md "Buffers") ----

class MemfdBacking final : public Backing {
 public:
  BackingKind kind() const override { return BackingKind::kMemfd; }
  std::string description() const override { return "memfd (a sealed memfd per buffer; not importable by devices)"; }

 protected:
  Result<UniqueFd> make(uint64_t size, uint32_t fd_flags, bool populate, FileIdentity* identity) override {
    const bool cloexec = (fd_flags & uapi::kOCloexec) != 0;
    if (populate) {
      if (auto prepared = takePrepared(size, identity)) return fromPrepared(std::move(*prepared), fd_flags);
    }
    return finish(createSealedMemfd("dmabuf", size, populate, cloexec), fd_flags);
  }

 private:
  // A prepared memfd is close-on-exec; a read-write buffer without O_CLOEXEC clears it, so that
  // the fd is what createSealedMemfd would have made (the other access modes reopen it with the
  // caller's flags anyway).
  static Result<UniqueFd> fromPrepared(UniqueFd memfd, uint32_t fd_flags) {
    const bool rdwr = (fd_flags & uapi::kOAccmode) == O_RDWR;
    if (rdwr && !(fd_flags & uapi::kOCloexec) && ::fcntl(memfd.get(), F_SETFD, 0) != 0) {
      return makeError(errno, std::string("F_SETFD: ") + std::strerror(errno));
    }
    return finish(std::move(memfd), fd_flags);
  }
  static Result<UniqueFd> finish(Result<UniqueFd> memfd, uint32_t fd_flags) {
    if (!memfd) return memfd.error();
    if ((fd_flags & uapi::kOAccmode) == O_RDWR) return std::move(memfd.value());
    return reopenWithAccessMode(memfd->get(), fd_flags);
  }
};

// ---- the host's DMA-BUF heap: its ALLOC takes ALLOC's own fd_flags ----

class HostHeapBacking final : public Backing {
 public:
  HostHeapBacking(UniqueFd heap, std::string path) : heap_(std::move(heap)), path_(std::move(path)) {}
  BackingKind kind() const override { return BackingKind::kHostHeap; }
  std::string description() const override { return "host-heap (" + path_ + ")"; }

 protected:
  Result<UniqueFd> make(uint64_t size, uint32_t fd_flags, bool, FileIdentity*) override {
    uapi::AllocationData d{};
    d.len = size;
    d.fd_flags = fd_flags;
    if (::ioctl(heap_.get(), uapi::kHeapIoctlAlloc, &d) != 0) {
      const int e = errno;
      return makeError(e, "DMA_HEAP_IOCTL_ALLOC on " + path_ + ": " + errnoText(e));
    }
    return UniqueFd(static_cast<int>(d.fd));
  }

 private:
  UniqueFd heap_;
  std::string path_;
};

// ---- udmabuf over a sealed memfd (the memfd carries F_SEAL_SHRINK, never F_SEAL_WRITE) ----

struct UdmabufCreate {  // struct udmabuf_create
  uint32_t memfd;
  uint32_t flags;
  uint64_t offset;
  uint64_t size;
};
constexpr uint32_t kUdmabufCloexec = 0x01;
constexpr uint32_t kUdmabufCreate = uapi::ioc(uapi::kIocWrite, 'u', 0x42, sizeof(UdmabufCreate));

class UdmabufBacking final : public Backing {
 public:
  UdmabufBacking(UniqueFd dev, std::string path, UdmabufLimits limits)
      : dev_(std::move(dev)), path_(std::move(path)), limits_(limits) {}
  BackingKind kind() const override { return BackingKind::kUdmabuf; }
  std::string description() const override {
    return "udmabuf (" + path_ + ", size_limit_mb " + std::to_string(limits_.size_limit_mb) + ", list_limit " +
           std::to_string(limits_.list_limit) + (limits_.from_sysfs ? "" : ", the kernel's defaults") + ")";
  }

 protected:
  std::string cannotMake(uint64_t size, uint32_t fd_flags) const override {
    if (size > limits_.sizeLimitBytes()) {
      return "udmabuf: a buffer of " + std::to_string(size) + " bytes is above size_limit_mb " +
             std::to_string(limits_.size_limit_mb);
    }
    if ((fd_flags & uapi::kOAccmode) != O_RDWR) return "udmabuf: only read-write buffers";
    return {};
  }
  Result<UniqueFd> make(uint64_t size, uint32_t fd_flags, bool, FileIdentity*) override {
    // udmabuf pins the pages, so they are allocated now whatever `populate` says. The buffer is
    // udmabuf's file, not the memfd: its identity is not the memfd's.
    auto prepared = takePrepared(size, nullptr);
    auto memfd = prepared ? Result<UniqueFd>(std::move(*prepared))
                          : createSealedMemfd("dmabuf", size, /*populate=*/true, /*cloexec=*/true);
    if (!memfd) return memfd.error();
    UdmabufCreate c{static_cast<uint32_t>(memfd->get()), (fd_flags & uapi::kOCloexec) ? kUdmabufCloexec : 0u, 0, size};
    const int fd = ::ioctl(dev_.get(), kUdmabufCreate, &c);
    if (fd < 0) {
      const int e = errno;
      return makeError(e, "UDMABUF_CREATE on " + path_ + ": " + errnoText(e));
    }
    return UniqueFd(fd);  // udmabuf keeps the pages, not the memfd, which closes here
  }

 private:
  UniqueFd dev_;
  std::string path_;
  UdmabufLimits limits_;
};

// ---- vgem: a dumb buffer exported with PRIME ----

struct DrmVersion {  // struct drm_version
  int version_major, version_minor, version_patchlevel;
  size_t name_len;
  char* name;
  size_t date_len;
  char* date;
  size_t desc_len;
  char* desc;
};
struct DrmCreateDumb {  // struct drm_mode_create_dumb
  uint32_t height, width, bpp, flags, handle, pitch;
  uint64_t size;
};
struct DrmPrimeHandle {  // struct drm_prime_handle
  uint32_t handle, flags;
  int32_t fd;
};
struct DrmGemClose {  // struct drm_gem_close
  uint32_t handle, pad;
};
constexpr uint32_t kDrm = 'd';
constexpr uint32_t kDrmVersion = uapi::ioc(uapi::kIocRead | uapi::kIocWrite, kDrm, 0x00, sizeof(DrmVersion));
constexpr uint32_t kDrmGemClose = uapi::ioc(uapi::kIocWrite, kDrm, 0x09, sizeof(DrmGemClose));
constexpr uint32_t kDrmPrimeHandleToFd = uapi::ioc(uapi::kIocRead | uapi::kIocWrite, kDrm, 0x2d, sizeof(DrmPrimeHandle));
constexpr uint32_t kDrmCreateDumb = uapi::ioc(uapi::kIocRead | uapi::kIocWrite, kDrm, 0xb2, sizeof(DrmCreateDumb));
constexpr uint32_t kDumbWidth = 1024, kDumbBpp = 32;  // one 4 KiB row per page
constexpr uint64_t kDumbRow = kDumbWidth * kDumbBpp / 8;

std::string drmDriverName(int fd) {
  char name[64] = {};
  DrmVersion v{};
  v.name_len = sizeof name - 1;
  v.name = name;
  if (::ioctl(fd, kDrmVersion, &v) != 0) return {};
  return std::string(name, std::min(v.name_len, sizeof name - 1));
}

class VgemBacking final : public Backing {
 public:
  VgemBacking(UniqueFd dev, std::string path) : dev_(std::move(dev)), path_(std::move(path)) {}
  BackingKind kind() const override { return BackingKind::kVgem; }
  std::string description() const override { return "vgem (" + path_ + ", dumb buffers exported with PRIME)"; }

 protected:
  std::string cannotMake(uint64_t size, uint32_t fd_flags) const override {
    // The dumb-buffer size is height * pitch in 32 bits.
    if (size / kDumbRow > 0xffffffffu / kDumbRow || size % kDumbRow != 0) {
      return "vgem: a dumb buffer of " + std::to_string(size) + " bytes is past its 4 GiB limit";
    }
    const uint32_t mode = fd_flags & uapi::kOAccmode;
    if (mode != O_RDWR && mode != O_RDONLY) return "vgem: PRIME exports read-only or read-write buffers only";
    return {};
  }
  Result<UniqueFd> make(uint64_t size, uint32_t fd_flags, bool, FileIdentity*) override {
    DrmCreateDumb dumb{};
    dumb.width = kDumbWidth;
    dumb.bpp = kDumbBpp;
    dumb.height = static_cast<uint32_t>(size / kDumbRow);
    if (::ioctl(dev_.get(), kDrmCreateDumb, &dumb) != 0) {
      const int e = errno;
      return makeError(e, "DRM_IOCTL_MODE_CREATE_DUMB on " + path_ + ": " + errnoText(e));
    }
    DrmPrimeHandle prime{};
    prime.handle = dumb.handle;
    prime.flags = (fd_flags & uapi::kOCloexec) | (fd_flags & uapi::kOAccmode);  // DRM_CLOEXEC, DRM_RDWR
    const int rc = ::ioctl(dev_.get(), kDrmPrimeHandleToFd, &prime);
    const int e = errno;
    DrmGemClose close{dumb.handle, 0};
    (void)::ioctl(dev_.get(), kDrmGemClose, &close);  // the dma-buf holds the object from here
    if (rc != 0) return makeError(e, "DRM_IOCTL_PRIME_HANDLE_TO_FD on " + path_ + ": " + errnoText(e));
    return UniqueFd(prime.fd);
  }

 private:
  UniqueFd dev_;
  std::string path_;
};

// ---- selection ----

struct Candidate {
  std::unique_ptr<Backing> backing;
  std::string refusal;  // why not, when backing is null
  int error = 0;
};

Candidate openHostHeap(const HostPaths& paths) {
  UniqueFd fd(::open(paths.dma_heap.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    const int e = errno;
    return {nullptr, "cannot open " + paths.dma_heap + ": " + errnoText(e), e};
  }
  return {std::make_unique<HostHeapBacking>(std::move(fd), paths.dma_heap), {}, 0};
}

Candidate openUdmabuf(const HostPaths& paths) {
  UniqueFd fd(::open(paths.udmabuf.c_str(), O_RDWR | O_CLOEXEC));
  if (!fd) {
    const int e = errno;
    return {nullptr, "cannot open " + paths.udmabuf + ": " + errnoText(e), e};
  }
  auto limits = readUdmabufLimits(paths.udmabuf_parameters);
  if (!limits) return {nullptr, limits.error().message(), limits.code()};
  return {std::make_unique<UdmabufBacking>(std::move(fd), paths.udmabuf, limits.value()), {}, 0};
}

Candidate openVgem(const HostPaths& paths) {
  DIR* dir = ::opendir(paths.dri.c_str());
  if (!dir) {
    const int e = errno;
    return {nullptr, "no vgem device: cannot open " + paths.dri + ": " + errnoText(e), e};
  }
  std::vector<std::string> cards;
  while (const dirent* d = ::readdir(dir)) {
    if (std::strncmp(d->d_name, "card", 4) == 0) cards.push_back(d->d_name);
  }
  ::closedir(dir);
  std::sort(cards.begin(), cards.end());
  std::string seen;
  int error = ENODEV;
  for (const auto& card : cards) {
    const std::string path = paths.dri + "/" + card;
    UniqueFd fd(::open(path.c_str(), O_RDWR | O_CLOEXEC));
    if (!fd) {
      error = errno;
      seen += "; " + path + ": " + errnoText(error);
      continue;
    }
    const std::string driver = drmDriverName(fd.get());
    if (driver == "vgem") return {std::make_unique<VgemBacking>(std::move(fd), path), {}, 0};
    seen += "; " + path + " is " + (driver.empty() ? "not a DRM device" : driver);
  }
  return {nullptr, "no vgem device under " + paths.dri + seen, error};
}

Candidate openMemfd() { return {makeMemfdBacking(), {}, 0}; }

// Makes and releases one page, and learns how its release shows (docs/emulation.md "Knowing
// when a buffer is free").
Status probe(Backing& backing) {
  auto page = backing.create(4096, O_RDWR | uapi::kOCloexec);
  if (!page) return page.error();
  auto signal = probeReleaseSignal(std::move(page->fd));
  if (!signal) return signal.error();
  backing.setReleaseSignal(signal->signal, signal->lone_count);
  return {};
}

}  // namespace

std::string_view backingName(BackingKind kind) {
  switch (kind) {
    case BackingKind::kHostHeap: return "host-heap";
    case BackingKind::kUdmabuf: return "udmabuf";
    case BackingKind::kVgem: return "vgem";
    case BackingKind::kMemfd: return "memfd";
  }
  return "?";
}

std::string_view backingChoiceName(BackingChoice choice) {
  switch (choice) {
    case BackingChoice::kAuto: return "auto";
    case BackingChoice::kHostHeap: return backingName(BackingKind::kHostHeap);
    case BackingChoice::kUdmabuf: return backingName(BackingKind::kUdmabuf);
    case BackingChoice::kVgem: return backingName(BackingKind::kVgem);
    case BackingChoice::kMemfd: return backingName(BackingKind::kMemfd);
  }
  return "?";
}

Result<BackingChoice> parseBackingChoice(std::string_view text) {
  for (BackingChoice c : {BackingChoice::kAuto, BackingChoice::kHostHeap, BackingChoice::kUdmabuf, BackingChoice::kVgem,
                          BackingChoice::kMemfd}) {
    if (text == backingChoiceName(c)) return c;
  }
  return makeError(EINVAL, "unknown backing '" + std::string(text) + "' (auto, host-heap, udmabuf, vgem or memfd)");
}

HostPaths HostPaths::fromEnvironment() {
  HostPaths p;
  auto take = [](const char* name, std::string* into) {
    if (const char* v = std::getenv(name); v != nullptr && *v != '\0') *into = v;
  };
  take("DMAHEAP_HOST_DMA_HEAP", &p.dma_heap);
  take("DMAHEAP_HOST_UDMABUF", &p.udmabuf);
  take("DMAHEAP_HOST_UDMABUF_PARAMETERS", &p.udmabuf_parameters);
  take("DMAHEAP_HOST_DRI", &p.dri);
  return p;
}

Result<UdmabufLimits> readUdmabufLimits(const std::string& dir) {
  UdmabufLimits limits;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return limits;  // not a module with parameters here: the kernel's defaults
  ::closedir(d);
  limits.from_sysfs = true;
  auto read = [&](const char* name, uint64_t* into) -> Status {
    const std::string path = dir + "/" + name;
    std::ifstream f(path);
    if (!f) return {};  // a parameter this kernel lacks keeps its default
    std::string text;
    std::getline(f, text);
    if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos || text.size() > 18) {
      return makeError(EINVAL, path + ": '" + text + "' is not a number");
    }
    *into = std::stoull(text);
    return {};
  };
  if (auto st = read("size_limit_mb", &limits.size_limit_mb); !st) return st.error();
  if (auto st = read("list_limit", &limits.list_limit); !st) return st.error();
  return limits;
}

void Backing::setNotice(Notice notice) {
  notice_ = notice;
  if (next_) next_->setNotice(std::move(notice));
}

void Backing::setPreparedPool(std::shared_ptr<PreparedPool> pool) {
  pool_ = pool;
  if (next_) next_->setPreparedPool(std::move(pool));
}

std::optional<UniqueFd> Backing::takePrepared(uint64_t size, FileIdentity* identity) {
  if (!pool_) return std::nullopt;
  auto prepared = pool_->take(size);
  if (!prepared) return std::nullopt;
  if (identity) *identity = FileIdentity{prepared->dev, prepared->ino, prepared->wd, prepared->watcher};
  return std::move(prepared->fd);
}

void Backing::noticeOnce(const std::string& line) {
  if (noticed_.exchange(true)) return;
  if (notice_) notice_(line);
}

Result<BackedMemory> Backing::create(uint64_t size, uint32_t fd_flags, bool populate) {
  std::string why = cannotMake(size, fd_flags);
  if (why.empty()) {
    FileIdentity identity;
    auto fd = make(size, fd_flags, populate, &identity);
    if (fd) return BackedMemory{std::move(fd.value()), identity, kind(), release_, lone_count_};
    if (!next_) return fd.error();
    why = fd.error().message();
  }
  if (!next_) return makeError(EINVAL, why);
  noticeOnce(why + "; such buffers are " + std::string(backingName(next_->kind())) + " instead (said once)");
  return next_->create(size, fd_flags, populate);
}

std::unique_ptr<Backing> makeMemfdBacking() { return std::make_unique<MemfdBacking>(); }

Result<std::unique_ptr<Backing>> selectBacking(const BackingOptions& options, std::string* why) {
  const HostPaths& paths = options.paths;
  Backing::Notice notice = options.notice;
  if (!notice) {
    const std::string prefix = options.notice_prefix;
    notice = [prefix](const std::string& line) { std::fprintf(stderr, "%s: %s\n", prefix.c_str(), line.c_str()); };
  }
  // The auto order; an explicit choice starts at its own place.
  using Opener = Candidate (*)(const HostPaths&);
  const std::pair<BackingKind, Opener> order[] = {
      {BackingKind::kHostHeap, openHostHeap},
      {BackingKind::kUdmabuf, openUdmabuf},
      {BackingKind::kVgem, openVgem},
      {BackingKind::kMemfd, [](const HostPaths&) { return openMemfd(); }},
  };
  const bool automatic = options.choice == BackingChoice::kAuto;
  std::vector<std::unique_ptr<Backing>> chosen;  // the backing, then its chain
  std::string refused;
  for (const auto& [kind, open] : order) {
    if (!automatic && chosen.empty() && backingChoiceName(options.choice) != backingName(kind)) continue;
    Candidate c = open(paths);
    if (c.backing) {
      if (auto st = probe(*c.backing); !st) {
        c.refusal = std::string(backingName(kind)) + " cannot make a buffer: " + st.error().message();
        c.error = st.code();
        c.backing.reset();
      }
    }
    if (!c.backing) {
      if (chosen.empty() && !automatic) {
        return makeError(c.error ? c.error : ENODEV,
                         "--backing " + std::string(backingName(kind)) + " is not available: " + c.refusal);
      }
      if (chosen.empty()) refused += (refused.empty() ? "" : "; ") + c.refusal;
      continue;
    }
    chosen.push_back(std::move(c.backing));
    if (kind == BackingKind::kHostHeap && chosen.size() == 1) break;  // no chain: its errno is the program's
  }
  // Link the chain back to front.
  std::unique_ptr<Backing> head;
  for (auto it = chosen.rbegin(); it != chosen.rend(); ++it) {
    if (head) (*it)->setNext(std::move(head));
    head = std::move(*it);
  }
  head->setNotice(notice);
  if (options.prepared.enabled) head->setPreparedPool(std::make_shared<PreparedPool>(options.prepared));
  if (why) {
    *why = "backing: " + head->description() + "; releases seen by " +
           (head->releaseSignal() == ReleaseSignal::kInotify
                ? std::string("inotify")
                : "fdinfo count (" + std::to_string(head->loneCount()) + " with one fd)");
    if (!refused.empty()) *why += " (" + refused + ")";
  }
  return head;
}

}  // namespace dmaheap
