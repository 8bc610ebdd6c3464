#!/usr/bin/env bash
# The command-line contract (docs/cli.md) and the issues' "done when" checks, run on the built
# binary: exact JSON values, exit codes and the errno names in messages.
set -uo pipefail
cd "$(dirname "$0")/../.."
bin=${1:-build}/dmaheap
fail=0
check() {  # check NAME EXPECTED ACTUAL
  if [[ "$2" == "$3" ]]; then echo "ok   $1"; else echo "FAIL $1: expected [$2] got [$3]"; fail=1; fi
}
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

check "list: heaps of the default board on 6.18" "default_cma_region cma 67108864|reserved cma 67108864|system system 2080374784" \
  "$($bin list --json | json "'|'.join(f\"{h['name']} {h['type']} {h['size']}\" for h in d['heaps'])")"
check "list: 6.12 names the default area only" "reserved system" \
  "$($bin list --kernel 6.12 --json | json "' '.join(h['name'] for h in d['heaps'])")"
check "list: 5.5 has no heaps" "" "$($bin list --kernel 5.5 --json | json "' '.join(h['name'] for h in d['heaps'])")"
check "alloc: system heap chunking" "1048576 1048576 1048576 65536 4096" \
  "$($bin alloc system 3215360 --json | json "' '.join(str(s['size']) for s in d['buffers'][0]['segments'])")"
out=$($bin alloc reserved 3M --json)
check "alloc: CMA one segment" "1" "$(echo "$out" | json "len(d['buffers'][0]['segments'])")"
check "alloc: CMA 1 MiB aligned inside the area" "True" \
  "$(echo "$out" | json "(lambda s: s['base'] % 1048576 == 0 and s['base'] >= 0xbc000000 and s['base'] + s['size'] <= 0xc0000000)(d['buffers'][0]['segments'][0])")"
check "alloc: --count" "4" "$($bin alloc reserved 16M --count 4 --json | json "len(d['buffers'])")"
err=$($bin alloc reserved 65M 2>&1 >/dev/null); code=$?
check "alloc: 65M from 64 MiB CMA exits 1" "1" "$code"
check "alloc: names ENOMEM" "yes" "$([[ $err == *ENOMEM* ]] && echo yes || echo "$err")"
err=$($bin alloc system 0 2>&1 >/dev/null); code=$?
check "alloc: size 0 exits 1" "1" "$code"
check "alloc: names EINVAL" "yes" "$([[ $err == *EINVAL* ]] && echo yes || echo "$err")"
$bin alloc system 12Q >/dev/null 2>&1; check "alloc: bad size exits 2" "2" "$?"
$bin alloc nosuch 4K >/dev/null 2>&1; check "alloc: unknown heap exits 1" "1" "$?"
$bin list --kernel 4.19 >/dev/null 2>&1; check "list: unsupported kernel exits 2" "2" "$?"
$bin list --bogus >/dev/null 2>&1; check "list: unknown option exits 2" "2" "$?"
$bin frobnicate >/dev/null 2>&1; check "unknown command exits 2" "2" "$?"
check "list --dtb: heaps from a tree (6.12)" "framebuffer@60000000 system" \
  "$($bin list --dtb examples/juno-framebuffer-cma.dts --kernel 6.12 --json | json "' '.join(h['name'] for h in d['heaps'])")"
$bin list --dtb examples/juno-framebuffer-outside-memory.dts >/dev/null 2>&1; check "list --dtb: a crashing tree exits 2" "2" "$?"
$bin dt-check examples/juno-framebuffer-not-reusable.dts >/dev/null; check "dt-check: not reusable is a warning (exit 0)" "0" "$?"
check "dt-check: cma-not-reusable reported" "yes" \
  "$($bin dt-check examples/juno-framebuffer-not-reusable.dts --json | json "'yes' if any(x['code']=='cma-not-reusable' for x in d['diagnostics']) and not any(h['type']=='cma' and h.get('area')=='framebuffer@60000000' for h in d['heaps']) else 'no'")"
$bin dt-check examples/juno-framebuffer-outside-memory.dts >/dev/null; check "dt-check: outside memory exits 1" "1" "$?"
check "dt-check: cma-outside-memory names WARN and crash" "yes" \
  "$($bin dt-check examples/juno-framebuffer-outside-memory.dts --json | json "'yes' if any(x['code']=='cma-outside-memory' and any('WARN' in l for l in x['kernel_log']) and any('paging request' in l for l in x['kernel_log']) for x in d['diagnostics']) else 'no'")"
