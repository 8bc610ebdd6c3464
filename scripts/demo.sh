#!/usr/bin/env bash
# make demo: a short showcase on the built-in default board (2 GiB at 0x40000000, kernel 6.18).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
bin=$build/dmaheap
say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
run() { say "$*"; "$@"; }

run "$bin" list
run "$bin" list --kernel 6.12
run "$bin" alloc system 3215360
run "$bin" alloc reserved 3M --count 2
say "$bin alloc reserved 65M    # more than the 64 MiB CMA area: the kernel's ENOMEM"
"$bin" alloc reserved 65M || echo "(exit $?)"
run "$bin" dt-check examples/juno-framebuffer-not-reusable.dts --kernel 6.12
say "$bin dt-check examples/juno-framebuffer-outside-memory.dts --kernel 6.12"
"$bin" dt-check examples/juno-framebuffer-outside-memory.dts --kernel 6.12 || echo "(exit $?)"
say "ls /dev/dma_heap    # this machine's kernel has no DMA-BUF heaps"
ls /dev/dma_heap 2>&1 || true
run "$bin" run -- ls -l /dev/dma_heap
say "$bin run -- $build/dmaheap-conformance-static    # an unmodified static program, the kernel's ABI"
"$bin" run -- "$build/dmaheap-conformance-static" | tail -n 4
say "$bin simulate --dtb examples/simulate/board-2g-cma256.dts examples/simulate/mixed-video.json --policy compare --svg $build/mixed-video.svg"
"$bin" simulate --dtb examples/simulate/board-2g-cma256.dts examples/simulate/mixed-video.json --policy compare \
  --svg "$build/mixed-video.svg" | grep -E 'placement|total failures|first failure' || true
echo
echo "plots: $build/mixed-video-*.svg"
