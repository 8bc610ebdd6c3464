// Fdt: a validated flattened device tree blob and bounds-checked read access to it (over libfdt).
// Every accessor tolerates hostile blobs: the blob is checked once with fdt_check_full when the
// object is made, and each property read checks its length, so no read leaves the buffer.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"

namespace dmaheap::dt {

// One property's bytes (a view into the blob; valid while the Fdt lives).
struct Property {
  std::span<const uint8_t> data;
  size_t size() const { return data.size(); }
};

// A /memreserve/ entry of the blob header.
struct MemReserveEntry {
  uint64_t address = 0;
  uint64_t size = 0;
};

class Fdt {
 public:
  // Copies and validates the blob. EINVAL with a one-line reason ("bad magic", "truncated: header
  // says 4096 bytes, file has 100", "structure block is malformed") for anything libfdt refuses.
  static Result<Fdt> fromBlob(std::span<const uint8_t> blob);

  int root() const { return 0; }
  // First child / next sibling (-1 when none). Depth is bounded by the validated structure.
  int firstChild(int node) const;
  int nextSibling(int node) const;
  std::vector<int> children(int node) const;
  // Node name with unit address ("framebuffer@60000000"); "" for the root.
  std::string name(int node) const;
  // Full path ("/reserved-memory/framebuffer@60000000"). O(depth · log nodes): from the parent
  // index made once with the object (libfdt's own fdt_get_path walks the blob from its start,
  // which made a tree of thousands of regions quadratic).
  std::string path(int node) const;
  // The parent's offset, -1 for the root or an offset that is not a node.
  int parent(int node) const;
  // libfdt path lookup (matches "name" against "name@unit" like the kernel's fdt_path_offset).
  int pathOffset(std::string_view path) const;
  std::optional<Property> prop(int node, std::string_view name) const;
  bool has(int node, std::string_view name) const { return prop(node, name).has_value(); }
  // The first string of a string property, "" if missing or not a string.
  std::string stringProp(int node, std::string_view name) const;
  // Every string of a string-list property (compatible), in order.
  std::vector<std::string> stringList(int node, std::string_view name) const;
  // of_fdt_device_is_available: no status, or "okay"/"ok".
  bool isAvailable(int node) const;
  // of_flat_dt_is_compatible: any string of "compatible" equals `compat`.
  bool isCompatible(int node, std::string_view compat) const;
  std::vector<MemReserveEntry> memReserves() const;
  // The node whose phandle (or linux,phandle) is `phandle`; -1 when none (0 and ~0 never match).
  int nodeByPhandle(uint32_t phandle) const;

  std::span<const uint8_t> blob() const { return blob_; }

 private:
  explicit Fdt(std::vector<uint8_t> blob);
  const void* raw() const { return blob_.data(); }
  std::vector<uint8_t> blob_;
  // Every node's (offset, parent offset), in offset order: 8 bytes per node.
  std::vector<std::pair<int, int>> parents_;
};

// Reads `cells` big-endian 32-bit cells at `*pos` of `data` as the kernel's dt_mem_next_cell does
// (more than two cells keep the low 64 bits), advancing *pos. The caller checks the length.
uint64_t readCells(std::span<const uint8_t> data, size_t* pos, uint32_t cells);

}  // namespace dmaheap::dt
