// Architecture detection from a device tree (docs/device-trees.md "Architecture").
#include "devicetree/arch_detect.h"

#include <string_view>

namespace dmaheap::dt {
namespace {

// A cpu or root compatible and the architecture whose kernels run on it. `prefix`: the entry
// matches every compatible that starts with it, else only the exact string.
struct CoreRow {
  const char* compatible;
  bool prefix;
  Arch arch;
  const char* what;
};

// The first matching row wins: exact rows that a prefix row would also match come first.
constexpr CoreRow kCpuCores[] = {
    {"arm,armv8", false, Arch::kArm64, "a 64-bit ARM core"},  // before the "arm,arm" prefix below
    // ARMv7 and older cores: 32-bit kernels only.
    {"arm,cortex-a5", false, Arch::kArm, "a 32-bit ARM core"},
    {"arm,cortex-a7", false, Arch::kArm, "a 32-bit ARM core"},
    {"arm,cortex-a8", false, Arch::kArm, "a 32-bit ARM core"},
    {"arm,cortex-a9", false, Arch::kArm, "a 32-bit ARM core"},
    {"arm,cortex-a12", false, Arch::kArm, "a 32-bit ARM core"},
    {"arm,cortex-a15", false, Arch::kArm, "a 32-bit ARM core"},
    {"arm,cortex-a17", false, Arch::kArm, "a 32-bit ARM core"},
    {"arm,cortex-r", true, Arch::kArm, "a 32-bit ARM core"},
    {"arm,arm", true, Arch::kArm, "a 32-bit ARM core"},  // arm,arm926ej-s, arm,arm1176jzf-s, arm,arm11mpcore
    {"marvell,pj4", true, Arch::kArm, "a 32-bit ARM core"},
    {"marvell,sheeva", true, Arch::kArm, "a 32-bit ARM core"},
    {"marvell,feroceon", true, Arch::kArm, "a 32-bit ARM core"},
    {"qcom,krait", false, Arch::kArm, "a 32-bit ARM core"},
    {"qcom,scorpion", false, Arch::kArm, "a 32-bit ARM core"},
    {"brcm,brahma-b15", false, Arch::kArm, "a 32-bit ARM core"},
    {"intel,xscale", true, Arch::kArm, "a 32-bit ARM core"},
    // ARMv8 and later cores: arm64 kernels (some boards also boot 32-bit ones: give --arch arm).
    {"arm,cortex-a3", true, Arch::kArm64, "a 64-bit ARM core"},  // a32, a34, a35
    {"arm,cortex-a5", true, Arch::kArm64, "a 64-bit ARM core"},  // a53, a55, a57, a510, a520 (a5 is exact, above)
    {"arm,cortex-a6", true, Arch::kArm64, "a 64-bit ARM core"},  // a65, a65ae
    {"arm,cortex-a7", true, Arch::kArm64, "a 64-bit ARM core"},  // a72 .. a78, a710, a715, a720
    {"arm,cortex-x", true, Arch::kArm64, "a 64-bit ARM core"},
    {"arm,neoverse", true, Arch::kArm64, "a 64-bit ARM core"},
    {"apple,", true, Arch::kArm64, "a 64-bit ARM core"},
    {"qcom,kryo", true, Arch::kArm64, "a 64-bit ARM core"},
    {"qcom,oryon", true, Arch::kArm64, "a 64-bit ARM core"},
    {"nvidia,denver", false, Arch::kArm64, "a 64-bit ARM core"},
    {"nvidia,carmel", false, Arch::kArm64, "a 64-bit ARM core"},
    {"cavium,thunder", true, Arch::kArm64, "a 64-bit ARM core"},
    {"brcm,brahma-b53", false, Arch::kArm64, "a 64-bit ARM core"},
    {"brcm,vulcan", false, Arch::kArm64, "a 64-bit ARM core"},
    // RISC-V harts all list "riscv"; riscv64 is the one RISC-V kernel modelled.
    {"riscv", false, Arch::kRiscv64, "a RISC-V hart"},
};

// Root compatibles that name a RISC-V SoC (for trees without cpu nodes).
constexpr CoreRow kRootSocs[] = {
    {"riscv-virtio", false, Arch::kRiscv64, "a RISC-V machine"},
    {"sifive,", true, Arch::kRiscv64, "a RISC-V SoC"},
    {"starfive,", true, Arch::kRiscv64, "a RISC-V SoC"},
    {"thead,", true, Arch::kRiscv64, "a RISC-V SoC"},
    {"allwinner,sun20i-d1", true, Arch::kRiscv64, "a RISC-V SoC"},
    {"canaan,", true, Arch::kRiscv64, "a RISC-V SoC"},
    {"sophgo,", true, Arch::kRiscv64, "a RISC-V SoC"},
    {"microchip,mpfs", true, Arch::kRiscv64, "a RISC-V SoC"},
};

template <size_t N>
const CoreRow* lookup(const CoreRow (&table)[N], std::string_view compatible) {
  for (const CoreRow& row : table) {
    const std::string_view c = row.compatible;
    if (row.prefix ? compatible.substr(0, c.size()) == c : compatible == c) return &row;
  }
  return nullptr;
}

}  // namespace

ArchChoice detectArch(const Fdt& fdt) {
  const int cpus = fdt.pathOffset("/cpus");
  if (cpus >= 0) {
    // Cores in tree order (cpu-map and other non-cpu children are skipped by having no match).
    for (int cpu : fdt.children(cpus)) {
      for (const std::string& c : fdt.stringList(cpu, "compatible")) {
        if (const CoreRow* row = lookup(kCpuCores, c)) {
          return {row->arch, ArchOrigin::kTree,
                  fdt.path(cpu) + " is compatible with \"" + c + "\", " + row->what};
        }
      }
    }
  }
  for (const std::string& c : fdt.stringList(fdt.root(), "compatible")) {
    if (const CoreRow* row = lookup(kRootSocs, c)) {
      return {row->arch, ArchOrigin::kTree, "the root is compatible with \"" + c + "\", " + row->what};
    }
  }
  // The tie-breaker: 32-bit ARM trees mostly use one address cell at the root, arm64 trees two.
  if (auto p = fdt.prop(fdt.root(), "#address-cells"); p && p->data.size() == 4) {
    const uint32_t cells = (uint32_t{p->data[0]} << 24) | (uint32_t{p->data[1]} << 16) | (uint32_t{p->data[2]} << 8) |
                           uint32_t{p->data[3]};
    if (cells == 1) {
      return {Arch::kArm, ArchOrigin::kTree,
              "no known cpu compatible; the root has #address-cells = <1>, as 32-bit ARM trees do"};
    }
    if (cells == 2) {
      return {Arch::kArm64, ArchOrigin::kTree,
              "no known cpu compatible; the root has #address-cells = <2>, as arm64 trees do"};
    }
  }
  return {Arch::kArm64, ArchOrigin::kDefault, "the tree names no architecture: arm64, the default"};
}

ArchChoice chooseArch(const Kernel& kernel, const Fdt* fdt) {
  if (kernel.arch_origin == ArchOrigin::kOption) {
    return {kernel.arch, ArchOrigin::kOption, std::string("--arch ") + str(kernel.arch)};
  }
  if (kernel.config.arch) {
    const Arch a = *kernel.config.arch;
    const char* option = a == Arch::kArm ? "CONFIG_ARM" : a == Arch::kArm64 ? "CONFIG_ARM64" : "CONFIG_RISCV";
    return {a, ArchOrigin::kConfig, std::string("the kernel .config sets ") + option + "=y"};
  }
  if (fdt) return detectArch(*fdt);
  return {Arch::kArm64, ArchOrigin::kDefault, "the built-in board: arm64, the default"};
}

}  // namespace dmaheap::dt