# dt-check --devices (docs/cli.md): added fields only with the option; a heap for every device.
check "dt-check: no devices array without --devices" "no" \
  "$($bin dt-check examples/juno-framebuffer-cma.dts --json | json "'yes' if 'devices' in d or 'pipelines' in d else 'no'")"
check "dt-check --devices: heaps of a pipeline without IOMMU and of a device behind one" "None None system|None" \
  "$($bin dt-check examples/devices/pipeline-no-cma-heap.dts --kernel 6.12 --devices --json | json "' '.join(str(x['heap']) for x in d['devices']) + '|' + str(d['pipelines'][0]['heap'])")"
$bin dt-check examples/devices/device-region-missing.dts --devices >/dev/null; check "dt-check --devices: a dangling memory-region exits 1" "1" "$?"
$bin dt-check examples/devices/device-region-missing.dts >/dev/null; check "dt-check: without --devices the same tree exits 0" "0" "$?"
rpi4=${DTB_DIR:-${1:-build}/debian-dtbs}/broadcom/bcm2711-rpi-4-b.dtb
if [[ -f $rpi4 ]]; then
  check "dt-check --devices: every memory-region user of the Raspberry Pi 4 tree gets a heap decision" "yes" \
    "$($bin dt-check "$rpi4" --devices --json | json "'yes' if 'devices' in d and all('heap' in x and x['heap_reason'] for x in d['devices']) else 'no'")"
fi
# Backings (docs/emulation.md "Backings"): the host's devices moved to where nothing is.
nohost() { env DMAHEAP_HOST_DMA_HEAP=/nonexistent/heap DMAHEAP_HOST_UDMABUF=/nonexistent/udmabuf \
  DMAHEAP_HOST_UDMABUF_PARAMETERS=/nonexistent/parameters DMAHEAP_HOST_DRI=/nonexistent/dri "$@"; }
check "list: the backing auto picks without host devices" "memfd" "$(nohost $bin list --json | json "d['backing']['name']")"
out=$(nohost $bin run --backing udmabuf -- true 2>&1); rc=$?
check "run --backing udmabuf without /dev/udmabuf exits 2" "2" "$rc"
check "run --backing udmabuf without /dev/udmabuf says why" \
  "dmaheap run: ENOENT: --backing udmabuf is not available: cannot open /nonexistent/udmabuf: No such file or directory" "$out"
out=$(nohost ${bin}d --backing vgem --socket /tmp/dmaheap-cli-backing.sock 2>&1); rc=$?
check "dmaheapd --backing vgem without /dev/dri exits 1" "1" "$rc"
check "dmaheapd --backing vgem without /dev/dri says why" \
  "dmaheapd: ENOENT: --backing vgem is not available: no vgem device: cannot open /nonexistent/dri: No such file or directory" "$out"
check "run --backing memfd reports it and runs the program" \
  "dmaheap run: backing: memfd (a sealed memfd per buffer; not importable by devices); releases seen by inotify|0" \
  "$(nohost $bin run --backing memfd -- true 2>&1)|$?"
$bin run --backing bogus -- true >/dev/null 2>&1; check "run --backing bogus is a usage error" "2" "$?"
# --arch (docs/cli.md; docs/kernel-behaviour.md §11): unknown names are usage errors everywhere,
# the tree decides by default, and 32-bit ARM's rules show in dt-check, list and alloc.
err=$($bin dt-check examples/arm-virt-2g.dts --arch x86 2>&1 >/dev/null); code=$?
check "dt-check --arch x86 exits 2" "2" "$code"
check "dt-check --arch x86 names the choices" "dmaheap dt-check: architecture 'x86' is not supported: give arm, arm64 or riscv64" "$err"
$bin list --arch mips >/dev/null 2>&1; check "list --arch mips exits 2" "2" "$?"
out=$(${bin}d --arch mips --socket /tmp/dmaheap-cli-arch.sock 2>&1); rc=$?
check "dmaheapd --arch mips exits 2 and says why" "2|dmaheapd: architecture 'mips' is not supported: give arm, arm64 or riscv64" "$rc|$out"
err=$($bin alloc system 4K --arch sparc 2>&1 >/dev/null); code=$?
check "alloc --arch sparc exits 2 and says why" "2 yes" "$code $([[ $err == *"architecture 'sparc' is not supported"* ]] && echo yes || echo "$err")"
check "dt-check: the arm tree is taken for arm" "arm tree /cpus/cpu@0 is compatible with \"arm,cortex-a15\", a 32-bit ARM core" \
  "$($bin dt-check examples/arm-virt-2g.dts --json | json "d['arch']['name'] + ' ' + d['arch']['source'] + ' ' + d['arch']['reason']")"
