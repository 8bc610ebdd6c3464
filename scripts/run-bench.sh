#!/usr/bin/env bash
# make bench: every benchmark program (targets: issue 19), Google Benchmark JSON with repetitions
# (medians), then scripts/bench-summary.py prints one table of medians and ratios against the
# floor of the same size measured by the same program in the same run, marks every target met or
# missed, and writes BUILD/bench.json.
#   scripts/run-bench.sh [BUILD]        (default build; the programs are BUILD/bench/*_bench)
# env: BENCH_REPETITIONS (default 9: many short, randomly interleaved repetitions keep a burst of
#      load from others out of the median), BENCH_MIN_TIME (seconds per repetition, default 0.1),
#      BENCH_NICE (default 5: others may be compiling), DTB_DIR (default BUILD/debian-dtbs,
#      fetched with scripts/fetch-debian-dtbs.sh when missing; without network the dt-check row
#      says so and the rest still runs)
# Raw results: BUILD/bench-results/<program>.json and .log. Exit 1 when a program failed.
set -uo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
reps=${BENCH_REPETITIONS:-9}
min_time=${BENCH_MIN_TIME:-0.1}
niceness=${BENCH_NICE:-5}
out=$build/bench-results
export DTB_DIR=${DTB_DIR:-$build/debian-dtbs}
export BENCH_REPETITIONS=$reps
mkdir -p "$out"
rm -f "$out"/*.json "$out"/*.log
start=$(date +%s)
status=0

if [[ -z $(find -L "$DTB_DIR" -name '*.dtb' -print -quit 2>/dev/null) ]]; then
  echo "bench: fetching the Debian dtb corpus into $DTB_DIR" >&2
  scripts/fetch-debian-dtbs.sh "$DTB_DIR" >&2 || echo "bench: no corpus (fetch failed); dt-check is not measured" >&2
fi

common=(--benchmark_repetitions="$reps" --benchmark_report_aggregates_only=true
        --benchmark_enable_random_interleaving=true --benchmark_min_time="$min_time"
        --benchmark_out_format=json)

# run PROGRAM [ARGS...]: BUILD/bench/PROGRAM with the common flags (ARGS after them, so they can
# override), JSON to $out/PROGRAM.json.
run() {
  local prog=$1
  shift
  local t0=$(date +%s)
  printf 'bench: %-22s' "$prog" >&2
  if nice -n "$niceness" "$build/bench/$prog" "${common[@]}" "$@" --benchmark_out="$out/$prog.json" \
      >"$out/$prog.log" 2>&1; then
    echo " $(( $(date +%s) - t0 )) s" >&2
  else
    echo " FAILED (see $out/$prog.log)" >&2
    status=1
  fi
}

run alloc_bench
run service_paths_bench
run run_bench --benchmark_filter='^(floor|run)/'
run trace_bench
# Each repetition rebuilds the 50,000-buffer state with the bit-by-bit reference (~10 s): 3 do.
run cma_placement_bench --benchmark_repetitions=3
# A fixed malloc mmap threshold: otherwise glibc raises it after the first free and the smaller
# boards' metadata comes back already faulted in (1 GiB then "builds" in 8 us, 64 GiB never does),
# which hides the real, linear cost.
GLIBC_TUNABLES=glibc.malloc.mmap_threshold=131072 run memory_model_bench --benchmark_filter='^BM_BuildBoard'

run dtcheck_bench

echo >&2
python3 scripts/bench-summary.py "$out" "$build/bench.json" || status=1
echo "bench: $(( $(date +%s) - start )) s in all"
exit $status
