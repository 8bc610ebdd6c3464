// dt-check: building a report and rendering it as text and JSON; running the whole check.
#include "dtcheck/report.h"
#include "base/json_text.h"

#include <cstdio>
#include <fstream>
#include <sstream>

#include "base/heap_descriptor.h"
#include "base/size.h"
#include "devicetree/loader.h"
#include "devicetree/plan.h"

namespace dmaheap::dtcheck {
namespace {

std::string span(uint64_t base, uint64_t size) {
  return formatAddr(base) + "-" + formatAddr(size == 0 ? base : base + size - 1);
}

std::string pad(std::string s, size_t width) {
  if (s.size() < width) s.append(width - s.size(), ' ');
  return s;
}

// Names of the heaps made from CMA area `index`.
std::vector<std::string> heapsOfArea(const Report& r, int index) {
  std::vector<std::string> out;
  for (const auto& h : r.heaps.heaps)
    if (h.cma_area == index) out.push_back(h.name);
  return out;
}

const char* archOriginName(ArchOrigin origin) {
  switch (origin) {
    case ArchOrigin::kOption: return "option";
    case ArchOrigin::kConfig: return "kernel-config";
    case ArchOrigin::kTree: return "tree";
    case ArchOrigin::kDefault: return "default";
  }
  return "default";
}

std::string describeKernel(const Kernel& k) {
  std::ostringstream s;
  s << "kernel " << k.version.str() << " (" << formatSize(k.pageSize()) << " pages, "
    << formatSize(k.pageblockBytes()) << " pageblocks, CMA alignment " << formatSize(k.cmaMinAlignmentBytes())
    << ", " << k.maxCmaAreas() << " CMA areas, CMA_SIZE_MBYTES=" << k.config.cma_size_mbytes;
  if (!k.config.cma) s << ", no CMA";
  if (!k.hasDmaBufHeaps()) s << ", no DMA-BUF heaps";
  s << ")";
  return s.str();
}

}  // namespace

Report makeReport(std::string source, std::string cmdline, dt::BoardPlan plan) {
  Report r;
  r.source = std::move(source);
  r.cmdline = std::move(cmdline);
  if (!plan.kernel_crashes) r.heaps = planHeaps(plan.kernel, plan.cma_areas);
  r.plan = std::move(plan);
  return r;
}

void addDevices(Report* report, const dt::Fdt& fdt) {
  report->devices = planDevices(fdt, report->plan, report->heaps);
  const auto& more = report->devices->diagnostics;
  report->plan.diagnostics.insert(report->plan.diagnostics.end(), more.begin(), more.end());
}

int exitStatus(const Report& report) { return report.plan.hasErrors() ? 1 : 0; }

std::string renderText(const Report& r) {
  const auto& p = r.plan;
  std::ostringstream o;
  o << "dt-check " << r.source << "\n" << describeKernel(p.kernel) << "\n";
  o << "architecture " << str(p.kernel.arch) << ": " << p.arch_reason << "\n";
  if (!p.cmdline.empty()) {
    o << "command line" << (r.cmdline.empty() ? " (from /chosen/bootargs)" : "") << ": " << p.cmdline << "\n";
  }

  o << "\nmemory:\n";
  if (p.memory.empty()) o << "  (none)\n";
  for (const auto& m : p.memory) o << "  " << span(m.base, m.size) << "  " << formatSize(m.size) << "\n";
  o << "  from " << p.memory_origin.from;
  for (size_t i = 0; i < p.memory_origin.nodes.size(); ++i) o << (i == 0 ? " " : ", ") << p.memory_origin.nodes[i];
  if (!p.memory_origin.detail.empty()) o << ": " << p.memory_origin.detail;
  o << "\n";

  o << "\nzones";
  if (p.dma_limit_from_tree) o << " (DMA limit from the tree's dma-ranges: lowest reach " << formatAddr(p.dt_dma_max_cpu) << ")";
  o << ":\n";
  if (p.zones.empty()) o << "  (none)\n";
  for (const auto& z : p.zones) o << "  " << pad(z.name, 8) << span(z.base, z.size) << "  " << formatSize(z.size) << "\n";

  o << "\nreserved regions:\n";
  if (p.regions.empty()) o << "  (none)\n";
  for (const auto& g : p.regions) {
    std::string props = g.compatible.empty() ? "(no compatible)" : g.compatible;
    if (g.dynamic) props += " dynamic";
    if (g.reusable) props += " reusable";
    if (g.no_map) props += " no-map";
    if (g.cma_default) props += " linux,cma-default";
    const bool placed = g.size != 0 || !g.dynamic;
    o << "  " << pad(g.path, 44) << " " << (placed ? span(g.base, g.size) : std::string("(not placed)")) << "  "
      << formatSize(g.size) << "\n      " << props << " -> " << dt::outcomeName(g.outcome);
    if (!g.handler.empty()) o << " (" << g.handler << ")";
    o << "\n";
  }

  o << "\nCMA areas:\n";
  if (p.cma_areas.empty()) o << "  (none)\n";
  for (size_t i = 0; i < p.cma_areas.size(); ++i) {
    const auto& a = p.cma_areas[i];
    o << "  " << pad(a.name, 28) << " " << span(a.base, a.size) << "  " << formatSize(a.size)
      << (a.is_default ? "  default" : "") << (a.activated ? "  activated" : "  NOT activated");
    const auto names = heapsOfArea(r, static_cast<int>(i));
    for (size_t k = 0; k < names.size(); ++k) o << (k == 0 ? "  heaps: " : ", ") << names[k];
    o << "\n";
  }

  o << "\nheaps (/dev/dma_heap):\n";
  if (p.kernel_crashes) {
    o << "  (none: the kernel panics during boot, before /dev/dma_heap exists)\n";
  } else if (r.heaps.heaps.empty()) {
    o << "  (none" << (p.kernel.hasDmaBufHeaps() ? ")" : ": this kernel has no DMA-BUF heaps)") << "\n";
  }
  for (const auto& h : r.heaps.heaps) {
    o << "  " << pad(h.name, 28) << " " << h.descriptor.kind;
    if (h.cma_area >= 0) o << " (area " << p.cma_areas[h.cma_area].name << ")";
    o << "\n";
  }

  if (r.devices) o << renderDevicesText(*r.devices, p);

  size_t errors = 0;
  size_t warnings = 0;
  size_t notes = 0;
  if (!p.diagnostics.empty()) o << "\ndiagnostics:\n";
  for (const auto& d : p.diagnostics) {
    (d.severity == dt::Severity::kError ? errors : d.severity == dt::Severity::kWarning ? warnings : notes)++;
    o << "\n" << d.node << ": " << dt::severityName(d.severity) << " [" << d.code << "]: " << d.message << "\n";
    if (!d.kernel_log.empty()) {
      o << "  kernel log:\n";
      for (const auto& l : d.kernel_log) o << "    " << l << "\n";
    }
    if (!d.fix.empty()) o << "  fix: " << d.fix << "\n";
  }
  o << "\n" << errors << (errors == 1 ? " error, " : " errors, ") << warnings
    << (warnings == 1 ? " warning, " : " warnings, ") << notes << (notes == 1 ? " note" : " notes");
  if (p.kernel_crashes) o << "; the kernel crashes at boot";
  o << "\n";
  return o.str();
}

nlohmann::json renderJson(const Report& r) {
  using nlohmann::json;
  const auto& p = r.plan;
  json j;
  j["file"] = r.source;
  j["kernel"] = p.kernel.version.str();
  // (additive) The architecture whose rules applied and why (docs/cli.md).
  j["arch"] = {{"name", str(p.kernel.arch)}, {"source", archOriginName(p.kernel.arch_origin)}, {"reason", p.arch_reason}};
  j["cmdline"] = p.cmdline;
  j["kernel_config"] = {{"page_size", p.kernel.pageSize()},
                        {"pageblock_size", p.kernel.pageblockBytes()},
                        {"cma_min_alignment", p.kernel.cmaMinAlignmentBytes()},
                        {"cma_areas", p.kernel.maxCmaAreas()},
                        {"cma_size_mbytes", p.kernel.config.cma_size_mbytes}};
  j["memory"] = json::array();
  for (const auto& m : p.memory) j["memory"].push_back({{"base", m.base}, {"size", m.size}});
  j["memory_origin"] = {{"from", p.memory_origin.from}, {"nodes", p.memory_origin.nodes}, {"detail", p.memory_origin.detail}};
  j["zones"] = json::array();
  for (const auto& z : p.zones) j["zones"].push_back({{"name", z.name}, {"base", z.base}, {"size", z.size}});
  j["dma_limit"] = {{"from_tree", p.dma_limit_from_tree},
                    {"max_cpu_address", p.dma_limit_from_tree ? json(p.dt_dma_max_cpu) : json(nullptr)},
                    {"zone_dma_end", p.dma_limit}};
  j["reserved"] = json::array();
  for (const auto& g : p.regions) {
    j["reserved"].push_back({{"name", g.name},
                             {"path", g.path},
                             {"base", g.base},
                             {"size", g.size},
                             {"no_map", g.no_map},
                             {"reusable", g.reusable},
                             {"compatible", g.compatible},
                             {"outcome", dt::outcomeName(g.outcome)},
                             {"dynamic", g.dynamic},
                             {"cma_default", g.cma_default},
                             {"handler", g.handler}});
  }
  j["reserved_ranges"] = json::array();
  for (const auto& m : p.reserved) j["reserved_ranges"].push_back({{"base", m.base}, {"size", m.size}});
  j["cma_areas"] = json::array();
  for (const auto& a : p.cma_areas) {
    j["cma_areas"].push_back({{"name", a.name},
                              {"base", a.base},
                              {"size", a.size},
                              {"default", a.is_default},
                              {"activated", a.activated},
                              {"from_dt", a.from_dt},
                              {"path", a.path}});
  }
  j["heaps"] = json::array();
  for (const auto& h : r.heaps.heaps) {
    json e = {{"name", h.name}};
    addDescriptorJson(e, h.descriptor);
    e["area"] = h.cma_area >= 0 ? json(p.cma_areas[h.cma_area].name) : json(nullptr);
    j["heaps"].push_back(std::move(e));
  }
  j["diagnostics"] = json::array();
  for (const auto& d : p.diagnostics) {
    j["diagnostics"].push_back({{"severity", dt::severityName(d.severity)},
                                {"code", d.code},
                                {"node", d.node},
                                {"message", d.message},
                                {"kernel_log", d.kernel_log},
                                {"fix", d.fix}});
  }
  if (r.devices) {
    j["devices"] = renderDevicesJson(*r.devices, p);
    j["pipelines"] = renderPipelinesJson(*r.devices);
  }
  j["kernel_crashes"] = p.kernel_crashes;
  j["kernel_log"] = p.kernel_log;
  j["exit_status"] = exitStatus(r);
  return j;
}

int run(const Options& options, std::string* out, std::string* err) {
  Kernel kernel;
  if (options.kernel_version) {
    auto v = KernelVersion::parse(*options.kernel_version);
    if (!v) {
      *err += "dmaheap dt-check: " + v.error().message() + "\n";
      return 2;
    }
    kernel.version = *v;
  }
  if (options.kernel_config) {
    auto c = KernelConfig::fromFile(*options.kernel_config);
    if (!c) {
      *err += "dmaheap dt-check: " + c.error().message() + "\n";
      return 2;
    }
    kernel.config = *c;
  }
  if (options.arch) {
    auto a = parseArch(*options.arch);
    if (!a) {
      *err += "dmaheap dt-check: " + a.error().message() + "\n";
      return 2;
    }
    kernel.arch = *a;
    kernel.arch_origin = ArchOrigin::kOption;
  }
  auto fixup = dt::memoryFixupFromOptions(options.memory, options.memory_size);
  if (!fixup) {
    *err += "dmaheap dt-check: " + fixup.error().message() + "\n";
    return 2;
  }
  auto plan = dt::planFromFile(options.path, kernel, options.cmdline, fixup.value());
  if (!plan) {
    *err += "dmaheap dt-check: " + plan.error().message() + "\n";
    return 2;
  }
  Report report = makeReport(options.path, options.cmdline, std::move(plan).value());
  if (options.devices) {
    // The tree again, for its device nodes (the plan keeps only what the boot replay needs).
    auto fdt = dt::loadDeviceTree(options.path);
    if (!fdt) {
      *err += "dmaheap dt-check: " + fdt.error().message() + "\n";
      return 2;
    }
    addDevices(&report, *fdt);
  }
  if (options.json) *out += jsonText(renderJson(report)) + "\n";
  else *out += renderText(report);
  if (options.svg_path) {
    std::ofstream f(*options.svg_path, std::ios::binary | std::ios::trunc);
    f << renderSvg(report);
    f.close();
    if (!f) {
      *err += "dmaheap dt-check: cannot write '" + *options.svg_path + "'\n";
      return 2;
    }
  }
  return exitStatus(report);
}

}  // namespace dmaheap::dtcheck
