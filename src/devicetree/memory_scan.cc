// The /memory scan of the boot replay (docs/kernel-behaviour.md §5.1).
#include "devicetree/memory_scan.h"

namespace dmaheap::dt {
namespace {
// arm64 with 48-bit physical addresses: MAX_MEMBLOCK_ADDR.
constexpr uint64_t kMaxMemblockAddr = (uint64_t{1} << 48) - 1;
}  // namespace

void MemoryScan::readRootCells() {
  const auto cells = [&](const char* name, uint32_t* out) {
    const auto p = fdt_->prop(fdt_->root(), name);
    if (!p) return;
    if (p->size() < 4) {
      record(DiagEvent::kRootCellsShort, "/", {{"prop", name}});
      return;
    }
    size_t pos = 0;
    *out = static_cast<uint32_t>(readCells(p->data, &pos, 1));
  };
  cells("#address-cells", &addr_cells_);
  cells("#size-cells", &size_cells_);
  if (addr_cells_ > 4 || size_cells_ > 4 || addr_cells_ + size_cells_ == 0) {
    record(DiagEvent::kRootCellsUnusable, "/",
           {{"ac", std::to_string(addr_cells_)}, {"sc", std::to_string(size_cells_)}});
    cells_ok_ = false;
  }
}

// ---- /memory -------------------------------------------------------------------------------
void MemoryScan::collectAll(int node, int depth, std::vector<int>* out) const {
  if (depth > 64) return;
  for (int c : fdt_->children(node)) {
    out->push_back(c);
    collectAll(c, depth + 1, out);
  }
}

void MemoryScan::scanMemory() {
  std::vector<int> nodes;
  // Up to 5.16 of_scan_flat_dt visited every node; from 5.17 only the root's children.
  if (has(KernelRule::kMemoryScanRootChildrenOnly)) nodes = fdt_->children(fdt_->root());
  else collectAll(fdt_->root(), 0, &nodes);
  for (int node : nodes) {
    if (fdt_->stringProp(node, "device_type") != "memory") continue;
    if (!fdt_->isAvailable(node)) continue;
    auto reg = fdt_->prop(node, "linux,usable-memory");
    if (!reg) reg = fdt_->prop(node, "reg");
    if (!reg || !cells_ok_) continue;
    size_t pos = 0;
    while (reg->size() - pos >= tLen()) {
      const uint64_t base = readCells(reg->data, &pos, addr_cells_);
      const uint64_t size = readCells(reg->data, &pos, size_cells_);
      if (size == 0) continue;
      addMemoryArch(fdt_->path(node), base, size);
    }
  }
  if (mb_.memory().empty()) {
    no_memory_ = true;
    record(DiagEvent::kNoMemory, "/memory", {});
  }
}

// early_init_dt_add_memory_arch
void MemoryScan::addMemoryArch(const std::string& node, uint64_t base, uint64_t size) {
  const uint64_t page = k_.pageSize();
  const uint64_t off = base & (page - 1);
  const auto ignored = [&](const std::string& line, DiagEvent what) {
    record(what, node, {{"base", logHex(base)}, {"end", logHex(addSaturated(base, size))}}, {log(line)});
  };
  if (size < page - off) {
    ignored(std::string(kOfFdt) + "Ignoring memory block " + logHex(base) + " - " + logHex(addSaturated(base, size)),
            DiagEvent::kMemoryBlockTooSmall);
    return;
  }
  if (off != 0) {
    size -= page - off;
    base += page - off;
  }
  size &= ~(page - 1);
  if (base > kMaxMemblockAddr) {
    ignored(std::string(kOfFdt) + "Ignoring memory block " + logHex(base) + " - " + logHex(addSaturated(base, size)),
            DiagEvent::kMemoryBlockTooHigh);
    return;
  }
  if (size == 0) return;
  if (addSaturated(base, size) - 1 > kMaxMemblockAddr) {
    ignored(std::string(kOfFdt) + "Ignoring memory range " + logHex(kMaxMemblockAddr + 1) + " - " + logHex(addSaturated(base, size)),
            DiagEvent::kMemoryRangeTruncated);
    size = kMaxMemblockAddr - base + 1;
  }
  mb_.addMemory(base, size);
}

}  // namespace dmaheap::dt
