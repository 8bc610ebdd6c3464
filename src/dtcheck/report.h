// dt-check reports: a BoardPlan plus the heaps its kernel creates, rendered as text for people,
// JSON for scripts (the fields of docs/cli.md) and an SVG map of the physical address space.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/kernel.h"
#include "devicetree/board_plan.h"
#include "devicetree/fdt.h"
#include "dtcheck/devices.h"
#include "heaps/heap_plan.h"

namespace dmaheap::dtcheck {

struct Report {
  std::string source;    // the file checked, as given
  std::string cmdline;   // --cmdline, "" if none
  dt::BoardPlan plan;
  HeapPlanResult heaps;  // empty when the kernel crashes before heaps exist
  // --devices: the devices that name reserved memory and their heaps; absent without it.
  std::optional<DevicesReport> devices;
};

// Builds the report: the heaps come from planHeaps (none if plan.kernel_crashes).
Report makeReport(std::string source, std::string cmdline, dt::BoardPlan plan);

// --devices: adds the devices of `fdt` (the tree the plan was made from) to the report, and their
// diagnostics after the plan's.
void addDevices(Report* report, const dt::Fdt& fdt);

// 1 if any diagnostic is an error, else 0 (the dt-check exit status for a readable tree).
int exitStatus(const Report& report);

std::string renderText(const Report& report);
nlohmann::json renderJson(const Report& report);
std::string renderSvg(const Report& report);

// The whole dt-check command, independent of argument syntax.
struct Options {
  std::string path;
  std::optional<std::string> kernel_version;  // --kernel
  std::optional<std::string> kernel_config;   // --kernel-config
  std::optional<std::string> arch;            // --arch (else the .config's, the tree's, arm64)
  std::string cmdline;                        // --cmdline
  bool json = false;
  std::optional<std::string> svg_path;        // --svg
  std::string memory;                         // --memory BASE:SIZE[,...] ("" = none)
  std::string memory_size;                    // --memory-size SIZE ("" = none)
  bool devices = false;                       // --devices
};

// Runs dt-check and returns the exit status (0 no errors, 1 error diagnostics, 2 the input,
// kernel or config cannot be read). The report goes to *out, one-line problems to *err.
int run(const Options& options, std::string* out, std::string* err);

}  // namespace dmaheap::dtcheck
