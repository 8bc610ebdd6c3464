// Bootloader fix-ups of /memory (docs/device-trees.md "Memory the bootloader fills in").
#include "devicetree/memory_fixup.h"

extern "C" {
#include <libfdt.h>
}

#include <algorithm>
#include <cstdio>

#include "base/size.h"

namespace dmaheap::dt {
namespace {

std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%llx", static_cast<unsigned long long>(v));
  return buf;
}

// The usual DRAM base by SoC: the first row whose prefix starts one of the root's compatible
// strings. Bases as the SoCs' own trees give them where they have a /memory node (counted over
// Debian's arm64 trees, docs/device-trees.md).
struct SocRow {
  const char* prefix;
  uint64_t base;
  const char* what;
};
constexpr SocRow kSocDram[] = {
    {"brcm,bcm27", 0x0, "Raspberry Pi"},
    {"brcm,bcm28", 0x0, "Raspberry Pi"},
    {"fsl,imx8m", 0x40000000, "NXP i.MX8M"},
    {"fsl,imx", 0x80000000, "NXP i.MX8Q/8ULP/9"},
    {"fsl,ls", 0x80000000, "NXP Layerscape"},
    {"rockchip,", 0x0, "Rockchip"},
    {"allwinner,", 0x40000000, "Allwinner"},
    {"amlogic,", 0x0, "Amlogic"},
    {"mediatek,", 0x40000000, "MediaTek"},
    {"qcom,ipq", 0x40000000, "Qualcomm IPQ"},
    {"qcom,", 0x80000000, "Qualcomm"},
    {"marvell,", 0x0, "Marvell"},
    {"amd,seattle", 0x8000000000, "AMD Seattle"},
    {"google,gs", 0x80000000, "Google Tensor"},
    {"nvidia,", 0x80000000, "NVIDIA Tegra"},
    {"ti,", 0x80000000, "TI K3"},
    {"xlnx,", 0x0, "Xilinx ZynqMP"},
};
constexpr uint64_t kGenericDramBase = 0x40000000;

bool isMemoryNode(const Fdt& fdt, int node) {
  if (fdt.stringProp(node, "device_type") == "memory") return true;
  const std::string n = fdt.name(node);
  return n == "memory" || n.rfind("memory@", 0) == 0;
}

uint32_t rootCells(const Fdt& fdt, const char* name) {
  const auto p = fdt.prop(fdt.root(), name);
  if (!p || p->size() < 4) return 1;  // the kernel's default for the root
  size_t pos = 0;
  return static_cast<uint32_t>(readCells(p->data, &pos, 1));
}

// The reg pairs of a memory node.
struct Pair {
  uint64_t base;
  uint64_t size;
};
std::vector<Pair> regPairs(const Fdt& fdt, int node, uint32_t ac, uint32_t sc) {
  std::vector<Pair> out;
  const auto reg = fdt.prop(node, "reg");
  if (!reg || ac + sc == 0) return out;
  const size_t one = (ac + sc) * 4;
  size_t pos = 0;
  while (reg->size() - pos >= one) {
    Pair p;
    p.base = readCells(reg->data, &pos, ac);
    p.size = readCells(reg->data, &pos, sc);
    out.push_back(p);
  }
  return out;
}

bool isPlaceholder(const std::vector<Pair>& pairs) {
  return std::all_of(pairs.begin(), pairs.end(), [](const Pair& p) { return p.size == 0; });
}

Status appendCells(std::vector<uint8_t>* out, uint64_t v, uint32_t cells, const char* what) {
  if (cells < 2 && (v >> 32) != 0) {
    return makeError(EINVAL, std::string("--memory: ") + what + " 0x" + hex(v) + " does not fit the root's " +
                                 std::to_string(cells) + "-cell " + (what[0] == 'b' ? "#address-cells" : "#size-cells"));
  }
  for (uint32_t i = cells; i-- > 0;) {
    const uint32_t c = i >= 2 ? 0 : static_cast<uint32_t>(v >> (32 * i));
    for (int b = 3; b >= 0; --b) out->push_back(static_cast<uint8_t>(c >> (8 * b)));
  }
  return {};
}

// One reg pair per bank; a bank larger than one #size-cells value holds is written as several
// adjacent pairs of at most 2 GiB, as firmware does (the Raspberry Pi's with one size cell).
Result<std::vector<uint8_t>> regValue(const std::vector<PhysRange>& banks, uint32_t ac, uint32_t sc) {
  std::vector<uint8_t> v;
  constexpr uint64_t kChunk = uint64_t{1} << 31;
  for (const auto& b : banks) {
    uint64_t base = b.base;
    uint64_t left = b.size;
    while (left > 0) {
      const uint64_t size = (sc < 2 && left > 0xffffffffull) ? kChunk : left;
      if (auto s = appendCells(&v, base, ac, "base"); !s) return s.error();
      if (auto s = appendCells(&v, size, sc, "size"); !s) return s.error();
      base += size;
      left -= size;
    }
  }
  return v;
}

// A writable copy of the blob with room for the new nodes.
class Editor {
 public:
  explicit Editor(const Fdt& fdt) : buf_(fdt.blob().size() + 4096) {
    ok_ = fdt_open_into(fdt.blob().data(), buf_.data(), static_cast<int>(buf_.size())) == 0;
  }
  bool ok() const { return ok_; }
  void* raw() { return buf_.data(); }
  Result<Fdt> finish() {
    if (!ok_) return makeError(EINVAL, "--memory: the device tree cannot be edited");
    fdt_pack(raw());
    buf_.resize(fdt_totalsize(raw()));
    return Fdt::fromBlob(buf_);
  }
  void fail() { ok_ = false; }

