// Loading a board the way every tool does: from --dtb FILE (or the built-in default board),
// --kernel V, --kernel-config FILE and --cmdline. One function, so dmaheap, dmaheapd and
// dmaheap run all build the same heaps from the same options.
#pragma once

#include <memory>
#include <string>

#include "base/result.h"
#include "board/board.h"
#include "devicetree/memory_fixup.h"

namespace dmaheap {

struct BoardOptions {
  std::string dtb;            // "" = the built-in default board (README.md)
  std::string kernel;         // "" = the default version (6.18)
  std::string kernel_config;  // "" = the Debian-like default configuration
  std::string arch;           // --arch arm|arm64|riscv64 ("" = the .config's, else the tree's, else arm64)
  std::string cmdline;        // kernel command line, e.g. "cma=128M"
  std::string profile;        // --profile NAME: a built-in heap profile ("" = none)
  std::string heaps_file;     // --heaps FILE: a heap-profile file ("" = none)
  std::string memory;         // --memory BASE:SIZE[,...]: /memory as the bootloader writes it ("" = none)
  std::string memory_size;    // --memory-size SIZE: fills the tree's placeholder /memory ("" = none)
};

// The /memory fix-up the options name (devicetree/memory_fixup.h). EINVAL for a bad value or both.
Result<dt::MemoryFixup> memoryFixupFromOptions(const BoardOptions& options);

// The plan the options name: the tree (or the built-in board), the kernel, the command line and
// the /memory fix-up. Errors: kernelFromOptions's, the loader's, the fix-up's.
Result<dt::BoardPlan> planFromOptions(const BoardOptions& options);

// The kernel the options name. EINVAL naming the supported range for a bad version; the
// .config reader's errno for a bad config file.
Result<Kernel> kernelFromOptions(const BoardOptions& options);

// Builds the board. Errors: those of kernelFromOptions; the device-tree loader's (ENOENT,
// EINVAL with a one-line reason, ...); EINVAL when the tree would crash the kernel at boot; the
// heap profile's (EINVAL for an unknown profile or a bad file, its errno when unreadable).
Result<std::unique_ptr<Board>> loadBoard(const BoardOptions& options);

}  // namespace dmaheap
