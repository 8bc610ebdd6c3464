// dma-ranges parsing and translation the kernel's way (docs/kernel-behaviour.md §6.9).
#include "devicetree/dma_ranges.h"

#include <algorithm>
#include <cstdio>
#include <string_view>

namespace dmaheap::dt {
namespace {

constexpr uint64_t kBadAddr = ~uint64_t{0};  // OF_BAD_ADDR
constexpr uint32_t kMaxAddrCells = 4;        // OF_MAX_ADDR_CELLS
constexpr int kMaxWalk = 256;                // more levels than any validated tree has

using Cells = std::vector<uint32_t>;

uint32_t be32(std::span<const uint8_t> d, size_t at) {
  if (at + 4 > d.size()) return 0;
  return (uint32_t{d[at]} << 24) | (uint32_t{d[at + 1]} << 16) | (uint32_t{d[at + 2]} << 8) | uint32_t{d[at + 3]};
}

Cells cellsOf(const Property& p) {
  Cells out(p.size() / 4);
  for (size_t i = 0; i < out.size(); ++i) out[i] = be32(p.data, i * 4);
  return out;
}

// of_read_number: more than two cells keep the low 64 bits.
uint64_t readNumber(const uint32_t* c, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v = (v << 32) | c[i];
  return v;
}

std::optional<uint32_t> u32Prop(const Fdt& fdt, int node, std::string_view name) {
  const auto p = fdt.prop(node, name);
  if (!p || p->size() < 4) return std::nullopt;
  return be32(p->data, 0);
}

// of_bus_n_addr_cells / of_bus_n_size_cells: the node's own property, else the nearest
// ancestor's, else the root default of 1.
uint32_t busCells(const Fdt& fdt, int node, std::string_view name) {
  for (int n = node, i = 0; n >= 0 && i < kMaxWalk; n = fdt.parent(n), ++i)
    if (auto v = u32Prop(fdt, n, name)) return *v;
  return 1;
}
// of_n_addr_cells / of_n_size_cells: the cells a node's own addresses use (its parent's).
uint32_t nodeCells(const Fdt& fdt, int node, std::string_view name) {
  const int p = fdt.parent(node);
  return busCells(fdt, p >= 0 ? p : node, name);
}

// The bus types of drivers/of/address.c that change how an address is read: PCI (and the node
// named "pcie"), ISA, a 3-cell bus with a flags cell, and the default bus.
enum class BusKind { kPci, kIsa, kDefaultFlags, kDefault };
struct Bus {
  BusKind kind;
  int flag_cells;
};

std::string baseName(const Fdt& fdt, int node) {
  std::string n = fdt.name(node);
  if (const size_t at = n.find('@'); at != std::string::npos) n.resize(at);
  return n;
}

Bus matchBus(const Fdt& fdt, int node) {
  const std::string type = fdt.stringProp(node, "device_type");
  if (type == "pci" || type == "pciex" || type == "vci" || type == "ht" || baseName(fdt, node) == "pcie")
    return {BusKind::kPci, 1};
  if (baseName(fdt, node) == "isa") return {BusKind::kIsa, 1};
  if (busCells(fdt, node, "#address-cells") == 3) return {BusKind::kDefaultFlags, 1};
  return {BusKind::kDefault, 0};
}

// count_cells of the bus `bus` for a child `dev`: PCI and ISA fix them, the others read them.
void countCells(const Fdt& fdt, const Bus& bus, int dev, uint32_t* na, uint32_t* ns) {
  if (bus.kind == BusKind::kPci) { *na = 3; *ns = 2; return; }
  if (bus.kind == BusKind::kIsa) { *na = 2; *ns = 1; return; }
  *na = nodeCells(fdt, dev, "#address-cells");
  *ns = nodeCells(fdt, dev, "#size-cells");
}

bool countsOk(uint32_t na, uint32_t ns) { return na > 0 && na <= kMaxAddrCells && ns > 0; }

// The PCI space bits of the first cell: I/O or memory (config space matches neither).
uint32_t pciType(uint32_t hi) {
  const uint32_t ss = (hi >> 24) & 3;
  return ss == 1 ? 1 : (ss >= 2 ? 2 : 0);
}

// bus->map: the offset of `addr` inside the child side of `range`, or kBadAddr.
uint64_t mapOne(const Bus& bus, const uint32_t* addr, const uint32_t* range, int na, int ns, int pna) {
  const int f = bus.flag_cells;
  if (bus.kind == BusKind::kPci && (pciType(addr[0]) ^ pciType(range[0])) != 0) return kBadAddr;
  if (bus.kind == BusKind::kIsa && ((addr[0] ^ range[0]) & 1) != 0) return kBadAddr;
  if (bus.kind == BusKind::kDefaultFlags && addr[0] != range[0]) return kBadAddr;
  const uint64_t cp = readNumber(range + f, na - f);
  const uint64_t s = readNumber(range + na + pna, ns);
  const uint64_t da = readNumber(addr + f, na - f);
  if (da < cp || da >= cp + s) return kBadAddr;
  return da - cp;
}

// pbus->translate: add `offset` to the address (after the flags cell for flag buses).
void addOffset(const Bus& pbus, Cells* addr, uint64_t offset) {
  const size_t f = static_cast<size_t>(pbus.flag_cells);
  if (addr->size() <= f) return;
  const int n = static_cast<int>(addr->size() - f);
  uint64_t a = readNumber(addr->data() + f, n) + offset;
  std::fill(addr->begin() + static_cast<long>(f), addr->end(), 0);
  addr->back() = static_cast<uint32_t>(a);
  if (n > 1) (*addr)[addr->size() - 2] = static_cast<uint32_t>(a >> 32);
}

// of_translate_one over "dma-ranges": false when the address is outside every entry.
bool translateOne(const Fdt& fdt, int dev, const Bus& bus, const Bus& pbus, Cells* addr, uint32_t na,
                  uint32_t ns, uint32_t pna) {
  const auto prop = fdt.prop(dev, "dma-ranges");
  uint64_t offset = kBadAddr;
  if (!prop || prop->size() == 0) {
    // Missing or empty dma-ranges: 1:1 at this level, flags pass through.
    offset = readNumber(addr->data(), static_cast<int>(na));
    addr->resize(pna, 0);
    for (size_t i = static_cast<size_t>(pbus.flag_cells); i < addr->size(); ++i) (*addr)[i] = 0;
  } else {
    const Cells r = cellsOf(*prop);
    const size_t one = na + pna + ns;
    size_t at = 0;
    for (; r.size() - at >= one; at += one) {
      offset = mapOne(bus, addr->data(), r.data() + at, static_cast<int>(na), static_cast<int>(ns),
                      static_cast<int>(pna));
      if (offset != kBadAddr) break;
    }
    if (offset == kBadAddr) return false;
    addr->assign(r.begin() + static_cast<long>(at + na), r.begin() + static_cast<long>(at + na + pna));
  }
  addOffset(pbus, addr, offset);
  return true;
}

// of_translate_dma_address: `in` is an address in the address space of `node`'s DMA parent
// (`node`'s own reg-style address); the result is the CPU address, kBadAddr when untranslatable.
uint64_t translateDma(const Fdt& fdt, int node, const uint32_t* in, size_t in_cells) {
  int dev = node;
  int parent = dmaParent(fdt, dev);
  if (parent < 0) return kBadAddr;
  Bus bus = matchBus(fdt, parent);
  uint32_t na = 0, ns = 0;
  countCells(fdt, bus, dev, &na, &ns);
  if (!countsOk(na, ns)) return kBadAddr;
  Cells addr(na, 0);
  for (size_t i = 0; i < na && i < in_cells; ++i) addr[i] = in[i];
  for (int level = 0; level < kMaxWalk; ++level) {
    dev = parent;
    parent = dmaParent(fdt, dev);
    if (parent < 0) return readNumber(addr.data(), static_cast<int>(na));
    const Bus pbus = matchBus(fdt, parent);
    uint32_t pna = 0, pns = 0;
    countCells(fdt, pbus, dev, &pna, &pns);
    if (!countsOk(pna, pns)) return kBadAddr;
    if (!translateOne(fdt, dev, bus, pbus, &addr, na, ns, pna)) return kBadAddr;
    na = pna;
    ns = pns;
    bus = pbus;
  }
  return kBadAddr;
}

// The raw entries before merging (of_pci_range_parser_one reads one, then absorbs followers).
struct RawEntry {
  uint32_t flags;
  uint64_t bus;
  uint64_t cpu;  // kBadAddr when untranslatable
  uint64_t size;
};

std::vector<RawEntry> parseMerged(const Fdt& fdt, int node) {
  std::vector<RawEntry> out;
  const auto prop = fdt.prop(node, "dma-ranges");
  if (!prop) return out;
  const Cells r = cellsOf(*prop);
  const uint32_t pna = nodeCells(fdt, node, "#address-cells");
  const uint32_t na = busCells(fdt, node, "#address-cells");
  const uint32_t ns = busCells(fdt, node, "#size-cells");
  const Bus bus = matchBus(fdt, node);
  const size_t one = static_cast<size_t>(pna) + na + ns;
  // One entry of zero cells would never advance (the kernel would loop); nothing to parse.
  if (one == 0) return out;
  const auto entryAt = [&](size_t at) {
    RawEntry e;
    const uint32_t* c = r.data() + at;
    e.flags = (bus.flag_cells > 0 && na > 0) ? c[0] : 0;
    const int f = static_cast<int>(std::min<uint32_t>(static_cast<uint32_t>(bus.flag_cells), na));
    e.bus = readNumber(c + f, static_cast<int>(na) - f);
    e.cpu = translateDma(fdt, node, c + na, pna);
    e.size = readNumber(c + pna + na, static_cast<int>(ns));
    return e;
  };
  size_t at = 0;
  while (r.size() - at >= one) {
    RawEntry e = entryAt(at);
    at += one;
    while (r.size() - at >= one) {
      const RawEntry next = entryAt(at);
      if (next.flags != e.flags) break;
      if (next.bus != e.bus + e.size || next.cpu != e.cpu + e.size) break;
      e.size += next.size;
      at += one;
    }
    out.push_back(e);
  }
  return out;
}

std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%llx", static_cast<unsigned long long>(v));
  return buf;
}

// of_dma_get_max_cpu_address for one subtree.
uint64_t maxBelow(const Fdt& fdt, int node, int depth, bool* found) {
  uint64_t max_cpu = kBadAddr;  // PHYS_ADDR_MAX
  if (depth > kMaxWalk) return max_cpu;
  const auto prop = fdt.prop(node, "dma-ranges");
  if (prop && prop->size() > 0) {
    *found = true;
    uint64_t cpu_end = 0;
    for (const RawEntry& e : parseMerged(fdt, node)) {
      // Unsigned as in the kernel: an untranslated entry (cpu = ~0) wraps.
      if (e.cpu + e.size > cpu_end) cpu_end = e.cpu + e.size - 1;
    }
    max_cpu = std::min(max_cpu, cpu_end);
  }
  for (int child : fdt.children(node)) {
    if (!fdt.isAvailable(child)) continue;
    max_cpu = std::min(max_cpu, maxBelow(fdt, child, depth + 1, found));
  }
  return max_cpu;
}

}  // namespace

