#!/usr/bin/env bash
# make fuzz: a fuzzing campaign over every target of fuzz/targets.sh. Each target is built, its
# committed corpus fuzz/corpus/T and the seeds of the committed trees merged (-merge=1) into a
# start corpus, fuzzed with random seeds (printed) for FUZZ_SECONDS, and the result minimized
# (-merge=1 into an empty directory) back into fuzz/corpus/T. Crashes, hangs and OOMs go to
# fuzz/crashes/T/, and the fuzzer goes on with a new seed for the rest of the time (at most
# FUZZ_RESTARTS times). Ends with a table per target and the command reproducing each finding.
#   fuzz/campaign.sh [TARGET...]                    (default: every target)
#   fuzz/campaign.sh --reproduce TARGET FILE        builds TARGET and runs it on FILE
# Environment: FUZZ_SECONDS (wall seconds per target, default 600), FUZZ_JOBS (targets at once,
# default 1), FUZZ_NICE (nice level of the fuzzers, default 10), FUZZ_RESTARTS (default 5).
# CPU seconds are the fuzzer processes' own (rusage of user + system time), not wall time.
set -euo pipefail
cd "$(dirname "$0")/.."
source fuzz/objects.sh
source fuzz/targets.sh

export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

if [[ ${1:-} == --reproduce ]]; then
  [[ $# -eq 3 ]] || { echo "usage: fuzz/campaign.sh --reproduce TARGET FILE" >&2; exit 2; }
  fuzz_build "$2"
  exec "$(fuzz_binary "$2")" -rss_limit_mb=2048 -timeout=10 "$3"
fi

seconds=${FUZZ_SECONDS:-600}
jobs=${FUZZ_JOBS:-1}
nice_level=${FUZZ_NICE:-10}
restarts=${FUZZ_RESTARTS:-5}
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=("${fuzz_targets[@]}")
root=build-fuzz/campaign

# Runs a command and writes its user + system CPU seconds (its own and its waited-for children's)
# to the file $1.
cpu_run() {
  python3 -c '
import os, sys
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
_, status, ru = os.wait4(pid, 0)
with open(sys.argv[1], "w") as f:
    f.write("%.1f\n" % (ru.ru_utime + ru.ru_stime))
sys.exit(os.waitstatus_to_exitcode(status) & 255 if os.WIFEXITED(status) else 128 + os.WTERMSIG(status))
' "$@"
}

# The feature count a merge reports ("MERGE-OUTER: N new files with M new features added").
merge_features() { sed -n 's/.*MERGE-OUTER: [0-9]* new files with \([0-9]*\) new features.*/\1/p' "$1" | tail -n 1; }

count_files() { find "$1" -type f 2>/dev/null | wc -l; }

campaign_target() {
  local t=$1 dir=$root/$1 bin
  bin=$(fuzz_binary "$t")
  rm -rf "$dir"
  mkdir -p "$dir/base" "$dir/work" "$dir/final" "$dir/artifacts" "fuzz/corpus/$t"
  fuzz_tree_seeds "$t" "$dir/tree"
  local before features_before features_after
  before=$(count_files "fuzz/corpus/$t")
  "$bin" -merge=1 -max_len="${fuzz_max_len[$t]}" -rss_limit_mb=2048 -timeout=10 "$dir/base" "fuzz/corpus/$t" "$dir/tree" \
    >"$dir/merge-before.log" 2>&1 || { echo "$t: the start merge failed, see $dir/merge-before.log"; return 1; }
  features_before=$(merge_features "$dir/merge-before.log")
  local start end left runs=0 cpu=0 crashes=0 attempt=0 seed rc r c
  start=$(date +%s)
  end=$((start + seconds))
  while :; do
    left=$((end - $(date +%s)))
    ((left > 0 && attempt <= restarts)) || break
    seed=$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')
    echo "$t: fuzzing for ${left} s with -seed=$seed"
    rc=0
    cpu_run "$dir/cpu.$attempt" nice -n "$nice_level" "$bin" "$dir/work" "$dir/base" -seed="$seed" \
      -max_total_time="$left" -max_len="${fuzz_max_len[$t]}" -timeout=10 -rss_limit_mb=2048 \
      -artifact_prefix="$dir/artifacts/" -print_final_stats=1 >"$dir/fuzz.$attempt.log" 2>&1 || rc=$?
    r=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/fuzz.$attempt.log" | tail -n 1)
    [[ -n $r ]] || r=$(grep -oE '^#[0-9]+' "$dir/fuzz.$attempt.log" | tail -n 1 | tr -d '#')
    runs=$((runs + ${r:-0}))
    cpu=$(python3 -c "print(round($cpu + $(cat "$dir/cpu.$attempt"), 1))")
    attempt=$((attempt + 1))
    [[ $rc -ne 0 ]] || break
    # A finding: keep its input (crash-, timeout-, oom-, leak- or slow-unit- files).
    local found=0
    for c in "$dir"/artifacts/*; do
      [[ -f $c ]] || continue
      mkdir -p "fuzz/crashes/$t"
      mv "$c" "fuzz/crashes/$t/"
      echo "$t: FOUND $(basename "$c") (seed $seed); log $dir/fuzz.$((attempt - 1)).log"
      echo "fuzz/crashes/$t/$(basename "$c")" >>"$dir/findings"
      found=1
      crashes=$((crashes + 1))
    done
    if [[ $found -eq 0 ]]; then
      echo "$t: the fuzzer failed (exit $rc) without an input; see $dir/fuzz.$((attempt - 1)).log"
      crashes=$((crashes + 1))
    fi
  done
  "$bin" -merge=1 -max_len="${fuzz_max_len[$t]}" -rss_limit_mb=2048 -timeout=10 "$dir/final" "$dir/base" "$dir/work" \
    >"$dir/merge-after.log" 2>&1 || { echo "$t: the final merge failed, see $dir/merge-after.log"; return 1; }
  features_after=$(merge_features "$dir/merge-after.log")
  rm -rf "fuzz/corpus/$t"
  mkdir -p "fuzz/corpus/$t"
  cp "$dir/final"/* "fuzz/corpus/$t/" 2>/dev/null || true
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$t" "$runs" "$cpu" "$before" "$(count_files "fuzz/corpus/$t")" \
    "$((${features_after:-0} - ${features_before:-0}))" "$crashes" >"$dir/summary"
  echo "$t: done: $runs runs, $cpu CPU s, corpus $before -> $(count_files "fuzz/corpus/$t") files"
}

echo "fuzz campaign: ${targets[*]}; $seconds s per target, $jobs at once, nice $nice_level"
for t in "${targets[@]}"; do
  fuzz_build "$t"
done
mkdir -p "$root"
status=0
for t in "${targets[@]}"; do
  rm -f "$root/$t/summary"
  while (($(jobs -rp | wc -l) >= jobs)); do wait -n || status=1; done
  campaign_target "$t" &
done
while (($(jobs -rp | wc -l) > 0)); do wait -n || status=1; done

echo
printf '%-10s %12s %10s %14s %13s %13s %8s\n' target runs "CPU s" "corpus before" "corpus after" "new features" crashes
for t in "${targets[@]}"; do
  if [[ -f $root/$t/summary ]]; then
    IFS=$'\t' read -r name runs cpu before after ft crashes <"$root/$t/summary"
    printf '%-10s %12s %10s %14s %13s %13s %8s\n' "$name" "$runs" "$cpu" "$before" "$after" "$ft" "$crashes"
    [[ $crashes -eq 0 ]] || status=1
  else
    printf '%-10s %s\n' "$t" "did not finish (see $root/$t/)"
    status=1
  fi
done
findings=$(cat "$root"/*/findings 2>/dev/null || true)
if [[ -n $findings ]]; then
  echo
  echo "Findings (each reproduces with the command after it):"
  for f in $findings; do
    t=$(basename "$(dirname "$f")")
    echo "  $f"
    echo "    fuzz/campaign.sh --reproduce $t $f"
  done
fi
exit $status
