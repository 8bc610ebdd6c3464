// checkFdtLayout: header, reservation map, structure and strings blocks, all bounds-checked.
#include "devicetree/fdt_layout.h"

#include <cstring>
#include <string>

namespace dmaheap::dt {
namespace {

constexpr uint32_t kMagic = 0xd00dfeed;
constexpr uint32_t kBeginNode = 1, kEndNode = 2, kProp = 3, kNop = 4, kEnd = 9;
constexpr uint64_t kHeaderV16 = 36;  // up to size_dt_strings
constexpr uint64_t kHeaderV17 = 40;  // plus size_dt_struct

uint32_t be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

Error bad(const std::string& what) { return makeError(EINVAL, "device tree blob: " + what); }
std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

// A block [off, off + size) of a blob of `total` bytes, checked without overflow.
bool inside(uint64_t off, uint64_t size, uint64_t total) { return off <= total && size <= total - off; }

// The structure block: tokens in order (begin root, properties before subnodes is not required by
// the kernel and not checked), every name NUL-terminated inside the block, every property's value
// inside the block and its name inside the strings block, nesting balanced and bounded, FDT_END last.
Status checkStructure(std::span<const uint8_t> s, std::span<const uint8_t> strings) {
  uint64_t pos = 0;
  unsigned depth = 0;
  bool seen_root = false;
  auto need = [&](uint64_t n) { return n <= s.size() && pos <= s.size() - n; };
  auto align4 = [](uint64_t v) { return (v + 3) & ~uint64_t{3}; };
  while (true) {
    if (!need(4)) return bad("structure block ends at " + hex(pos) + " without an FDT_END token");
    const uint64_t at = pos;
    const uint32_t token = be32(s.data() + pos);
    pos += 4;
    switch (token) {
      case kBeginNode: {
        if (seen_root && depth == 0) return bad("a second root node at structure offset " + hex(at));
        const auto* start = s.data() + pos;
        const void* nul = std::memchr(start, 0, s.size() - pos);
        if (!nul) return bad("node name at structure offset " + hex(at) + " is not NUL-terminated");
        const uint64_t len = static_cast<uint64_t>(static_cast<const uint8_t*>(nul) - start);
        if (!seen_root && len != 0) return bad("the root node has a name (a version 16+ root is \"\")");
        pos = align4(pos + len + 1);
        if (pos > s.size()) return bad("node name at structure offset " + hex(at) + " runs past the block");
        seen_root = true;
        if (++depth > kFdtMaxDepth)
          return bad("nodes nested deeper than " + std::to_string(kFdtMaxDepth) + " levels");
        break;
      }
      case kEndNode:
        if (depth == 0) return bad("FDT_END_NODE without an open node at structure offset " + hex(at));
        --depth;
        break;
      case kProp: {
        if (depth == 0) return bad("a property outside every node at structure offset " + hex(at));
        if (!need(8)) return bad("property header at structure offset " + hex(at) + " runs past the block");
        const uint64_t len = be32(s.data() + pos);
        const uint64_t nameoff = be32(s.data() + pos + 4);
        pos += 8;
        if (!need(len)) return bad("property at structure offset " + hex(at) + " claims " + std::to_string(len) +
                                   " bytes, past the end of the block");
        pos = align4(pos + len);
        if (pos > s.size()) pos = s.size();
        if (nameoff >= strings.size() || !std::memchr(strings.data() + nameoff, 0, strings.size() - nameoff))
          return bad("property at structure offset " + hex(at) + " names string offset " + hex(nameoff) +
                     ", outside the strings block or not NUL-terminated");
        break;
      }
      case kNop:
        break;
      case kEnd:
        if (!seen_root) return bad("the structure block has no root node");
        if (depth != 0) return bad("FDT_END with " + std::to_string(depth) + " node(s) still open");
        return {};
      default:
        return bad("unknown token " + hex(token) + " at structure offset " + hex(at));
    }
  }
}

}  // namespace

Status checkFdtLayout(std::span<const uint8_t> blob) {
  const uint64_t total = blob.size();
  if (total < 28) return bad("shorter than the 28 bytes every header version has");
  const uint8_t* h = blob.data();
  if (be32(h) != kMagic) return bad("bad magic " + hex(be32(h)) + " (not " + hex(kMagic) + ")");
  if (total > kFdtMaxBlobBytes) return bad("larger than the 64 MiB limit");
  const uint32_t version = be32(h + 20);
  const uint32_t last_comp = be32(h + 24);
  if (last_comp > kFdtLastCompatibleVersion)
    return bad("last compatible version " + std::to_string(last_comp) + " is newer than 17, the newest the kernel reads");
  if (version < last_comp)
    return bad("version " + std::to_string(version) + " is older than its last compatible version " +
               std::to_string(last_comp));
  if (version < kFdtOldestReadVersion)
    return bad("version " + std::to_string(version) +
               " is older than 16: versions 2-15 (full-path node names, no structure size) are not read; "
               "recompile the source with dtc, which writes version 17");
  const uint64_t header = version >= 17 ? kHeaderV17 : kHeaderV16;
  if (total < header)
    return bad("shorter than its version " + std::to_string(version) + " header (" + std::to_string(header) + " bytes)");
  if (be32(h + 4) != total) return bad("totalsize does not match the blob");  // the caller cuts to totalsize
  const uint64_t off_struct = be32(h + 8), off_strings = be32(h + 12), off_rsvmap = be32(h + 16);
  const uint64_t size_strings = be32(h + 32);
  const uint64_t size_struct = version >= 17 ? be32(h + 36) : (off_struct <= total ? total - off_struct : 0);

  // Memory reservation map: 8-byte aligned 16-byte entries, after the header, ending inside the
  // blob with an entry of size 0 (libfdt and the kernel's /memreserve/ loop stop at the size alone;
  // entries may run on into the next block, which they then read as reservations, and so do we).
  if (off_rsvmap % 8 != 0) return bad("memory reservation map offset " + hex(off_rsvmap) + " is not 8-byte aligned");
  if (off_rsvmap < header || off_rsvmap > total) return bad("memory reservation map offset " + hex(off_rsvmap) + " is outside the blob");
  for (uint64_t at = off_rsvmap;; at += 16) {
    if (!inside(at, 16, total)) return bad("memory reservation map runs past the end of the blob");
    bool zero_size = true;
    for (int i = 8; i < 16; ++i) zero_size = zero_size && h[at + i] == 0;
    if (zero_size) break;
  }
  if (off_struct % 4 != 0) return bad("structure block offset " + hex(off_struct) + " is not 4-byte aligned");
  if (off_struct < header || !inside(off_struct, size_struct, total))
    return bad("structure block [" + hex(off_struct) + ", +" + hex(size_struct) + ") is outside the blob of " +
               std::to_string(total) + " bytes");
  if (off_strings < header || !inside(off_strings, size_strings, total))
    return bad("strings block [" + hex(off_strings) + ", +" + hex(size_strings) + ") is outside the blob of " +
               std::to_string(total) + " bytes");
  return checkStructure(blob.subspan(off_struct, size_struct), blob.subspan(off_strings, size_strings));
}

}  // namespace dmaheap::dt
