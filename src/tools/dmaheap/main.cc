// dmaheap: the command line. One CLI11 App with a subcommand per file (commands.h).
#include "tools/dmaheap/commands.h"

int main(int argc, char** argv) {
  using namespace dmaheap::cli;
  Cli cli("dmaheap",
          "DMA-BUF heaps (/dev/dma_heap) and the device-tree CMA rules in user space: check a tree, list "
          "and allocate from a board's heaps, run a program against emulated heaps, simulate a workload.");
  cli.app().footer("Run 'dmaheap COMMAND --help' for a command's options; the manual is dmaheap(1).");
  defineDtCheck(cli);
  defineList(cli);
  defineAlloc(cli);
  defineRun(cli);
  defineSimulate(cli);
  defineStats(cli);
  return cli.run(argc, argv);
}
