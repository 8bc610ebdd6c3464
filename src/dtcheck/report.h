// dt-check reports: a BoardPlan plus the heaps its kernel creates, rendered as text for people,
// JSON for scripts (the fields of docs/cli.md) and an SVG map of the physical address space.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/kernel.h"
#include "devicetree/board_plan.h"
#include "heaps/heap_plan.h"

namespace dmaheap::dtcheck {

struct Report {
  std::string source;    // the file checked, as given
  std::string cmdline;   // --cmdline, "" if none
  dt::BoardPlan plan;
  HeapPlanResult heaps;  // empty when the kernel crashes before heaps exist
};

// Builds the report: the heaps come from planHeaps (none if plan.kernel_crashes).
Report makeReport(std::string source, std::string cmdline, dt::BoardPlan plan);

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
  std::string cmdline;                        // --cmdline
  bool json = false;
  std::optional<std::string> svg_path;        // --svg
  std::string memory;                         // --memory BASE:SIZE[,...] ("" = none)
  std::string memory_size;                    // --memory-size SIZE ("" = none)
};

// Runs dt-check and returns the exit status (0 no errors, 1 error diagnostics, 2 the input,
// kernel or config cannot be read). The report goes to *out, one-line problems to *err.
int run(const Options& options, std::string* out, std::string* err);

}  // namespace dmaheap::dtcheck
