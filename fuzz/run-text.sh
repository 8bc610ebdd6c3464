#!/usr/bin/env bash
# Builds and runs the text-parser fuzz targets of fuzz/text_fuzz.cc with clang (libFuzzer + ASan +
# UBSan) in build-fuzz/text/: workload (simulate's JSON workloads), kconfig (kernel .config
# files), cmdline (`cma=` and size arguments). Seeds: the committed examples of each kind.
#   fuzz/run-text.sh [SECONDS-PER-TARGET] [TARGET...]     (default 60, all targets)
# FUZZ_SEED / FUZZ_RUNS as in fuzz/run.sh: make test runs a capped, fixed-seed pass.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(workload kconfig cmdline)
out=build-fuzz/text
source fuzz/objects.sh
runs=${FUZZ_RUNS:-20000}
status=0
for t in "${targets[@]}"; do
  case $t in
    workload) sources=(src/simulate/workload.cc src/base/*.cc) ;;
    kconfig) sources=(src/base/*.cc) ;;
    cmdline) sources=(src/base/*.cc src/memory/*.cc src/devicetree/*.cc src/heap/*.cc src/heaps/*.cc) ;;
    *) echo "fuzz: unknown target $t (workload, kconfig, cmdline)"; exit 2 ;;
  esac
  dir=$out/$t
  mkdir -p "$dir/seeds"
  binary=$dir/${t}_fuzz
  fuzz_link "$binary" "fuzz/text_fuzz.cc:-DDMAHEAP_FUZZ_$(echo "$t" | tr a-z A-Z)" "${sources[@]}"
  rm -rf "$dir/seeds"/*
  case $t in
    workload) cp examples/simulate/*.json "$dir/seeds/" ;;
    kconfig) for f in tests/oracle-golden/kernels/*.config oracle/kconfig/*.config; do [[ -f $f ]] && cp "$f" "$dir/seeds/$(echo "$f" | tr / _)"; done
             printf 'CONFIG_CMA=y\nCONFIG_CMA_SIZE_MBYTES=64\n# CONFIG_HUGETLB_PAGE is not set\n' >"$dir/seeds/small" ;;
    cmdline) for s in "cma=64M" "cma=16M@0x60000000" "cma=32M@0x40000000-0x80000000" "console=ttyAMA0 cma=1G" "4K" "0x1000" "64m" "1G"; do
               printf '%s' "$s" >"$dir/seeds/$(printf '%s' "$s" | tr -c 'a-zA-Z0-9' _)"
             done ;;
  esac
  fuzz_pass "fuzz ($t)" "$binary" "$dir" "$runs" "$seconds" 65536 "$dir/seeds" || status=1
done
exit $status
