// Which architecture's rules apply to a board (docs/kernel-behaviour.md §11, docs/device-trees.md
// "Architecture"): --arch, else the .config's CONFIG_ARM/ARM64/RISCV, else what the tree says (its
// cpu cores' compatibles, the root's compatibles, the root's #address-cells as the tie-breaker),
// else arm64. The cores are a table, not a chain of ifs.
#pragma once

#include <string>

#include "base/kernel.h"
#include "devicetree/fdt.h"

namespace dmaheap::dt {

struct ArchChoice {
  Arch arch = Arch::kArm64;
  ArchOrigin origin = ArchOrigin::kDefault;
  std::string reason;  // one sentence: why this architecture ("--arch arm", "/cpus/cpu@0 is ...")
};

// What the tree alone says; origin kDefault (arm64) when it names no architecture.
ArchChoice detectArch(const Fdt& fdt);
// The architecture for one replay: the kernel's when it came from --arch (origin kOption), else
// the .config's, else detectArch(*fdt) (fdt may be null: the built-in board).
ArchChoice chooseArch(const Kernel& kernel, const Fdt* fdt);

}  // namespace dmaheap::dt
