// The heap-kind table: every kind of heap a board can have, with its naming rule and
// constructor (HeapKindOps). The one place that knows every heap kind. A new heap kind is a new
// file pair in src/heaps, its test, and one line in kHeapKinds (heap_kinds.cc).
#pragma once

#include <string>
#include <string_view>

#include "heaps/heap_kind.h"

namespace dmaheap {

// The kind named `kind`, or nullptr.
const HeapKindOps* findHeapKind(std::string_view kind);
// "system, cma, carveout": for messages.
std::string heapKindNames();

}  // namespace dmaheap
