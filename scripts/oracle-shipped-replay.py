#!/usr/bin/env python3
"""Replay the shipped-tree boots of tests/oracle-shipped/<kernel-id>/<tree>.txt through dt-check.

usage: scripts/oracle-shipped-replay.py BUILD DTB_DIR [-j JOBS] [-v] [TREE...]

For every golden file: the board's .dtb from DTB_DIR with the RAM QEMU wrote (the golden's
`memory:` lines; `--memory` when dt-check has it, else the tree's memory nodes replaced the way
QEMU replaces them), the kernel's release and .config (tests/oracle-golden/kernels), `--json`.
Both sides are reduced to the same predictions (oracle/README.md, "Shipped trees"): every
kernel log line about reserved memory and CMA read as a fact about a region, a pool, the default
area or a zone. A difference fails unless tests/oracle-shipped/EXPLAINED.md names it.
"""
import fnmatch
import json
import os
import re
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GOLDEN = os.path.join(REPO, "tests/oracle-shipped")
KERNELS = os.path.join(REPO, "tests/oracle-golden/kernels")

# Lines printed after the point where the recorded boots stop (CMA activation is a core initcall,
# the recordings end when the timer is up) or by later allocations: not compared.
AFTER_STOP = re.compile(r"could not be activated|__cma_alloc|^WARNING: |^Unable to handle|^Internal error|"
                        r"^Kernel panic|^pc : |number of available pages")

PREFIX = re.compile(r"^(OF: reserved mem: |OF: fdt: )")


def facts_from_lines(lines):
    """Kernel log lines -> {key: value}. Keys name what the line is about, values what happened."""
    facts = {}
    pending = []  # pools printed before their "initialized node" line

    def put(key, value):
        n = 1
        k = key
        while k in facts:  # the same fact printed twice (6.12 scans some nodes in two passes)
            n += 1
            k = f"{key}#{n}"
        facts[k] = value

    for raw in lines:
        if AFTER_STOP.search(raw):
            continue
        s = PREFIX.sub("", raw)
        m = re.match(r"Reserved memory: created (CMA|DMA|restricted DMA) memory pool at (0x[0-9a-f]+), size (\d+) MiB$", s)
        if m:
            pending.append(f"{m.group(1)} pool at {int(m.group(2), 16):#x} size {m.group(3)} MiB")
            continue
        m = re.match(r"initialized node (\S+), compatible id (\S+)$", s)
        if m:
            put(f"region {m.group(1)}", "initialized " + m.group(2) + ("; " + pending.pop(0) if pending else ""))
            continue
        m = re.match(r"node (\S+) compatible matching fail$", s)
        if m:
            put(f"region {m.group(1)}", "compatible matching fail" + ("; " + pending.pop(0) if pending else ""))
            continue
        m = re.match(r"failed to allocate memory for node '([^']+)': size (\d+) MiB$", s)
        if m:
            put(f"region {m.group(1)}", f"allocation failed, size {m.group(2)} MiB")
            continue
        m = re.match(r"(?:Reserved memory: )?failed to reserve memory for node '([^']+)': base (0x[0-9a-f]+), size (\d+) MiB$", s)
        if m:
            put(f"region {m.group(1)}", f"reservation failed, base {int(m.group(2), 16):#x}, size {m.group(3)} MiB")
            continue
        m = re.match(r"(0x[0-9a-f]+)\.\.(0x[0-9a-f]+) \((\d+) KiB\) (map|nomap) (reusable|non-reusable) (\S+)$", s)
        if m:
            put(f"placed {m.group(6)}",
                f"{int(m.group(1), 16):#x}..{int(m.group(2), 16):#x} {m.group(4)} {m.group(5)}")
            continue
        m = re.match(r"cma: Reserved (\d+) MiB at (0x[0-9a-f]+)( on node -?\d+)?$", s)
        if m:
            put("default area size", f"{m.group(1)} MiB")
            put("default area base", f"{int(m.group(2), 16):#x}")
            continue
        m = re.match(r"cma: Failed to reserve (\d+) MiB( on node -?\d+)?$", s)
        if m:
            put("default area size", f"failed ({m.group(1)} MiB)")
            continue
        put("line " + s, "logged")
    for p in pending:
        put("pool", p + " (no initialized line)")
    return facts


def golden_facts(path):
    lines, memory, zones, extra = [], [], {}, {}
    outcome, tree = None, None
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            key, _, val = line.partition(": ")
            if key == "tree":
                tree = val
            elif key == "memory":
                memory.append(val.split())
            elif key == "zone":
                name, _, what = val.partition(" ")
                zones[f"zone {name}"] = what
            elif key == "log":
                m = re.match(r"Memory: .* (\d+)K cma-reserved\)", val)
                if m:
                    extra["cma reserved at boot"] = f"{m.group(1)} KiB"
                else:
                    lines.append(val)
            elif key == "outcome":
                outcome = val
    facts = facts_from_lines(lines)
    facts.update(extra)
    return tree, memory, zones, facts, outcome


