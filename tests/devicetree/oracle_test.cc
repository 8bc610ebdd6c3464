// Replays every recorded real-kernel boot (tests/dt-cases/<case>/board.dts, or board-<arch>.dts
// for a 32-bit ARM or riscv64 kernel, against tests/oracle-golden/<case>/<kernel-id>.txt) through
// the device-tree rules and compares what the
// golden file records: the kernel log lines about reserved memory and CMA (addresses of the
// Kconfig default area masked: QEMU's boot allocations at the top of RAM move it), crash or boot,
// the WARN/Oops/panic lines, CmaTotal, and the /dev/dma_heap listing.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>

#include "devicetree/plan.h"
#include "heaps/heap_plan.h"

namespace dmaheap::dt {
namespace {

namespace fs = std::filesystem;

const fs::path kCases = fs::path(DMAHEAP_SOURCE_DIR) / "tests/dt-cases";
const fs::path kGolden = fs::path(DMAHEAP_SOURCE_DIR) / "tests/oracle-golden";

std::string readAll(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

std::string maskReservedAt(std::string s) {
  static const std::regex at("(cma: Reserved [0-9]+ MiB at )0x[0-9a-f]+");
  return std::regex_replace(s, at, "$1<addr>");
}

// The golden filter (oracle/golden.sh): lines about cma, reserved memory, heaps, OF: fdt.
bool goldenKeeps(const std::string& line) {
  std::string l = line;
  std::transform(l.begin(), l.end(), l.begin(), [](unsigned char c) { return std::tolower(c); });
  for (const char* k : {"cma", "reserved mem", "reserved memory", "dma_heap", "dma-heap", "of: fdt:", "restricted dma",
                        "shared-dma-pool", "memreserve"})
    if (l.find(k) != std::string::npos) return true;
  return false;
}

struct Golden {
  std::vector<std::string> log;
  std::vector<std::string> warn;
  std::string panic;
  std::string oops_pc;
  bool panicked = false;
  bool oopsed = false;
  bool timed_out = false;
  // The boot was lost: a panic, or a timeout after a kernel BUG/Oops (32-bit ARM's "Bad page
  // state" flood for a CMA area past the end of RAM never ends in a panic).
  bool lost() const { return panicked || (timed_out && oopsed); }
  long cmatotal = -1;
  std::string heaps;
  std::vector<std::string> dt_areas;  // "name base size" of CMA areas other than the Kconfig "reserved"
  std::vector<std::string> zones;     // "DMA [mem 0x...-0x...]" or "DMA32 empty" (files recorded with zones)
};

// "  DMA      [mem 0x..-0x..]" as the kernel prints it -> "DMA [mem 0x..-0x..]" (oracle/golden.sh).
std::string zoneKey(const std::string& line) {
  std::istringstream in(line);
  std::string name, rest;
  in >> name;
  std::getline(in, rest);
  rest.erase(0, rest.find_first_not_of(' '));
  return name + " " + rest;
}

Golden parseGolden(const fs::path& p) {
  Golden g;
  std::istringstream in(readAll(p));
  std::string line;
  while (std::getline(in, line)) {
    const auto val = [&](const char* key) { return line.substr(std::string(key).size()); };
    if (line.rfind("log: ", 0) == 0) {
      const std::string v = val("log: ");
      // Lines printed later by the heap probe's allocations, not by boot-time set-up.
      if (v.find("__cma_alloc") != std::string::npos || v.find("number of available pages") != std::string::npos ||
          v.rfind("cma: range ", 0) == 0 || v == "cma: " || v.find("=>") != std::string::npos)
        continue;
      g.log.push_back(maskReservedAt(v));
    } else if (line.rfind("warn: ", 0) == 0) {
      g.warn.push_back(val("warn: "));
    } else if (line.rfind("panic: ", 0) == 0) {
      g.panic = val("panic: ");
    } else if (line.rfind("oops-pc: ", 0) == 0) {
      g.oops_pc = val("oops-pc: ");
    } else if (line == "outcome: panic") {
      g.panicked = true;
    } else if (line.rfind("oops: ", 0) == 0) {
      g.oopsed = true;
    } else if (line == "outcome: timeout") {
      g.timed_out = true;
    } else if (line.rfind("cmatotal: ", 0) == 0) {
      g.cmatotal = std::stol(val("cmatotal: "));
    } else if (line.rfind("cma-area: ", 0) == 0) {
      if (line.rfind("cma-area: reserved ", 0) != 0) g.dt_areas.push_back(val("cma-area: "));
    } else if (line.rfind("heaps: ", 0) == 0) {
      g.heaps = val("heaps: ");
    } else if (line.rfind("zone: ", 0) == 0) {
      g.zones.push_back(val("zone: "));
    }
  }
  return g;
}

// tests/oracle-golden/UNDEFINED-CRASHES: "CASE KERNEL-ID reason" lines for boots whose crash
// depends on what the tree does not describe (32-bit ARM reads struct pages past the end of
// mem_map for a CMA area past the end of RAM; riscv64 loses the reservation of OpenSBI's
// PMP-protected firmware memory with a rejected /reserved-memory). For those, the replay checks
// the log lines, that the boot was lost and the WARN lines, not whether the model predicts the
// crash or which BUG or panic it was.
std::map<std::string, std::string> undefinedCrashes() {
  std::map<std::string, std::string> out;
  std::istringstream in(readAll(kGolden / "UNDEFINED-CRASHES"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream f(line);
    std::string c, k, why;
    f >> c >> k;
    std::getline(f, why);
    out[c + " " + k] = why;
  }
  return out;
}

// Each recorded kernel's release, .config and architecture, read once per kernel id (a Debian
// .config is some 250 KB, and over 600 golden files name eleven kernels).
const Kernel& kernelFor(const std::string& id) {
  static std::map<std::string, Kernel> kernels;
  if (const auto it = kernels.find(id); it != kernels.end()) return it->second;
  Kernel k;
  k.version = KernelVersion::parse(trim(readAll(kGolden / "kernels" / (id + ".version")))).value();
  k.config = KernelConfig::fromFile((kGolden / "kernels" / (id + ".config")).string()).value();
  if (k.config.arch) {
    k.arch = *k.config.arch;
    k.arch_origin = ArchOrigin::kConfig;
  }
  return kernels.emplace(id, k).first->second;
}

// The tree a case was booted with on the kernel's architecture (oracle/README.md, "Architectures").
fs::path boardFor(const fs::path& case_dir, Arch arch) {
  return case_dir / (arch == Arch::kArm64 ? std::string("board.dts") : std::string("board-") + str(arch) + ".dts");
}

TEST(OracleReplay, EveryRecordedBootMatches) {
  if (!fs::exists(kCases) || !fs::exists(kGolden / "kernels")) GTEST_SKIP() << "no oracle recordings";
  int compared = 0;
  const auto undefined = undefinedCrashes();
  for (const auto& dir : fs::directory_iterator(kCases)) {
    if (!fs::exists(dir.path() / "fragment.dtsi") && !fs::exists(dir.path() / "board.dts")) continue;
    const std::string name = dir.path().filename().string();
    if (!fs::exists(kGolden / name)) continue;  // a case generated but not recorded yet
    for (const auto& gf : fs::directory_iterator(kGolden / name)) {
      if (gf.path().extension() != ".txt") continue;
      const std::string id = gf.path().stem().string();
      if (!fs::exists(kGolden / "kernels" / (id + ".version"))) continue;
      SCOPED_TRACE(name + " on " + id);
      const Golden g = parseGolden(gf.path());
      const Kernel& kernel = kernelFor(id);
      const fs::path dts = boardFor(dir.path(), kernel.arch);
      if (!fs::exists(dts)) {
        ADD_FAILURE() << dts << " is missing: oracle/record.sh writes it with the golden file";
        continue;
      }
      auto plan = planFromFile(dts.string(), kernel, "");
      if (!plan.ok()) {
        ADD_FAILURE() << plan.error().message();
        continue;
      }
      std::vector<std::string> ours;
      std::vector<std::string> warn;
      std::string panic;
      std::string pc;
      std::vector<std::string> zones;
      for (const auto& l : plan->zone_log)
        if (l.rfind("  ", 0) == 0) zones.push_back(zoneKey(l));
      for (const auto& l : plan->kernel_log) {
        if (l.rfind("WARNING: ", 0) == 0) warn.push_back(l);
        else if (l.rfind("Kernel panic", 0) == 0) panic = l;
        else if (l.rfind("pc : ", 0) == 0) pc = l.substr(5);
        else if (l.rfind("Unable to handle", 0) == 0 || l.rfind("Internal error", 0) == 0) continue;
        else if (goldenKeeps(l)) ours.push_back(maskReservedAt(l));
      }
      EXPECT_EQ(ours, g.log);
      // Golden files recorded before the zone lines were kept have none: nothing to compare.
      if (!g.zones.empty()) {
        EXPECT_EQ(zones, g.zones);
      }
      if (const auto u = undefined.find(name + " " + id); u != undefined.end()) {
        EXPECT_TRUE(g.lost()) << "listed in UNDEFINED-CRASHES but the boot was not lost";
        EXPECT_EQ(warn, g.warn);
        std::printf("%s on %s: whether and how the boot crashed is not compared:%s\n", name.c_str(), id.c_str(),
                    u->second.c_str());
        ++compared;
        continue;
      }
      EXPECT_EQ(plan->kernel_crashes, g.lost());
      if (g.lost()) {
        EXPECT_EQ(warn, g.warn);
        EXPECT_EQ(panic, g.panic);
        EXPECT_EQ(pc, g.oops_pc);
      } else {
        EXPECT_FALSE(g.timed_out) << "a boot that timed out without an oops: record it again (ORACLE_TIMEOUT)";
        long total = 0;
        for (const auto& a : plan->cma_areas)
          if (a.activated) total += static_cast<long>(a.size / 1024);
        if (g.cmatotal >= 0) {
          EXPECT_EQ(total, g.cmatotal);
        }
        std::vector<std::string> names;
        for (const auto& h : planHeaps(kernel, plan->cma_areas).heaps) names.push_back(h.name);
        std::sort(names.begin(), names.end());
        std::string heaps;
        for (const auto& n : names) heaps += (heaps.empty() ? "" : " ") + n;
        EXPECT_EQ(heaps.empty() ? "(none)" : heaps, g.heaps);
        if (!g.dt_areas.empty()) {
          std::vector<std::string> areas;
          for (const auto& a : plan->cma_areas) {
            if (a.name == "reserved") continue;
            char buf[160];
            std::snprintf(buf, sizeof buf, "%s 0x%llx %llu", a.name.c_str(), static_cast<unsigned long long>(a.base),
                          // a failed activation sets the area's count to 0
                          static_cast<unsigned long long>(a.activated ? a.size : 0));
            areas.push_back(buf);
          }
          std::vector<std::string> want = g.dt_areas;
          std::sort(areas.begin(), areas.end());
          std::sort(want.begin(), want.end());
          EXPECT_EQ(areas, want);
        }
      }
      ++compared;
    }
  }
  EXPECT_GT(compared, 0);
  std::printf("compared %d recorded boots\n", compared);
}

// Every architecture has recorded boots: a golden directory lost in a merge would otherwise
// leave its replay silently empty.
TEST(OracleReplay, EveryArchitectureIsRecorded) {
  if (!fs::exists(kGolden / "kernels")) GTEST_SKIP() << "no oracle recordings";
  std::map<std::string, int> boots;
  for (const auto& dir : fs::directory_iterator(kCases)) {
    const fs::path golden = kGolden / dir.path().filename();
    if (!fs::exists(golden)) continue;
    for (const auto& gf : fs::directory_iterator(golden)) {
      const std::string id = gf.path().stem().string();
      if (gf.path().extension() != ".txt" || !fs::exists(kGolden / "kernels" / (id + ".version"))) continue;
      boots[str(kernelFor(id).arch)]++;
    }
  }
  for (const char* arch : {"arm64", "arm", "riscv64"}) EXPECT_GT(boots[arch], 0) << arch;
}

}  // namespace
}  // namespace dmaheap::dt
