// dt-check SVG: one bar per RAM range (plus one for anything outside RAM), drawn to scale, with
// reserved memory, no-map carve-outs, DMA pools and CMA areas coloured and labelled below the bar,
// and the page allocator's zones marked on it.
#include <algorithm>
#include <sstream>

#include "base/size.h"
#include "dtcheck/report.h"

namespace dmaheap::dtcheck {
namespace {

constexpr int kWidth = 1100;
constexpr int kBarX = 40;
constexpr int kBarW = 1000;
constexpr int kBarH = 34;
constexpr int kLabelH = 19;

std::string esc(const std::string& s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '&': o += "&amp;"; break;
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '"': o += "&quot;"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) o += '?';
        else o += c;
    }
  }
  return o;
}

struct Item {
  uint64_t base = 0;
  uint64_t size = 0;
  std::string colour;
  std::string label;
};

struct Bank {
  uint64_t base = 0;
  uint64_t size = 0;
  std::string title;
  bool outside = false;
  std::vector<Item> items;
  std::vector<PhysRange> grey;  // reserved ranges without a label
};

const char* kCmaColour = "#2e9d3a";
const char* kCmaDeadColour = "#d32f2f";
const char* kNomapColour = "#5d4037";
const char* kPoolColour = "#1e6fd9";
const char* kReservedColour = "#9e9e9e";
const char* kFailedColour = "#f0a030";

}  // namespace