def zone_text(base, size):
    return f"[mem {base:#018x}-{base + size - 1:#018x}]"


def our_facts(j, want_zones, want_cma_total):
    facts = facts_from_lines(j.get("kernel_log", []))
    if want_cma_total:
        facts["cma reserved at boot"] = f"{sum(a['size'] for a in j.get('cma_areas', [])) // 1024} KiB"
    zones = {}
    if want_zones and "zones" in j:
        zones = {z: "empty" for z in want_zones}
        for z in j["zones"]:
            zones[f"zone {z['name']}"] = zone_text(z["base"], z["size"])
    return facts, zones


def fix_memory(src, dst, memory):
    """The tree with its memory nodes replaced as QEMU replaces them (oracle/README.md)."""
    subprocess.run(["cp", src, dst], check=True)
    nodes = subprocess.run(["fdtget", "-l", dst, "/"], capture_output=True, text=True, check=True).stdout.split()
    for n in nodes:
        if n == "memory" or n.startswith("memory@"):
            subprocess.run(["fdtput", "-r", dst, "/" + n], check=True)
    cells = []
    for c in ("#address-cells", "#size-cells"):
        r = subprocess.run(["fdtget", "-t", "u", "-d", "1" if c == "#size-cells" else "2", dst, "/", c],
                           capture_output=True, text=True, check=True)
        cells.append(int(r.stdout.split()[0]))
    for path, base, size in memory:
        base, size = int(base, 16), int(size, 16)
        if path.count("/") != 1:
            continue  # a memory node QEMU left in place (not named memory): still in the tree
        words = []
        for value, n in ((base, cells[0]), (size, cells[1])):
            words += [f"{(value >> (32 * (n - 1 - i))) & 0xffffffff:x}" for i in range(n)]
        subprocess.run(["fdtput", "-c", dst, path], check=False)
        subprocess.run(["fdtput", "-t", "s", dst, path, "device_type", "memory"], check=True)
        subprocess.run(["fdtput", "-t", "x", dst, path, "reg"] + words, check=True)


def fact_kind(key):
    """The class of a fact, for the summary: region outcome, placement line, default area, ..."""
    for k in ("region", "placed", "pool", "default area size", "default area base", "cma reserved at boot", "zone"):
        if key.startswith(k):
            return k
    return "other line"


def detail(key, theirs, mine):
    """What a difference amounts to, for EXPLAINED.md to name: the default area's base as an offset."""
    if key == "default area base" and theirs.startswith("0x") and mine.startswith("0x"):
        delta = int(mine, 16) - int(theirs, 16)
        if delta % (1 << 20) == 0:
            return f" (kernel's {abs(delta) >> 20} MiB {'lower' if delta > 0 else 'higher'})"
    return ""


def load_explained():
    rules = []
    path = os.path.join(GOLDEN, "EXPLAINED.md")
    if not os.path.exists(path):
        return rules
    for line in open(path):
        # - `KERNEL-GLOB` `TREE-GLOB` `KEY-GLOB`: reason
        m = re.match(r"^- `([^`]+)` `([^`]+)` `([^`]+)`: (.+)$", line.strip())
        if m:
            rules.append([m.group(1), m.group(2), m.group(3), m.group(4), 0])
    return rules


