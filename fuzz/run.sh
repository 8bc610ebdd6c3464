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
echo "fuzz: ${i} seeds"
fuzz_pass fuzz "$out/dt_fuzz" "$out" "${FUZZ_RUNS:-40000}" "$seconds" 262144 "$out/seeds-ordered"
