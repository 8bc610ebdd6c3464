// The diagnostics catalogue: its templates, its agreement with docs/diagnostics.md and the stable
// codes of the command-line contract, that nothing else in src/ makes a Diagnostic, and that every
// diagnostic the rules emit over the dt-cases corpus is a catalogue row, fully filled in.
#include "devicetree/diagnostics_catalogue.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "devicetree/plan.h"

namespace dmaheap::dt {
namespace {

namespace fs = std::filesystem;
const fs::path kRoot = fs::path(DMAHEAP_SOURCE_DIR);

std::string readAll(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// ---- templates ---------------------------------------------------------------------------------

TEST(FillTemplate, SubstitutesAndKeepsPlainBraces) {
  EXPECT_EQ(fillTemplate("reg is {len} bytes, not {tlen}", {{"len", "12"}, {"tlen", "16"}}),
            "reg is 12 bytes, not 16");
  EXPECT_EQ(fillTemplate("memory@0 { device_type = \"memory\"; };", {}), "memory@0 { device_type = \"memory\"; };");
  EXPECT_EQ(fillTemplate("{n} and {n}", {{"n", "x"}}), "x and x");
}

TEST(FillTemplate, ConditionalSectionsNest) {
  const char* t = "block{?align: aligned to {align}}{?r: inside}{!r: in RAM}.";
  EXPECT_EQ(fillTemplate(t, {{"align", "4 MiB"}, {"r", "1"}}), "block aligned to 4 MiB inside.");
  EXPECT_EQ(fillTemplate(t, {{"align", ""}, {"r", ""}}), "block in RAM.");
  EXPECT_EQ(fillTemplate(t, {}), "block in RAM.");
}

TEST(FillTemplate, MissingArgumentShows) { EXPECT_EQ(fillTemplate("size {size}", {}), "size {size?}"); }

// ---- the catalogue against docs/diagnostics.md and DESIGN's stable codes ---------------------

struct DocEntry {
  std::set<std::string> severities;
  bool note_without_memory = false;
  bool has_meaning = false, has_fix = false, has_example = false;
};

std::map<std::string, DocEntry> parseDocs() {
  std::map<std::string, DocEntry> out;
  std::istringstream in(readAll(kRoot / "docs/diagnostics.md"));
  static const std::regex heading("^## `([a-z0-9-]+)`\\s*$");
  std::string line;
  DocEntry* cur = nullptr;
  while (std::getline(in, line)) {
    std::smatch m;
    if (std::regex_match(line, m, heading)) {
      cur = &out[m[1]];
      continue;
    }
    if (!cur) continue;
    if (line.rfind("- severity: ", 0) == 0) {
      std::string v = line.substr(12);
      const size_t semi = v.find(';');
      if (semi != std::string::npos) {
        cur->note_without_memory = v.substr(semi) == "; note when the tree has no /memory";
        v = v.substr(0, semi);
      }
      std::stringstream ss(v);
      std::string sev;
      while (std::getline(ss, sev, ',')) {
        while (!sev.empty() && sev.front() == ' ') sev.erase(0, 1);
        cur->severities.insert(sev);
      }
    }
    if (line.rfind("- meaning: ", 0) == 0) cur->has_meaning = true;
    if (line.rfind("- fix: ", 0) == 0) cur->has_fix = true;
    if (line.rfind("- example: ", 0) == 0) cur->has_example = true;
  }
  return out;
}

std::map<std::string, DocEntry> fromCatalogue() {
  std::map<std::string, DocEntry> out;
  for (const CatalogueEntry& e : diagnosticsCatalogue()) {
    DocEntry& d = out[e.code];
    d.severities.insert(severityName(e.severity));
    d.note_without_memory = d.note_without_memory || e.note_without_memory;
  }
  return out;
}

TEST(DiagnosticsCatalogue, RowsAreInEventOrderAndComplete) {
  const auto rows = diagnosticsCatalogue();
  ASSERT_EQ(rows.size(), static_cast<size_t>(DiagEvent::kCount));
  for (size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(static_cast<size_t>(rows[i].event), i);
    EXPECT_EQ(&catalogueEntry(rows[i].event), &rows[i]);
    EXPECT_TRUE(std::regex_match(std::string(rows[i].code), std::regex("[a-z0-9]+(-[a-z0-9]+)+"))) << rows[i].code;
    EXPECT_GT(std::string(rows[i].message).size(), 20u) << rows[i].code;
    EXPECT_GT(std::string(rows[i].fix).size(), 10u) << rows[i].code;
  }
}

TEST(DiagnosticsCatalogue, DocsListEveryCodeWithItsSeverities) {
  const auto docs = parseDocs();
  const auto cat = fromCatalogue();
  for (const auto& [code, c] : cat) {
    auto it = docs.find(code);
    ASSERT_NE(it, docs.end()) << "docs/diagnostics.md has no entry for " << code;
    EXPECT_EQ(it->second.severities, c.severities) << code;
    EXPECT_EQ(it->second.note_without_memory, c.note_without_memory) << code;
    EXPECT_TRUE(it->second.has_meaning && it->second.has_fix && it->second.has_example) << code;
  }
  for (const auto& [code, d] : docs) EXPECT_TRUE(cat.count(code)) << "docs/diagnostics.md lists " << code << ", the catalogue does not";
}

TEST(DiagnosticsCatalogue, HoldsTheStableCodesOfTheCommandLineContract) {
  const std::set<std::string> codes = [] {
    std::set<std::string> s;
    for (const auto& e : diagnosticsCatalogue()) s.insert(e.code);
    return s;
  }();
  for (const char* stable :
       {"reserved-bad-container", "reserved-bad-reg", "reserved-bad-size", "reserved-bad-alignment",
        "reserved-bad-alloc-ranges", "reserved-alloc-failed", "reserved-overlap", "reserved-too-many",
        "reserved-no-handler", "cma-not-reusable", "cma-no-map", "cma-misaligned", "cma-too-many-areas",
        "cma-outside-memory", "cma-crosses-zones", "cma-default-overridden", "cma-default-duplicate",
        "dma-pool-needs-no-map", "heap-name-changed"})
    EXPECT_TRUE(codes.count(stable)) << stable;
}

// Only the diagnostics pass builds a Diagnostic: the rules record events.
TEST(DiagnosticsCatalogue, NothingElseInSrcMakesADiagnostic) {
  static const std::regex makes(R"(Diagnostic\s*\{|diagnostics\.(push_back|emplace_back)|\.code\s*=\s*")");
  for (const auto& entry : fs::recursive_directory_iterator(kRoot / "src")) {
    if (!entry.is_regular_file()) continue;
    const auto ext = entry.path().extension();
    if (ext != ".cc" && ext != ".h") continue;
    if (entry.path().filename() == "diagnostics_catalogue.cc") continue;
    std::istringstream in(readAll(entry.path()));
    std::string line;
    int no = 0;
    while (std::getline(in, line)) {
      ++no;
      if (line.find("struct Diagnostic {") != std::string::npos) continue;  // its definition
      EXPECT_FALSE(std::regex_search(line, makes)) << entry.path().lexically_relative(kRoot).string() << ":" << no
                                                    << ": " << line;
    }
  }
}

// ---- what the rules emit ---------------------------------------------------------------------

Kernel kernel(const char* v) {
  Kernel k;
  k.version = KernelVersion::parse(v).value();
  return k;
}

// Every diagnostic over the corpus is one catalogue row with all its arguments filled in.
TEST(DiagnosticsCatalogue, EveryEmittedDiagnosticIsACatalogueRow) {
  std::set<std::pair<std::string, std::string>> rows;  // (code, severity)
  for (const auto& e : diagnosticsCatalogue()) {
    rows.insert({e.code, severityName(e.severity)});
    if (e.note_without_memory) rows.insert({e.code, "note"});
  }
  static const std::regex unfilled(R"(\{[a-z_]+\?\})");
  std::set<std::string> seen;
  int trees = 0;
  for (const auto& dir : fs::directory_iterator(kRoot / "tests/dt-cases")) {
    const fs::path dts = dir.path() / "board.dts";
    if (!fs::exists(dts)) continue;
    ++trees;
    for (const char* v : {"5.4", "5.10", "6.1", "6.12", "6.18", "6.19", "7.1"}) {
      for (const char* cmdline : {"", "cma=32M"}) {
        auto p = planFromFile(dts.string(), kernel(v), cmdline);
        ASSERT_TRUE(p.ok()) << dts;
        for (const Diagnostic& d : p->diagnostics) {
          seen.insert(d.code);
          EXPECT_TRUE(rows.count({d.code, severityName(d.severity)})) << d.code << " " << severityName(d.severity);
          EXPECT_FALSE(std::regex_search(d.message, unfilled)) << d.message;
          EXPECT_FALSE(std::regex_search(d.fix, unfilled)) << d.fix;
        }
      }
    }
  }
  EXPECT_GT(trees, 30);
  EXPECT_GE(seen.size(), 15u);
}

// The examples of docs/diagnostics.md that are fragments rather than dt-cases.
BoardPlan plan(const std::string& body, const Kernel& k, const std::string& cmdline = "",
               const std::string& root_cells = "#address-cells = <2>;\n#size-cells = <2>;\n",
               const std::string& memory = "reg = <0x0 0x40000000 0x0 0x40000000>;") {
  const std::string dts = "/dts-v1/;\n/ {\n" + root_cells + "memory@40000000 {\ndevice_type = \"memory\";\n" + memory +
                          "\n};\nreserved-memory {\n#address-cells = <2>;\n#size-cells = <2>;\nranges;\n" + body +
                          "\n};\n};\n";
  const std::string path = ::testing::TempDir() + "/diagnostics_test-" + std::to_string(::getpid()) + ".dts";
  std::ofstream(path) << dts;
  auto p = planFromFile(path, k, cmdline);
  EXPECT_TRUE(p.ok());
  return p.ok() ? std::move(p).value() : BoardPlan{};
}

const Diagnostic* find(const BoardPlan& p, const std::string& code) {
  for (const auto& d : p.diagnostics)
    if (d.code == code) return &d;
  return nullptr;
}

TEST(DiagnosticsExamples, BadSize) {
  const auto p = plan("pool { compatible = \"shared-dma-pool\"; reusable; size = <0x2000000>; };", kernel("6.12"));
  const auto* d = find(p, "reserved-bad-size");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->severity, Severity::kError);
  EXPECT_EQ(d->message, "size is 4 bytes but #size-cells = 2 needs 8: the region is not allocated");
  EXPECT_EQ(d->fix, "write size with exactly #size-cells (2) cells");
}

TEST(DiagnosticsExamples, HandlerFailed) {
  const auto p = plan("restricted@70000000 { compatible = \"restricted-dma-pool\"; no-map; reg = <0x0 0x70000000 0x0 0x400000>; };",
                      kernel("6.12"));
  const auto* d = find(p, "reserved-handler-failed");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->message, "the restricted-dma-pool handler refused this region; its memory is handed back to the kernel");
  EXPECT_EQ(d->kernel_log, std::vector<std::string>{"OF: reserved mem: node restricted@70000000 compatible matching fail"});
}

TEST(DiagnosticsExamples, DefaultAreaTooBig) {
  const auto p = plan("", kernel("6.12"), "cma=2G");
  const auto* d = find(p, "cma-reserve-failed");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->node, "/chosen");
  EXPECT_EQ(d->severity, Severity::kError);
  EXPECT_EQ(d->message,
            "the default CMA area (2 GiB from cma=) cannot be reserved: no free 2 GiB block below 0x0000000080000000; "
            "the kernel has no default CMA area");
  EXPECT_EQ(d->fix, "change cma= (size, @base, -limit) to fit free RAM below the DMA limit");
}

