// The heap-kind table.
#include "board/heap_kinds.h"

#include "heaps/carveout_heap.h"
#include "heaps/cma_heap.h"
#include "heaps/system_heap.h"

namespace dmaheap {
namespace {

const HeapKindOps* const kHeapKinds[] = {
    &kSystemHeapKind,
    &kCmaHeapKind,
    &kCarveoutHeapKind,
};

}  // namespace

const HeapKindOps* findHeapKind(std::string_view kind) {
  for (const HeapKindOps* k : kHeapKinds)
    if (kind == k->kind) return k;
  return nullptr;
}

std::string heapKindNames() {
  std::string out;
  for (const HeapKindOps* k : kHeapKinds) out += (out.empty() ? "" : ", ") + std::string(k->kind);
  return out;
}

}  // namespace dmaheap
