#!/usr/bin/env bash
# The conformance program everywhere it must pass: under `dmaheap run` (dynamic and static, as
# root and as an unprivileged user where user namespaces allow), through libdmaheap's embedded
# backend, and through the dmaheapd service (via `dmaheap run --backend service` and libdmaheap)
# when the build has dmaheapd. Exits non-zero if any run fails. Usage: run-conformance.sh BUILD
set -uo pipefail
build=$(realpath "${1:-build}")
failed=0
check() {
  local name=$1
  shift
  local out
  out=$("$@" 2>&1)
  local rc=$?
  local last
  last=$(printf '%s\n' "$out" | tail -n 1)
  if [[ $rc -eq 0 && $last =~ ^[0-9]+\ passed,\ 0\ failed$ ]]; then
    echo "conformance ($name): $last"
  else
    echo "conformance ($name): FAILED (exit $rc)"
    printf '%s\n' "$out" | grep -v '^ok ' | tail -n 20
    failed=1
  fi
}

check "dmaheap run, dynamic" "$build/dmaheap" run -- "$build/dmaheap-conformance"
check "dmaheap run, static" "$build/dmaheap" run -- "$build/dmaheap-conformance-static"
check "dmaheap run, static, kernel 6.12" "$build/dmaheap" run --kernel 6.12 -- "$build/dmaheap-conformance-static"
# A 32-bit ARM board (docs/kernel-behaviour.md §11): its heaps follow arm's rules, the host stays x86_64.
check "dmaheap run --arch arm, an armhf virt board" "$build/dmaheap" run --arch arm --dtb "$(dirname "$0")/../examples/arm-virt-2g.dts" -- "$build/dmaheap-conformance-static"
check "libdmaheap, embedded backend" env CONFORMANCE_BACKEND=embedded "$build/dmaheap-conformance-lib"
# A 32-bit program: its ioctls come through the compat syscall table (i386 on x86_64).
if [[ -x $build/dmaheap-conformance-i386 ]]; then
  check "dmaheap run, i386 static" "$build/dmaheap" run -- "$build/dmaheap-conformance-i386"
  check "dmaheap run, i386 static, kernel 6.12" "$build/dmaheap" run --kernel 6.12 -- "$build/dmaheap-conformance-i386"
else
  echo "conformance (i386): no $build/dmaheap-conformance-i386 (no gcc-multilib or not x86_64)"
fi

# Where user namespaces are refused (simulated: DMAHEAP_SIMULATE_USERNS_ERRNO and a sysctl
# directory of our own, as uid 65534): before the program starts, one message names the cause,
# then the program runs with /dev/dma_heap emulated at the system-call level (no namespace) and
# must pass as everywhere else.
refused() {
  local name=$1 errno=$2 sysctls=$3 expect=$4
  shift 4
  # A build tree below a directory closed to others (a clone in /root) cannot be run as
  # uid 65534 at all: say so instead of failing on EACCES.
  if ! setpriv --reuid=65534 --regid=65534 --clear-groups test -x "$build/dmaheap" -a -r "$build/dmaheap" 2>/dev/null; then
    echo "conformance (no user namespace: $name): not run: uid 65534 cannot reach $build (a parent directory is closed to others); clone into a directory others can read to run it"
    return 0
  fi
  local dir out rc last
  dir=$(mktemp -d)
  mkdir -p "$dir/user" "$dir/kernel"
  chmod 755 "$dir"
  local kv
  for kv in $sysctls; do echo "${kv#*=}" >"$dir/${kv%%=*}"; done
  out=$(DMAHEAP_SIMULATE_USERNS_ERRNO=$errno DMAHEAP_SIMULATE_PROC_SYS=$dir \
        setpriv --reuid=65534 --regid=65534 --clear-groups "$@" 2>&1)
  rc=$?
  last=$(printf '%s\n' "$out" | tail -n 1)
  if [[ $rc -eq 0 && $out == *"$expect"* && $out == *"emulated at the system-call level"* && $last =~ ^[0-9]+\ passed,\ 0\ failed$ ]]; then
    echo "conformance (no user namespace: $name): names \"$expect\", then $last"
  else
    echo "conformance (no user namespace: $name): FAILED (exit $rc)"
    printf '%s\n' "$out" | grep -v '^ok ' | tail -n 8
    failed=1
  fi
  rm -rf "$dir"
}

# The heaps of heap profiles (docs/heap-profiles.md): system-uncached and system-dma32 on a board
# with RAM above 4 GiB, NXP's CMA heaps, and a carve-out heap over a no-map region.
src=$(dirname "$0")/..
rockchip=(--dtb "$src/examples/rockchip-6g-above-4g.dts" --profile rockchip)
carveout=(--dtb "$src/examples/carveout-heap.dts" --heaps "$src/examples/carveout-heaps.json")
check "dmaheap run, profile rockchip" "$build/dmaheap" run "${rockchip[@]}" -- "$build/dmaheap-conformance"
check "dmaheap run, profile nxp, static" "$build/dmaheap" run --profile nxp -- "$build/dmaheap-conformance-static"
check "dmaheap run, carveout heap" "$build/dmaheap" run "${carveout[@]}" -- "$build/dmaheap-conformance"
check "libdmaheap, embedded backend, profile rockchip" env CONFORMANCE_BACKEND=embedded DMAHEAP_PROFILE=rockchip \
  DMAHEAP_DTB="$src/examples/rockchip-6g-above-4g.dts" "$build/dmaheap-conformance-lib"
