// libdmaheap C++ API: allocate DMA-BUF heap buffers by heap name or by capability, on the real
// kernel where /dev/dma_heap has heaps, else through the dmaheapd service, else from heaps
// emulated in this process. Buffers are owning objects (DmaBuf); errors keep the errno.
//
//   auto allocator = dmaheap::Allocator::create();
//   auto buf = allocator->allocate(dmaheap::Capability::kContiguous, 4 << 20);
//   if (!buf) std::cerr << buf.message() << "\n";
//   {
//     auto map = buf->map();
//     auto access = buf->cpuAccess(dmaheap::CpuAccess::kWrite);
//     std::memset(map->data(), 0, map->size());
//   }  // END sync, then munmap
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <variant>
#include <vector>

#include "dmaheap/export.h"
#include "dmaheap/heap_descriptor.h"

namespace dmaheap {

// A value or an errno (as std::error_code in the system category) with a sentence.
template <typename T>
class [[nodiscard]] Outcome {
 public:
  Outcome(T value) : v_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Outcome(std::error_code error, std::string message) : v_(Failure{error, std::move(message)}) {}

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  // The errno (error().value()) and what failed; empty when ok().
  std::error_code error() const { return ok() ? std::error_code() : std::get<1>(v_).error; }
  std::string message() const { return ok() ? std::string() : std::get<1>(v_).message; }

 private:
  struct Failure {
    std::error_code error;
    std::string message;
  };
  std::variant<T, Failure> v_;
};

template <>
class [[nodiscard]] Outcome<void> {
 public:
  Outcome() = default;
  Outcome(std::error_code error, std::string message) : error_(error), message_(std::move(message)) {}
  bool ok() const { return !error_; }
  explicit operator bool() const { return ok(); }
  std::error_code error() const { return error_; }
  const std::string& message() const { return message_; }

 private:
  std::error_code error_;
  std::string message_;
};

enum class Backend {
  kAuto,      // kernel if /dev/dma_heap has heaps, else the service, else embedded
  kKernel,    // the real /dev/dma_heap
  kService,   // dmaheapd over its Unix socket
  kEmbedded,  // heaps emulated in this process
};
DMAHEAP_API const char* backendName(Backend backend);

// Capability (what an allocation needs from a heap: system, contiguous, uncached, dma32) is
// defined in <dmaheap/heap_descriptor.h>. How each resolves to a heap, in order of preference:
//   kSystem:     "system", else the first (by name) cached system-pages heap without an address
//                limit.
//   kUncached:   "system-uncached", else the first uncached system-pages heap; when the backend
//                has none, the kSystem heap (Android's BufferAllocator::AllocSystem falls back
//                the same way: uncached is an optimisation, not a requirement).
//   kDma32:      "system-dma32", else the first cached system heap below 4 GiB, else any
//                system heap below 4 GiB. No fallback: memory above 4 GiB would break the
//                device that asked. ENOENT when none exists.
//   kContiguous: "default_cma_region", "reserved", "linux,cma", then "linux,cma@ADDR", then
//                other cached CMA heaps, uncached CMA heaps, then other contiguous heaps
//                (carve-outs).

// CPU access directions (DMA_BUF_SYNC_READ / WRITE / RW).
enum class CpuAccess : unsigned { kRead = 1, kWrite = 2, kReadWrite = 3 };

struct DMAHEAP_API HeapDescription {
  std::string name;            // the /dev/dma_heap entry
  std::string type;            // descriptor.kind ("system", "cma", "carveout", "unknown"), kept for source compatibility
  std::vector<Capability> capabilities;
  HeapDescriptor descriptor;   // what the heap is: contiguous, cached, address limit, memory source
  uint64_t size = 0;           // bytes the heap can hand out at most (0 if unknown)
  uint64_t free = 0;           // bytes free now (0 if unknown)
  bool has(Capability c) const;
};

struct AllocatorOptions {
  Backend backend = Backend::kAuto;  // kAuto honours $DMAHEAP_BACKEND (kernel|service|embedded)
  std::string socket;                // service socket; "" = $DMAHEAP_SOCKET or the default
  // The embedded backend's board (as `dmaheap --dtb/--kernel/--kernel-config`); "" = defaults.
  std::string dtb;
  std::string kernel;
  std::string kernel_config;
  // The embedded backend's heap profile (as `dmaheap --profile/--heaps`, docs/heap-profiles.md);
  // "" = $DMAHEAP_PROFILE / $DMAHEAP_HEAPS, else none. With the environment variables (and
  // $DMAHEAP_DTB for `dtb`) a program that cannot pass options, such as one using the C API,
  // shapes its embedded board; they never change which backend kAuto picks.
  std::string profile;
  std::string heaps_file;
};

namespace detail {
struct AllocatorImpl;
}

// A mapping of a whole buffer; unmapped on destruction.
class DMAHEAP_API Mapping {
 public:
  Mapping() = default;
  Mapping(void* data, size_t size) : data_(data), size_(size) {}
  Mapping(Mapping&& o) noexcept : data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)) {}
  Mapping& operator=(Mapping&& o) noexcept;
  ~Mapping();
  void* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  void* data_ = nullptr;
  size_t size_ = 0;
};

