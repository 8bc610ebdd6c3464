// The device-tree rules: what a chosen kernel (version + .config) makes of a tree's /memory,
// /memreserve/ and /reserved-memory, plus `cma=`, as a BoardPlan (docs/kernel-behaviour.md §5 and §6).
// Pure functions over plain data: no globals, every call builds its own model.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "base/kernel.h"
#include "base/result.h"
#include "devicetree/board_plan.h"
#include "devicetree/fdt.h"
#include "devicetree/memory_fixup.h"

namespace dmaheap::dt {

// `cma=size[@base[-limit]]` from a kernel command line (the last occurrence wins, as with
// early_param). Values follow the kernel's memparse; a malformed value parses as the kernel
// would (digits that are not there read as 0).
struct CmaCmdline {
  bool present = false;
  uint64_t size = 0;
  uint64_t base = 0;
  uint64_t limit = 0;  // 0: none given
  bool fixed() const { return present && limit != 0 && base + size == limit; }
};
CmaCmdline parseCmaCmdline(std::string_view cmdline);

// In all of these an empty `cmdline` means "the tree's /chosen/bootargs", as the kernel would see
// it when the bootloader passes the tree's own; give a command line to override it.

// Loads `path` (.dtb or .dts, see loader.h) and applies the rules. Errors are the loader's
// (EINVAL for anything that is not a readable device tree, ENOENT/EACCES for unreadable files).
Result<BoardPlan> planFromFile(const std::string& path, const Kernel& kernel, std::string_view cmdline);

// Validates the blob (EINVAL with a one-line reason if it is not a device tree) and applies the rules.
Result<BoardPlan> planFromBlob(std::span<const uint8_t> blob, const Kernel& kernel, std::string_view cmdline);

// Applies the rules to an already validated tree.
BoardPlan planFromFdt(const Fdt& fdt, const Kernel& kernel, std::string_view cmdline);

// The same with a bootloader fix-up of /memory applied first (memory_fixup.h): the plan's
// memory_origin says which /memory was used and where it came from. Errors: the loader's, and
// EINVAL when a --memory bank does not fit the root's cells.
Result<BoardPlan> planFromFile(const std::string& path, const Kernel& kernel, std::string_view cmdline,
                               const MemoryFixup& fixup);
Result<BoardPlan> planFromBlob(std::span<const uint8_t> blob, const Kernel& kernel, std::string_view cmdline,
                               const MemoryFixup& fixup);
Result<BoardPlan> planFromFdt(const Fdt& fdt, const Kernel& kernel, std::string_view cmdline, const MemoryFixup& fixup);

// The built-in default board (README.md, "Heaps on a laptop"): 2 GiB of RAM at 0x40000000, no reserved-memory, so
// only the `cma=` or Kconfig (CMA_SIZE_MBYTES) default area "reserved", placed top-down below the
// DMA limit.
BoardPlan planDefaultBoard(const Kernel& kernel, std::string_view cmdline);
// ... with its RAM replaced (--memory) or resized at 0x40000000 (--memory-size).
BoardPlan planDefaultBoard(const Kernel& kernel, std::string_view cmdline, const MemoryFixup& fixup);

// The text for a region outcome in reports and JSON: "initialized", "no-handler", "failed",
// "not-reserved", "skipped", "crashed".
const char* outcomeName(RegionOutcome outcome);
const char* severityName(Severity severity);  // "error", "warning", "note"

}  // namespace dmaheap::dt
