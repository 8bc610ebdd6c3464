// libFuzzer targets for the text parsers of outside input, one binary per parser (chosen at build
// time with -DDMAHEAP_FUZZ_<NAME>, see fuzz/run-text.sh): simulate workloads, kernel .config
// files, the `cma=` command line and size arguments. A parser may only ever answer a value or an
// error with a message; a crash, hang, sanitizer report or an accepted value that breaks the
// parser's documented invariants is a bug.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "base/kernel.h"
#include "base/size.h"
#include "devicetree/plan.h"
#include "simulate/workload.h"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace dmaheap;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
#if defined(DMAHEAP_FUZZ_WORKLOAD)
  auto w = sim::parseWorkload(text);
  if (w) {
    check(w->steps > 0);
    for (const auto& s : w->streams) check(s.size > 0 && (s.size_max == 0 || s.size_max >= s.size));
  } else {
    check(w.code() == EINVAL && !w.error().message().empty());
  }
#elif defined(DMAHEAP_FUZZ_KCONFIG)
  auto c = KernelConfig::fromText(text);
  if (c) {
    Kernel k;
    k.config = *c;
    // Whatever was read, the derived sizes must stay sane.
    check(k.pageblockOrder() <= 20 && k.cmaMinAlignmentBytes() >= k.pageSize());
  } else {
    check(c.code() == EINVAL && !c.error().message().empty());
  }
#elif defined(DMAHEAP_FUZZ_CMDLINE)
  const auto cma = dt::parseCmaCmdline(text);
  if (cma.fixed()) check(cma.base + cma.size == cma.limit);
  auto sz = parseSize(text);
  if (!sz) check(sz.code() == EINVAL || sz.code() == ERANGE);
  (void)memparse(text);
#else
#error "build with -DDMAHEAP_FUZZ_WORKLOAD, _KCONFIG or _CMDLINE"
#endif
  return 0;
}
