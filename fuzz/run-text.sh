#!/usr/bin/env bash
# Builds and runs the text-parser fuzz targets of fuzz/text_fuzz.cc with clang (libFuzzer + ASan +
# UBSan), one capped, fixed-seed pass each (make test): workload (simulate's JSON workloads), trace
# (allocation traces, docs/traces.md),
# kconfig (kernel .config files), cmdline (`cma=` and size arguments), heaps (heap profiles,
# --heaps FILE), access (dmaheapd --config FILE). Seeds: the committed corpus and examples.
#   fuzz/run-text.sh [SECONDS-PER-TARGET] [TARGET...]     (default 60, all targets)
# FUZZ_SEED / FUZZ_RUNS as in fuzz/run.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(workload trace kconfig cmdline heaps access)
source fuzz/objects.sh
source fuzz/targets.sh
# Each trace input is replayed through a whole simulation (about 8 ms a run under the
# sanitizers, against well under 1 ms for the others), so its cap is lower: the pass ends by its
# count of runs, the same in every checkout, not by the time limit.
declare -A runs_of=([trace]=3000)
status=0
for t in "${targets[@]}"; do
  fuzz_pass_target "$t" "fuzz ($t)" "${FUZZ_RUNS:-${runs_of[$t]:-20000}}" "$seconds" || status=1
done
exit $status
