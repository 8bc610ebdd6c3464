#!/usr/bin/env bash
# dmaheap simulate against real kernels: every CMA scenario recorded in a QEMU guest
# (tests/oracle-golden/cma-scenarios/<scenario>/<kernel-id>.txt, oracle/cma-scenarios/README.md)
# is replayed through `dmaheap simulate --json` on the same board and kernel, and the answers are
# compared: allocation failures exactly, migration yes/no, pages migrated within the tolerance of
# tests/cma-scenarios/compare.py (its header says why). Part of make test; no QEMU.
set -uo pipefail
cd "$(dirname "$0")/../.."
bin=${1:-build}/dmaheap
exec python3 tests/cma-scenarios/compare.py --dmaheap "$bin"