int dmaParent(const Fdt& fdt, int node) {
  const auto names = fdt.stringList(node, "interconnect-names");
  const auto it = std::find(names.begin(), names.end(), "dma-mem");
  if (it != names.end()) {
    // of_parse_phandle_with_args(np, "interconnects", "#interconnect-cells", index).
    const size_t index = static_cast<size_t>(it - names.begin());
    if (const auto p = fdt.prop(node, "interconnects")) {
      const Cells c = cellsOf(*p);
      size_t at = 0;
      for (size_t i = 0; at < c.size(); ++i) {
        const int target = fdt.nodeByPhandle(c[at]);
        if (target < 0) break;
        const auto cells = u32Prop(fdt, target, "#interconnect-cells");
        if (!cells || at + 1 + *cells > c.size()) break;
        if (i == index) return target;
        at += 1 + *cells;
      }
    }
  }
  return fdt.parent(node);
}

std::vector<DmaRangeEntry> parseDmaRanges(const Fdt& fdt, int node) {
  std::vector<DmaRangeEntry> out;
  for (const RawEntry& e : parseMerged(fdt, node)) {
    DmaRangeEntry d;
    d.bus = e.bus;
    if (e.cpu != kBadAddr) d.cpu = e.cpu;
    d.size = e.size;
    out.push_back(d);
  }
  return out;
}

