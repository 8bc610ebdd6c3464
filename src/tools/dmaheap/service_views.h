// `dmaheap list` and `dmaheap alloc` through a running dmaheapd, printing exactly what the
// embedded path prints (same text layout, same JSON keys). Implemented in stats_command.cc.
#pragma once

#include <cstdint>
#include <optional>

#include "protocol/service_client.h"
#include "tools/dmaheap/args.h"

namespace dmaheap::cli {

// The running service, when the command names no board of its own (none of --dtb, --kernel,
// --kernel-config, --cmdline) and one answers at the default socket; nullopt otherwise.
std::optional<proto::ServiceClient> serviceIfRunning(const Args& args);

int listFromService(const Args& args, proto::ServiceClient& service);
// Allocates `count` buffers of `size` from the heap named by args.positional[0], shows them,
// and lets them go on exit as the embedded path does.
int allocFromService(const Args& args, proto::ServiceClient& service, uint64_t size, uint64_t count);

}  // namespace dmaheap::cli
