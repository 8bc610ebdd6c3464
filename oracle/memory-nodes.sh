#!/bin/sh
# Print the memory nodes of a .dtb (device_type = "memory"), one line per reg entry:
#   memory: <path> <base> <size>        (hex; cells joined by the parent's #address/#size-cells)
# Used on the tree QEMU hands to the kernel (-M virt,dumpdtb=), to record the RAM it wrote.
dtc -q -I dtb -O dts "$1" | exec env LC_ALL=C awk '
function num(x,   i, v, d) {  # a cell as dtc prints it: 0x... or decimal
    if (x !~ /^0x/) return x + 0
    v = 0; x = tolower(substr(x, 3))
    for (i = 1; i <= length(x); i++) { d = index("0123456789abcdef", substr(x, i, 1)) - 1; v = v * 16 + d }
    return v
}
function join(c, from, n,   j, h) {  # n cells as one hex number, exact at any width
    h = ""; for (j = 0; j < n; j++) h = h sprintf("%08x", num(c[from + j]))
    sub(/^0+/, "", h); return "0x" (h == "" ? "0" : h)
}
/{$/ {
    name = $1; if (name == "/") { depth = 0; path[0] = ""; ac[0] = 2; sc[0] = 1; next }
    sub(/^[^ :]+: */, "", $0); name = $1
    depth++; path[depth] = path[depth - 1] "/" name
    ac[depth] = 2; sc[depth] = 1; mem[depth] = 0; reg[depth] = ""
    next
}
/#address-cells = </ { v = $0; gsub(/[^0-9x]/, " ", v); split(v, f, " "); ac[depth] = num(f[1]); next }
/#size-cells = </ { v = $0; gsub(/[^0-9x]/, " ", v); split(v, f, " "); sc[depth] = num(f[1]); next }
/device_type = "memory";/ { mem[depth] = 1; next }
/^[ \t]*reg = </ { v = $0; sub(/^[^<]*/, "", v); gsub(/[<>,;]/, " ", v); reg[depth] = v; next }
/^[ \t]*};$/ {
    if (depth > 0 && mem[depth]) {
        n = split(reg[depth], c, " "); a = ac[depth - 1]; s = sc[depth - 1]
        if (n == 0) print "memory: " path[depth] " (no reg)"
        for (i = 1; a + s > 0 && i + a + s - 1 <= n; i += a + s) {
            print "memory: " path[depth] " " join(c, i, a) " " join(c, i + a, s)
        }
    }
    depth--
}'
