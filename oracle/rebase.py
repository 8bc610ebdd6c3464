#!/usr/bin/env python3
"""Move a device-tree case from QEMU arm/arm64 virt's RAM (from 0x40000000) to riscv64 virt's
(from 0x80000000) for oracle/record.sh.

usage: rebase.py dts      < fragment.dtsi > fragment-riscv64.dtsi
       rebase.py cmdline  < "cma=16M@0x70000000" > "cma=16M@0xb0000000"

Physical addresses in [0x40000000, 0x80000000) move up by 0x40000000: the address cells of
`reg` and `alloc-ranges` (read with the parent node's #address-cells/#size-cells, 2 and 2 for
the root as in QEMU's trees), the unit addresses of node names, /memreserve/ lines, and the base
of `cma=SIZE@BASE`. Nothing else changes: sizes, MMIO addresses below 0x40000000, `ranges` and
`dma-ranges` (bus translations, not places in RAM) are kept as written.
"""
import re
import sys

LOW, HIGH, SHIFT = 0x40000000, 0x80000000, 0x40000000


def moved(addr):
    return addr + SHIFT if LOW <= addr < HIGH else addr


def cell(text):
    try:
        return int(text, 0)
    except ValueError:
        return None


def rebase_cells(cells, address_cells, size_cells):
    """cells: the words of one <...> list; the address part of each (address, size) entry moves."""
    values = [cell(c) for c in cells]
    step = address_cells + size_cells
    if step == 0 or None in values or len(values) % step:
        return cells  # not a list of entries we understand: keep it as written
    out = list(cells)
    for i in range(0, len(values), step):
        addr = 0
        for v in values[i:i + address_cells]:
            addr = (addr << 32) | v
        new = moved(addr)
        if new != addr:
            for j in range(address_cells):
                shift = 32 * (address_cells - 1 - j)
                out[i + j] = "0x%x" % ((new >> shift) & 0xFFFFFFFF)
    return out


def rebase_dts(text):
    out = []
    # per open node: [#address-cells, #size-cells] it declares (for its children's reg)
    stack = [[2, 2]]
    prop = re.compile(r'^(\s*)(reg|alloc-ranges)(\s*=\s*)<([^>]*)>(.*)$')
    cells_decl = re.compile(r'^\s*#(address|size)-cells\s*=\s*<\s*(\S+)\s*>')
    for line in text.splitlines():
        mr = re.match(r'^(\s*/memreserve/\s+)(\S+)(.*)$', line)
        if mr and cell(mr.group(2)) is not None:
            line = "%s0x%x%s" % (mr.group(1), moved(cell(mr.group(2))), mr.group(3))
        line = re.sub(r'@([0-9a-fA-F]+)(\s*\{)',
                      lambda m: "@%x%s" % (moved(int(m.group(1), 16)), m.group(2)), line)
        m = cells_decl.match(line)
        if m and cell(m.group(2)) is not None and len(stack) > 1:
            stack[-1][0 if m.group(1) == "address" else 1] = cell(m.group(2))
        m = prop.match(line)
        if m and len(stack) >= 2:
            parent = stack[-2]
            new = rebase_cells(m.group(4).split(), parent[0], parent[1])
            line = "%s%s%s<%s>%s" % (m.group(1), m.group(2), m.group(3), " ".join(new), m.group(5))
        for ch in re.sub(r'"[^"]*"', "", line.split("//")[0]):
            if ch == "{":
                stack.append([2, 1])  # the defaults of the device-tree specification
            elif ch == "}" and len(stack) > 1:
                stack.pop()
        # the root node's children are read with QEMU's root cells (2 and 2)
        if re.match(r'^\s*/\s*\{', line):
            stack[-1] = [2, 2]
        out.append(line)
    return "\n".join(out) + ("\n" if text.endswith("\n") else "")


def rebase_cmdline(text):
    return re.sub(r'(cma=[^ @]+@)(0x[0-9a-fA-F]+|[0-9]+)',
                  lambda m: "%s0x%x" % (m.group(1), moved(int(m.group(2), 0))), text)


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in ("dts", "cmdline"):
        sys.exit("usage: rebase.py dts|cmdline < input > output")
    data = sys.stdin.read()
    sys.stdout.write(rebase_dts(data) if sys.argv[1] == "dts" else rebase_cmdline(data))
