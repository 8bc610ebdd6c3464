# Sourced by the fuzz scripts (after fuzz/objects.sh): the fuzz targets, how each is built, and
# the seeds each starts from. One place, so the capped passes of make test (fuzz/run*.sh) and the
# campaign (fuzz/campaign.sh, make fuzz) fuzz the same binaries from the same seeds.
#   fuzz_build T              builds build-fuzz/bin/T_fuzz
#   fuzz_tree_seeds T DIR     writes the seeds made from committed trees and examples into DIR
#   fuzz_ordered_seeds T OUT  the committed corpus fuzz/corpus/T plus the tree seeds, in OUT, in a
#                             fixed order (see below)
# fuzz_max_len[T] is the largest input each target is given.
fuzz_targets=(dt protocol service workload trace kconfig cmdline heaps access)
declare -A fuzz_max_len=([dt]=262144 [protocol]=65536 [service]=16384 [workload]=65536 [trace]=65536 [kconfig]=65536
                         [cmdline]=4096 [heaps]=65536 [access]=65536)
# The byte that pads a seed to a distinct size (below): one the parser reads as nothing.
declare -A fuzz_pad=([dt]='\0' [protocol]='\0' [service]='\0' [workload]=' ' [trace]='\n' [kconfig]='\n' [cmdline]=' '
                     [heaps]=' ' [access]='\n')

fuzz_binary() { echo "build-fuzz/bin/$1_fuzz"; }

