#!/usr/bin/env bash
# dt-check over every arm64, armhf and riscv64 device tree Debian ships, under several kernels (part of make test).
set -euo pipefail
cd "$(dirname "$0")/../.."
exec scripts/run-dtb-corpus.sh "${1:-build}"
