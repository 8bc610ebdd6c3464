// libdmaheap: backend selection, allocation, buffers, capability resolution.
#include "dmaheap/allocator.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "base/backend_name.h"
#include "client/backend_names.h"
#include "client/capability.h"
#include "client/embedded_component.h"
#include "client/kernel_backend.h"
#include "emulation/caller.h"
#include "emulation/ioctl_emulator.h"
#ifdef DMAHEAP_HAVE_SERVICE_CLIENT
#include "emulation/service_backend.h"
#include "protocol/transport.h"
#endif

namespace dmaheap {

namespace detail {
struct AllocatorImpl {
  Backend kind = Backend::kEmbedded;
  std::unique_ptr<emul::HeapBackend> backend;
};
}  // namespace detail

namespace {

std::error_code code(int e) { return std::error_code(e, std::system_category()); }

template <typename T>
Outcome<T> failure(const Error& e) {
  return Outcome<T>(code(e.code()), e.message());
}

Outcome<void> toOutcome(const Status& st) {
  if (st) return {};
  return Outcome<void>(code(st.code()), st.error().message());
}

Result<std::unique_ptr<emul::HeapBackend>> makeService(const AllocatorOptions& o) {
#ifdef DMAHEAP_HAVE_SERVICE_CLIENT
  const std::string path = o.socket.empty() ? proto::defaultSocketPath() : o.socket;
  auto backend = emul::ServiceBackend::connect(path);
  if (!backend) return makeError(ENODEV, "no dmaheapd service at " + path + ": " + backend.error().message());
  return std::unique_ptr<emul::HeapBackend>(std::move(backend.value()));
#else
  (void)o;
  return makeError(ENODEV, "this libdmaheap was built without the service client");
#endif
}

}  // namespace

const char* backendName(Backend backend) { return backendNameText(client::nameOf(backend)); }

bool HeapDescription::has(Capability c) const {
  return std::find(capabilities.begin(), capabilities.end(), c) != capabilities.end();
}

namespace client {

std::optional<std::string> resolveCapability(Capability capability, const std::vector<emul::HeapInfo>& heaps) {
  std::vector<NamedHeap> named;
  named.reserve(heaps.size());
  for (const auto& h : heaps) named.push_back(NamedHeap{h.name, h.descriptor});
  return dmaheap::resolveCapability(capability, named);
}

}  // namespace client

Outcome<Allocator> Allocator::create(const AllocatorOptions& options) {
  Backend want = options.backend;
  if (want == Backend::kAuto) {
    if (const char* env = std::getenv("DMAHEAP_BACKEND")) {
      auto parsed = parseBackendName(env, BackendNameSource::kEnvironment);
      if (!parsed) return failure<Allocator>(parsed.error());
      want = client::backendOf(parsed.value());
    }
  }
  auto impl = std::make_shared<detail::AllocatorImpl>();
  const bool board_options = !options.dtb.empty() || !options.kernel.empty() || !options.kernel_config.empty() ||
                             !options.profile.empty() || !options.heaps_file.empty();
  if (want == Backend::kKernel || (want == Backend::kAuto && !board_options && client::KernelBackend::available())) {
    if (!client::KernelBackend::available()) {
      return Outcome<Allocator>(code(ENODEV), "/dev/dma_heap lists no heaps on this machine");
    }
    impl->kind = Backend::kKernel;
    impl->backend = std::make_unique<client::KernelBackend>();
    return Allocator(std::move(impl));
  }
  std::string no_service;
  if (want == Backend::kService || (want == Backend::kAuto && !board_options)) {
    auto service = makeService(options);
    if (service) {
      impl->kind = Backend::kService;
      impl->backend = std::move(service.value());
      return Allocator(std::move(impl));
    }
    if (want == Backend::kService) return failure<Allocator>(service.error());
    no_service = service.error().message();
  }
  // The embedded backend is the optional component (client/embedded_component.h).
  auto embedded = client::makeEmbeddedBackend(options);
  if (!embedded && want == Backend::kAuto && !board_options && !client::embeddedComponentAvailable()) {
    return Outcome<Allocator>(code(ENODEV), "no DMA-BUF heaps: /dev/dma_heap lists none, " + no_service + "; and " +
                                                embedded.error().message());
  }
  if (!embedded) return failure<Allocator>(embedded.error());
  impl->kind = Backend::kEmbedded;
  impl->backend = std::move(embedded.value());
  return Allocator(std::move(impl));
}

Backend Allocator::backend() const { return impl_->kind; }

Outcome<std::vector<HeapDescription>> Allocator::heaps() const {
  auto list = impl_->backend->heaps();
  if (!list) return failure<std::vector<HeapDescription>>(list.error());
  std::vector<HeapDescription> out;
  for (const auto& h : list.value()) {
    out.push_back(HeapDescription{h.name, h.descriptor.kind, capabilitiesOf(h.descriptor), h.descriptor, h.size, h.free});
  }
  return out;
}

Outcome<std::string> Allocator::resolve(Capability capability) const {
  auto list = impl_->backend->heaps();
  if (!list) return failure<std::string>(list.error());
  auto name = client::resolveCapability(capability, list.value());
  if (!name) {
    return Outcome<std::string>(code(ENOENT), std::string("no heap offers ") +
                                                  capabilityName(capability) +
                                                  " memory on the " + backendName(impl_->kind) + " backend");
  }
  return *name;
}

Outcome<DmaBuf> Allocator::allocate(std::string_view heap, uint64_t len) {
  uapi::AllocationData request{len, 0, O_RDWR | O_CLOEXEC, 0};
  auto buffer = impl_->backend->allocate(heap, request);
  if (!buffer) return failure<DmaBuf>(buffer.error());
  const uint64_t size = buffer->size;
  return DmaBuf(impl_, buffer->fd.release(), size, std::string(heap));
}

Outcome<DmaBuf> Allocator::allocate(Capability capability, uint64_t len) {
  auto name = resolve(capability);
  if (!name) return Outcome<DmaBuf>(name.error(), name.message());
  return allocate(name.value(), len);
}

Outcome<void> Allocator::heapIoctl(std::string_view heap, unsigned long cmd, void* arg) {
  if (impl_->kind == Backend::kKernel) {
    auto fd = static_cast<client::KernelBackend&>(*impl_->backend).heapFd(heap);
    if (!fd) return Outcome<void>(code(fd.code()), fd.error().message());
    if (::ioctl(fd.value(), cmd, arg) != 0) return Outcome<void>(code(errno), std::strerror(errno));
    return {};
  }
  auto list = impl_->backend->heaps();
  if (!list) return toOutcome(list.error());
  const bool known = std::any_of(list->begin(), list->end(), [&](const auto& h) { return h.name == heap; });
  if (!known) return Outcome<void>(code(ENOENT), "no heap named '" + std::string(heap) + "'");
  emul::SelfCaller self;
  return toOutcome(emul::emulateHeapIoctl(*impl_->backend, heap,
                                          {static_cast<uint32_t>(cmd), reinterpret_cast<uint64_t>(arg)}, self));
}

Outcome<void> Allocator::bufferIoctl(int fd, unsigned long cmd, void* arg) {
  const emul::FileKey key = emul::fileKeyOf(fd);
  if (impl_->kind == Backend::kKernel || !impl_->backend->owns(key)) {
    // The kernel's own dma-bufs (or not a dma-buf at all): the kernel answers.
    if (::ioctl(fd, cmd, arg) != 0) return Outcome<void>(code(errno), std::strerror(errno));
    return {};
  }
  emul::SelfCaller self;
  return toOutcome(emul::emulateBufferIoctl(*impl_->backend, key, fd,
                                            {static_cast<uint32_t>(cmd), reinterpret_cast<uint64_t>(arg)}, self));
}

// ---- DmaBuf ----

DmaBuf::DmaBuf(DmaBuf&& o) noexcept
    : impl_(std::move(o.impl_)), fd_(std::exchange(o.fd_, -1)), size_(o.size_), heap_(std::move(o.heap_)) {}

DmaBuf& DmaBuf::operator=(DmaBuf&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    impl_ = std::move(o.impl_);
    fd_ = std::exchange(o.fd_, -1);
    size_ = o.size_;
    heap_ = std::move(o.heap_);
  }
  return *this;
}

