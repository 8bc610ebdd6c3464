# Sourced by the fuzz scripts: compiles sources once into build-fuzz/obj with clang (libFuzzer
# instrumentation + ASan + UBSan) and links fuzz binaries from them, so the device-tree and text
# targets share their objects.
#   fuzz_link OUT SOURCE[:-DNAME]...     (a source with :-DNAME gets that define and its own object)
# The objects are compiled FUZZ_BUILD_JOBS at a time (default: the number of CPUs), through ccache
# when it is installed, hashed the way the CMake builds are, so another clone reuses them
# (README.md, "Build cache").
fuzz_cxx=${CLANGXX:-clang++}
fuzz_flags=(-std=c++20 -O1 -g -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
            -fno-omit-frame-pointer -Isrc -Isrc/base/include -Wall -Wextra -Werror -Wno-missing-field-initializers
            "-fdebug-prefix-map=$PWD=.")
fuzz_launch=()
if command -v ccache >/dev/null; then fuzz_launch=(env "CCACHE_BASEDIR=$PWD" CCACHE_NOHASHDIR=true ccache); fi
fuzz_obj_dir=build-fuzz/obj

fuzz_link() {
  local out=$1
  shift
  mkdir -p "$fuzz_obj_dir" "$(dirname "$out")"
  # A changed header rebuilds everything (the objects have no dependency tracking).
  local stamp=$fuzz_obj_dir/.stamp h
  for h in src/*/*.h src/base/include/dmaheap/*.h; do
    if [[ ! -f $stamp || $h -nt $stamp ]]; then rm -f "$fuzz_obj_dir"/*.o; break; fi
  done
  touch "$stamp"
  local objs=() arg src def o pids=() failed=0 jobs=${FUZZ_BUILD_JOBS:-$(nproc)}
  for arg in "$@"; do
    src=${arg%%:*}
    def=
    [[ $arg == *:* ]] && def=${arg#*:}
    o=$fuzz_obj_dir/$(printf '%s%s' "$src" "$def" | tr '/=-' '___').o
    if [[ ! -f $o || $src -nt $o ]]; then
      # shellcheck disable=SC2086
      "${fuzz_launch[@]}" "$fuzz_cxx" "${fuzz_flags[@]}" $def -c "$src" -o "$o" &
      pids+=($!)
      if ((${#pids[@]} >= jobs)); then
        wait "${pids[0]}" || failed=1
        pids=("${pids[@]:1}")
      fi
    fi
    objs+=("$o")
  done
  for o in "${pids[@]}"; do wait "$o" || failed=1; done
  ((failed == 0)) || return 1
  "$fuzz_cxx" -fsanitize=fuzzer,address,undefined "${objs[@]}" -lfdt -o "$out"
}

# Runs one capped, fixed-seed pass and says what really ran (libFuzzer's own count of executions
# and seconds). A capped run (FUZZ_RUNS != -1, as in make test) starts from the seeds alone, as in
# every checkout; an uncapped one keeps its corpus.
#   fuzz_pass LABEL BINARY DIR RUNS SECONDS MAX_LEN SEED_DIR...   (corpus, log and artifacts in DIR)
fuzz_pass() {
  local label=$1 binary=$2 dir=$3 runs=$4 seconds=$5 max_len=$6
  shift 6
  [[ $runs == -1 ]] || rm -rf "$dir/corpus"
  mkdir -p "$dir/corpus"
  local log=$dir/fuzz.log rc=0 done_line
  ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "$binary" "$dir/corpus" "$@" -artifact_prefix="$dir/" -seed="${FUZZ_SEED:-20261125}" -runs="$runs" \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len="$max_len" -print_final_stats=1 >"$log" 2>&1 || rc=$?
  done_line=$(grep -E '^Done [0-9]+ runs in [0-9]+ second' "$log" | tail -n 1 || true)
  if [[ $rc -ne 0 ]]; then
    tail -n 30 "$log"
    echo "$label: FAILED (exit $rc) after ${done_line:-an unknown number of runs}; inputs in $dir/"
    return 1
  fi
  echo "$label: ${done_line#Done } (seed ${FUZZ_SEED:-20261125}, cap $runs runs or $seconds s), no crash or sanitizer report"
}
