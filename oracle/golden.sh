#!/bin/sh
# Turn one QEMU console log (stdin) into a golden file (stdout). Format: oracle/README.md.
exec env LC_ALL=C awk '
function clean(s,   h) {
    sub(/\r$/, "", s)
    sub(/^\[ *[0-9]+\.[0-9]+\] /, "", s)
    sub(/^<[0-9]>/, "", s)
    # kernel virtual addresses and symbol offsets change from build to build or boot to boot
    h = "[0-9a-f][0-9a-f][0-9a-f][0-9a-f]"
    gsub("ffff" h h h, "<kaddr>", s)
    gsub(/\+0x[0-9a-f]+\/0x[0-9a-f]+/, "", s)
    gsub(/\(____ptrval____\)/, "<kaddr>", s)
    # the ESR of an oops names the page-table level that faulted, which moves with the layout
    sub(/Internal error: Oops: [0-9a-f]+ /, "Internal error: Oops: <esr> ", s)
    return s
}
function kline(s,   l, f, r) {
    s = clean(s)
    # the zones block: "Zone ranges:" then one "  NAME     [mem A-B]" or "  NAME     empty" line per
    # zone; DMA, DMA32, Normal and HighMem are kept as "zone: NAME RANGE|empty" (Device and the like are not)
    if (s ~ /^Zone ranges:/) { zones = 1; return }
    if (zones) {
        if (s ~ /^  [A-Za-z0-9]+ +(empty|\[mem )/) {
            split(s, f, " ")
            r = s; sub(/^ +[A-Za-z0-9]+ +/, "", r)
            if (f[1] == "DMA" || f[1] == "DMA32" || f[1] == "Normal" || f[1] == "HighMem") print "zone: " f[1] " " r
            return
        }
        zones = 0
    }
    if (s ~ /^WARNING: /) { print "warn: " s; splat = 1; return }
    # 32-bit ARM warns "BUG: not creating mapping for ..." (pr_warn in create_mapping) for a
    # reserved range outside RAM: a log line, not an oops
    if (s ~ /^BUG: not creating mapping/) return
    if (s ~ /Unable to handle kernel|^Internal error: |^BUG: |kernel BUG at/) {
        print "oops: " s; want_pc = 1; splat = 1; return
    }
    if (want_pc && s ~ /^pc : /) { sub(/^pc : /, "", s); print "oops-pc: " s; want_pc = 0; return }
    # 32-bit ARM names the function in "PC is at FUNC+OFF/SIZE" (its "pc :" line has addresses only)
    if (want_pc && s ~ /^PC is at /) { sub(/^PC is at /, "", s); print "oops-pc: " s; want_pc = 0; return }
    # riscv64: "epc : FUNC+OFF/SIZE" first, then "epc : ADDR ra : ..." (addresses only)
    if (want_pc && s ~ /^epc : [a-z_]/) { sub(/^epc : /, "", s); print "oops-pc: " s; want_pc = 0; return }
    if (s ~ /^Kernel panic - not syncing/) { if (!panicked) print "panic: " s; panicked = 1; splat = 1; return }
    # the rest of a splat (registers, call trace) is not kept
    if (s ~ /---\[ end trace/) { splat = 0; return }
    if (splat) return
    if (s ~ /^Memory: |^Kernel command line: |Machine model: /) return
    # the free-page report after "alloc failed" (a dump of the area bitmap, split over lines on 7.x)
    if (s ~ /^cma: number of available pages|^cma: range [0-9]+: |^cma: *$|^=> [0-9]+ free of/) return
    l = tolower(s)
    if (l ~ /cma|reserved mem|reserved memory|dma_heap|dma-heap|of: fdt:|restricted dma|shared-dma-pool|memreserve/)
        print "log: " s
}
{
    sub(/\r$/, "")
    raw[++n] = $0
    # init output with a kernel message printed into the middle of a line (the console log level
    # goes up after an oops): keep the init part only
    s = $0
    if (seen_begin && !in_dmesg) sub(/\[ *[0-9]+\.[0-9]+\] .*$/, "", s)
    line[n] = s
    if (s == "=== ORACLE BEGIN") seen_begin = 1
    if (s == "=== dmesg") in_dmesg = have_dmesg = 1
    if (s == "=== ORACLE END") ended = 1
}
/Kernel panic - not syncing/ { saw_panic = 1 }
END {
    sect = "console"
    for (i = 1; i <= n; i++) {
        s = line[i]
        if (s ~ /^=== /) { sect = substr(s, 5); continue }
        if (sect == "dmesg") { kline(raw[i]); continue }
        # no dmesg (the kernel died first): the kernel lines come from the console, wherever
        if (!have_dmesg && (sect == "console" || raw[i] ~ /\[ *[0-9]+\.[0-9]+\] /)) {
            r = raw[i]
            if (sect != "console") sub(/^.*\[ *[0-9]+\.[0-9]+\] /, "", r)
            kline(r)
        }
        if (sect == "console") continue
        if (sect == "meminfo") {
            if (s ~ /^CmaTotal:/) { split(s, f, " "); cmatotal = f[2] }
            if (s ~ /^CmaFree:/) { split(s, f, " "); cmafree = f[2] }
        }
        else if (sect == "heaps" && s != "") heaps[++nh] = s
        else if (sect == "cma-areas" && s != "") areas[++na] = s
        else if (sect == "heaptest" && s ~ /^errno /) errs[++ne] = "errno: " substr(s, 7)
    }
    if (ended) {
        if (cmatotal != "") print "cmatotal: " cmatotal
        if (cmafree != "") print "cmafree: " cmafree
        # sort area and heap names (insertion sort; a few dozen at most)
        for (i = 2; i <= na; i++) { v = areas[i]; for (j = i - 1; j >= 1 && areas[j] > v; j--) areas[j + 1] = areas[j]; areas[j + 1] = v }
        for (i = 1; i <= na; i++) print "cma-area: " areas[i]
        for (i = 2; i <= nh; i++) { v = heaps[i]; for (j = i - 1; j >= 1 && heaps[j] > v; j--) heaps[j + 1] = heaps[j]; heaps[j + 1] = v }
        h = ""
        for (i = 1; i <= nh; i++) h = h (i > 1 ? " " : "") heaps[i]
        print "heaps: " (nh ? h : "(none)")
        for (i = 1; i <= ne; i++) print errs[i]
        print "outcome: booted"
    } else if (saw_panic) print "outcome: panic"
    else print "outcome: timeout"
}'
