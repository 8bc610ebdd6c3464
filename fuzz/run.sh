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
cxx=${CLANGXX:-clang++}
flags=(-std=c++20 -O1 -g -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
       -fno-omit-frame-pointer -Isrc -Isrc/base/include -Wall -Wextra -Werror -Wno-missing-field-initializers)
sources=(src/base/size.cc src/base/kernel.cc src/base/errno_name.cc src/base/heap_descriptor.cc
         src/devicetree/fdt.cc src/devicetree/loader.cc src/devicetree/memblock.cc src/devicetree/plan.cc
         src/heaps/heap_plan.cc src/dtcheck/report.cc src/dtcheck/svg.cc fuzz/dt_fuzz.cc)
# A changed header rebuilds everything (the objects have no dependency tracking).
stamp=$out/obj/.stamp
for h in src/devicetree/*.h src/dtcheck/*.h src/base/*.h src/base/include/dmaheap/*.h src/heaps/*.h; do
  if [[ ! -f $stamp || $h -nt $stamp ]]; then rm -f "$out"/obj/*.o; break; fi
done
touch "$stamp"
objs=()
for s in "${sources[@]}"; do
  o=$out/obj/$(echo "$s" | tr / _).o
  if [[ ! -f $o || $s -nt $o ]]; then "$cxx" "${flags[@]}" -c "$s" -o "$o"; fi
  objs+=("$o")
done
"$cxx" -fsanitize=fuzzer,address,undefined "${objs[@]}" -lfdt -o "$out/dt_fuzz"

# Seeds: compiled examples and oracle cases, plus Debian's trees when present.
for f in examples/*.dts tests/dt-cases/*/board.dts; do
  [[ -f $f ]] || continue
  s=$out/seeds/$(echo "$f" | tr / _).dtb
  [[ -f $s && $s -nt $f ]] || dtc -q -I dts -O dtb -o "$s" "$f" 2>/dev/null || true
done
seed_dirs=("$out/seeds")
[[ -d build/debian-dtbs ]] && seed_dirs+=(build/debian-dtbs/)
# libFuzzer reads seed directories flat; gather Debian's vendor folders into one.
if [[ -d build/debian-dtbs ]]; then
  mkdir -p "$out/debian"
  find build/debian-dtbs -name '*.dtb' -exec cp -u -t "$out/debian" {} +
  seed_dirs=("$out/seeds" "$out/debian")
fi
export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
"$out/dt_fuzz" "$out/corpus" "${seed_dirs[@]}" -artifact_prefix="$out/" -seed="${FUZZ_SEED:-20261125}" -runs="${FUZZ_RUNS:-40000}" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
  -max_len=262144 -print_final_stats=1 2>&1 | tail -25
echo "fuzz: ${seconds} s without a crash or sanitizer report"
