#!/usr/bin/env bash
# The Debian packages as a user gets them (`make deb-test`, and the deb-install group of make test): the five packages of BUILD/deb
# installed with `apt-get install ./*.deb` into a fresh Debian 12 root (dependencies from
# Debian), then, in that root: dmaheap list and alloc, the service run as its packaged user with
# the packaged configuration, the libdmaheap consumer example built against the installed
# libdmaheap-dev (CMake package and pkg-config) and run on each backend, and dmaheap run.
#   tests/deb-install.sh [BUILD]  (make deb-test)       (work tree: BUILD/deb-install)
#
# The packages are rebuilt (make deb: scripts/build-deb.sh, several minutes, lintian included)
# only when BUILD/deb/SOURCE-TREE differs from the git tree id of the working tree now
# (scripts/source-tree-id.sh): a clean clone builds them once, later runs reuse them.
# The root is the cached minbase tarball of scripts/fresh-root-test.sh (made by it when
# missing), unpacked under BUILD/deb-install; its /proc, /sys and /dev are bind-mounted in a
# private mount namespace of this script and apt's .deb cache is the one fresh-root-test.sh
# uses, so nothing changes on this machine outside BUILD and that cache. Needs root (sudo).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
build=$(realpath -m "${1:-build}")
debs=$build/deb
work=$build/deb-install
fail() { echo "deb-install: FAILED: $*" >&2; exit 1; }

if [[ $(id -u) -ne 0 ]]; then
  exec sudo --preserve-env=DMAHEAP_CACHE,FRESH_ROOT_SUITE,DEBIAN_MIRROR "$0" "$build"
fi

if [[ ${DEB_INSTALL_INNER:-} != 1 ]]; then
  # debian/control's Build-Depends are the Makefile's package names (README.md justifies those).
  build_depends=$(sed -n '/^Build-Depends:/,/^[A-Z]/p' debian/control | sed '1s/^Build-Depends://;$d' |
    tr ',' '\n' | sed 's/(.*)//;s/#.*//;s/ //g' | grep -v -e '^$' -e '^debhelper-compat$')
  makefile_packages=$(sed -n '/^PACKAGES :=/,/^$/p' Makefile | sed 's/^PACKAGES :=//;s/\\//g' | tr -s ' \n' '\n')
  for pkg in $build_depends; do
    grep -qx -- "$pkg" <<<"$makefile_packages" || fail "Build-Depends $pkg is not in the Makefile's PACKAGES"
  done

  tree=$(scripts/source-tree-id.sh)
  if [[ -s $debs/SOURCE-TREE && $(cat "$debs/SOURCE-TREE") == "$tree" ]]; then
    echo "deb-install: $debs is from this source tree ($tree): not rebuilt"
  else
    echo "deb-install: $debs missing or from another source tree: make deb"
    scripts/build-deb.sh "$debs"
  fi
  expected="dmaheap dmaheapd libdmaheap0 libdmaheap-embedded0 libdmaheap-dev"
  for pkg in $expected; do
    compgen -G "$debs/${pkg}_*.deb" >/dev/null || fail "no $pkg package in $debs"
  done
  [[ $(find "$debs" -maxdepth 1 -name '*.deb' | wc -l) -eq 5 ]] || fail "$debs has other packages than: $expected"

  cache=$(FRESH_ROOT_TARBALL_ONLY=1 scripts/fresh-root-test.sh | tail -n 2)
  exec env DEB_INSTALL_INNER=1 DEB_INSTALL_TARBALL="$(sed -n 1p <<<"$cache")" \
    DEB_INSTALL_APT_CACHE="$(sed -n 2p <<<"$cache")" unshare --mount --propagation private -- "$0" "$build"
fi

# From here on: inside our own mount namespace.
root=$work/root
# Never delete through a mount: a leftover bind of /dev or /sys under $work would be followed.
if grep -qF " $work/" /proc/self/mountinfo; then
  fail "something is mounted under $work; unmount it first"
