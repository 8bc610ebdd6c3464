// HeapNaming: dma_heap_add's rules for a heap's name, in one place for the two callers that
// register heaps: the runtime HeapRegistry and the heap plan that dt-check prints
// (heaps/heap_plan.h). It keeps the names accepted so far and answers, for the next one, the
// errno and the kernel log lines of the chosen release (docs/kernel-behaviour.md §1.2, §1.6).
//
// Not thread-safe; the owner serialises add().
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "base/kernel.h"
#include "base/result.h"

namespace dmaheap {

inline constexpr size_t kMaxHeaps = 128;  // NUM_HEAP_MINORS

// The /dev/dma_heap and sysfs name of heap `name`: a '/' becomes '!', as in every kobject name.
std::string heapNodeName(std::string_view name);

class HeapNaming {
 public:
  explicit HeapNaming(const Kernel& kernel) : kernel_(kernel) {}

  // dma_heap_add's checks for heap `name` in the order of `kernel` (Kernel::heapNameClash):
  //   empty name                               EINVAL "Cannot add heap without a name"
  //   no allocate operation (`has_ops` false)   EINVAL "Cannot add heap with invalid ops struct"
  //   up to 6.1: the same name registered       EINVAL "Already registered heap named NAME"
  //   128 heaps registered                      EBUSY  "Unable to get minor number for heap"
  //   the node name taken (from 6.2 also the    EEXIST sysfs "cannot create duplicate filename"
  //   same name)                                       + "Unable to create device"
  // On success the name is recorded and its node name returned; its minor is size() before
  // the call. On failure nothing is recorded and the kernel's lines are appended to `log`.
  Result<std::string> add(std::string_view name, bool has_ops, std::vector<std::string>* log = nullptr);

  size_t size() const { return names_.size(); }

 private:
  struct Name {
    std::string name;
    std::string node;
  };
  Kernel kernel_;
  std::vector<Name> names_;  // in registration order
};

}  // namespace dmaheap
