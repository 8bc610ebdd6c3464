// libFuzzer target: the device-tree loader and rules over arbitrary blobs, for several kernels,
// plus the three renderers. Any crash, hang or sanitizer report is a bug: bad input must only
// ever give EINVAL or a plan.
#include <cstddef>
#include <cstdint>
#include <span>

#include "devicetree/plan.h"
#include "base/json_text.h"
#include "dtcheck/report.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace dmaheap;
  auto fdt = dt::Fdt::fromBlob(std::span<const uint8_t>(data, size));
  if (!fdt) return 0;
  static const KernelVersion kVersions[] = {KernelVersion::of(5, 3), KernelVersion::of(6, 1), KernelVersion::of(6, 12),
                                            KernelVersion::of(6, 18), KernelVersion::of(7, 2)};
  // The last input byte picks a command line and a pageblock size, so both paths get fuzzed.
  const uint8_t sel = size ? data[size - 1] : 0;
  const char* cmdline = (sel & 1) ? "cma=32M" : (sel & 2) ? "cma=16M@0x60000000" : "";
  for (const auto& v : kVersions) {
    Kernel k;
    k.version = v;
    k.config.hugetlb = (sel & 4) == 0;
    const auto report = dtcheck::makeReport("fuzz", cmdline, dt::planFromFdt(*fdt, k, cmdline));
    (void)dtcheck::renderText(report);
    (void)jsonText(dtcheck::renderJson(report));
    (void)dtcheck::renderSvg(report);
  }
  return 0;
}
