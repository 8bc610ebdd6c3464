#!/bin/sh
# Turn the console log of one shipped-tree boot (stdin) into the body of its golden file (stdout):
# the memory layout the kernel logged and how the boot ended. Format: oracle/README.md,
# "Shipped trees".
exec env LC_ALL=C awk '
function clean(s,   h) {
    sub(/\r$/, "", s)
    sub(/^\[ *[0-9]+\.[0-9]+\] /, "", s)
    sub(/^<[0-9]>/, "", s)
    h = "[0-9a-f][0-9a-f][0-9a-f][0-9a-f]"
    gsub("ffff" h h h, "<kaddr>", s)
    gsub(/\+0x[0-9a-f]+\/0x[0-9a-f]+/, "", s)
    return s
}
{
    s = clean($0)
    if (s ~ /^Kernel panic - not syncing/) saw_panic = 1
    if (s ~ /^qemu-exit: 124$/) timed_out = 1
    if (s ~ /^recording-stopped$/) stopped = 1
    if (s ~ /^WARNING: /) { print "warn: " s; splat = 1; next }
    if (s ~ /Unable to handle kernel|^Internal error: |^BUG: |kernel BUG at/) {
        print "oops: " s; want_pc = 1; splat = 1; next
    }
    if (want_pc && s ~ /^pc : /) { sub(/^pc : /, "", s); print "oops-pc: " s; want_pc = 0; next }
    if (s ~ /^Kernel panic - not syncing/) { if (!panicked) print "panic: " s; panicked = 1; splat = 1; next }
    if (s ~ /---\[ end trace/) { splat = 0; next }
    if (splat) next
    # the zone lines follow "Zone ranges:" up to "Movable zone start"
    if (s ~ /^Zone ranges:/) { zones = 1; next }
    if (zones && s ~ /^  (DMA|DMA32|Normal) /) { gsub(/  +/, " ", s); print "zone:" s; next }
    if (zones && s !~ /^  /) zones = 0
    if (s ~ /^Memory: /) { print "log: " s; next }
    if (s ~ /^Kernel command line: |Machine model: /) next
    l = tolower(s)
    # and the line naming the two regions after "OVERLAP DETECTED!"
    if (l ~ /cma|reserved mem|reserved memory|of: fdt:|restricted dma|shared-dma-pool|memreserve/ || overlap)
        print "log: " s
    overlap = (s ~ /OVERLAP DETECTED!$/)
}
END {
    if (saw_panic) print "outcome: panic"
    else if (stopped) print "outcome: stopped"
    else if (timed_out) print "outcome: timeout"
    else print "outcome: exit"
}'
