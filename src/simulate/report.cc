// Text, JSON and SVG renderings of a SimResult.
#include "simulate/report.h"
#include "base/json_text.h"

#include <algorithm>
#include <cstdio>
#include <sstream>

#include <nlohmann/json.hpp>

#include "base/errno_name.h"
#include "base/size.h"

namespace dmaheap::sim {
namespace {

std::string mib(uint64_t pages, uint64_t page_size) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(pages * page_size) / (1024.0 * 1024.0));
  return buf;
}

nlohmann::json areaJson(const AreaState& a, uint64_t page) {
  return {{"free", a.free_pages * page},
          {"largest_free_run", a.largest_free_run * page},
          {"free_pageblocks", a.free_pageblocks},
          {"borrowed", a.borrowed_pages * page},
          {"pinned", a.pinned_pages * page}};
}

std::string stepLength(uint64_t step_ns) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.3g ms", static_cast<double>(step_ns) / 1e6);
  return buf;
}

// The trace kind's part of the text report: what was replayed, per-heap peaks, failures.
void traceText(std::ostringstream& o, const SimResult& r) {
  o << "\ntrace " << r.trace_path << ": " << r.trace_buffers << " buffers, " << formatSize(r.trace_bytes)
    << " allocated; one step is " << stepLength(r.trace_step_ns) << " of trace time";
  if (r.trace_failed_when_recorded) {
    o << "; " << r.trace_failed_when_recorded << " allocations that failed when recorded are not replayed";
  }
  o << "\n";
  o << "trace heap           replayed on          buffers        bytes    peak use  peak buffers  failures\n";
  for (const HeapPeak& h : r.heap_peaks) {
    char line[320];
    std::snprintf(line, sizeof line, "%-20s %-20s %7llu %12s %11s %13llu %9llu\n", h.trace_heap.c_str(), h.heap.c_str(),
                  static_cast<unsigned long long>(h.buffers), formatSize(h.bytes).c_str(), formatSize(h.peak_bytes).c_str(),
                  static_cast<unsigned long long>(h.peak_buffers), static_cast<unsigned long long>(h.failures));
    o << line;
  }
  constexpr size_t kShown = 20;
  for (size_t i = 0; i < r.trace_failures.size() && i < kShown; ++i) {
    const TraceFailure& f = r.trace_failures[i];
    o << "failed: step " << f.step << ", trace line " << f.line << " (buffer " << f.buffer << "): heap '" << f.heap
      << "', " << formatSize(f.size) << ": " << errnoName(f.error) << "\n";
    if (!f.kernel_log.empty()) o << "  kernel log: " << f.kernel_log << "\n";
  }
  if (r.trace_failures.size() > kShown) o << "(" << r.failures - kShown << " more failures)\n";
}

}  // namespace

std::string reportText(const SimResult& r, uint64_t page) {
  std::ostringstream o;
  o << "workload: " << (r.workload.empty() ? "(unnamed)" : r.workload) << ", placement " << r.placement << "\n\n";
  o << "stream               heap                   tries     ok   fail  pages migrated (max)  busy\n";
  for (const auto& s : r.streams) {
    char line[256];
    std::snprintf(line, sizeof line, "%-20s %-20s %7llu %6llu %6llu %14llu (%llu) %6llu\n", s.name.c_str(), s.heap.c_str(),
                  static_cast<unsigned long long>(s.attempts), static_cast<unsigned long long>(s.successes),
                  static_cast<unsigned long long>(s.failures), static_cast<unsigned long long>(s.pages_migrated),
                  static_cast<unsigned long long>(s.max_pages_migrated), static_cast<unsigned long long>(s.busy_candidates));
    o << line;
  }
  if (r.traced) traceText(o, r);
  o << "\ntotal failures: " << r.failures << ", pages migrated: " << r.pages_migrated << "\n";
  if (!r.samples.empty()) {
    const Sample& last = r.samples.back();
    for (size_t a = 0; a < last.areas.size(); ++a) {
      uint64_t min_run = ~uint64_t{0};
      for (const auto& s : r.samples) min_run = std::min(min_run, s.areas[a].largest_free_run);
      const AreaState& st = last.areas[a];
      o << "CMA area " << r.area_names[a] << " (" << mib(r.area_pages[a], page) << "): at the end "
        << mib(st.free_pages, page) << " free, largest free run " << mib(st.largest_free_run, page) << " (smallest seen "
        << mib(min_run, page) << "), " << st.free_pageblocks << " free pageblocks, " << mib(st.borrowed_pages, page)
        << " borrowed by movable pages, " << st.pinned_pages << " pinned\n";
    }
  }
  const FirstFailure& f = r.first_failure;
  if (f.happened) {
    o << "\nfirst failure at step " << f.step << ": stream '" << f.stream << "' asked heap '" << f.heap << "' for "
      << formatSize(f.size) << ": " << errnoName(f.error) << " (" << f.message << ")\n";
    if (f.area >= 0) {
      o << "  area " << r.area_names[static_cast<size_t>(f.area)] << " then: " << mib(f.state.free_pages, page)
        << " free, largest free run " << mib(f.state.largest_free_run, page) << ", " << f.state.borrowed_pages
        << " borrowed pages of which " << f.state.pinned_pages << " pinned, " << f.live_buffers << " buffers live\n";
    }
  } else {
    o << "\nno allocation failed\n";
  }
  return o.str();
}

