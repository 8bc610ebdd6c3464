// loadBoard: options -> kernel -> plan -> board.
#include "board/board_loader.h"

#include "devicetree/plan.h"

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
  return kernel;
}

Result<std::unique_ptr<Board>> loadBoard(const BoardOptions& options) {
  auto kernel = kernelFromOptions(options);
  if (!kernel) return kernel.error();
  if (options.dtb.empty()) return buildBoard(dt::planDefaultBoard(kernel.value(), options.cmdline));
  auto plan = dt::planFromFile(options.dtb, kernel.value(), options.cmdline);
  if (!plan) return plan.error();
  return buildBoard(plan.value());
}

}  // namespace dmaheap
