#!/usr/bin/env bash
# Heap profiles and the heaps they add (docs/heap-profiles.md), run on the built binaries: the
# "done when" checks of the heap-descriptor issue with exact values, exit codes and errno names.
set -uo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
bin=$build/dmaheap
fail=0
check() {  # check NAME EXPECTED ACTUAL
  if [[ "$2" == "$3" ]]; then echo "ok   $1"; else echo "FAIL $1: expected [$2] got [$3]"; fail=1; fi
}
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
rk=(--dtb examples/rockchip-6g-above-4g.dts --profile rockchip)
co=(--dtb examples/carveout-heap.dts --heaps examples/carveout-heaps.json)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Rockchip: the four vendor heaps plus the board's CMA heaps, with their descriptors.
check "list --profile rockchip: heaps" \
  "default_cma_region cma|reserved cma|system system|system-dma32 system|system-uncached system|system-uncached-dma32 system" \
  "$($bin list --profile rockchip --json | json "'|'.join(h['name'] + ' ' + h['type'] for h in d['heaps'])")"
check "list --profile rockchip: cached/dma32" \
  "default_cma_region True False|reserved True False|system True False|system-dma32 True True|system-uncached False False|system-uncached-dma32 False True" \
  "$($bin list --profile rockchip --json | json "'|'.join(f\"{h['name']} {h['cached']} {h['dma32']}\" for h in d['heaps'])")"
check "list --profile rockchip on a 6 GiB board: DMA32 size" "2080374784 6375342080" \
  "$($bin list "${rk[@]}" --json | json "' '.join(str(h['size']) for h in d['heaps'] if h['name'] in ('system-dma32', 'system'))" | tr '\n' ' ' | sed 's/ $//' | awk '{print $2, $1}')"
check "alloc system-dma32 64M: every segment ends below 4 GiB" "yes" \
  "$($bin alloc system-dma32 64M "${rk[@]}" --json | json "'yes' if all(s['base'] + s['size'] <= 1 << 32 for b in d['buffers'] for s in b['segments']) and sum(s['size'] for s in d['buffers'][0]['segments']) == 64 << 20 else 'no'")"
check "alloc system 64M on the same board: above 4 GiB (Normal zone first)" "yes" \
  "$($bin alloc system 64M "${rk[@]}" --json | json "'yes' if all(s['base'] >= 1 << 32 for b in d['buffers'] for s in b['segments']) else 'no'")"
check "alloc system-uncached-dma32: below 4 GiB too" "yes" \
  "$($bin alloc system-uncached-dma32 8M "${rk[@]}" --json | json "'yes' if all(s['base'] + s['size'] <= 1 << 32 for b in d['buffers'] for s in b['segments']) else 'no'")"

# Android and NXP.
check "list --profile android" "reserved system system-uncached" \
  "$($bin list --profile android --kernel 6.12 --json | json "' '.join(h['name'] for h in d['heaps'])")"
check "list --profile nxp: linux,cma and its uncached view on the default area" \
  "linux,cma reserved True|linux,cma-uncached reserved False" \
  "$($bin list --profile nxp --kernel 6.12 --json | json "'|'.join(f\"{h['name']} {h['region']} {h['cached']}\" for h in d['heaps'] if h['name'].startswith('linux,cma'))")"

# The carve-out: only inside its region, ENOMEM when full.
check "list --heaps: carveout heap over the no-map region" "vendor-carveout carveout True 67108864 vendor-carveout@70000000" \
  "$($bin list "${co[@]}" --json | json "' '.join(str(x) for h in d['heaps'] if h['name'] == 'vendor-carveout' for x in (h['name'], h['type'], h['contiguous'], h['size'], h['region']))")"
check "alloc from the carveout: 4 x 16M inside 0x70000000-0x74000000, one segment each" "yes" \
  "$($bin alloc vendor-carveout 16M --count 4 "${co[@]}" --json | json "'yes' if len(d['buffers']) == 4 and all(len(b['segments']) == 1 and 0x70000000 <= s['base'] and s['base'] + s['size'] <= 0x74000000 for b in d['buffers'] for s in b['segments']) else 'no'")"
out=$($bin alloc vendor-carveout 16M --count 5 "${co[@]}" 2>&1)
check "alloc past the carveout's size exits 1" "1" "$?"
check "alloc past the carveout's size says ENOMEM" "yes" "$(grep -q 'ENOMEM: buffer 5 of 5' <<<"$out" && echo yes || echo no)"
out=$($bin alloc vendor-carveout 65M "${co[@]}" 2>&1)
check "alloc larger than the carveout: ENOMEM" "yes" "$(grep -q 'ENOMEM' <<<"$out" && echo yes || echo no)"

