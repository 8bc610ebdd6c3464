#!/usr/bin/env bash
# libdmaheap as applications get it (part of make test):
# 1. cmake --install, then an example outside the tree builds against the installed libdmaheap
#    (CMake package and pkg-config, core alone and with the embedded component) and runs.
# 2. The installed core links no emulator: ldd shows no libfdt, nm shows none of the board,
#    device-tree, heap or memory-model code (the embedded component, checked the same way,
#    does show them: the checks can fail).
# 3. A core-only install (`--component dmaheap`): the example still works on the service and
#    the kernel backend (the emulated /dev/dma_heap of `dmaheap run`), and says clearly that
#    there are no heaps when neither exists and the embedded component is not installed.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=$(realpath "${1:-build}")
examples/libdmaheap-consumer/build-and-run.sh "$build"

work=$(mktemp -d)
service_pid=
cleanup() {
  if [[ -n $service_pid ]]; then kill "$service_pid" 2>/dev/null || true; wait "$service_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "install-consumer: FAILED: $*" >&2; exit 1; }

# --- 2. what the installed libraries link
cmake --install "$build" --prefix "$work/full" >/dev/null
core=$(find "$work/full" -name 'libdmaheap.so.*.*')
embedded=$(find "$work/full" -name 'libdmaheap-embedded.so.*.*')
[[ -n $core && -n $embedded ]] || fail "installed libraries not found under $work/full"
# Symbols of the emulator's parts (board, device tree, heaps, memory model, libfdt), in nm -C's
# demangled form. The heap core's ioctl rules (src/heap) are in the core on purpose.
emulator_symbols='dmaheap::(Board|MemoryModel|CmaBitmap|CmaHeap|SystemHeap|HeapPlan|dt::|emul::EmbeddedBackend)|(^| )fdt_'
# Whole outputs first: `grep -q` in a pipeline would stop early and, under pipefail, turn the
# producer's SIGPIPE into a wrong answer.
core_ldd=$(ldd "$core")
core_nm=$(nm -C "$core" | grep -E "$emulator_symbols" || true)
embedded_ldd=$(ldd "$embedded")
embedded_nm=$(nm -C "$embedded" | grep -E "$emulator_symbols" || true)
[[ $core_ldd != *libfdt* ]] || fail "ldd $core lists libfdt: $core_ldd"
[[ -z $core_nm ]] || fail "nm $core shows emulator code: $(head -3 <<<"$core_nm")"
[[ $embedded_ldd == *libfdt* ]] || fail "ldd $embedded lists no libfdt: the check above proves nothing"
[[ -n $embedded_nm ]] || fail "nm $embedded shows no emulator code: the check above proves nothing"
echo "install-consumer: core links no libfdt and no emulator code; the embedded component does"

# --- 3. core only
cmake --install "$build" --prefix "$work/core" --component dmaheap >/dev/null
[[ -z $(find "$work/core" -name 'libdmaheap-embedded*' -o -name 'dmaheap-embedded.pc' -o -name 'dmaheapEmbeddedTargets*') ]] ||
  fail "the core-only install has embedded parts"
cmake -S examples/libdmaheap-consumer -B "$work/app" -DCMAKE_PREFIX_PATH="$work/core" >/dev/null
cmake --build "$work/app" >/dev/null
if cmake -S examples/libdmaheap-consumer -B "$work/app-embedded" -DCMAKE_PREFIX_PATH="$work/core" -DWITH_EMBEDDED=ON \
  >/dev/null 2>&1; then
  fail "find_package(dmaheap COMPONENTS embedded) succeeded without the component"
fi
if PKG_CONFIG_PATH=$(dirname "$(find "$work/core" -name dmaheap.pc)") pkg-config --exists dmaheap-embedded; then
  fail "pkg-config finds dmaheap-embedded in a core-only install"
fi
export LD_LIBRARY_PATH="$work/core/lib:$work/core/lib/$(gcc -dumpmachine)"
app=$work/app/camera_frames

# Neither a kernel with heaps nor a service: a clear error, exit 1.
set +e
out=$(DMAHEAP_SOCKET="$work/none.sock" "$app" 2>&1)
rc=$?
set -e
[[ $rc -eq 1 ]] || fail "no heaps anywhere: exit $rc, expected 1: $out"
[[ $out == *"no DMA-BUF heaps: /dev/dma_heap lists none, no dmaheapd service at $work/none.sock"* &&
   $out == *"libdmaheap-embedded.so.0"*"not available"* ]] || fail "no heaps anywhere: unclear error: $out"
set +e
out=$(DMAHEAP_BACKEND=embedded "$app" 2>&1)
rc=$?
set -e
[[ $rc -eq 1 && $out == *"the embedded backend (libdmaheap's optional component libdmaheap-embedded.so.0) is not available"* ]] ||
  fail "DMAHEAP_BACKEND=embedded without the component: exit $rc: $out"

# The service backend.
"$build/dmaheapd" --socket "$work/dmaheap.sock" >"$work/dmaheapd.log" 2>&1 &
service_pid=$!
for _ in $(seq 100); do [[ -S $work/dmaheap.sock ]] && break; sleep 0.05; done
out=$(DMAHEAP_SOCKET="$work/dmaheap.sock" "$app") || fail "core only, service backend: $out"
[[ $out == "backend: service"* && $out == *"frame 3: "* ]] || fail "core only, service backend: $out"
out=$(DMAHEAP_SOCKET="$work/dmaheap.sock" "$work/app/c_consumer") || fail "core only, C API, service backend: $out"
[[ $out == "backend: service"* ]] || fail "core only, C API, service backend: $out"

# The kernel backend: /dev/dma_heap as `dmaheap run` provides it.
out=$(DMAHEAP_SOCKET="$work/none.sock" "$build/dmaheap" run -- "$app") || fail "core only, kernel backend: $out"
[[ $out == "backend: kernel"* && $out == *"frame 3: "* ]] || fail "core only, kernel backend: $out"
echo "install-consumer: core-only libdmaheap works on the service and kernel backends, and says when there are no heaps"
