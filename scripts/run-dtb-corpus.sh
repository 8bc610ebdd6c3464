#!/usr/bin/env bash
# dt-check over every arm64 .dtb Debian ships (scripts/fetch-debian-dtbs.sh) under several kernels:
# no crash, no exit 2, the same output on two runs. Then the same over Debian's armhf (armmp) and
# riscv64 trees, each taken for the architecture it names (docs/device-trees.md "Architecture").
# Prints counts and the time it took (a report, not a check: timings belong in `make bench`).
#   scripts/run-dtb-corpus.sh [BUILD]        (default build)
# env: DTB_DIR (default BUILD/debian-dtbs), CORPUS_KERNELS (default 5.3,6.1,6.12,6.18,7.2),
#      DTB_DIR_ARMHF, DTB_DIR_RISCV64 (default BUILD/debian-dtbs-armhf, -riscv64),
#      CORPUS_KERNELS_OTHER (default 6.1,6.12,7.2: the releases Debian ships for them, and the newest),
#      CORPUS_ARCHS (default "armhf riscv64"; empty: the arm64 corpus only)
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
# dt-check --devices with RAM filled in (docs/device-trees.md, "Devices and their regions"): the
# same checks, and the counts of trees with each device finding.
dev1=$(mktemp) dev2=$(mktemp)
"$runner" --memory-size 2G --devices "$kernels" "${files[@]}" >"$dev1" || status=$?
"$runner" --memory-size 2G --devices "$kernels" "${files[@]}" >"$dev2" || status=$?
for ((i = 0; i < ${#files[@]}; i += 25)); do
  rc=0
  a=$("$tool" dt-check "${files[$i]}" --memory-size 2G --devices --json) || rc=$?
  b=$("$tool" dt-check "${files[$i]}" --memory-size 2G --devices --json) || true
  if [[ $rc -gt 1 ]]; then echo "corpus: ${files[$i]} --devices: exit $rc"; status=1; fi
  if [[ "$a" != "$b" ]]; then echo "corpus: ${files[$i]} --devices: output differs between runs"; status=1; fi
done
elapsed_ms=$(( (${EPOCHREALTIME/./} - start_us) / 1000 ))
# Again with RAM as a bootloader fills it in (--memory-size 2G): every tree gets memory.
fill_start_us=${EPOCHREALTIME/./}
out3=$(mktemp) out4=$(mktemp)
trap 'rm -f "$out1" "$out2" "$out3" "$out4" "$dev1" "$dev2"' EXIT
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
echo "with --memory-size 2G --devices:"
grep '^devices:\|^digest' "$dev1"
grep '^FAIL' "$dev1" && status=1
if ! cmp -s "$dev1" "$dev2"; then echo "corpus: the two --devices runs differ (not deterministic)"; status=1; fi
grep '^FAIL' "$out1" && status=1
if ! cmp -s "$out1" "$out2"; then echo "corpus: the two runs differ (not deterministic)"; status=1; fi
printf 'corpus: %d trees x %s, two runs, %d.%03d s\n' "${#files[@]}" "$kernels" $((elapsed_ms / 1000)) $((elapsed_ms % 1000))
echo "corpus with --memory-size 2G:"
cat "$out3"
grep '^FAIL' "$out3" && status=1
if ! cmp -s "$out3" "$out4"; then echo "corpus: the two --memory-size runs differ (not deterministic)"; status=1; fi
printf 'corpus --memory-size 2G: %d trees x %s, two runs, %d.%03d s\n' "${#files[@]}" "$kernels" $((fill_ms / 1000)) $((fill_ms % 1000))

# Debian's armhf and riscv64 trees: without and with --memory-size 2G, each pass run twice at
# once (the two copies in parallel keep the added time within budget) and compared; the binary
# on every 25th tree, twice.
other_kernels=${CORPUS_KERNELS_OTHER:-6.1,6.12,7.2}
for darch in ${CORPUS_ARCHS-armhf riscv64}; do
  case $darch in
    armhf) odir=${DTB_DIR_ARMHF:-$build/debian-dtbs-armhf} ;;
    riscv64) odir=${DTB_DIR_RISCV64:-$build/debian-dtbs-riscv64} ;;
    *) echo "corpus: CORPUS_ARCHS: unknown '$darch'"; status=1; continue ;;
  esac
  [[ -d $odir ]] || DEBIAN_ARCH=$darch scripts/fetch-debian-dtbs.sh "$odir"
  mapfile -t ofiles < <(find -L "$odir" -name '*.dtb' | LC_ALL=C sort)
  [[ ${#ofiles[@]} -gt 0 ]] || { echo "corpus: no .dtb files in $odir"; status=1; continue; }
  o_start_us=${EPOCHREALTIME/./}
  o1=$(mktemp) o2=$(mktemp) o3=$(mktemp) o4=$(mktemp)
  "$runner" "$other_kernels" "${ofiles[@]}" >"$o1" & p1=$!
  "$runner" "$other_kernels" "${ofiles[@]}" >"$o2" & p2=$!
  wait $p1 || status=$?
  wait $p2 || status=$?
  "$runner" --memory-size 2G "$other_kernels" "${ofiles[@]}" >"$o3" & p1=$!
  "$runner" --memory-size 2G "$other_kernels" "${ofiles[@]}" >"$o4" & p2=$!
  wait $p1 || status=$?
  wait $p2 || status=$?
  for ((i = 0; i < ${#ofiles[@]}; i += 25)); do
    for extra in "" "--memory-size 2G"; do
      rc=0
      # shellcheck disable=SC2086
      a=$("$tool" dt-check "${ofiles[$i]}" $extra --json) || rc=$?
      # shellcheck disable=SC2086
      b=$("$tool" dt-check "${ofiles[$i]}" $extra --json) || true
      if [[ $rc -gt 1 ]]; then echo "corpus: ${ofiles[$i]} $extra: exit $rc"; status=1; fi
      if [[ "$a" != "$b" ]]; then echo "corpus: ${ofiles[$i]} $extra: output differs between runs"; status=1; fi
    done
  done
  o_ms=$(( (${EPOCHREALTIME/./} - o_start_us) / 1000 ))
  echo "corpus $darch:"
  cat "$o1"
  grep '^FAIL' "$o1" && status=1
  if ! cmp -s "$o1" "$o2"; then echo "corpus $darch: the two runs differ (not deterministic)"; status=1; fi
  echo "corpus $darch with --memory-size 2G:"
  cat "$o3"
  grep '^FAIL' "$o3" && status=1
  if ! cmp -s "$o3" "$o4"; then echo "corpus $darch: the two --memory-size runs differ (not deterministic)"; status=1; fi
  printf 'corpus %s: %d trees x %s, with and without --memory-size 2G, two runs each, %d.%03d s\n' "$darch" \
    "${#ofiles[@]}" "$other_kernels" $((o_ms / 1000)) $((o_ms % 1000))
  rm -f "$o1" "$o2" "$o3" "$o4"
done
exit $status
