#!/usr/bin/env bash
# Capped, fixed-seed libFuzzer passes over the text parsers of outside input (fuzz/run-text.sh):
# simulate workloads, kernel .config files, `cma=` and size arguments (part of make test). Each
# pass ends after its cap of runs; the time limit is only a safety net on a loaded machine.
set -euo pipefail
cd "$(dirname "$0")/../.."
exec fuzz/run-text.sh "${TEXT_FUZZ_SECONDS:-120}"