check "libdmaheap, embedded backend, carveout heap" env CONFORMANCE_BACKEND=embedded \
  DMAHEAP_HEAPS="$src/examples/carveout-heaps.json" DMAHEAP_DTB="$src/examples/carveout-heap.dts" \
  "$build/dmaheap-conformance-lib"

if [[ $(id -u) -eq 0 ]] && command -v setpriv >/dev/null; then
  if setpriv --reuid=65534 --regid=65534 --clear-groups unshare --user true 2>/dev/null; then
    check "dmaheap run as uid 65534, static" \
      setpriv --reuid=65534 --regid=65534 --clear-groups "$build/dmaheap" run -- "$build/dmaheap-conformance-static"
  else
    echo "conformance (non-root): skipped, unprivileged user namespaces are disabled here"
  fi
  if [[ -x $build/dmaheap-conformance-i386 ]] && setpriv --reuid=65534 --regid=65534 --clear-groups unshare --user true 2>/dev/null; then
    check "dmaheap run as uid 65534, i386 static" \
      setpriv --reuid=65534 --regid=65534 --clear-groups "$build/dmaheap" run -- "$build/dmaheap-conformance-i386"
  fi
  refused "user.max_user_namespaces = 0, dynamic" ENOSPC "user/max_user_namespaces=0" \
    "user.max_user_namespaces = 0" "$build/dmaheap" run -- "$build/dmaheap-conformance"
  refused "kernel.unprivileged_userns_clone = 0, static" EPERM "user/max_user_namespaces=63000 kernel/unprivileged_userns_clone=0" \
    "kernel.unprivileged_userns_clone = 0" "$build/dmaheap" run -- "$build/dmaheap-conformance-static"
  refused "AppArmor, static" EACCES "user/max_user_namespaces=63000 kernel/apparmor_restrict_unprivileged_userns=1" \
    "kernel.apparmor_restrict_unprivileged_userns = 1" "$build/dmaheap" run -- "$build/dmaheap-conformance-static"
  refused "a container's seccomp profile, static" EPERM "user/max_user_namespaces=63000" \
    "a container's seccomp profile" "$build/dmaheap" run -- "$build/dmaheap-conformance-static"
  if [[ -x $build/dmaheap-conformance-i386 ]]; then
    refused "a container's seccomp profile, i386 static" EPERM "user/max_user_namespaces=63000" \
      "a container's seccomp profile" "$build/dmaheap" run -- "$build/dmaheap-conformance-i386"
  fi
  # As root the same restriction changes nothing: only a mount namespace is used.
  check "dmaheap run as root while user namespaces are refused (simulated), static" \
    env DMAHEAP_SIMULATE_USERNS_ERRNO=ENOSPC "$build/dmaheap" run -- "$build/dmaheap-conformance-static"
fi

if [[ -x $build/dmaheapd ]]; then
  dir=$(mktemp -d)
  "$build/dmaheapd" --socket "$dir/dmaheap.sock" >"$dir/log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do [[ -S $dir/dmaheap.sock ]] && break; sleep 0.05; done
  check "dmaheap run --backend service" "$build/dmaheap" run --backend service --socket "$dir/dmaheap.sock" -- "$build/dmaheap-conformance"
  if [[ -x $build/dmaheap-conformance-i386 ]]; then
    check "dmaheap run --backend service, i386 static" "$build/dmaheap" run --backend service --socket "$dir/dmaheap.sock" -- "$build/dmaheap-conformance-i386"
  fi
  if [[ $(id -u) -eq 0 ]] && command -v setpriv >/dev/null; then
    chmod 755 "$dir"
    refused "--backend service, a container's seccomp profile" EPERM "user/max_user_namespaces=63000" \
      "a container's seccomp profile" "$build/dmaheap" run --backend service --socket "$dir/dmaheap.sock" -- "$build/dmaheap-conformance"
  fi
  check "libdmaheap, service backend" env DMAHEAP_SOCKET="$dir/dmaheap.sock" CONFORMANCE_BACKEND=service "$build/dmaheap-conformance-lib"
  kill "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  # The profile heaps served by dmaheapd (their descriptors travel in DescribeHeaps).
  "$build/dmaheapd" --socket "$dir/profiles.sock" "${carveout[@]}" --profile android >"$dir/log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do [[ -S $dir/profiles.sock ]] && break; sleep 0.05; done
  check "dmaheap run --backend service, profile android + carveout" "$build/dmaheap" run --backend service \
    --socket "$dir/profiles.sock" -- "$build/dmaheap-conformance"
  check "libdmaheap, service backend, profile android + carveout" env DMAHEAP_SOCKET="$dir/profiles.sock" \
    CONFORMANCE_BACKEND=service "$build/dmaheap-conformance-lib"
  kill "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  rm -rf "$dir"
else
  echo "conformance (service): no $build/dmaheapd; the service backend runs in test_client_service instead"
fi
exit $failed
