// dmaheap dt-check FILE: which CMA areas and /dev/dma_heap nodes a device tree gives on a kernel,
// and why not. Thin over dtcheck::run.
#include <cstdio>
#include <memory>

#include "dtcheck/report.h"
#include "tools/cli/board_args.h"
#include "tools/dmaheap/commands.h"

namespace dmaheap::cli {

namespace {

struct DtCheckArgs {
  std::string file;
  std::optional<std::string> kernel, kernel_config, arch, cmdline, svg, memory, memory_size;
  bool json = false;
  bool devices = false;
};

int runDtCheck(const DtCheckArgs& args) {
  dtcheck::Options o;
  o.path = args.file;
  if (args.kernel) o.kernel_version = *args.kernel;
  if (args.kernel_config) o.kernel_config = *args.kernel_config;
  if (args.arch) o.arch = *args.arch;
  if (args.cmdline) o.cmdline = *args.cmdline;
  if (args.svg) o.svg_path = *args.svg;
  if (args.memory) o.memory = *args.memory;
  if (args.memory_size) o.memory_size = *args.memory_size;
  o.json = args.json;
  o.devices = args.devices;
  std::string out;
  std::string err;
  const int status = dtcheck::run(o, &out, &err);
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fwrite(err.data(), 1, err.size(), stderr);
  return status;
}

}  // namespace

void defineDtCheck(Cli& cli) {
  auto args = std::make_shared<DtCheckArgs>();
  CLI::App* sub = cli.command("dt-check", "Which CMA areas and /dev/dma_heap nodes a device tree gives, and why not");
  cli.file(sub->add_option("FILE", args->file, "The device tree, a .dtb or a .dts (compiled with dtc)")->type_name("")->required());
  addKernelOption(cli, sub, &args->kernel);
  addKernelConfigOption(cli, sub, &args->kernel_config);
  addArchOption(cli, sub, &args->arch);
  addCmdlineOption(sub, &args->cmdline);
  addMemoryOption(sub, &args->memory);
  addMemorySizeOption(sub, &args->memory_size);
  sub->add_flag("--devices", args->devices,
                "Also list every device with memory-region: its regions, DMA reach, IOMMU and heap to use")
      ->disable_flag_override();
  sub->add_flag("--json", args->json, "Print one JSON object instead of text (docs/cli.md)")->disable_flag_override();
  cli.file(sub->add_option("--svg", args->svg, "Also draw the memory map as SVG into OUT.svg")->type_name("OUT.svg"));
  cli.onRun(sub, [args] { return runDtCheck(*args); });
}

}  // namespace dmaheap::cli