 private:
  std::vector<uint8_t> buf_;
  bool ok_;
};

}  // namespace

Result<std::vector<PhysRange>> parseMemoryBanks(std::string_view text) {
  std::vector<PhysRange> out;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t end = text.find(',', pos);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view bank = text.substr(pos, end - pos);
    const size_t colon = bank.find(':');
    const auto bad = [&](const std::string& why) {
      return makeError(EINVAL, "--memory: bank '" + std::string(bank) + "' " + why + " (give BASE:SIZE[,BASE:SIZE...], e.g. 0x40000000:2G)");
    };
    if (colon == std::string_view::npos) return bad("has no ':'");
    auto base = parseSize(bank.substr(0, colon));
    auto size = parseSize(bank.substr(colon + 1));
    if (!base || !size) return bad("is not BASE:SIZE");
    if (*size == 0) return bad("has size 0");
    if (*size - 1 > ~uint64_t{0} - *base) return bad("ends past the 64-bit address space");
    const PhysRange r{*base, *size};
    for (const auto& o : out)
      if (o.overlaps(r)) return bad("overlaps another bank");
    out.push_back(r);
    pos = end + 1;
  }
  return out;
}

Result<MemoryFixup> memoryFixupFromOptions(std::string_view memory, std::string_view memory_size) {
  MemoryFixup f;
  if (!memory.empty() && !memory_size.empty()) return makeError(EINVAL, "give --memory or --memory-size, not both");
  if (!memory.empty()) {
    auto banks = parseMemoryBanks(memory);
    if (!banks) return banks.error();
    f.banks = std::move(banks).value();
  }
  if (!memory_size.empty()) {
    auto size = parseSize(memory_size);
    if (!size || *size == 0) {
      return makeError(EINVAL, "--memory-size: '" + std::string(memory_size) + "' is not a size above 0 (e.g. 2G, 512M)");
    }
    f.fill_size = *size;
  }
  return f;
}

DramBase socDramBase(const Fdt& fdt) {
  const auto compat = fdt.stringList(fdt.root(), "compatible");
  for (const auto& row : kSocDram)
    for (const auto& c : compat)
      if (c.rfind(row.prefix, 0) == 0) return {row.base, std::string(row.what) + " (" + c + ")"};
  return {kGenericDramBase, "generic arm64, as QEMU virt (no SoC of the table in the root's compatible)"};
}

