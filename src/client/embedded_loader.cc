// Finding libdmaheap's embedded component at run time (see embedded_component.h).
#include <dlfcn.h>

#include <cstring>
#include <mutex>
#include <string>

#include "client/embedded_component.h"

namespace dmaheap::client {
namespace {

struct Loaded {
  const EmbeddedEntry* entry = nullptr;
  int error = 0;        // without an entry: ENODEV (not found) or ELIBBAD (unusable)
  std::string message;  // and why
};

// The directory this library was loaded from, "" if unknown.
std::string ownDirectory() {
  Dl_info info{};
  if (::dladdr(reinterpret_cast<void*>(&ownDirectory), &info) == 0 || info.dli_fname == nullptr) return {};
  const std::string path = info.dli_fname;
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? std::string() : path.substr(0, slash);
}

bool sameBuild(const EmbeddedFingerprint& a, const EmbeddedFingerprint& b) {
  return std::strcmp(a.version, b.version) == 0 && a.options_size == b.options_size &&
         a.heap_info_size == b.heap_info_size && a.allocation_data_size == b.allocation_data_size &&
         a.error_size == b.error_size;
}

Loaded load() {
  // The component's code backs every embedded allocator, so it is never unloaded.
  void* handle = ::dlopen(DMAHEAP_EMBEDDED_SONAME, RTLD_NOW | RTLD_NOLOAD);
  if (handle == nullptr) {
    if (const std::string dir = ownDirectory(); !dir.empty()) {
      handle = ::dlopen((dir + "/" DMAHEAP_EMBEDDED_SONAME).c_str(), RTLD_NOW | RTLD_LOCAL);
    }
  }
  if (handle == nullptr) {
    handle = ::dlopen(DMAHEAP_EMBEDDED_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
      const char* e = ::dlerror();
      return Loaded{nullptr, ENODEV, e != nullptr ? e : "dlopen failed"};
    }
  }
  const auto* entry = static_cast<const EmbeddedEntry*>(::dlsym(handle, kEmbeddedEntrySymbol));
  if (entry == nullptr) {
    return Loaded{nullptr, ELIBBAD, std::string(DMAHEAP_EMBEDDED_SONAME " has no ") + kEmbeddedEntrySymbol};
  }
  if (!sameBuild(entry->fingerprint, thisBuildFingerprint())) {
    return Loaded{nullptr, ELIBBAD, std::string(DMAHEAP_EMBEDDED_SONAME " is version ") + entry->fingerprint.version +
                               " from another build than libdmaheap " DMAHEAP_VERSION_STRING};
  }
  return Loaded{entry, 0, {}};
}

const Loaded& loaded() {
  static const Loaded once = load();
  return once;
}

}  // namespace

bool embeddedComponentAvailable() { return loaded().entry != nullptr; }

Result<std::unique_ptr<emul::HeapBackend>> makeEmbeddedBackend(const AllocatorOptions& options) {
  const Loaded& l = loaded();
  if (l.entry == nullptr) {
    return makeError(l.error, "the embedded backend (libdmaheap's optional component " DMAHEAP_EMBEDDED_SONAME
                              ") is not available: " + l.message);
  }
  return l.entry->create(options);
}

}  // namespace dmaheap::client
