#!/usr/bin/env bash
# dt-check over every arm64 .dtb Debian ships (scripts/fetch-debian-dtbs.sh) under several kernels:
# no crash, no exit 2, the same output on two runs, the whole set in under 30 s. Prints counts.
#   scripts/run-dtb-corpus.sh [BUILD]        (default build)
# env: DTB_DIR (default BUILD/debian-dtbs), CORPUS_KERNELS (default 5.3,6.1,6.12,6.18,7.2),
#      CORPUS_MAX_SECONDS (default 30)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
dir=${DTB_DIR:-$build/debian-dtbs}
kernels=${CORPUS_KERNELS:-5.3,6.1,6.12,6.18,7.2}
max=${CORPUS_MAX_SECONDS:-30}
runner=$build/tests/dtcheck/dtcheck_corpus
tool=$build/dmaheap
[[ -x $runner && -x $tool ]] || { echo "corpus: build $runner and $tool first"; exit 1; }
[[ -d $dir ]] || scripts/fetch-debian-dtbs.sh "$dir"
mapfile -t files < <(find -L "$dir" -name '*.dtb' | LC_ALL=C sort)
[[ ${#files[@]} -gt 0 ]] || { echo "corpus: no .dtb files in $dir"; exit 1; }

start=$(date +%s.%N)
out1=$(mktemp) out2=$(mktemp)
trap 'rm -f "$out1" "$out2"' EXIT
status=0
"$runner" "$kernels" "${files[@]}" >"$out1" || status=$?
"$runner" "$kernels" "${files[@]}" >"$out2" || status=$?
# The binary itself, on every 25th tree: exit 0 or 1, same output twice.
for ((i = 0; i < ${#files[@]}; i += 25)); do
  for k in ${kernels//,/ }; do
    rc=0
    a=$("$tool" dt-check "${files[$i]}" --kernel "$k" --json) || rc=$?
    b=$("$tool" dt-check "${files[$i]}" --kernel "$k" --json) || true
    if [[ $rc -gt 1 ]]; then echo "corpus: ${files[$i]} --kernel $k: exit $rc"; status=1; fi
    if [[ "$a" != "$b" ]]; then echo "corpus: ${files[$i]} --kernel $k: output differs between runs"; status=1; fi
  done
done
elapsed=$(echo "$(date +%s.%N) - $start" | bc)
cat "$out1"
grep '^FAIL' "$out1" && status=1
if ! cmp -s "$out1" "$out2"; then echo "corpus: the two runs differ (not deterministic)"; status=1; fi
printf 'corpus: %d trees x %s, two runs, %.1f s (limit %d s)\n' "${#files[@]}" "$kernels" "$elapsed" "$max"
if (( $(echo "$elapsed > $max" | bc) )); then echo "corpus: too slow"; status=1; fi
exit $status