std::string renderSvg(const Report& r) {
  const auto& p = r.plan;
  std::vector<Item> items;
  for (size_t i = 0; i < p.cma_areas.size(); ++i) {
    const auto& a = p.cma_areas[i];
    std::string heaps;
    for (const auto& h : r.heaps.heaps)
      if (h.cma_area == static_cast<int>(i)) heaps += (heaps.empty() ? "" : ", ") + h.name;
    std::string label = "CMA " + a.name + (a.is_default ? " (default)" : "") + "  " + formatSize(a.size) + " at " +
                        formatAddr(a.base) + "  heaps: " + (heaps.empty() ? "none" : "/dev/dma_heap/" + heaps);
    if (!a.activated) label += "  NOT ACTIVATED" + std::string(p.kernel_crashes ? " (kernel crash)" : "");
    items.push_back({a.base, a.size, a.activated ? kCmaColour : kCmaDeadColour, label});
  }
  for (const auto& g : p.regions) {
    if (g.handler == "cma" || g.size == 0) continue;
    if (g.outcome == dt::RegionOutcome::kSkipped || g.outcome == dt::RegionOutcome::kNotReserved) continue;
    std::string colour = kReservedColour;
    std::string what = "reserved";
    if (g.outcome == dt::RegionOutcome::kFailed) {
      colour = kFailedColour;
      what = "returned to the kernel (handler failed)";
    } else if (g.handler == "dma-coherent") {
      colour = kPoolColour;
      what = "coherent DMA pool";
    } else if (g.handler == "restricted-dma") {
      colour = kPoolColour;
      what = "restricted DMA pool";
    } else if (g.no_map) {
      colour = kNomapColour;
      what = "no-map carve-out";
    }
    items.push_back({g.base, g.size, colour, g.name + "  " + formatSize(g.size) + " at " + formatAddr(g.base) + "  " + what});
  }

  std::vector<Bank> banks;
  for (const auto& m : p.memory) {
    banks.push_back({m.base, m.size, "RAM " + formatAddr(m.base) + " - " + formatAddr(m.end() - 1) + "  (" +
                                         formatSize(m.size) + ")", false, {}, {}});
  }
  Bank outside{0, 0, "outside every /memory range", true, {}, {}};
  for (auto& it : items) {
    bool placed = false;
    for (auto& b : banks) {
      if (it.base >= b.base && it.base + it.size <= b.base + b.size) {
        b.items.push_back(it);
        placed = true;
        break;
      }
    }
    if (!placed) outside.items.push_back(it);
  }
  for (auto& b : banks) {
    for (const auto& g : p.reserved) {
      const uint64_t lo = std::max(g.base, b.base);
      const uint64_t hi = std::min(g.end(), b.base + b.size);
      if (lo < hi) b.grey.push_back({lo, hi - lo});
    }
  }
  if (!outside.items.empty()) {
    uint64_t lo = ~uint64_t{0};
    uint64_t hi = 0;
    for (const auto& it : outside.items) {
      lo = std::min(lo, it.base);
      hi = std::max(hi, it.base + it.size);
    }
    outside.base = lo;
    outside.size = hi > lo ? hi - lo : 1;
    outside.title = "outside every /memory range: " + formatAddr(lo) + " - " + formatAddr(hi - 1);
    banks.push_back(outside);
  }

  int height = 110;
  for (const auto& b : banks) height += 50 + kBarH + 10 + kLabelH * static_cast<int>(b.items.size() + 1);
  if (banks.empty()) height += 40;

  std::ostringstream s;
  s << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << kWidth << "\" height=\"" << height
    << "\" font-family=\"DejaVu Sans, Arial, sans-serif\" font-size=\"12\">\n";
  s << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  s << "<text x=\"" << kBarX << "\" y=\"26\" font-size=\"17\" font-weight=\"bold\">" << esc(r.source)
    << " - physical memory on kernel " << esc(p.kernel.version.str())
    << (p.cmdline.find("cma=") == std::string::npos ? "" : " (" + esc(p.cmdline) + ")") << "</text>\n";
  // Legend.
  const std::pair<const char*, const char*> legend[] = {{"#e8f0e8", "RAM"},          {kReservedColour, "reserved"},
                                                        {kNomapColour, "no-map"},     {kPoolColour, "DMA pool"},
                                                        {kCmaColour, "CMA area"},     {kCmaDeadColour, "CMA, not activated"},
                                                        {kFailedColour, "handler failed"}};
  int lx = kBarX;
  for (const auto& [colour, name] : legend) {
    s << "<rect x=\"" << lx << "\" y=\"40\" width=\"14\" height=\"14\" fill=\"" << colour
      << "\" stroke=\"#555\" stroke-width=\"0.5\"/><text x=\"" << lx + 19 << "\" y=\"52\">" << name << "</text>\n";
    lx += 30 + static_cast<int>(std::string(name).size()) * 7;
  }
  if (p.kernel_crashes) {
    s << "<text x=\"" << kBarX << "\" y=\"76\" fill=\"" << kCmaDeadColour
      << "\" font-weight=\"bold\">The kernel crashes at boot (CMA area outside RAM): no /dev/dma_heap at all.</text>\n";
  }
  int y = 100;
  if (banks.empty()) s << "<text x=\"" << kBarX << "\" y=\"" << y + 20 << "\">No RAM in this tree.</text>\n";
  for (const auto& b : banks) {
    s << "<text x=\"" << kBarX << "\" y=\"" << y + 14 << "\" font-weight=\"bold\">" << esc(b.title) << "</text>\n";
    const int bar_y = y + 24;
    // Clamped to the bank: items may start below it or end past it (found by the fuzzer: an
    // address far outside made the float-to-int conversion overflow).
    const auto xOf = [&](uint64_t addr) {
      if (b.size == 0 || addr <= b.base) return kBarX;
      const long double f = std::min<long double>(1.0L, static_cast<long double>(addr - b.base) /
                                                            static_cast<long double>(b.size));
      return kBarX + static_cast<int>(f * kBarW);
    };
    s << "<rect x=\"" << kBarX << "\" y=\"" << bar_y << "\" width=\"" << kBarW << "\" height=\"" << kBarH
      << "\" fill=\"" << (b.outside ? "#fff0f0" : "#e8f0e8") << "\" stroke=\"#333\"/>\n";
    for (const auto& g : b.grey) {
      const int x0 = xOf(g.base);
      const int w = std::max(2, xOf(g.end()) - x0);
      s << "<rect x=\"" << x0 << "\" y=\"" << bar_y << "\" width=\"" << w << "\" height=\"" << kBarH << "\" fill=\""
        << kReservedColour << "\"/>\n";
    }
    // The zones (docs/kernel-behaviour.md §6.10): a dashed line at each boundary inside the bank and
    // the zone's name along the bar's bottom edge.
    for (const auto& z : p.zones) {
      const uint64_t lo = std::max(z.base, b.base);
      const uint64_t hi = std::min(z.base + z.size, b.base + b.size);
      if (b.outside || lo >= hi) continue;
      const int x0 = xOf(lo);
      if (lo > b.base) {
        s << "<line x1=\"" << x0 << "\" y1=\"" << bar_y - 6 << "\" x2=\"" << x0 << "\" y2=\"" << bar_y + kBarH + 4
          << "\" stroke=\"#6a1b9a\" stroke-width=\"1.5\" stroke-dasharray=\"4,3\"/>\n";
      }
      s << "<text x=\"" << x0 + 3 << "\" y=\"" << bar_y + kBarH - 3 << "\" font-size=\"10\" fill=\"#6a1b9a\"><title>ZONE_"
        << esc(z.name) << " " << formatAddr(z.base) << " - " << formatAddr(z.base + z.size - 1) << "</title>ZONE_"
        << esc(z.name) << "</text>\n";
    }
    int label_y = bar_y + kBarH + 20;
    std::ostringstream labels;
    for (const auto& it : b.items) {
      const int x0 = xOf(std::max(it.base, b.base));
      const int w = std::max(3, xOf(std::min(it.base + it.size, b.base + b.size)) - x0);
      s << "<rect x=\"" << x0 << "\" y=\"" << bar_y + 3 << "\" width=\"" << w << "\" height=\"" << kBarH - 6
        << "\" fill=\"" << it.colour << "\" stroke=\"#222\" stroke-width=\"0.5\"><title>" << esc(it.label)
        << "</title></rect>\n";
      const int cx = x0 + w / 2;
      // The leader runs above the label row, never through a label's text.
      s << "<polyline points=\"" << cx << "," << bar_y + kBarH << " " << cx << "," << label_y - 14 << " " << kBarX + 5
        << "," << label_y - 14 << " " << kBarX + 5 << "," << label_y - 10 << "\" fill=\"none\" stroke=\"" << it.colour
        << "\" stroke-width=\"0.8\"/>\n";
      // Labels go on top of every leader, with a white halo, so no line crosses their text.
      labels << "<rect x=\"" << kBarX << "\" y=\"" << label_y - 10 << "\" width=\"10\" height=\"10\" fill=\""
             << it.colour << "\"/><text x=\"" << kBarX + 16 << "\" y=\"" << label_y
             << "\" stroke=\"white\" stroke-width=\"4\" paint-order=\"stroke\">" << esc(it.label) << "</text>\n";
      label_y += kLabelH;
    }
    s << labels.str();
    y = label_y + 20;
  }
  s << "</svg>\n";
  return s.str();
}

}  // namespace dmaheap::dtcheck