std::string reportJson(const SimResult& r, uint64_t page) {
  nlohmann::json j;
  j["workload"] = r.workload;
  j["placement"] = r.placement;
  j["failures"] = r.failures;
  j["pages_migrated"] = r.pages_migrated;
  j["areas"] = nlohmann::json::array();
  for (size_t a = 0; a < r.area_names.size(); ++a) j["areas"].push_back({{"name", r.area_names[a]}, {"size", r.area_pages[a] * page}});
  j["streams"] = nlohmann::json::array();
  for (const auto& s : r.streams) {
    j["streams"].push_back({{"name", s.name},
                            {"heap", s.heap},
                            {"attempts", s.attempts},
                            {"successes", s.successes},
                            {"failures", s.failures},
                            {"pages_migrated", s.pages_migrated},
                            {"max_pages_migrated", s.max_pages_migrated},
                            {"busy_candidates", s.busy_candidates}});
  }
  j["samples"] = nlohmann::json::array();
  for (const auto& s : r.samples) {
    nlohmann::json areas = nlohmann::json::array();
    for (const auto& a : s.areas) areas.push_back(areaJson(a, page));
    j["samples"].push_back({{"step", s.step}, {"movable", s.movable_pages * page}, {"failures", s.failures}, {"areas", areas}});
  }
  if (r.traced) {
    nlohmann::json heaps = nlohmann::json::array();
    for (const HeapPeak& h : r.heap_peaks) {
      heaps.push_back({{"trace_heap", h.trace_heap}, {"heap", h.heap}, {"buffers", h.buffers}, {"bytes", h.bytes},
                       {"peak_bytes", h.peak_bytes}, {"peak_buffers", h.peak_buffers}, {"failures", h.failures}});
    }
    nlohmann::json failed = nlohmann::json::array();
    for (const TraceFailure& f : r.trace_failures) {
      failed.push_back({{"step", f.step}, {"line", f.line}, {"buffer", f.buffer}, {"heap", f.heap}, {"size", f.size},
                        {"errno", errnoName(f.error)}, {"kernel_log", f.kernel_log}});
    }
    j["trace"] = {{"path", r.trace_path},       {"step_ns", r.trace_step_ns},
                  {"buffers", r.trace_buffers}, {"bytes", r.trace_bytes},
                  {"failed_when_recorded", r.trace_failed_when_recorded},
                  {"heaps", heaps},             {"failures", failed}};
  }
  const FirstFailure& f = r.first_failure;
  if (f.happened) {
    j["first_failure"] = {{"step", f.step},     {"stream", f.stream},         {"heap", f.heap},
                          {"size", f.size},     {"errno", errnoName(f.error)}, {"message", f.message},
                          {"live_buffers", f.live_buffers}};
    if (f.area >= 0) j["first_failure"]["area"] = areaJson(f.state, page);
  } else {
    j["first_failure"] = nullptr;
  }
  return jsonText(j) + "\n";
}