fuzz_build() {
  local t=$1 out
  out=$(fuzz_binary "$t")
  case $t in
    # Every source of the libraries dt-check is made of (globbed: a new file needs no edit here).
    dt) fuzz_link "$out" src/base/*.cc src/memory/*.cc src/devicetree/*.cc src/heap/*.cc src/heaps/*.cc \
          src/dtcheck/*.cc fuzz/dt_fuzz.cc ;;
    protocol) fuzz_link "$out" src/protocol/protocol.cc src/base/heap_descriptor.cc fuzz/protocol_fuzz.cc ;;
    service) fuzz_link "$out" src/base/*.cc src/memory/*.cc src/devicetree/*.cc src/heap/*.cc src/heaps/*.cc \
               src/board/*.cc src/protocol/*.cc src/service/*.cc src/trace/*.cc fuzz/service_fuzz.cc ;;
    workload) fuzz_link "$out" fuzz/text_fuzz.cc:-DDMAHEAP_FUZZ_WORKLOAD src/simulate/workload.cc src/base/*.cc ;;
    # Allocation traces (docs/traces.md): each line's parser and the replay's reader.
    trace) fuzz_link "$out" fuzz/text_fuzz.cc:-DDMAHEAP_FUZZ_TRACE src/simulate/trace_workload.cc src/trace/trace_event.cc \
             src/base/*.cc ;;
    kconfig) fuzz_link "$out" fuzz/text_fuzz.cc:-DDMAHEAP_FUZZ_KCONFIG src/base/*.cc ;;
    cmdline) fuzz_link "$out" fuzz/text_fuzz.cc:-DDMAHEAP_FUZZ_CMDLINE src/base/*.cc src/memory/*.cc \
               src/devicetree/*.cc src/heap/*.cc src/heaps/*.cc ;;
    heaps) fuzz_link "$out" fuzz/text_fuzz.cc:-DDMAHEAP_FUZZ_HEAPS src/base/*.cc src/memory/*.cc \
             src/devicetree/*.cc src/heap/*.cc src/heaps/*.cc src/board/*.cc ;;
    access) fuzz_link "$out" fuzz/text_fuzz.cc:-DDMAHEAP_FUZZ_ACCESS src/service/access.cc src/base/*.cc ;;
    *) echo "fuzz: unknown target $t (${fuzz_targets[*]})" >&2; return 2 ;;
  esac
}

# The protocol seeds: one frame of every message kind, written by a tiny generator.
fuzz_protocol_frames() {
  local dir=$1 gen=build-fuzz/bin/seedgen
  mkdir -p build-fuzz/bin
  if [[ ! -x $gen || fuzz/seedgen.cc -nt $gen || src/protocol/messages.h -nt $gen || src/protocol/protocol.cc -nt $gen ]]; then
    "$fuzz_cxx" -std=c++20 -Isrc -Isrc/base/include fuzz/seedgen.cc src/protocol/protocol.cc \
      src/base/heap_descriptor.cc -o "$gen"
  fi
  "$gen" "$dir"
}

fuzz_service_piece() {
  local n
  n=$(stat -c %s "$2")
  printf "\\x$(printf %02x "$1")\\x$(printf %02x $((n & 255)))\\x$(printf %02x $((n >> 8)))"
  cat "$2"
}

fuzz_tree_seeds() {
  local t=$1 dir=$2 f s
  mkdir -p "$dir"
  case $t in
    dt)
      for f in examples/*.dts examples/*/*.dts tests/dt-cases/*/board.dts; do
        [[ -f $f ]] || continue
        dtc -q -I dts -O dtb -o "$dir/$(echo "$f" | tr / _).dtb" "$f" 2>/dev/null || true
      done
      cp tests/devicetree/hostile/* tests/dtcheck/data/*.dtb "$dir/" 2>/dev/null || true ;;
    protocol) fuzz_protocol_frames "$dir" ;;
    # The service target reads [control byte][length, 2 bytes LE] before each piece
    # (fuzz/service_fuzz.cc; control 0 = no fd, 5 = one memfd): every request frame alone, with
    # and without an fd, and all of them in one connection.
    service)
      local frames=$dir/.frames
      mkdir -p "$frames"
      fuzz_protocol_frames "$frames"
      for f in "$frames"/*; do
        case $(basename "$f") in r-*) continue ;; esac
        fuzz_service_piece 0 "$f" >"$dir/$(basename "$f")"
        fuzz_service_piece 5 "$f" >"$dir/$(basename "$f")-fd"
      done
      for f in "$frames"/*; do case $(basename "$f") in r-*) ;; *) fuzz_service_piece 16 "$f" ;; esac; done >"$dir/all"
      rm -rf "$frames"
      # Every input a campaign saved stays a seed, so the capped pass replays it.
      cp fuzz/crashes/service/* "$dir/" 2>/dev/null || true ;;
    workload) cp examples/simulate/*.json "$dir/" ;;
    trace) cp tests/simulate/traces/*.trace "$dir/" ;;
    kconfig)
      for f in tests/oracle-golden/kernels/*.config oracle/kconfig/*.config; do
        [[ -f $f ]] && cp "$f" "$dir/$(echo "$f" | tr / _)"
      done ;;
    cmdline)
      for s in "cma=64M" "cma=16M@0x60000000" "cma=32M@0x40000000-0x80000000" "console=ttyAMA0 cma=1G" \
               "4K" "0x1000" "64m" "1G"; do
        printf '%s' "$s" >"$dir/$(printf '%s' "$s" | tr -c 'a-zA-Z0-9' _)"
      done ;;
    heaps) cp examples/*.json "$dir/" ;;
    access) cp systemd/dmaheapd.conf.example "$dir/" ;;
  esac
}

# libFuzzer runs its seeds sorted by size alone and keeps directory order among equal sizes, and
# directory order differs between file systems. So the seeds are taken in sorted name order, and
# each is padded with the target's pad byte to one byte more than the previous one when it is
# not already bigger: every size distinct, the order fixed, the content read the same.
fuzz_ordered_seeds() {
  local t=$1 out=$2 tmp=$2.tree f size prev=-1 i=0 pad
  rm -rf "$out" "$tmp"
  mkdir -p "$out"
  fuzz_tree_seeds "$t" "$tmp"
  pad=${fuzz_pad[$t]}
  while IFS=$'\t' read -r size f; do
    local want=$size
    ((want > prev)) || want=$((prev + 1))
    { cat "$f"; local k; for ((k = size; k < want; k++)); do printf "$pad"; done; } >"$out/$(printf '%05d' "$i")"
    prev=$want
    i=$((i + 1))
  done < <(find "fuzz/corpus/$t" "$tmp" -type f -printf '%s\t%p\n' 2>/dev/null | LC_ALL=C sort -n -k1,1 -k2,2)
  rm -rf "$tmp"
  echo "$i"
}

# One capped pass of target T (fuzz_pass of fuzz/objects.sh) in build-fuzz/pass/T.
#   fuzz_pass_target T LABEL RUNS SECONDS
fuzz_pass_target() {
  local t=$1 label=$2 runs=$3 seconds=$4 dir=build-fuzz/pass/$1 n
  fuzz_build "$t" || return 1
  mkdir -p "$dir"
  n=$(fuzz_ordered_seeds "$t" "$dir/seeds")
  echo "$label: $n seeds (fuzz/corpus/$t and the committed trees)"
  fuzz_pass "$label" "$(fuzz_binary "$t")" "$dir" "$runs" "$seconds" "${fuzz_max_len[$t]}" "$dir/seeds"
}
