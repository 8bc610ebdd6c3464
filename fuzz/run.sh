#!/usr/bin/env bash
# Builds the device-tree fuzz target with clang (libFuzzer + ASan + UBSan) and runs one capped,
# fixed-seed pass of it (make test), seeded with the committed corpus fuzz/corpus/dt and the
# committed trees (fuzz/targets.sh).
#   fuzz/run.sh [SECONDS]
set -euo pipefail
# A reproducible pass: a fixed seed, a cap on executions (FUZZ_SEED, FUZZ_RUNS) and the seeds in
# a fixed order, so a green run stays green on the same commit in every checkout. Exploring is
# make fuzz (fuzz/campaign.sh).
cd "$(dirname "$0")/.."
source fuzz/objects.sh
source fuzz/targets.sh
fuzz_pass_target dt fuzz "${FUZZ_RUNS:-40000}" "${1:-60}"
