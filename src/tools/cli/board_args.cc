// The shared board options.
#include "tools/cli/board_args.h"

#include "heaps/heap_profile.h"

namespace dmaheap::cli {

BoardOptions BoardArgs::options() const {
  BoardOptions o;
  o.dtb = dtb.value_or("");
  o.kernel = kernel.value_or("");
  o.kernel_config = kernel_config.value_or("");
  o.arch = arch.value_or("");
  o.cmdline = cmdline.value_or("");
  o.profile = profile.value_or("");
  o.heaps_file = heaps.value_or("");
  o.memory = memory.value_or("");
  o.memory_size = memory_size.value_or("");
  return o;
}

CLI::Option* addKernelOption(Cli& cli, CLI::App* app, std::optional<std::string>* kernel) {
  return cli.words(app->add_option("--kernel", *kernel, "The kernel release whose rules apply, 5.3 to 7.2 (default 6.18)")
                       ->type_name("V"),
                   kernelReleases());
}

CLI::Option* addKernelConfigOption(Cli& cli, CLI::App* app, std::optional<std::string>* config) {
  return cli.file(app->add_option("--kernel-config", *config, "A kernel .config to read (page size, CMA options)")
                      ->type_name("FILE"));
}

CLI::Option* addArchOption(Cli& cli, CLI::App* app, std::optional<std::string>* arch) {
  return cli.words(app->add_option("--arch", *arch,
                                   "The target architecture whose rules apply: arm (32-bit), arm64 or riscv64 "
                                   "(default: the .config's, else the tree's, else arm64)")
                       ->type_name("ARCH"),
                   {"arm", "arm64", "riscv64"});
}

CLI::Option* addCmdlineOption(CLI::App* app, std::optional<std::string>* cmdline) {
  return app->add_option("--cmdline", *cmdline, "The kernel command line, e.g. \"cma=128M\"")->type_name("ARGS");
}

CLI::Option* addMemoryOption(CLI::App* app, std::optional<std::string>* memory) {
  return app->add_option("--memory", *memory, "Replace /memory as a bootloader would, e.g. 0x40000000:2G,0x100000000:2G")
      ->type_name("BASE:SIZE[,BASE:SIZE...]");
}

CLI::Option* addMemorySizeOption(CLI::App* app, std::optional<std::string>* memory_size) {
  return app->add_option("--memory-size", *memory_size,
                         "Fill the tree's placeholder /memory (size 0 or missing) with SIZE of RAM")
      ->type_name("SIZE");
}

void addBoardOptions(Cli& cli, CLI::App* app, BoardArgs* a) {
  cli.file(app->add_option("--dtb", a->dtb, "The board's device tree (.dtb or .dts); default: the built-in board")
               ->type_name("FILE"))
      ->group(kBoardGroup);
  addKernelOption(cli, app, &a->kernel)->group(kBoardGroup);
  addKernelConfigOption(cli, app, &a->kernel_config)->group(kBoardGroup);
  addArchOption(cli, app, &a->arch)->group(kBoardGroup);
  addCmdlineOption(app, &a->cmdline)->group(kBoardGroup);
  cli.words(app->add_option("--profile", a->profile, "A built-in heap profile on top of the kernel's heaps")
                ->type_name("NAME"),
            builtinHeapProfileNames())
      ->group(kBoardGroup);
  cli.file(app->add_option("--heaps", a->heaps, "A heap-profile file (JSON) of extra heaps")->type_name("FILE"))
      ->group(kBoardGroup);
  addMemoryOption(app, &a->memory)->group(kBoardGroup);
  addMemorySizeOption(app, &a->memory_size)->group(kBoardGroup);
}

CLI::Option* addBackingOption(Cli& cli, CLI::App* app, std::optional<std::string>* backing) {
  std::vector<std::string> names;
  for (BackingChoice c : {BackingChoice::kAuto, BackingChoice::kHostHeap, BackingChoice::kUdmabuf, BackingChoice::kVgem,
                          BackingChoice::kMemfd}) {
    names.emplace_back(backingChoiceName(c));
  }
  return cli.words(app->add_option("--backing", *backing,
                                   "What backs each buffer: auto (the best the host offers: host-heap, udmabuf, vgem, "
                                   "then memfd), host-heap, udmabuf, vgem or memfd")
                       ->type_name("NAME"),
                   names);
}

Result<std::shared_ptr<Backing>> selectBackingFor(const std::optional<std::string>& backing, const std::string& prefix,
                                                  std::string* why) {
  BackingOptions o;
  if (backing) {
    auto choice = parseBackingChoice(*backing);
    if (!choice) return choice.error();
    o.choice = choice.value();
  }
  o.paths = HostPaths::fromEnvironment();
  o.notice_prefix = prefix;
  // Memfds prepared ahead (heap/prepared_pool.h): $DMAHEAP_PREPARED, else the defaults.
  auto prepared = PreparedPoolOptions::fromEnvironment();
  if (!prepared) return prepared.error();
  o.prepared = prepared.value();
  auto selected = selectBacking(o, why);
  if (!selected) return selected.error();
  return std::shared_ptr<Backing>(std::move(selected.value()));
}

}  // namespace dmaheap::cli
