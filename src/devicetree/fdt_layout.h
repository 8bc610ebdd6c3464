// The first line of defence against hostile device-tree blobs: our own bounds-checked walk of
// the header, the memory reservation block, the structure block and the strings block, before
// libfdt reads a single offset (Debian 12's libfdt 1.6.1 reads outside the blob on some headers
// that its own fdt_check_full() is meant to refuse). What is accepted, and why, is in
// docs/device-trees.md ("Which blobs are read").
#pragma once

#include <cstdint>
#include <span>

#include "base/result.h"

namespace dmaheap::dt {

// The blob format versions read. The kernel's early FDT code (fdt_check_header) boots versions
// 2 to 17 as long as last_comp_version <= 17; versions before 16 name nodes by full path and
// have no structure-block size, and libfdt's handling of them is where it reads out of bounds,
// so we read 16 and later (dtc writes 17). Newer versions are read when they
// declare themselves backwards compatible with 17, as the kernel does.
inline constexpr uint32_t kFdtOldestReadVersion = 16;
inline constexpr uint32_t kFdtLastCompatibleVersion = 17;
// Deeper nesting is refused: the kernel's unflattening keeps 64 levels (FDT_MAX_DEPTH) and skips
// anything below with a warning, so a deeper tree would not mean what it says.
inline constexpr unsigned kFdtMaxDepth = 64;

// Blobs larger than this are refused (real trees are well below 1 MiB).
inline constexpr uint64_t kFdtMaxBlobBytes = uint64_t{64} << 20;

// Checks `blob` (exactly the header's totalsize bytes, 4-byte aligned or not). EINVAL with a
// one-line reason naming the field and the values found; never reads outside `blob`, uses stack
// and time linear in its size, no allocation.
Status checkFdtLayout(std::span<const uint8_t> blob);

}  // namespace dmaheap::dt