MemorySource treeMemorySource(const Fdt& fdt) {
  MemorySource src;
  for (int c : fdt.children(fdt.root()))
    if (isMemoryNode(fdt, c)) src.nodes.push_back(fdt.path(c));
  src.detail = "the tree's own memory node(s)";
  return src;
}

Result<FixedTree> applyMemoryFixup(const Fdt& fdt, const MemoryFixup& fixup) {
  if (!fixup.any()) return FixedTree{fdt, treeMemorySource(fdt)};
  MemorySource src;
  const uint32_t ac = rootCells(fdt, "#address-cells");
  const uint32_t sc = rootCells(fdt, "#size-cells");
  std::vector<int> mem;
  for (int c : fdt.children(fdt.root()))
    if (isMemoryNode(fdt, c)) mem.push_back(c);
  Editor ed(fdt);
  if (!ed.ok()) return makeError(EINVAL, "--memory: the device tree cannot be edited");

  std::vector<PhysRange> banks = fixup.banks;
  std::string keep_name;
  if (!fixup.banks.empty()) {
    src.from = "--memory";
    src.detail = "every memory node of the tree replaced by --memory, as a bootloader writes /memory";
  } else {
    src.from = "--memory-size";
    int placeholder = -1;
    bool complete = false;
    for (int n : mem) {
      if (!fdt.isAvailable(n)) continue;
      const auto pairs = regPairs(fdt, n, ac, sc);
      if (isPlaceholder(pairs)) {
        if (placeholder < 0) placeholder = n;
      } else {
        complete = true;
      }
    }
    if (complete && placeholder < 0) {
      src.from = "tree";
      for (int n : mem) src.nodes.push_back(fdt.path(n));
      src.detail = "--memory-size " + formatSize(fixup.fill_size) + " not used: the tree's memory node(s) give their sizes";
      return FixedTree{fdt, src};
    }
    uint64_t base = 0;
    if (placeholder >= 0 && !regPairs(fdt, placeholder, ac, sc).empty()) {
      base = regPairs(fdt, placeholder, ac, sc).front().base;
      src.detail = "--memory-size " + formatSize(fixup.fill_size) + " at 0x" + hex(base) + ", the base the tree's " +
                   fdt.path(placeholder) + " gives";
    } else {
      const DramBase soc = socDramBase(fdt);
      base = soc.base;
      src.detail = "--memory-size " + formatSize(fixup.fill_size) + " at 0x" + hex(base) + ", the usual DRAM base of " +
                   soc.why + "; the tree gives no base";
    }
    if (fixup.fill_size - 1 > ~uint64_t{0} - base) return makeError(EINVAL, "--memory-size: the RAM would end past the 64-bit address space");
    banks = {PhysRange{base, fixup.fill_size}};
    if (placeholder >= 0) keep_name = fdt.name(placeholder);
    // Only the filled placeholder is rewritten; the others keep their zero sizes (ignored).
    mem = placeholder >= 0 ? std::vector<int>{placeholder} : std::vector<int>{};
  }
  auto reg = regValue(banks, ac, sc);
  if (!reg) return reg.error();

  // Remove the nodes being replaced (by path: offsets move as nodes go).
  std::vector<std::string> paths;
  for (int n : mem) paths.push_back(fdt.path(n));
  for (const auto& p : paths) {
    const int off = fdt_path_offset(ed.raw(), p.c_str());
    if (off >= 0 && fdt_del_node(ed.raw(), off) != 0) ed.fail();
  }
  const std::string name = !keep_name.empty() ? keep_name : "memory@" + hex(banks.front().base);
  const int node = fdt_add_subnode(ed.raw(), 0, name.c_str());
  if (node < 0 || fdt_setprop_string(ed.raw(), node, "device_type", "memory") != 0 ||
      fdt_setprop(ed.raw(), node, "reg", reg->data(), static_cast<int>(reg->size())) != 0) {
    ed.fail();
  }
  auto out = ed.finish();
  if (!out) return out.error();
  src.nodes = {"/" + name};
  return FixedTree{std::move(out).value(), src};
}

}  // namespace dmaheap::dt
