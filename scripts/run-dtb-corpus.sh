#!/usr/bin/env bash
# dt-check over every arm64 .dtb Debian ships (scripts/fetch-debian-dtbs.sh) under several kernels:
# no crash, no exit 2, the same output on two runs. Prints counts and the time it took (a report,
# not a check: timings belong in `make bench`).
#   scripts/run-dtb-corpus.sh [BUILD]        (default build)
# env: DTB_DIR (default BUILD/debian-dtbs), CORPUS_KERNELS (default 5.3,6.1,6.12,6.18,7.2)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
dir=${DTB_DIR:-$build/debian-dtbs}
kernels=${CORPUS_KERNELS:-5.3,6.1,6.12,6.18,7.2}
runner=$build/tests/dtcheck/dtcheck_corpus
tool=$build/dmaheap
[[ -x $runner && -x $tool ]] || { echo "corpus: build $runner and $tool first"; exit 1; }
[[ -d $dir ]] || scripts/fetch-debian-dtbs.sh "$dir"
mapfile -t files < <(find -L "$dir" -name '*.dtb' | LC_ALL=C sort)
[[ ${#files[@]} -gt 0 ]] || { echo "corpus: no .dtb files in $dir"; exit 1; }

start_us=${EPOCHREALTIME/./}
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
elapsed_ms=$(( (${EPOCHREALTIME/./} - start_us) / 1000 ))
# Again with RAM as a bootloader fills it in (--memory-size 2G): every tree gets memory.
fill_start_us=${EPOCHREALTIME/./}
out3=$(mktemp) out4=$(mktemp)
trap 'rm -f "$out1" "$out2" "$out3" "$out4"' EXIT
"$runner" --memory-size 2G "$kernels" "${files[@]}" >"$out3" || status=$?
"$runner" --memory-size 2G "$kernels" "${files[@]}" >"$out4" || status=$?
for ((i = 0; i < ${#files[@]}; i += 25)); do
  rc=0
  a=$("$tool" dt-check "${files[$i]}" --memory-size 2G --json) || rc=$?
  b=$("$tool" dt-check "${files[$i]}" --memory-size 2G --json) || true
  if [[ $rc -gt 1 ]]; then echo "corpus: ${files[$i]} --memory-size 2G: exit $rc"; status=1; fi
  if [[ "$a" != "$b" ]]; then echo "corpus: ${files[$i]} --memory-size 2G: output differs between runs"; status=1; fi
done
fill_ms=$(( (${EPOCHREALTIME/./} - fill_start_us) / 1000 ))
cat "$out1"
grep '^FAIL' "$out1" && status=1
if ! cmp -s "$out1" "$out2"; then echo "corpus: the two runs differ (not deterministic)"; status=1; fi
printf 'corpus: %d trees x %s, two runs, %d.%03d s\n' "${#files[@]}" "$kernels" $((elapsed_ms / 1000)) $((elapsed_ms % 1000))
echo "corpus with --memory-size 2G:"
cat "$out3"
grep '^FAIL' "$out3" && status=1
if ! cmp -s "$out3" "$out4"; then echo "corpus: the two --memory-size runs differ (not deterministic)"; status=1; fi
printf 'corpus --memory-size 2G: %d trees x %s, two runs, %d.%03d s\n' "${#files[@]}" "$kernels" $((fill_ms / 1000)) $((fill_ms % 1000))
exit $status
