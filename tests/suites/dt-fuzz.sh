#!/usr/bin/env bash
# Bounded libFuzzer run over device-tree loading and the reserved-memory rules (part of make test): the
# pass ends after its cap of runs (fuzz/run.sh); the time limit is only a safety net on a loaded machine.
set -euo pipefail
cd "$(dirname "$0")/../.."
exec fuzz/run.sh "${DT_FUZZ_SECONDS:-300}"