TEST(DiagnosticsExamples, RootCellsUnusable) {
  const auto p = plan("", kernel("6.12"), "", "#address-cells = <5>;\n#size-cells = <2>;\n");
  const auto* d = find(p, "dt-bad-cells");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->severity, Severity::kError);
  EXPECT_EQ(d->message, "root #address-cells = 5, #size-cells = 2: no reg, size or alloc-ranges in this tree can be read");
}

TEST(DiagnosticsExamples, MemoryBlockSmallerThanAPage) {
  const auto p = plan("", kernel("6.12"), "", "#address-cells = <2>;\n#size-cells = <2>;\n",
                      "reg = <0x0 0x40000100 0x0 0x800>, <0x0 0x80000000 0x0 0x40000000>;");
  const auto* d = find(p, "memory-ignored");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->severity, Severity::kWarning);
  EXPECT_EQ(d->message, "memory block 0x40000100 - 0x40000900 is smaller than one page after alignment");
}

TEST(DiagnosticsExamples, TooManyRegionsOn5_4) {
  std::string body;
  for (int i = 0; i < 33; ++i) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "c%d@%x { reg = <0x0 0x%x 0x0 0x100000>; };\n", i, 0x60000000 + i * 0x100000,
                  0x60000000 + i * 0x100000);
    body += buf;
  }
  const auto p = plan(body, kernel("5.4"));
  const auto* d = find(p, "reserved-too-many");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->message,
            "more than 32 reserved regions (MAX_RESERVED_REGIONS on 5.4): this one is reserved but never initialised");
}

TEST(DiagnosticsExamples, TreeWithoutMemoryTurnsErrorsIntoNotes) {
  // Outside every /memory range, with no /memory at all: a note, and the message says why.
  const std::string dts =
      "/dts-v1/;\n/ {\n#address-cells = <2>;\n#size-cells = <2>;\nreserved-memory {\n#address-cells = <2>;\n"
      "#size-cells = <2>;\nranges;\nfb@60000000 { compatible = \"shared-dma-pool\"; reusable; linux,cma-default;"
      " reg = <0x0 0x60000000 0x0 0x8000000>; };\n};\n};\n";
  const std::string path = ::testing::TempDir() + "/diagnostics_test-nomem-" + std::to_string(::getpid()) + ".dts";
  std::ofstream(path) << dts;
  auto p = planFromFile(path, kernel("6.12"), "");
  ASSERT_TRUE(p.ok());
  ASSERT_NE(find(*p, "memory-missing"), nullptr);
  const auto* d = find(*p, "cma-outside-memory");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->severity, Severity::kNote);
  EXPECT_NE(d->message.find("(the tree has no /memory, so this depends on what the bootloader adds)"), std::string::npos);
}

}  // namespace
}  // namespace dmaheap::dt