def main():
    args = sys.argv[1:]
    verbose = "-v" in args
    args = [a for a in args if a != "-v"]
    jobs = 2
    if "-j" in args:
        i = args.index("-j")
        jobs = int(args[i + 1])
        del args[i:i + 2]
    build, dtb_dir, only = args[0], args[1], args[2:]
    tool = os.path.join(build, "dmaheap")
    probe = subprocess.run([tool, "dt-check", os.path.join(REPO, "examples/juno-framebuffer-cma.dts"), "--memory",
                            "0x40000000:0x40000000"], capture_output=True, text=True)
    has_memory_option = "unknown option --memory" not in probe.stderr
    files = []
    for kid in sorted(os.listdir(GOLDEN)):
        kdir = os.path.join(GOLDEN, kid)
        if not os.path.isdir(kdir) or not os.path.exists(os.path.join(KERNELS, kid + ".config")):
            continue
        for root, _, names in os.walk(kdir):
            for n in sorted(names):
                if n.endswith(".txt"):
                    tree = os.path.relpath(os.path.join(root, n), kdir)[:-4]
                    if not only or tree in only:
                        files.append((kid, tree, os.path.join(root, n)))
    files.sort()
    tmp = tempfile.mkdtemp(prefix="oracle-shipped-")

    def replay(item):
        kid, tree, path = item
        want_tree, memory, zones, facts, outcome = golden_facts(path)
        dtb = os.path.join(dtb_dir, tree + ".dtb")
        if not os.path.exists(dtb):
            return item, "missing", None
        import hashlib
        if hashlib.sha256(open(dtb, "rb").read()).hexdigest()[:16] != want_tree:
            return item, "changed", None
        version = open(os.path.join(KERNELS, kid + ".version")).read().strip()
        cmd = [tool, "dt-check", "--kernel", version, "--kernel-config", os.path.join(KERNELS, kid + ".config"),
               "--json"]
        ram = [(b, s) for p, b, s in memory if int(s, 16) > 0]
        if has_memory_option:
            cmd += [dtb, "--memory", ",".join(f"{b}:{s}" for b, s in ram)]
        else:
            fixed = os.path.join(tmp, f"{kid}-{tree.replace('/', '_')}.dtb")
            fix_memory(dtb, fixed, memory)
            cmd += [fixed]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode not in (0, 1):
            return item, "error", (r.returncode, r.stderr.strip())
        j = json.loads(r.stdout)
        ours, our_zones = our_facts(j, zones, "cma reserved at boot" in facts)
        diffs = []
        for key in sorted(set(facts) | set(ours)):
            theirs, mine = facts.get(key, "(not logged)"), ours.get(key, "(not predicted)")
            diffs.append((key, theirs, mine))
        if our_zones:
            for key in sorted(zones):
                diffs.append((key, zones[key], our_zones.get(key, "empty")))
        return item, "ok", (diffs, bool(our_zones), outcome)

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        results = list(pool.map(replay, files))
    rules = load_explained()
    stats = {"boots": 0, "agree": 0, "explained": 0, "differ": 0, "skipped": 0, "zones-unpredicted": 0}
    outcomes = {}
    per_kind = {}
    failures = []
    for (kid, tree, _), status, data in results:
        if status != "ok":
            stats["skipped"] += 1
            failures.append(f"{status.upper()} {kid} {tree}: {data if data else ''}")
            continue
        diffs, zones_predicted, outcome = data
        stats["boots"] += 1
        outcomes[f"{kid} {outcome}"] = outcomes.get(f"{kid} {outcome}", 0) + 1
        if not zones_predicted:
            stats["zones-unpredicted"] += 1
        for key, theirs, mine in diffs:
            kind = fact_kind(key)
            per_kind.setdefault(kind, [0, 0, 0])
            if theirs == mine:
                stats["agree"] += 1
                per_kind[kind][0] += 1
                continue
            what = key + detail(key, theirs, mine)
            rule = next((r for r in rules if fnmatch.fnmatchcase(kid, r[0]) and fnmatch.fnmatchcase(tree, r[1])
                         and fnmatch.fnmatchcase(what, r[2])), None)
            if rule:
                rule[4] += 1
                stats["explained"] += 1
                per_kind[kind][1] += 1
                if verbose:
                    print(f"explained {kid} {tree} | {what} | kernel: {theirs} | dt-check: {mine}")
                continue
            stats["differ"] += 1
            per_kind[kind][2] += 1
            failures.append(f"DIFFER {kid} {tree} | {what} | kernel: {theirs} | dt-check: {mine}")
    for f in failures:
        print(f)
    for r in rules:
        if verbose or r[4] == 0:
            print(f"explained {r[4]:5d} x `{r[0]}` `{r[1]}` `{r[2]}`" + ("  (matches nothing)" if r[4] == 0 else ""))
    for kind in sorted(per_kind):
        a, e, d = per_kind[kind]
        print(f"oracle-shipped: {kind:26s} {a:6d} agree {e:6d} explained {d:4d} unexplained")
    print("oracle-shipped: RAM given " + ("with --memory" if has_memory_option else
                                          "by replacing the memory nodes as QEMU does (no --memory in this dt-check)"))
    print("oracle-shipped: " + ", ".join(f"{v} {k}" for k, v in sorted(outcomes.items())))
    print(f"oracle-shipped: {stats['boots']} recorded boots replayed ({stats['skipped']} not comparable), "
          f"{stats['agree']} predictions agree, {stats['explained']} differ as explained in "
          f"tests/oracle-shipped/EXPLAINED.md, {stats['differ']} differ unexplained"
          + (f"; zones not predicted by this dt-check on {stats['zones-unpredicted']} boots"
             if stats["zones-unpredicted"] else ""))
    ok = stats["boots"] > 0 and stats["differ"] == 0 and stats["skipped"] == 0
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
