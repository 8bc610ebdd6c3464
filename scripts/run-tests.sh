#!/usr/bin/env bash
# Every test: the unit tests (plain and under ASan+UBSan), then the suites that run the tools
# on real inputs, and the lints. Each suite is a script that exits non-zero on failure; the last line sums up.
set -uo pipefail
build=${1:-build}
asan=${2:-build-asan}
cd "$(dirname "$0")/.."
passed=0
failed=0
failed_names=()
summary=()
total_start=$SECONDS
run() {
  local name=$1
  shift
  echo "=== $name"
  local start=$SECONDS
  if "$@"; then
    passed=$((passed + 1))
    echo "=== $name: ok ($((SECONDS - start)) s)"
    summary+=("$(printf '  %-32s ok      %5d s' "$name" $((SECONDS - start)))")
  else
    failed=$((failed + 1))
    failed_names+=("$name")
    echo "=== $name: FAILED ($((SECONDS - start)) s)"
    summary+=("$(printf '  %-32s FAILED  %5d s' "$name" $((SECONDS - start)))")
  fi
}
run "unit tests" ctest --test-dir "$build" --output-on-failure -j2 --timeout 600
run "unit tests under ASan+UBSan" env ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir "$asan" --output-on-failure -j2 --timeout 900
run "kernel-rules lint" scripts/lint-kernel-rules.sh
for suite in tests/suites/*.sh; do
  [[ -x "$suite" ]] || continue
  run "$(basename "$suite" .sh)" "$suite" "$build"
done
echo
echo "groups (wall time each; $((SECONDS - total_start)) s in all):"
printf '%s\n' "${summary[@]}"
if [[ $failed -gt 0 ]]; then echo "failed: ${failed_names[*]}"; fi
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