# Strict validation: exit 2 with the file and entry in the message.
bad() {  # bad NAME JSON EXPECTED-SUBSTRING
  printf '%s' "$2" >"$tmp/h.json"
  local msg rc
  msg=$($bin list --dtb examples/carveout-heap.dts --heaps "$tmp/h.json" 2>&1 >/dev/null)
  rc=$?
  check "heaps file: $1: exit 2" "2" "$rc"
  check "heaps file: $1: message" "yes" "$(grep -qF -- "$3" <<<"$msg" && echo yes || echo "no: $msg")"
}
bad "not JSON" '{"heaps": [' "not valid JSON"
bad "not an object" '[1]' "must be a JSON object"
bad "unknown top-level key" '{"heaps": [], "heap": []}' "unknown key 'heap'"
bad "unknown heap key" '{"heaps": [{"kind": "system", "size": 1}]}' "heaps[0]: unknown key 'size'"
bad "missing kind" '{"heaps": [{"name": "x"}]}' "heaps[0]: needs a \"kind\""
bad "unknown kind" '{"heaps": [{"kind": "chunk"}]}' "unknown heap kind 'chunk' (kinds: system, cma, carveout)"
bad "mistyped cached" '{"heaps": [{"kind": "system", "cached": "no"}]}' "\"cached\" must be true or false"
bad "carveout without region" '{"heaps": [{"kind": "carveout"}]}' "needs \"region\""
bad "carveout on a missing node" '{"heaps": [{"kind": "carveout", "region": "nope"}]}' "no reserved-memory node 'nope'"
bad "name with a slash" '{"heaps": [{"kind": "system", "name": "a/b"}]}' "plain /dev/dma_heap entry name"
bad "name taken by a different heap" '{"heaps": [{"kind": "system", "name": "reserved"}]}' "already has a different heap named 'reserved'"
bad "dma32 on a cma heap" '{"heaps": [{"kind": "cma", "dma32": true}]}' "a cma heap takes no \"dma32\""
printf '%s' '{"heaps": [{"kind": "carveout", "region": "secure-firmware@7e000000"}]}' >"$tmp/nm.json"
check "carveout over a region that is not no-map: exit 2" "2" \
  "$($bin list --dtb examples/juno-framebuffer-cma.dts --heaps "$tmp/nm.json" >/dev/null 2>&1; echo $?)"
check "unknown profile: exit 2" "2" "$($bin list --profile vendor >/dev/null 2>&1; echo $?)"
out=$($bin list --profile vendor 2>&1)
check "unknown profile: names the profiles" "yes" "$(grep -qF "(profiles: android, rockchip, nxp)" <<<"$out" && echo yes || echo no)"
out=$($bin list --heaps "$tmp/none.json" 2>&1)
check "missing heaps file: exit 2" "2" "$?"
check "missing heaps file: says why" "yes" "$(grep -q "No such file" <<<"$out" && echo yes || echo no)"

# dt-check's heap list carries the same descriptor fields (type and area unchanged).
check "dt-check --json: heaps with their descriptors" \
  "system system False system-pages None|framebuffer@60000000 cma True cma-area framebuffer@60000000" \
  "$($bin dt-check examples/juno-framebuffer-cma.dts --kernel 6.12 --json | json "'|'.join(f\"{h['name']} {h['type']} {h['contiguous']} {h['source']} {h['area']}\" for h in d['heaps'])")"

# Every board-taking tool accepts the options.
check "run --profile: the program sees the profile's heaps" "default_cma_region reserved system system-dma32 system-uncached system-uncached-dma32" \
  "$($bin run --profile rockchip -- /bin/ls /dev/dma_heap | tr '\n' ' ' | sed 's/ $//')"
check "simulate resolves dma32 with the shared resolver" "system-dma32" \
  "$(printf '%s' '{"steps": 2, "streams": [{"heap": "dma32", "size": "1M", "count": 1}]}' >"$tmp/w.json"; $bin simulate "$tmp/w.json" --profile rockchip --json | json "d['streams'][0]['heap']")"
if [[ -x $build/dmaheapd ]]; then
  "$build/dmaheapd" --socket "$tmp/d.sock" --profile rockchip "${co[@]:0:4}" >"$tmp/d.log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do [[ -S $tmp/d.sock ]] && break; sleep 0.05; done
  check "dmaheapd --profile --heaps: list through the service keeps the descriptors" \
    "system-dma32 True|system-uncached False|vendor-carveout carveout-True" \
    "$(DMAHEAP_SOCKET=$tmp/d.sock $bin list --json | json "'|'.join(f\"{h['name']} {h['dma32']}\" if h['name'].startswith('system-') and h['name'].endswith('dma32') and h['cached'] else (f\"{h['name']} {h['cached']}\" if h['name'] == 'system-uncached' else f\"{h['name']} {h['type']}-{h['contiguous']}\") for h in d['heaps'] if h['name'] in ('system-dma32', 'system-uncached', 'vendor-carveout'))")"
  check "dmaheapd: stats --json carries the descriptor" "system-uncached False" \
    "$($bin stats --socket "$tmp/d.sock" --json --no-holders | json "' '.join(f\"{h['name']} {h['cached']}\" for h in d['heaps'] if h['name'] == 'system-uncached')")"
  kill "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  check "dmaheapd with a bad profile exits 2" "2" "$("$build/dmaheapd" --socket "$tmp/e.sock" --profile vendor >/dev/null 2>&1; echo $?)"
fi
exit $fail