DmaBuf::~DmaBuf() {
  if (fd_ >= 0) ::close(fd_);
}

int DmaBuf::release() { return std::exchange(fd_, -1); }

Outcome<void> DmaBuf::sync(uint64_t flags) {
  if (fd_ < 0 || !impl_) return Outcome<void>(code(EBADF), "the buffer was released");
  uapi::BufSync s{flags};
  return Allocator(impl_).bufferIoctl(fd_, uapi::kBufIoctlSync, &s);
}

Outcome<void> DmaBuf::beginCpuAccess(CpuAccess access) {
  return sync(uapi::kSyncStart | static_cast<uint64_t>(access));
}

Outcome<void> DmaBuf::endCpuAccess(CpuAccess access) { return sync(uapi::kSyncEnd | static_cast<uint64_t>(access)); }

Outcome<CpuAccessScope> DmaBuf::cpuAccess(CpuAccess access) {
  auto st = beginCpuAccess(access);
  if (!st) return Outcome<CpuAccessScope>(st.error(), st.message());
  return CpuAccessScope(this, access);
}

CpuAccessScope::~CpuAccessScope() {
  if (buf_) (void)buf_->endCpuAccess(access_);
}

Outcome<void> DmaBuf::setName(std::string_view name) {
  if (fd_ < 0 || !impl_) return Outcome<void>(code(EBADF), "the buffer was released");
  const std::string n(name);
  return Allocator(impl_).bufferIoctl(fd_, uapi::kBufSetNameB, const_cast<char*>(n.c_str()));
}

Outcome<Mapping> DmaBuf::map(bool writable) {
  if (fd_ < 0) return Outcome<Mapping>(code(EBADF), "the buffer was released");
  void* p = ::mmap(nullptr, size_, PROT_READ | (writable ? PROT_WRITE : 0), MAP_SHARED, fd_, 0);
  if (p == MAP_FAILED) return Outcome<Mapping>(code(errno), std::string("mmap: ") + std::strerror(errno));
  return Mapping(p, size_);
}

Mapping& Mapping::operator=(Mapping&& o) noexcept {
  if (this != &o) {
    if (data_) ::munmap(data_, size_);
    data_ = std::exchange(o.data_, nullptr);
    size_ = std::exchange(o.size_, 0);
  }
  return *this;
}

Mapping::~Mapping() {
  if (data_) ::munmap(data_, size_);
}

}  // namespace dmaheap
