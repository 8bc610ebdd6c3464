#!/usr/bin/env bash
# Differential test of the heap ABI against real kernels: every heap probe recorded by
# `make oracle` (errno: lines in tests/oracle-golden/<case>/<kernel>.txt) is replayed here by
# the same program (oracle/heaptest.c, built for this machine) under `dmaheap run`, with the
# case's device tree and the recorded kernel's version and .config. Any difference fails, with
# the case, the kernel's line and ours side by side, unless tests/oracle-golden/uapi-differences.txt
# explains it.
set -uo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
golden=tests/oracle-golden
probe=$build/oracle-heaptest
cc -O2 -Wall -o "$probe" oracle/heaptest.c || exit 1
declare -A allowed
skipped_boots=()
while read -r check kind rest; do
  [[ -z $check || $check == \#* ]] && continue
  if [[ $check == case ]]; then
    skipped_boots+=("$kind/${rest%% *}")  # CASE/KERNEL-GLOB
    continue
  fi
  allowed[$check]=$kind
done < $golden/uapi-differences.txt

runs=0 same=0 explained=0 failed=0 skipped=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for file in $golden/*/*.txt; do
  grep -q '^errno:' "$file" || continue
  case_name=$(basename "$(dirname "$file")")
  kernel_id=$(basename "$file" .txt)
  # the board the kernel was booted with: board.dts on arm64, board-ARCH.dts on the others
  tree=tests/dt-cases/$case_name/board.dts
  if grep -q '^CONFIG_ARM=y' "$golden/kernels/$kernel_id.config"; then tree=tests/dt-cases/$case_name/board-arm.dts
  elif grep -q '^CONFIG_RISCV=y' "$golden/kernels/$kernel_id.config"; then tree=tests/dt-cases/$case_name/board-riscv64.dts
  fi
  [[ -f $tree ]] || continue
  skip=0
  for pattern in "${skipped_boots[@]}"; do
    # shellcheck disable=SC2053
    [[ $case_name/$kernel_id == $pattern ]] && skip=1
  done
  if [[ $skip -eq 1 ]]; then
    skipped=$((skipped + 1))
    continue
  fi
  runs=$((runs + 1))
  "$build/dmaheap" run --dtb "$tree" --kernel "$(cat $golden/kernels/$kernel_id.version)" \
    --kernel-config "$golden/kernels/$kernel_id.config" -- "$probe" > "$tmp/out" 2>"$tmp/err"
  grep '^errno ' "$tmp/out" | sed 's/^errno /errno: /' | sort > "$tmp/ours"
  grep '^errno:' "$file" | sort > "$tmp/theirs"
  # Compare per (heap, check).
  join -j1 -a1 -a2 -e MISSING -o 0,1.2,2.2 \
    <(awk '{print $2"|"$3, $4}' "$tmp/theirs" | sort) <(awk '{print $2"|"$3, $4}' "$tmp/ours" | sort) > "$tmp/joined"
  while read -r key theirs ours; do
    heap=${key%%|*}
    check=${key#*|}
    if [[ $theirs == "$ours" ]]; then
      same=$((same + 1))
      continue
    fi
    kind=${allowed[$check]:-}
    heap_kind=cma
    [[ $heap == system* ]] && heap_kind=system
    if [[ -n $kind && ( $kind == all || $kind == "$heap_kind" ) ]]; then
      explained=$((explained + 1))
      continue
    fi
    failed=$((failed + 1))
    printf 'MISMATCH %-28s %-14s %-24s kernel: %-10s ours: %s\n' "$case_name" "$kernel_id" "$heap $check" "$theirs" "$ours"
  done < "$tmp/joined"
done
echo "oracle-uapi: $runs recorded boots replayed ($skipped not comparable, see uapi-differences.txt), $same checks identical, $explained known differences, $failed mismatches"
[[ $runs -gt 0 && $failed -eq 0 ]]