class DmaBuf;

// An open CPU-access bracket: SYNC START on creation, SYNC END (same direction) on destruction.
class DMAHEAP_API CpuAccessScope {
 public:
  CpuAccessScope(CpuAccessScope&& o) noexcept : buf_(std::exchange(o.buf_, nullptr)), access_(o.access_) {}
  CpuAccessScope& operator=(CpuAccessScope&&) = delete;
  ~CpuAccessScope();

 private:
  friend class DmaBuf;
  CpuAccessScope(DmaBuf* buf, CpuAccess access) : buf_(buf), access_(access) {}
  DmaBuf* buf_;
  CpuAccess access_;
};

// One dma-buf: owns its fd (closed on destruction; the memory goes when the last fd and mapping
// anywhere are gone). Move-only.
class DMAHEAP_API DmaBuf {
 public:
  DmaBuf() = default;
  DmaBuf(DmaBuf&& o) noexcept;
  DmaBuf& operator=(DmaBuf&& o) noexcept;
  DmaBuf(const DmaBuf&) = delete;
  DmaBuf& operator=(const DmaBuf&) = delete;
  ~DmaBuf();

  bool valid() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  uint64_t size() const { return size_; }     // page aligned
  const std::string& heap() const { return heap_; }
  // Gives up ownership: the caller closes the returned fd.
  int release();

  // DMA_BUF_IOCTL_SYNC START / END. EINVAL only for an invalid direction value.
  Outcome<void> beginCpuAccess(CpuAccess access = CpuAccess::kReadWrite);
  Outcome<void> endCpuAccess(CpuAccess access = CpuAccess::kReadWrite);
  Outcome<CpuAccessScope> cpuAccess(CpuAccess access = CpuAccess::kReadWrite);
  // DMA_BUF_SET_NAME: at most 31 characters (EINVAL beyond).
  Outcome<void> setName(std::string_view name);
  // mmap of the whole buffer, MAP_SHARED, read-write unless `writable` is false.
  Outcome<Mapping> map(bool writable = true);

 private:
  friend class Allocator;
  DmaBuf(std::shared_ptr<detail::AllocatorImpl> impl, int fd, uint64_t size, std::string heap)
      : impl_(std::move(impl)), fd_(fd), size_(size), heap_(std::move(heap)) {}
  Outcome<void> sync(uint64_t flags);
  std::shared_ptr<detail::AllocatorImpl> impl_;
  int fd_ = -1;
  uint64_t size_ = 0;
  std::string heap_;
};

// Allocates from one backend, chosen at creation. Thread-safe. Buffers keep what they need of
// the allocator alive, so they may outlive it.
class DMAHEAP_API Allocator {
 public:
  // Errors: EINVAL for inconsistent options; ENODEV when the asked-for backend is unavailable
  // (no heaps in /dev/dma_heap, no service); the board's errno for the embedded backend.
  static Outcome<Allocator> create(const AllocatorOptions& options = {});

  Backend backend() const;
  // The heaps, sorted by name, with type and capabilities.
  Outcome<std::vector<HeapDescription>> heaps() const;
  // The heap a capability resolves to on this backend; ENOENT when none has it.
  Outcome<std::string> resolve(Capability capability) const;

  // `len` bytes (page aligned up) from `heap`, O_RDWR|O_CLOEXEC. ENOENT for an unknown heap;
  // otherwise the kernel's errno (EINVAL for length 0, ENOMEM when the heap is full, ...).
  Outcome<DmaBuf> allocate(std::string_view heap, uint64_t len);
  Outcome<DmaBuf> allocate(Capability capability, uint64_t len);

  // The raw ioctls with the kernel's exact semantics (see dmaheap.h).
  Outcome<void> heapIoctl(std::string_view heap, unsigned long cmd, void* arg);
  Outcome<void> bufferIoctl(int fd, unsigned long cmd, void* arg);

 private:
  friend class DmaBuf;
  explicit Allocator(std::shared_ptr<detail::AllocatorImpl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<detail::AllocatorImpl> impl_;
};

}  // namespace dmaheap
