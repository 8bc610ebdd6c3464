#!/usr/bin/env bash
# Builds the device-tree fuzz target with clang (libFuzzer + ASan + UBSan) in build-fuzz/ and runs it
# for SECONDS (default 60), seeded from examples/, the oracle cases and Debian's dtbs if fetched.
#   fuzz/run.sh [SECONDS]
set -euo pipefail
# make test runs a reproducible fuzz pass: a fixed seed and a cap on executions (FUZZ_SEED,
# FUZZ_RUNS), so a green run stays green on the same commit; set FUZZ_SEED=0 (random) and
# FUZZ_RUNS=-1 (no cap) to explore.
cd "$(dirname "$0")/.."
seconds=${1:-60}
out=build-fuzz
mkdir -p "$out/obj" "$out/corpus" "$out/seeds"
source fuzz/objects.sh
# Every source of the libraries dt-check is made of (globbed, so a new file in them needs no
# edit here): base, the memory model, the device tree, the heap core, the heaps, the reports.
fuzz_link "$out/dt_fuzz" src/base/*.cc src/memory/*.cc src/devicetree/*.cc src/heap/*.cc src/heaps/*.cc \
  src/dtcheck/*.cc fuzz/dt_fuzz.cc

# Seeds: the committed trees only (compiled examples and oracle cases, the hostile blobs of the
# regression tests), so that every checkout fuzzes from the same start. libFuzzer sorts its inputs
# by size alone and keeps directory order among equal sizes, and directory order differs between
# file systems: the i-th seed in sorted name order gets i trailing zero bytes (the loader reads
# only the header's totalsize), which makes every size distinct and the order fixed.
# The corpus directory is emptied first in a capped run (make test); an uncapped run keeps it.
rm -rf "$out/seeds" "$out/seeds-ordered"
mkdir -p "$out/seeds" "$out/seeds-ordered"
for f in examples/*.dts tests/dt-cases/*/board.dts; do
  [[ -f $f ]] || continue
  dtc -q -I dts -O dtb -o "$out/seeds/$(echo "$f" | tr / _).dtb" "$f" 2>/dev/null || true
done
cp tests/devicetree/hostile/* tests/dtcheck/data/*.dtb "$out/seeds/" 2>/dev/null || true
i=0
while IFS= read -r f; do
  { cat "$f"; head -c "$i" /dev/zero; } >"$out/seeds-ordered/$(printf '%05d' "$i")"
  i=$((i + 1))
done < <(find "$out/seeds" -type f | LC_ALL=C sort)
runs=${FUZZ_RUNS:-40000}
[[ $runs == -1 ]] || rm -rf "$out/corpus"
mkdir -p "$out/corpus"
seed_dirs=("$out/seeds-ordered")
export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
log=$out/dt_fuzz.log
status=0
"$out/dt_fuzz" "$out/corpus" "${seed_dirs[@]}" -artifact_prefix="$out/" -seed="${FUZZ_SEED:-20261125}" -runs="$runs" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
  -max_len=262144 -print_final_stats=1 >"$log" 2>&1 || status=$?
tail -n 25 "$log"
# Say what really ran: libFuzzer's own count of executions and its time.
done_line=$(grep -E '^Done [0-9]+ runs in [0-9]+ second' "$log" | tail -n 1 || true)
if [[ $status -ne 0 ]]; then
  echo "fuzz: FAILED (exit $status) after ${done_line:-an unknown number of runs}; inputs in $out/"
  exit 1
fi
echo "fuzz: ${done_line#Done } (seed ${FUZZ_SEED:-20261125}, cap $runs runs or $seconds s), ${i} seeds, no crash or sanitizer report"
