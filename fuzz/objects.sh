# Sourced by the fuzz scripts: compiles sources once into build-fuzz/obj with clang (libFuzzer
# instrumentation + ASan + UBSan) and links fuzz binaries from them, so the device-tree and text
# targets share their objects.
#   fuzz_link OUT SOURCE[:-DNAME]...     (a source with :-DNAME gets that define and its own object)
fuzz_cxx=${CLANGXX:-clang++}
fuzz_flags=(-std=c++20 -O1 -g -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
            -fno-omit-frame-pointer -Isrc -Isrc/base/include -Wall -Wextra -Werror -Wno-missing-field-initializers)
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
  local objs=() arg src def o
  for arg in "$@"; do
    src=${arg%%:*}
    def=
    [[ $arg == *:* ]] && def=${arg#*:}
    o=$fuzz_obj_dir/$(printf '%s%s' "$src" "$def" | tr '/=-' '___').o
    if [[ ! -f $o || $src -nt $o ]]; then
      # shellcheck disable=SC2086
      "$fuzz_cxx" "${fuzz_flags[@]}" $def -c "$src" -o "$o"
    fi
    objs+=("$o")
  done
  "$fuzz_cxx" -fsanitize=fuzzer,address,undefined "${objs[@]}" -lfdt -o "$out"
}
