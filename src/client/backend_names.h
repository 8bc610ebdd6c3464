// libdmaheap's public Backend and the internal BackendName of the one backend-name parser
// (base/backend_name.h), mapped both ways.
#pragma once

#include "base/backend_name.h"
#include "dmaheap/allocator.h"

namespace dmaheap::client {

constexpr Backend backendOf(BackendName name) {
  switch (name) {
    case BackendName::kAuto: return Backend::kAuto;
    case BackendName::kKernel: return Backend::kKernel;
    case BackendName::kService: return Backend::kService;
    case BackendName::kEmbedded: return Backend::kEmbedded;
  }
  return Backend::kAuto;
}

constexpr BackendName nameOf(Backend backend) {
  switch (backend) {
    case Backend::kAuto: return BackendName::kAuto;
    case Backend::kKernel: return BackendName::kKernel;
    case Backend::kService: return BackendName::kService;
    case Backend::kEmbedded: return BackendName::kEmbedded;
  }
  return BackendName::kAuto;
}

}  // namespace dmaheap::client
