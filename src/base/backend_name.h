// The names of the heap backends ("auto", "kernel", "service", "embedded") and the one parser
// for them, used by every place a name comes in: `dmaheap run --backend`, $DMAHEAP_BACKEND and
// libdmaheap's C API. Each source accepts its own set and words its own error; both are rows of
// one table in backend_name.cc.
#pragma once

#include <string_view>

#include "base/result.h"

namespace dmaheap {

enum class BackendName { kAuto, kKernel, kService, kEmbedded };

// "auto", "kernel", "service", "embedded".
const char* backendNameText(BackendName name);

// Where a backend name comes from.
enum class BackendNameSource {
  kRunOption,    // dmaheap run --backend: auto, embedded or service (a program run under
                 // dmaheap run that wants the kernel's heaps needs no dmaheap run)
  kEnvironment,  // $DMAHEAP_BACKEND: auto, kernel, service or embedded; empty means auto
  kApi,          // dmaheap_allocator_create(): as the environment; NULL or "" means auto
};

// The backend `text` names, for `source`. EINVAL for a name `source` does not accept:
//   kRunOption    "--backend must be auto, embedded or service"
//   kEnvironment  "DMAHEAP_BACKEND=TEXT is not auto, kernel, service or embedded"
//   kApi          "backend 'TEXT' is not auto, kernel, service or embedded"
Result<BackendName> parseBackendName(std::string_view text, BackendNameSource source);

}  // namespace dmaheap
