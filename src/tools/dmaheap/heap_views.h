// What `dmaheap list` and `dmaheap alloc` print, whether the heaps are embedded or served by a
// running dmaheapd: one renderer for both, over the protocol's plain HeapInfo / BufferInfo.
#pragma once

#include "devicetree/board_plan.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "heap/buffer.h"
#include "heap/registry.h"
#include "protocol/messages.h"
#include "protocol/service_client.h"
#include "service/wire_views.h"
#include "tools/cli/board_args.h"

namespace dmaheap::cli {

// The running service, when the command names no board of its own (none of --dtb, --kernel,
// --kernel-config, --cmdline, --profile, --heaps) and one answers at the default socket; nullopt otherwise.
std::optional<proto::ServiceClient> serviceIfRunning(const BoardArgs& board);

using service::bufferInfoOf;
using service::heapInfoOf;
using service::heapRecordOf;

// `served_by`: "" for the embedded heaps, else e.g. "dmaheapd pid 42". `backing`: what backs
// the buffers (name and description, heap/backing.h); nothing printed when the name is empty.
struct BackingView {
  std::string name, description;
};
void printHeapList(bool json, const std::string& kernel, std::vector<proto::HeapRecord> heaps,
                   const std::string& served_by, const dt::BoardPlan* plan = nullptr, const BackingView& backing = {});
void printBuffers(bool json, const std::vector<proto::BufferInfo>& buffers);
void printHeapNow(const proto::HeapInfo& heap, const std::string& served_by);
void printAllocFailure(int err, uint64_t index, uint64_t count, const std::string& heap, const std::string& why);

}  // namespace dmaheap::cli
