#!/usr/bin/env bash
# The shipped-tree boots recorded by `make oracle-shipped` (tests/oracle-shipped/<kernel>/<tree>.txt:
# Debian's arm64 board trees on Debian's stock 6.1 and 6.12 kernels under QEMU) replayed through
# dt-check with the RAM QEMU wrote: every prediction must agree with what the kernel logged, or be
# explained in tests/oracle-shipped/EXPLAINED.md. The trees come from the corpus fetch (cached).
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
dir=${DTB_DIR:-$build/debian-dtbs}
[[ -x $build/dmaheap ]] || { echo "oracle-shipped: build $build/dmaheap first"; exit 1; }
[[ -f $dir/.fetched-from ]] || scripts/fetch-debian-dtbs.sh "$dir"
exec python3 scripts/oracle-shipped-replay.py "$build" "$dir" -j 2
