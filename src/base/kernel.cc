// Kernel version parsing, .config parsing and the version-dependent rules.
#include "base/kernel.h"

#include <charconv>
#include <fstream>
#include <sstream>

namespace dmaheap {
namespace {

// The last minor release of each major series we know of.
int lastMinorOf(int major) {
  switch (major) {
    case 5: return 19;
    case 6: return 19;
    case 7: return 2;
    default: return -1;
  }
}

bool parseInt(std::string_view s, int* out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

}  // namespace

std::string KernelVersion::supportedRange() { return "5.3 to 7.2"; }

std::string KernelVersion::str() const { return std::to_string(major_) + "." + std::to_string(minor_); }

Result<KernelVersion> KernelVersion::parse(std::string_view text) {
  const auto bad = [&] {
    return makeError(EINVAL, "kernel version '" + std::string(text) +
                                 "' is not supported: give MAJOR.MINOR from " + supportedRange());
  };
  const size_t dot = text.find('.');
  if (dot == std::string_view::npos) return bad();
  std::string_view rest = text.substr(dot + 1);
  const size_t end = rest.find_first_not_of("0123456789");
  std::string_view minor_text = rest.substr(0, end);
  if (end != std::string_view::npos) {
    // Allow a patch level (".118") and a local suffix ("-rc1", "+deb13-arm64").
    const char c = rest[end];
    if (c != '.' && c != '-' && c != '+') return bad();
  }
  int major = 0;
  int minor = 0;
  if (!parseInt(text.substr(0, dot), &major) || !parseInt(minor_text, &minor)) return bad();
  const int last = lastMinorOf(major);
  if (last < 0 || minor < 0 || minor > last) return bad();
  if (major == 5 && minor < 3) return bad();
  return KernelVersion(major, minor);
}

unsigned Kernel::pageblockOrder() const {
  unsigned order = maxOrder();
  if (config.hugetlb) {
    // HUGETLB_PAGE_ORDER is the PMD order: PAGE_SHIFT - 3 bits of index per level.
    const unsigned pmd_order = config.page_shift - 3;
    order = std::min(pmd_order, maxOrder());
  }
  if (version.atLeast(6, 16)) order = std::min(order, config.page_block_order_cap);
  return order;
}

uint64_t Kernel::cmaMinAlignmentBytes() const {
  if (!version.atLeast(5, 19)) {
    return pageSize() << std::max(maxOrder(), pageblockOrder());
  }
  return pageblockBytes();
}

unsigned Kernel::maxReservedRegions() const { return version.atLeast(5, 7) ? 64 : 32; }

unsigned Kernel::maxCmaAreas() const {
  // Up to 6.2 the array had one slot more than CONFIG_CMA_AREAS (the "+1 for the global area";
  // Debian's 6.1 sets CMA_AREAS=19 for 20 slots); from 6.3 CONFIG_CMA_AREAS is the count [I].
  if (config.cma_areas_set) return version.atLeast(6, 3) ? config.cma_areas : config.cma_areas + 1;
  // Kconfig default: 7 (+1 slot for the default area) without NUMA, 19 (+1) with NUMA from 5.9.
  if (config.numa && version.atLeast(5, 9)) return 20;
  return 8;
}

int Kernel::duplicateHeapNameErrno() const {
  return heapNameClash() == HeapNameClash::kListCheckFirst ? EINVAL : EEXIST;
}

CmaHeapEra Kernel::cmaHeapEra() const {
  if (!hasCmaHeap()) return CmaHeapEra::kNone;
  if (version.atLeast(6, 19)) return CmaHeapEra::kPerRegion;
  if (version.atLeast(6, 17)) return CmaHeapEra::kDefaultNamePlusLegacy;
  return CmaHeapEra::kDefaultOnly;
}

// ---- Rules of the dma-heap core and the dma-buf ioctls (see kernel.h) ----

Kernel::HeapNameClash Kernel::heapNameClash() const {
  return version.atLeast(6, 2) ? HeapNameClash::kSysfsAtDeviceCreate : HeapNameClash::kListCheckFirst;
}

Result<KernelConfig> KernelConfig::fromFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return makeError(errno ? errno : ENOENT, "cannot read kernel config '" + path + "'");
  std::stringstream ss;
  ss << in.rdbuf();
  return fromText(ss.str());
}

Result<KernelConfig> KernelConfig::fromText(std::string_view text) {
  // Start from the kernel's own defaults for options missing from a real .config: a .config lists
  // every visible option, so "absent" means "not built" for bools.
  KernelConfig c;
  c.hugetlb = false;
  c.cma = false;
  c.dmabuf_heaps = false;
  c.system_heap = false;
  c.cma_heap = false;
  c.cma_heap_legacy = false;
  c.restricted_dma_pool = false;
  c.numa = false;
  c.cma_size_mbytes = 0;
  bool dma_cma = false;
  bool has_cma = false;
  int line_no = 0;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view line = text.substr(pos, nl - pos);
    pos = nl + 1;
    ++line_no;
    if (line.empty() || line[0] == '#') continue;
    if (line.substr(0, 7) != "CONFIG_") continue;
    const size_t eq = line.find('=');
    if (eq == std::string_view::npos) {
      return makeError(EINVAL, "kernel config line " + std::to_string(line_no) + ": no '=' in '" +
                                   std::string(line) + "'");
    }
    const std::string_view key = line.substr(7, eq - 7);
    std::string_view val = line.substr(eq + 1);
    const bool yes = val == "y" || val == "m";
    const auto number = [&](uint64_t* out) -> bool {
      std::string_view v = val;
      if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
      uint64_t n = 0;
      auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
      if (ec != std::errc() || p != v.data() + v.size()) return false;
      *out = n;
      return true;
    };
    uint64_t n = 0;
    const auto need_number = [&](const char* what) -> Status {
      if (!number(&n)) {
        return makeError(EINVAL, "kernel config line " + std::to_string(line_no) + ": " + what +
                                     " is not a number: '" + std::string(val) + "'");
      }
      return {};
    };
    if (key == "ARM64_4K_PAGES" && yes) c.page_shift = 12;
    else if (key == "ARM64_16K_PAGES" && yes) c.page_shift = 14;
    else if (key == "ARM64_64K_PAGES" && yes) c.page_shift = 16;
    else if (key == "HUGETLB_PAGE") c.hugetlb = yes;
    else if (key == "CMA") has_cma = yes;
    else if (key == "DMA_CMA") dma_cma = yes;
    else if (key == "NUMA") c.numa = yes;
    else if (key == "DMABUF_HEAPS") c.dmabuf_heaps = yes;
    else if (key == "DMABUF_HEAPS_SYSTEM") c.system_heap = yes;
    else if (key == "DMABUF_HEAPS_CMA") c.cma_heap = yes;
    else if (key == "DMABUF_HEAPS_CMA_LEGACY") c.cma_heap_legacy = yes;
    else if (key == "DMA_RESTRICTED_POOL") c.restricted_dma_pool = yes;
    else if (key == "CMA_AREAS") {
      if (auto s = need_number("CMA_AREAS"); !s) return s.error();
      if (n == 0 || n > 4096) return makeError(EINVAL, "kernel config line " + std::to_string(line_no) + ": CMA_AREAS out of range");
      c.cma_areas = static_cast<unsigned>(n);
      c.cma_areas_set = true;
    } else if (key == "CMA_SIZE_MBYTES") {
      if (auto s = need_number("CMA_SIZE_MBYTES"); !s) return s.error();
      if (n > (uint64_t{1} << 40)) return makeError(EINVAL, "kernel config line " + std::to_string(line_no) + ": CMA_SIZE_MBYTES out of range");
      c.cma_size_mbytes = n;
    } else if (key == "CMA_ALIGNMENT") {
      if (auto s = need_number("CMA_ALIGNMENT"); !s) return s.error();
      if (n > 12) return makeError(EINVAL, "kernel config line " + std::to_string(line_no) + ": CMA_ALIGNMENT above 12");
      c.cma_alignment = static_cast<unsigned>(n);
    } else if (key == "PAGE_BLOCK_ORDER") {
      if (auto s = need_number("PAGE_BLOCK_ORDER"); !s) return s.error();
      if (n == 0 || n > 10) return makeError(EINVAL, "kernel config line " + std::to_string(line_no) + ": PAGE_BLOCK_ORDER out of range");
      c.page_block_order_cap = static_cast<unsigned>(n);
    }
  }
  c.cma = has_cma && dma_cma;
  return c;
}

}  // namespace dmaheap