DmaReach dmaReach(const Fdt& fdt, int node) {
  DmaReach reach;
  if (node < 0 || fdt.parent(node) < 0) return reach;
  // of_dma_configure starts of_dma_get_range at the device's DMA parent.
  int n = dmaParent(fdt, node);
  bool looked = false;
  for (int level = 0; n >= 0 && level < kMaxWalk; ++level) {
    const auto prop = fdt.prop(n, "dma-ranges");
    if (prop && prop->size() > 0) break;
    // After the first level a missing dma-ranges ends the search: no restriction.
    if (looked && !prop) return reach;
    looked = true;
    n = dmaParent(fdt, n);
  }
  if (n < 0) return reach;
  reach.ranges_node = n;
  for (const RawEntry& e : parseMerged(fdt, n)) {
    if (e.cpu == kBadAddr) {
      reach.untranslated_logs.push_back("OF: translation of DMA address(" + hex(e.bus) +
                                        ") to CPU address failed node(" + fdt.path(n) + ")");
      continue;
    }
    reach.windows.push_back({e.cpu, e.size, e.bus});
  }
  if (reach.windows.empty()) {
    reach.translated = false;
    reach.why_not = "no entry of the dma-ranges of " + fdt.path(n) +
                    " translates to a CPU address through its parents' dma-ranges";
  }
  return reach;
}

std::optional<uint64_t> maxDmaCpuAddress(const Fdt& fdt, const Kernel& kernel) {
  (void)kernel;  // one walk for every release from 5.10 (docs/kernel-behaviour.md §6.9)
  bool found = false;
  const uint64_t v = maxBelow(fdt, fdt.root(), 0, &found);
  if (!found) return std::nullopt;
  return v;
}

}  // namespace dmaheap::dt
