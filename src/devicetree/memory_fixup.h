// Bootloader fix-ups of /memory (docs/device-trees.md "Memory the bootloader fills in"): most
// shipped trees leave /memory to U-Boot or the Raspberry Pi firmware, which write the board's RAM
// into the blob before the kernel starts. `--memory BASE:SIZE[,...]` replaces every memory node
// with one holding those banks; `--memory-size SIZE` fills the tree's placeholder memory node(s)
// (no reg, or only zero sizes) at the base the tree gives, else at the SoC's usual DRAM base.
// The fix-up edits a copy of the blob as a bootloader would; the rules then run unchanged.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "base/types.h"
#include "devicetree/board_plan.h"
#include "devicetree/fdt.h"

namespace dmaheap::dt {

struct MemoryFixup {
  std::vector<PhysRange> banks;  // --memory: replaces /memory ("" = not given)
  uint64_t fill_size = 0;        // --memory-size: fills placeholders (0 = not given)
  bool any() const { return !banks.empty() || fill_size != 0; }
};

// Parses the --memory value "BASE:SIZE[,BASE:SIZE...]" (each number as parseSize reads it:
// 0x40000000, 1G, 512M). EINVAL naming the bad bank; a zero size, an overflowing end or
// overlapping banks are EINVAL too.
Result<std::vector<PhysRange>> parseMemoryBanks(std::string_view text);
// Both options at once: EINVAL ("give --memory or --memory-size, not both"); a bad value EINVAL.
Result<MemoryFixup> memoryFixupFromOptions(std::string_view memory, std::string_view memory_size);

// Where the RAM the rules used came from, for the report (board_plan.h).
using MemorySource = MemoryOrigin;

// The usual DRAM base of the SoC named by the root's compatible (first matching table row), and
// the row's description ("Raspberry Pi (brcm,bcm2711)"); 0x40000000 "generic arm64 (QEMU virt)"
// when no row matches.
struct DramBase {
  uint64_t base;
  std::string why;
};
DramBase socDramBase(const Fdt& fdt);

struct FixedTree {
  Fdt fdt;
  MemorySource source;
};
// Where the tree's own /memory comes from, with no fix-up (no copy of the tree is made).
MemorySource treeMemorySource(const Fdt& fdt);
// Applies `fixup` to a copy of `fdt`. With nothing to do the copy is unchanged and the source
// says "tree". EINVAL when a bank does not fit the root's #address-cells/#size-cells.
Result<FixedTree> applyMemoryFixup(const Fdt& fdt, const MemoryFixup& fixup);

}  // namespace dmaheap::dt
