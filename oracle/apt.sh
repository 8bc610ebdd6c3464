# shellcheck shell=bash disable=SC2154  # $work and say() come from the script that sources this
# Sourced by oracle/record.sh and oracle/record-shipped.sh: Debian's arm64, armhf and riscv64
# packages (and amd64 ones for tests/hostkernels) through a
# private apt state under $work/apt (bookworm, trixie and sid lists, no dpkg status), unpacked with
# dpkg -x; nothing is installed or configured system-wide. Needs $work and a say() function.

# amd64, arm64, armhf and riscv64 package lists for bookworm, trixie and sid, kept under
# $work/apt only (bookworm has no riscv64: it was a ports architecture until trixie).
apt_dir=$work/apt
APT=(-oAPT::Architecture=amd64 -oAPT::Architectures::=amd64 -oAPT::Architectures::=arm64
     -oAPT::Architectures::=armhf -oAPT::Architectures::=riscv64
     -oDir::State::Lists="$apt_dir/lists" -oDir::Cache="$apt_dir/cache"
     -oDir::State::status=/dev/null -oDir::Etc::sourcelist="$apt_dir/sources.list"
     -oDir::Etc::sourceparts=/nonexistent -oDebug::NoLocking=1
     -oAPT::Sandbox::User=root)
apt_ready=0
apt_state() {
    [ $apt_ready = 1 ] && return
    mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial"
    local mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
    printf 'deb %s %s main\n' "$mirror" bookworm "$mirror" trixie "$mirror" sid > "$apt_dir/sources.list"
    if ! ls "$apt_dir"/lists/*_sid_*Packages* >/dev/null 2>&1 || [ -n "${ORACLE_APT_UPDATE:-}" ]; then
        say "apt-get update (private state in $apt_dir)"
        apt-get "${APT[@]}" update -q >/dev/null
    fi
    apt_ready=1
}

# download PKG[=VERSION] (or PKG/SUITE) into $work/debs unless a matching .deb is there; print its path.
# A pinned version that the archive no longer has falls back to the current candidate.
fetch_deb() {
    local spec=$1 name=${1%%=*} arch= deb
    name=${name%%/*}
    # PKG:ARCH: the same package of another architecture is another file
    case $name in *:*) arch=${name#*:}; name=${name%%:*};; esac
    deb=$(ls "$work/debs/${name}_"*"${arch:+_$arch}".deb 2>/dev/null | head -1 || true)
    if [ -z "$deb" ]; then
        apt_state
        mkdir -p "$work/debs"
        (cd "$work/debs" && apt-get "${APT[@]}" download -q "$spec" >/dev/null 2>&1) ||
            (cd "$work/debs" && echo "record.sh: $spec not in the archive, taking the candidate" >&2 &&
             apt-get "${APT[@]}" download -q "${spec%%=*}" >/dev/null)
        deb=$(ls "$work/debs/${name}_"*"${arch:+_$arch}".deb | head -1)
    fi
    echo "$deb"
}

# the linux-image-*-FLAVOUR package that linux-image-FLAVOUR depends on in SUITE, for the Debian
# architecture ARCH (default arm64; tests/hostkernels/run.sh asks for amd64). FLAVOUR is the
# architecture's own unless given: armhf's is armmp (the non-LPAE multi-platform kernel).
debian_image_pkg() { # SUITE [ARCH [FLAVOUR]]
    local suite=$1 arch=${2:-arm64} flavour=${3:-${2:-arm64}} meta dir
    dir=$work/debs/meta-$suite${2:+-$arch}${3:+-$flavour}
    apt_state
    meta=$(ls "$dir/"*.deb 2>/dev/null | head -1 || true)
    if [ -z "$meta" ]; then
        mkdir -p "$dir"
        (cd "$dir" && apt-get "${APT[@]}" download -q "linux-image-$flavour:$arch/$suite" >/dev/null 2>&1) ||
            { echo "apt.sh: no linux-image-$flavour:$arch in $suite" >&2; return 1; }
        meta=$(ls "$dir/"*.deb | head -1)
    fi
    dpkg-deb -f "$meta" Depends | tr ',' '\n' | sed -n "s/^ *\(linux-image-[0-9][^ ]*\) (= \([^)]*\)).*/\1:$arch=\2/p" | head -1
}

# Debian's stock kernel of SUITE for ARCH (default arm64) as $work/kernels/ID/{Image,config}
# (kept when already there). Image is whatever the package boots: /boot/vmlinuz-* (an arm64
# Image, a 32-bit ARM zImage) or, where there is none, /boot/vmlinux-* (riscv64's ELF image).
debian_kernel() { # ID SUITE [ARCH [FLAVOUR]]
    local id=$1 suite=$2 dest=$work/kernels/$1
    [ -f "$dest/Image" ] && return
    local pkg deb; pkg=$(debian_image_pkg "$suite" "${3:-arm64}" "${4:-${3:-arm64}}")
    [ -n "$pkg" ] || { echo "apt.sh: no kernel package for $id" >&2; return 1; }
    deb=$(fetch_deb "$pkg")
    say "unpacking $(basename "$deb")"
    rm -rf "$work/x-$id"; mkdir -p "$work/x-$id" "$dest"
    dpkg -x "$deb" "$work/x-$id"
    # riscv64 ships the ELF vmlinux, not a compressed image; QEMU's -kernel loads either
    if ls "$work/x-$id"/boot/vmlinuz-* >/dev/null 2>&1; then cp "$work/x-$id"/boot/vmlinuz-* "$dest/Image"
    else cp "$work/x-$id"/boot/vmlinux-* "$dest/Image"; fi
    cp "$work/x-$id"/boot/config-* "$dest/config"
    rm -rf "$work/x-$id"
}

# Debian bookworm's gcc 12 cross compiler for TRIPLET (with binutils and the C library of the
# Debian architecture DEBARCH, for static programs) unpacked under $work/toolchain/TRIPLET, and
# its bin directory put first on PATH. gcc finds cc1, as, ld, headers and crt files relative to
# the directory it runs from, so the unpacked copy works where it lies: nothing is installed, and
# gcc-multilib (which Debian 12's cross compiler packages cannot be installed beside) stays.
cross_toolchain() { # TRIPLET DEBARCH
    local t=$1 a=$2 dir=$work/toolchain/$1 p deb f
    if [ ! -x "$dir/usr/bin/$t-gcc" ]; then
        say "unpacking the $t cross compiler (gcc-12-$t, binutils-$t, libc6-dev-$a-cross)"
        rm -rf "$dir.tmp"; mkdir -p "$dir.tmp"
        for p in "gcc-12-$t" "cpp-12-$t" "binutils-$t" "libgcc-12-dev-$a-cross" "libc6-$a-cross" \
                 "libc6-dev-$a-cross" "linux-libc-dev-$a-cross"; do
            deb=$(fetch_deb "$p/bookworm")
            dpkg -x "$deb" "$dir.tmp"
        done
        for f in "$dir.tmp/usr/bin/$t-"*-12; do ln -sf "$(basename "$f")" "${f%-12}"; done
        rm -rf "$dir"; mv "$dir.tmp" "$dir"
    fi
    PATH=$dir/usr/bin:$PATH
    # the cross binutils link their own libbfd/libopcodes/libctf (libbfd-2.40-armhf.so and the
    # like, in the same package), which the loader finds only where dpkg would have put them
    local multiarch; multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)
    case ":${LD_LIBRARY_PATH:-}:" in *":$dir/usr/lib/$multiarch:"*) ;;
    *) export LD_LIBRARY_PATH=$dir/usr/lib/$multiarch${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH};; esac
}
