// The board options every board-taking command shares (list, alloc, run, simulate, dmaheapd):
// --dtb, --kernel, --kernel-config, --arch, --cmdline, --profile, --heaps, --memory, --memory-size
// (docs/cli.md, docs/heap-profiles.md). Defined here once; each command adds them to its CLI11 App.
#pragma once

#include <optional>
#include <string>

#include "board/board_loader.h"
#include "heap/backing.h"
#include "tools/cli/cli.h"

namespace dmaheap::cli {

// The group the board options have in --help, the manual check and the manuals.
inline constexpr const char* kBoardGroup = "Board options";

struct BoardArgs {
  std::optional<std::string> dtb, kernel, kernel_config, arch, cmdline, profile, heaps, memory, memory_size;

  // True when any board option was given: the command wants a board of its own, not the
  // running service's.
  bool any() const {
    return dtb || kernel || kernel_config || arch || cmdline || profile || heaps || memory || memory_size;
  }
  BoardOptions options() const;
};

void addBoardOptions(Cli& cli, CLI::App* app, BoardArgs* args);

// The kernel's options alone (dt-check takes these without a board): one definition for both.
CLI::Option* addKernelOption(Cli& cli, CLI::App* app, std::optional<std::string>* kernel);
CLI::Option* addKernelConfigOption(Cli& cli, CLI::App* app, std::optional<std::string>* config);
// --arch arm|arm64|riscv64: the target architecture's rules (docs/cli.md); checked when the
// kernel is made (kernelFromOptions), so an unknown name is the same usage error everywhere.
CLI::Option* addArchOption(Cli& cli, CLI::App* app, std::optional<std::string>* arch);
CLI::Option* addCmdlineOption(CLI::App* app, std::optional<std::string>* cmdline);
// The bootloader's /memory fix-ups (docs/device-trees.md): dt-check takes these without a board too.
CLI::Option* addMemoryOption(CLI::App* app, std::optional<std::string>* memory);
CLI::Option* addMemorySizeOption(CLI::App* app, std::optional<std::string>* memory_size);

// --backing auto|host-heap|udmabuf|vgem|memfd (run, dmaheapd): what real memory backs each
// buffer (docs/emulation.md "Backings"). Defined here once for both.
CLI::Option* addBackingOption(Cli& cli, CLI::App* app, std::optional<std::string>* backing);
// The backing --backing names (auto when absent), the host's device paths from the environment
// (HostPaths::fromEnvironment); fallback notices go to stderr after `prefix`. `why` gets the
// report line ("backing: ..."). EINVAL for an unknown name; selectBacking's errors.
Result<std::shared_ptr<Backing>> selectBackingFor(const std::optional<std::string>& backing, const std::string& prefix,
                                                  std::string* why);

}  // namespace dmaheap::cli
