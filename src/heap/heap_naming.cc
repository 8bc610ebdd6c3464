// dma_heap_add's naming rules.
#include "heap/heap_naming.h"

#include <algorithm>

namespace dmaheap {

std::string heapNodeName(std::string_view name) {
  std::string node(name);
  std::replace(node.begin(), node.end(), '/', '!');
  return node;
}

Result<std::string> HeapNaming::add(std::string_view name, bool has_ops, std::vector<std::string>* log) {
  const auto say = [&](std::string line) {
    if (log) log->push_back(std::move(line));
  };
  const std::string n(name);
  if (name.empty()) {
    say("dma_heap: Cannot add heap without a name");
    return makeError(EINVAL, "a heap needs a name");
  }
  if (!has_ops) {
    say("dma_heap: Cannot add heap with invalid ops struct");
    return makeError(EINVAL, "a heap needs an allocate operation");
  }
  const bool same_name = std::any_of(names_.begin(), names_.end(), [&](const Name& e) { return e.name == name; });
  if (same_name && kernel_.heapNameClash() == Kernel::HeapNameClash::kListCheckFirst) {
    say("dma_heap: Already registered heap named " + n);
    return makeError(EINVAL, "a heap named '" + n + "' is already registered");
  }
  // The lowest free minor; heaps are never removed, so that is the count.
  if (names_.size() >= kMaxHeaps) {
    say("dma_heap: Unable to get minor number for heap");
    return makeError(EBUSY, "all 128 heap minors are in use");
  }
  std::string node = heapNodeName(name);
  const bool node_taken = std::any_of(names_.begin(), names_.end(), [&](const Name& e) { return e.node == node; });
  if (node_taken) {
    say("sysfs: cannot create duplicate filename '/devices/virtual/dma_heap/" + node + "'");
    say("dma_heap: Unable to create device");
    return makeError(EEXIST, "a heap named '" + n + "' is already registered (device_create: sysfs name exists)");
  }
  names_.push_back(Name{n, node});
  return node;
}

}  // namespace dmaheap