std::string reportSvg(const SimResult& r, uint64_t page) {
  const int width = 900, panel_h = 220, top = 64, left = 70, right = 20;
  const size_t panels = std::max<size_t>(1, r.area_names.size());
  const int height = top + static_cast<int>(panels) * (panel_h + 50) + 30;
  std::ostringstream o;
  o << "<svg xmlns='http://www.w3.org/2000/svg' width='" << width << "' height='" << height
    << "' font-family='sans-serif' font-size='12'>\n<rect width='100%' height='100%' fill='white'/>\n";
  std::string title = r.workload.empty() ? "workload" : r.workload;
  if (title.size() > 70) title = title.substr(0, 67) + "...";
  o << "<text x='" << left << "' y='22' font-size='15' font-weight='bold'>dmaheap simulate: " << title
    << "</text>\n<text x='" << left << "' y='40'>placement " << r.placement << ", " << r.failures
    << " failed allocations, " << r.pages_migrated << " pages migrated</text>\n";
  const uint64_t last_step = r.samples.empty() ? 1 : std::max<uint64_t>(1, r.samples.back().step);
  const int plot_w = width - left - right;
  struct Series {
    const char* label;
    const char* color;
    uint64_t (*get)(const AreaState&);
  };
  const Series series[] = {
      {"largest free run", "#1f77b4", [](const AreaState& a) { return a.largest_free_run; }},
      {"free (no buffer)", "#2ca02c", [](const AreaState& a) { return a.free_pages; }},
      {"borrowed by movable", "#ff7f0e", [](const AreaState& a) { return a.borrowed_pages; }},
      {"pinned x100", "#d62728", [](const AreaState& a) { return a.pinned_pages * 100; }},
  };
  for (size_t a = 0; a < r.area_names.size(); ++a) {
    const int y0 = top + static_cast<int>(a) * (panel_h + 50) + 20;
    const uint64_t max_pages = std::max<uint64_t>(1, r.area_pages[a]);
    o << "<text x='" << left << "' y='" << y0 - 6 << "' font-weight='bold'>CMA area " << r.area_names[a] << " ("
      << mib(r.area_pages[a], page) << ")</text>\n";
    o << "<rect x='" << left << "' y='" << y0 << "' width='" << plot_w << "' height='" << panel_h
      << "' fill='none' stroke='#888'/>\n";
    for (int g = 0; g <= 4; ++g) {
      const int gy = y0 + panel_h - g * panel_h / 4;
      o << "<text x='" << left - 6 << "' y='" << gy + 4 << "' text-anchor='end'>" << mib(max_pages * static_cast<uint64_t>(g) / 4, page)
        << "</text><line x1='" << left << "' x2='" << left + plot_w << "' y1='" << gy << "' y2='" << gy
        << "' stroke='#eee'/>\n";
    }
    for (const Series& s : series) {
      o << "<polyline fill='none' stroke='" << s.color << "' stroke-width='1.5' points='";
      for (const auto& smp : r.samples) {
        const double x = left + static_cast<double>(smp.step) / static_cast<double>(last_step) * plot_w;
        const double v = std::min(1.0, static_cast<double>(s.get(smp.areas[a])) / static_cast<double>(max_pages));
        o << x << ',' << (y0 + panel_h - v * panel_h) << ' ';
      }
      o << "'/>\n";
    }
    // Failures as red ticks on the time axis.
    uint64_t prev = 0;
    for (const auto& smp : r.samples) {
      if (smp.failures > prev) {
        const double x = left + static_cast<double>(smp.step) / static_cast<double>(last_step) * plot_w;
        o << "<line x1='" << x << "' x2='" << x << "' y1='" << y0 + panel_h << "' y2='" << y0 + panel_h + 8
          << "' stroke='#d62728' stroke-width='2'/>\n";
      }
      prev = smp.failures;
    }
    int lx = left;
    for (const Series& s : series) {
      o << "<rect x='" << lx << "' y='" << y0 + panel_h + 16 << "' width='12' height='4' fill='" << s.color << "'/><text x='"
        << lx + 16 << "' y='" << y0 + panel_h + 22 << "'>" << s.label << "</text>\n";
      lx += 170;
    }
    o << "<text x='" << left + plot_w << "' y='" << y0 + panel_h + 22 << "' text-anchor='end'>step " << last_step
      << " | red ticks: failures</text>\n";
  }
  o << "</svg>\n";
  return o.str();
}

}  // namespace dmaheap::sim
