// loadBoard: options -> kernel -> plan -> board.
#include "board/board_loader.h"

#include "devicetree/plan.h"
#include "heaps/heap_profile.h"

namespace dmaheap {

Result<Kernel> kernelFromOptions(const BoardOptions& options) {
  Kernel kernel;
  if (!options.kernel.empty()) {
    auto v = KernelVersion::parse(options.kernel);
    if (!v) return v.error();
    kernel.version = v.value();
  }
  if (!options.kernel_config.empty()) {
    auto c = KernelConfig::fromFile(options.kernel_config);
    if (!c) return c.error();
    kernel.config = c.value();
  }
  if (!options.arch.empty()) {
    auto a = parseArch(options.arch);
    if (!a) return a.error();
    kernel.arch = a.value();
    kernel.arch_origin = ArchOrigin::kOption;
  }
  return kernel;
}

Result<dt::MemoryFixup> memoryFixupFromOptions(const BoardOptions& options) {
  return dt::memoryFixupFromOptions(options.memory, options.memory_size);
}

Result<dt::BoardPlan> planFromOptions(const BoardOptions& options) {
  auto kernel = kernelFromOptions(options);
  if (!kernel) return kernel.error();
  auto fixup = memoryFixupFromOptions(options);
  if (!fixup) return fixup.error();
  if (options.dtb.empty()) return dt::planDefaultBoard(kernel.value(), options.cmdline, fixup.value());
  return dt::planFromFile(options.dtb, kernel.value(), options.cmdline, fixup.value());
}

Result<std::unique_ptr<Board>> loadBoard(const BoardOptions& options) {
  auto profile = heapProfileFromOptions(options.profile, options.heaps_file);
  if (!profile) return profile.error();
  auto plan = planFromOptions(options);
  if (!plan) return plan.error();
  return buildBoard(plan.value(), profile.value());
}

}  // namespace dmaheap