check "dt-check: --arch overrides the tree" "arm64 option" \
  "$($bin dt-check examples/arm-virt-2g.dts --arch arm64 --json | json "d['arch']['name'] + ' ' + d['arch']['source']")"
check "dt-check: a 2-cell tree without a known core is arm64 (the tie-breaker)" "arm64 tree" \
  "$($bin dt-check examples/placeholder-memory.dts --json | json "d['arch']['name'] + ' ' + d['arch']['source']")"
check "dt-check: the text names the architecture" "architecture arm: /cpus/cpu@0 is compatible with \"arm,cortex-a15\", a 32-bit ARM core" \
  "$($bin dt-check examples/arm-virt-2g.dts | grep '^architecture ')"
check "dt-check arm: default CMA area at the top of highmem, zones DMA and HighMem" \
  "reserved 0xbc000000 67108864|DMA 0x40000000 805306368,HighMem 0x70000000 1342177280|cma: Reserved 64 MiB at 0xbc000000" \
  "$($bin dt-check examples/arm-virt-2g.dts --json | json "' '.join(f\"{a['name']} {a['base']:#x} {a['size']}\" for a in d['cma_areas']) + '|' + ','.join(f\"{z['name']} {z['base']:#x} {z['size']}\" for z in d['zones']) + '|' + [l for l in d['kernel_log'] if l.startswith('cma: Reserved')][0]")"
$bin dt-check examples/arm-virt-coherent-pool.dts >/dev/null; check "dt-check arm: a coherent pool without no-map exits 1" "1" "$?"
check "dt-check arm: the pool is refused with the kernel's line" \
  "failed|error dma-pool-needs-no-map /reserved-memory/display-pool@50000000 Reserved memory: regions without no-map are not yet supported" \
  "$($bin dt-check examples/arm-virt-coherent-pool.dts --json | json "d['reserved'][0]['outcome'] + '|' + ' '.join(f\"{x['severity']} {x['code']} {x['node']} {x['kernel_log'][0]}\" for x in d['diagnostics'] if x['code']=='dma-pool-needs-no-map')")"
$bin dt-check examples/arm-virt-coherent-pool.dts --arch arm64 >/dev/null; check "dt-check --arch arm64: the same pool is accepted (exit 0)" "0" "$?"
check "dt-check riscv64: default area below 4 GiB with RAM to 10 GiB" "riscv64 0xfc000000 DMA32,Normal" \
  "$($bin dt-check examples/riscv-virt-8g.dts --json | json "d['arch']['name'] + ' ' + hex(d['cma_areas'][0]['base']) + ' ' + ','.join(z['name'] for z in d['zones'])")"
check "alloc --arch arm: CMA buffer from the highmem area" "True" \
  "$($bin alloc reserved 3M --dtb examples/arm-virt-2g.dts --arch arm --json | json "(lambda s: s['base'] >= 0xbc000000 and s['base'] + s['size'] <= 0xc0000000)(d['buffers'][0]['segments'][0])")"
check "run --arch arm: the program sees the arm board's heaps" "default_cma_region reserved system|0" \
  "$(nohost $bin run --arch arm --dtb examples/arm-virt-2g.dts --backing memfd -- /bin/sh -c 'ls /dev/dma_heap | sort | tr "\n" " " | sed "s/ $//"' 2>/dev/null)|$?"
head -c 100 /dev/urandom > /tmp/dmaheap-cli-garbage.dtb
$bin dt-check /tmp/dmaheap-cli-garbage.dtb >/dev/null 2>&1; check "dt-check: garbage exits 2" "2" "$?"
exit $fail