fi
rm -rf "$work"
mkdir -p "$root"
start=$SECONDS
tar -C "$root" --numeric-owner -xzf "$DEB_INSTALL_TARBALL"
cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
for d in proc sys dev; do mount --rbind "/$d" "$root/$d"; done
mount --bind "$DEB_INSTALL_APT_CACHE" "$root/var/cache/apt/archives"
mkdir -p "$root/root/debs"
cp "$debs"/*.deb "$root/root/debs/"
cp -r examples/libdmaheap-consumer "$root/root/consumer"
rm -rf "$root/root/consumer/build"

inside() {
  chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    TERM=dumb LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive /bin/bash -c "cd /root && $1"
}

# apt in the root, output to apt.log. The .deb cache is shared with scripts/fresh-root-test.sh
# (and other runs of this test): while another apt holds its lock, wait (up to 10 minutes).
apt_inside() {
  local tries=0
  until inside "apt-get $*" >"$work/apt-last.log" 2>&1; do
    cat "$work/apt-last.log" >>"$work/apt.log"
    if grep -q 'Could not get lock /var/cache/apt/archives/lock' "$work/apt-last.log" && ((++tries < 120)); then
      sleep 5
      continue
    fi
    tail -n 30 "$work/apt-last.log"
    fail "apt-get $*"
  done
  cat "$work/apt-last.log" >>"$work/apt.log"
}

# --- the packages, dependencies from Debian
apt_inside update -q
apt_inside install -y -q --no-install-recommends ./debs/*.deb
installed=$(inside "dpkg-query -W -f='\${Package} \${Version} \${Status}\n' dmaheap dmaheapd libdmaheap0 libdmaheap-embedded0 libdmaheap-dev")
[[ $(grep -c ' install ok installed$' <<<"$installed") -eq 5 ]] || fail "not all installed: $installed"
echo "deb-install: apt-get install ./*.deb into a fresh Debian 12 root ($((SECONDS - start)) s):"
sed 's/ install ok installed$//; s/^/  /' <<<"$installed"

# --- where things are
for f in /usr/bin/dmaheap /usr/sbin/dmaheapd /etc/dmaheapd.conf /lib/systemd/system/dmaheapd.service \
  /lib/systemd/system/dmaheapd.socket /lib/systemd/system/dmaheapd.service.d/user.conf \
  /usr/lib/sysusers.d/dmaheapd.conf /usr/include/dmaheap/allocator.h; do
  [[ -e $root$f ]] || fail "$f is not installed"
done
grep -qx 'ExecStart=/usr/sbin/dmaheapd --config /etc/dmaheapd.conf' "$root/lib/systemd/system/dmaheapd.service" ||
  fail "the installed unit does not start /usr/sbin/dmaheapd: $(grep ExecStart "$root/lib/systemd/system/dmaheapd.service")"
user=$(inside "getent passwd dmaheapd") || fail "postinst created no user dmaheapd"
[[ $user == dmaheapd:x:*:*:*:/nonexistent:/usr/sbin/nologin ]] || fail "user dmaheapd: $user"
uid=$(cut -d: -f3 <<<"$user")
(( uid > 0 && uid < 1000 )) || fail "dmaheapd is not a system user: uid $uid"
echo "deb-install: user $user; units in /lib/systemd/system"
if inside "command -v systemd-analyze" >/dev/null; then
  out=$(inside "systemd-analyze verify /lib/systemd/system/dmaheapd.socket /lib/systemd/system/dmaheapd.service 2>&1") ||
    fail "systemd-analyze verify: $out"
  echo "deb-install: systemd-analyze verify dmaheapd.socket dmaheapd.service: ${out:-no complaints}"
fi

# --- the tools
out=$(inside "dmaheap list") || fail "dmaheap list: $out"
[[ $out == *system* ]] || fail "dmaheap list shows no system heap: $out"
echo "deb-install: dmaheap list:"
sed 's/^/  /' <<<"$out"
out=$(inside "dmaheap alloc system 1M") || fail "dmaheap alloc system 1M: $out"
echo "deb-install: dmaheap alloc system 1M:"
sed 's/^/  /' <<<"$out"
out=$(inside "dmaheap run -- ls /dev/dma_heap") || fail "dmaheap run -- ls /dev/dma_heap: $out"
[[ $(tr '\n' ' ' <<<"$out") == *system* ]] || fail "dmaheap run: /dev/dma_heap lists no system heap: $out"
echo "deb-install: dmaheap run -- ls /dev/dma_heap: $(tr '\n' ' ' <<<"$out")"

# --- the consumer example against libdmaheap-dev (a compiler and cmake from Debian)
apt_inside install -y -q --no-install-recommends g++ cmake pkg-config
for with_embedded in OFF ON; do
  out=$(inside "cmake -S consumer -B /tmp/consumer-$with_embedded -DWITH_EMBEDDED=$with_embedded &&
                cmake --build /tmp/consumer-$with_embedded" 2>&1) ||
    fail "building the consumer example (WITH_EMBEDDED=$with_embedded): $out"
done
out=$(inside "cc -o /tmp/c_consumer_pc consumer/c_consumer.c \$(pkg-config --cflags --libs dmaheap-embedded)" 2>&1) ||
  fail "building c_consumer with pkg-config: $out"
# No kernel heaps here and no service yet: the embedded component.
out=$(inside "/tmp/consumer-OFF/camera_frames") || fail "camera_frames: $out"
[[ $out == "backend: embedded"* && $out == *"frame 3: "* ]] || fail "camera_frames, embedded backend: $out"
out=$(inside "/tmp/consumer-ON/c_consumer && /tmp/c_consumer_pc") || fail "c_consumer: $out"
[[ $out == "backend: embedded"* ]] || fail "c_consumer, embedded backend: $out"
out=$(inside "ldd /tmp/consumer-OFF/camera_frames")
[[ $out == *"/usr/lib/x86_64-linux-gnu/libdmaheap.so.0"* || $out == *"/lib/x86_64-linux-gnu/libdmaheap.so.0"* ]] ||
  fail "camera_frames does not use the installed libdmaheap.so.0: $out"
echo "deb-install: consumer example built with the installed CMake package and pkg-config; embedded backend: ok"
# The kernel backend: the emulated /dev/dma_heap of dmaheap run.
out=$(inside "dmaheap run -- /tmp/consumer-OFF/camera_frames") || fail "dmaheap run -- camera_frames: $out"
[[ $out == "backend: kernel"* && $out == *"frame 3: "* ]] || fail "camera_frames under dmaheap run: $out"
echo "deb-install: consumer example under dmaheap run: backend kernel, ok"
# The service backend: the packaged dmaheapd as its packaged user, with the packaged config.
inside "install -d -o dmaheapd -g dmaheapd /tmp/dmaheapd"
# setpriv execs dmaheapd itself (no helper process in between), so $! is the service.
chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
  setpriv --reuid=dmaheapd --regid=dmaheapd --init-groups \
  /usr/sbin/dmaheapd --config /etc/dmaheapd.conf --socket /tmp/dmaheapd/sock >"$root/tmp/dmaheapd.log" 2>&1 </dev/null &
service_pid=$!
trap 'kill "$service_pid" 2>/dev/null || true; wait "$service_pid" 2>/dev/null || true' EXIT
for _ in $(seq 100); do [[ -S $root/tmp/dmaheapd/sock ]] && break; sleep 0.05; done
[[ -S $root/tmp/dmaheapd/sock ]] || fail "dmaheapd (as user dmaheapd) did not listen: $(cat "$root/tmp/dmaheapd.log")"
# (uids, not names: this namespace reads the host's /etc/passwd)
[[ $(stat -c %u "/proc/$service_pid") == "$uid" ]] || fail "the service does not run as dmaheapd (uid $uid)"
out=$(inside "DMAHEAP_SOCKET=/tmp/dmaheapd/sock /tmp/consumer-OFF/camera_frames") || fail "camera_frames on the service: $out"
[[ $out == "backend: service"* && $out == *"frame 3: "* ]] || fail "camera_frames on the service: $out"
# /etc/dmaheapd.conf gives the CMA heaps to group video: anyone else is refused contiguous memory.
set +e
refused=$(inside "DMAHEAP_SOCKET=/tmp/dmaheapd/sock runuser -u nobody -- /tmp/consumer-OFF/camera_frames" 2>&1)
rc=$?
set -e
[[ $rc -eq 1 && $refused == *"mode 0440: uid 65534 gid 65534 may not open it"* ]] || fail "user nobody, contiguous frames from the service: exit $rc: $refused"
out=$(inside "DMAHEAP_SOCKET=/tmp/dmaheapd/sock dmaheap stats") || fail "dmaheap stats: $out"
[[ $out == "dmaheapd pid $service_pid: "* ]] || fail "dmaheap stats does not show the service: $out"
echo "deb-install: dmaheapd as user dmaheapd with /etc/dmaheapd.conf: consumer on the service ok; user nobody refused CMA: $(grep -m1 "may not open it" <<<"$refused")"
echo "deb-install: ok ($((SECONDS - start)) s in the fresh root)"
