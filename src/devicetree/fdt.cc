// Fdt: validation and bounds-checked access over libfdt.
#include "devicetree/fdt.h"

#include "devicetree/fdt_layout.h"

extern "C" {
#include <libfdt.h>
}

#include <algorithm>
#include <climits>
#include <cstring>

namespace dmaheap::dt {
namespace {

constexpr uint64_t kMaxBlobBytes = kFdtMaxBlobBytes;

uint32_t be32At(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

std::string libfdtReason(int err) {
  switch (-err) {
    case FDT_ERR_BADMAGIC: return "not a device tree blob (bad magic)";
    case FDT_ERR_BADVERSION: return "unsupported device tree blob version";
    case FDT_ERR_TRUNCATED: return "device tree blob is truncated";
    case FDT_ERR_BADSTRUCTURE: return "device tree structure block is malformed";
    case FDT_ERR_BADLAYOUT: return "device tree blocks overlap or are out of order";
    case FDT_ERR_BADOFFSET: return "device tree has a bad offset";
    case FDT_ERR_BADSTATE: return "device tree is incomplete";
    case FDT_ERR_BADNCELLS: return "device tree has a bad #address-cells/#size-cells";
    case FDT_ERR_BADVALUE: return "device tree has a bad property value";
    case FDT_ERR_BADPHANDLE: return "device tree has a bad phandle";
    default: return std::string("device tree is malformed: ") + fdt_strerror(err);
  }
}

}  // namespace

Result<Fdt> Fdt::fromBlob(std::span<const uint8_t> blob) {
  if (blob.size() < sizeof(fdt_header)) {
    if (blob.size() >= 4 && be32At(blob.data()) != FDT_MAGIC) {
      return makeError(EINVAL, "not a device tree blob (bad magic)");
    }
    return makeError(EINVAL, "device tree blob is truncated: " + std::to_string(blob.size()) +
                                 " bytes, shorter than the header");
  }
  if (be32At(blob.data()) != FDT_MAGIC) return makeError(EINVAL, "not a device tree blob (bad magic)");
  const uint32_t total = be32At(blob.data() + 4);
  if (total > kMaxBlobBytes) {
    return makeError(EINVAL, "device tree header claims " + std::to_string(total) +
                                 " bytes, more than the 64 MiB limit");
  }
  if (total > blob.size()) {
    return makeError(EINVAL, "device tree blob is truncated: header says " + std::to_string(total) +
                                 " bytes, file has " + std::to_string(blob.size()));
  }
  // Copy into an aligned buffer of exactly totalsize (libfdt wants 32-bit aligned data). Our own
  // walk first; libfdt's full check stays as the second line.
  std::vector<uint8_t> copy(blob.begin(), blob.begin() + total);
  if (auto st = checkFdtLayout(copy); !st) return st.error();
  if (const int err = fdt_check_full(copy.data(), copy.size()); err != 0) {
    return makeError(EINVAL, libfdtReason(err));
  }
  return Fdt(std::move(copy));
}

int Fdt::firstChild(int node) const {
  const int child = fdt_first_subnode(raw(), node);
  return child < 0 ? -1 : child;
}

int Fdt::nextSibling(int node) const {
  const int next = fdt_next_subnode(raw(), node);
  return next < 0 ? -1 : next;
}

std::vector<int> Fdt::children(int node) const {
  std::vector<int> out;
  for (int c = firstChild(node); c >= 0; c = nextSibling(c)) out.push_back(c);
  return out;
}

std::string Fdt::name(int node) const {
  int len = 0;
  const char* n = fdt_get_name(raw(), node, &len);
  if (!n || len < 0) return {};
  return std::string(n, static_cast<size_t>(len));
}

Fdt::Fdt(std::vector<uint8_t> blob) : blob_(std::move(blob)) {
  // One walk in document order; the layout check bounded the depth (kFdtMaxDepth).
  std::vector<int> open;  // offsets of the nodes enclosing the current one
  int depth = 0;
  size_t nodes = 0;
  for (int node = 0; node >= 0 && depth >= 0; node = fdt_next_node(raw(), node, &depth)) ++nodes;
  parents_.reserve(nodes);
  depth = 0;
  for (int node = 0; node >= 0; node = fdt_next_node(raw(), node, &depth)) {
    if (depth < 0) break;
    open.resize(static_cast<size_t>(depth));
    parents_.emplace_back(node, open.empty() ? -1 : open.back());
    open.push_back(node);
  }
}

int Fdt::parent(int node) const {
  auto it = std::lower_bound(parents_.begin(), parents_.end(), std::pair<int, int>(node, INT32_MIN));
  return it != parents_.end() && it->first == node ? it->second : -1;
}

std::string Fdt::path(int node) const {
  if (node == 0) return "/";
  std::vector<int> chain;
  for (int n = node; n > 0; n = parent(n)) chain.push_back(n);
  std::string out;
  for (auto it = chain.rbegin(); it != chain.rend(); ++it) out += "/" + name(*it);
  return out;
}

int Fdt::pathOffset(std::string_view path) const {
  const int off = fdt_path_offset_namelen(raw(), path.data(), static_cast<int>(path.size()));
  return off < 0 ? -1 : off;
}

std::optional<Property> Fdt::prop(int node, std::string_view name) const {
  int len = 0;
  const void* p = fdt_getprop_namelen(raw(), node, name.data(), static_cast<int>(name.size()), &len);
  if (!p || len < 0) return std::nullopt;
  const auto* bytes = static_cast<const uint8_t*>(p);
  // fdt_check_full guarantees the value lies inside the blob; double-check anyway.
  const uint8_t* begin = blob_.data();
  if (bytes < begin || bytes + len > begin + blob_.size()) return std::nullopt;
  return Property{std::span<const uint8_t>(bytes, static_cast<size_t>(len))};
}

std::string Fdt::stringProp(int node, std::string_view name) const {
  const auto list = stringList(node, name);
  return list.empty() ? std::string() : list.front();
}

std::vector<std::string> Fdt::stringList(int node, std::string_view name) const {
  std::vector<std::string> out;
  const auto p = prop(node, name);
  if (!p) return out;
  size_t start = 0;
  const auto& d = p->data;
  for (size_t i = 0; i < d.size(); ++i) {
    if (d[i] == 0) {
      out.emplace_back(reinterpret_cast<const char*>(d.data() + start), i - start);
      start = i + 1;
    }
  }
  if (start < d.size()) {
    out.emplace_back(reinterpret_cast<const char*>(d.data() + start), d.size() - start);
  }
  return out;
}

bool Fdt::isAvailable(int node) const {
  const auto p = prop(node, "status");
  if (!p) return true;
  // The kernel compares the property bytes as a C string.
  std::string s(reinterpret_cast<const char*>(p->data.data()), p->data.size());
  if (const size_t nul = s.find('\0'); nul != std::string::npos) s.resize(nul);
  return s == "okay" || s == "ok";
}

bool Fdt::isCompatible(int node, std::string_view compat) const {
  for (const auto& c : stringList(node, "compatible"))
    if (c == compat) return true;
  return false;
}

std::vector<MemReserveEntry> Fdt::memReserves() const {
  std::vector<MemReserveEntry> out;
  const int n = fdt_num_mem_rsv(raw());
  for (int i = 0; i < n; ++i) {
    uint64_t addr = 0;
    uint64_t size = 0;
    if (fdt_get_mem_rsv(raw(), i, &addr, &size) != 0) break;
    out.push_back({addr, size});
  }
  return out;
}

int Fdt::nodeByPhandle(uint32_t phandle) const {
  if (phandle == 0 || phandle == ~uint32_t{0}) return -1;
  const int off = fdt_node_offset_by_phandle(raw(), phandle);
  return off < 0 ? -1 : off;
}

uint64_t readCells(std::span<const uint8_t> data, size_t* pos, uint32_t cells) {
  uint64_t v = 0;
  for (uint32_t i = 0; i < cells; ++i) {
    uint32_t cell = 0;
    if (*pos + 4 <= data.size()) cell = be32At(data.data() + *pos);
    *pos += 4;
    v = (v << 32) | cell;
  }
  return v;
}

}  // namespace dmaheap::dt
