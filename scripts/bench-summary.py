#!/usr/bin/env python3
"""make bench, second half: one table of medians from the Google Benchmark JSON files that
scripts/run-bench.sh wrote, each figure next to the floor of the same size measured by the same
program in the same run (or, for the host's own devices, the same make bench), with the ratio and
issue 19's target marked met or missed. A row without a target says "no target"; a judged row
whose floor the host cannot have (no /dev/dma_heap/system, no /dev/udmabuf) says "no floor on
this host" and counts neither way.

usage: scripts/bench-summary.py RESULTS_DIR OUT_JSON
RESULTS_DIR holds <program>.json (--benchmark_out, repetitions with aggregates). Prints the table;
writes every row, the targets and the raw medians to OUT_JSON. Exit 0 whether targets are met or
not (1 only when a program's results are missing or unreadable).
"""
import json
import os
import re
import sys
import time

SIZES = [4 << 10, 64 << 10, 1 << 20, 16 << 20, 64 << 20]


def size_name(n):
    for unit, shift in (("G", 30), ("M", 20), ("K", 10)):
        if n >= 1 << shift and n % (1 << shift) == 0:
            return f"{n >> shift}{unit}"
    return str(n)


def key_of(run_name):
    """floor/lazy/4096/real_time -> floor/lazy/4096; drops iterations:N, manual_time."""
    parts = [p for p in run_name.split("/")
             if p not in ("real_time", "manual_time") and not re.fullmatch(r"iterations:\d+", p)]
    return "/".join(parts)


def to_us(value, unit):
    return value * {"ns": 1e-3, "us": 1.0, "ms": 1e3, "s": 1e6}[unit]


def load(results):
    """{program: {key: median entry with real_us/cpu_us added}}, plus the context of one file."""
    medians, context, missing = {}, {}, []
    for prog in ("alloc_bench", "service_paths_bench", "run_bench", "trace_bench", "cma_placement_bench",
                 "memory_model_bench", "dtcheck_bench"):
        path = os.path.join(results, prog + ".json")
        try:
            with open(path) as f:
                data = json.load(f)
        except (OSError, ValueError) as e:
            missing.append(f"{prog}: {e}")
            continue
        context = context or data.get("context", {})
        out = {}
        for b in data.get("benchmarks", []):
            if b.get("error_occurred"):
                out.setdefault(key_of(b.get("run_name", b["name"])), {"error": b.get("error_message", "error")})
                continue
            # With repetitions only aggregates are reported; a lone run counts as its own median.
            if b.get("run_type") == "aggregate" and b.get("aggregate_name") != "median":
                continue
            e = dict(b)
            e["real_us"] = to_us(b["real_time"], b["time_unit"])
            e["cpu_us"] = to_us(b["cpu_time"], b["time_unit"])
            out[key_of(b.get("run_name", b["name"]))] = e
        medians[prog] = out
    return medians, context, missing


def fmt_us(us):
    if us is None:
        return "-"
    if us >= 1e6:
        return f"{us / 1e6:.3g} s"
    if us >= 1e3:
        return f"{us / 1e3:.3g} ms"
    return f"{us:.3g} us"


class Table:
    def __init__(self):
        self.rows = []

    def add(self, section, figure, value, floor=None, ratio=None, target=None, met=None, note="",
            value_text=None, floor_text=None):
        self.rows.append({
            "section": section, "figure": figure, "value": value, "floor": floor, "ratio": ratio,
            "target": target if target is not None else "no target", "met": met, "note": note,
            "value_text": value_text if value_text is not None else fmt_us(value),
            "floor_text": floor_text if floor_text is not None else (fmt_us(floor) if floor is not None else ""),
        })

    def print(self):
        head = ("figure", "median", "floor", "ratio", "target", "")
        body = []
        for r in self.rows:
            result = "" if r["met"] is None else ("met" if r["met"] else "MISSED")
            ratio = "" if r["ratio"] is None else f"{r['ratio']:.2f}x"
            body.append((r["section"], (r["figure"], r["value_text"], r["floor_text"], ratio,
                                        r["target"] or "", result + (f"  {r['note']}" if r["note"] else ""))))
        widths = [max(len(head[i]), *(len(b[1][i]) for b in body)) for i in range(5)]
        line = lambda cells: "  ".join(c.ljust(widths[i]) if i < 5 else c for i, c in enumerate(cells)).rstrip()
        print(line(head))
        section = None
        for sec, cells in body:
            if sec != section:
                print(f"-- {sec}")
                section = sec
            print(line(cells))


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    results, out_json = sys.argv[1], sys.argv[2]
    m, context, missing = load(results)
    t = Table()

    def get(prog, key):
        e = m.get(prog, {}).get(key)
        return e if e and "error" not in e else None

    def err(prog, key):
        e = m.get(prog, {}).get(key)
        return e["error"] if e and "error" in e else "not measured"

    HOST_FLOOR = "no floor on this host"

    def judge(sec, figure, e, f, limit, *, key="real_us", floor_key="real_us", floor_missing=None, note=""):
        """One judged row: figure e against floor f, ratio <= limit. A floor the host cannot
        have (floor_missing) leaves the row unjudged; any other missing value is a miss."""
        target = f"<= {limit}x"
        if not e:
            t.add(sec, figure, None, target=target, met=False, note=note or "not measured")
            return
        if not f:
            t.add(sec, figure, e[key], target=target, met=None if floor_missing else False,
                  note=floor_missing or "no floor: not measured")
            return
        ratio = e[key] / f[floor_key]
        t.add(sec, figure, e[key], f[floor_key], ratio, target, ratio <= limit, note=note)

    def inform(sec, figure, e, f, *, key="real_us", floor_key="real_us", note=""):
        """A row with no issue-19 target: figure, and its floor and ratio when there is one."""
        if not e:
            return
        if f:
            t.add(sec, figure, e[key], f[floor_key], e[key] / f[floor_key], note=note)
        else:
            t.add(sec, figure, e[key], note=note)

    # ---- allocation + free, each path against its own floor of the same size ----
    # embedded: in-process memfd; service: SCM_RIGHTS of a populated memfd; dmaheap run: the bare
    # seccomp round trip (4 KiB: ADDFD of a ready memfd, the floor; every size: the memfd
    # created and populated per notification, which at 64 MiB is what any ALLOC has to pay).
    paths = [
        ("embedded (in-process) vs floor/populated", "alloc_bench", "embedded", "floor/populated",
         {4 << 10: 1.2, 64 << 20: 1.05}),
        ("service (dmaheapd round trip) vs floor/scm_rights_populated", "service_paths_bench", "service",
         "floor/scm_rights_populated", {4 << 10: 1.15, 64 << 20: 1.05}),
        ("dmaheap run (ioctl under seccomp) vs floor/seccomp_addfd_populated", "run_bench", "run",
         "floor/seccomp_addfd_populated", {64 << 20: 1.05}),
    ]
    for section, prog, prefix, floor_name, targets in paths:
        sec = f"{section} ({prog}): alloc+free"
        for heap in ("system", "cma"):
            for size in SIZES:
                key = f"{prefix}/{heap}/{size}"
                e, f = get(prog, key), get(prog, f"{floor_name}/{size}")
                figure = f"{prefix}/{heap} {size_name(size)}"
                if size in targets:
                    judge(sec, figure, e, f, targets[size], note="" if e else err(prog, key))
                else:
                    inform(sec, figure, e, f)
                if prefix == "run" and size == 4 << 10:
                    judge(sec, f"{figure} vs floor/seccomp_addfd (ready memfd)", e,
                          get(prog, f"floor/seccomp_addfd/{size}"), 1.3, note="" if e else err(prog, key))

    # ---- the floors themselves ----
    sec = "floors (no targets): ratio vs the in-process floor/populated of the same program"
    for size in SIZES:
        for name in ("floor/lazy", "floor/scm_rights_populated"):
            inform(sec, f"{name} {size_name(size)}", get("service_paths_bench", f"{name}/{size}"),
                   get("service_paths_bench", f"floor/populated/{size}"))
    for name, size in (("floor/seccomp_addfd", 4 << 10), ("floor/seccomp_addfd", 64 << 20),
                       ("floor/seccomp_addfd_nosync", 4 << 10), ("floor/seccomp_addfd_populated", 4 << 10),
                       ("floor/seccomp_addfd_populated", 64 << 20)):
        e = get("run_bench", f"{name}/{size}")
        if e:
            inform(sec, f"{name} {size_name(size)}", e, get("run_bench", f"floor/populated/{size}"),
                   note=f"{e.get('label', '')}; same CPU {e.get('same_cpu_pct', 0):.0f}%")
        else:
            t.add(sec, f"{name} {size_name(size)}", None, note=err("run_bench", f"{name}/{size}"))
    for name in ("floor/host_heap_alloc", "floor/udmabuf_create"):
        for size in (4 << 10, 64 << 20):
            e = get("alloc_bench", f"{name}/{size}")
            if e:
                inform(sec, f"{name} {size_name(size)}", e, get("alloc_bench", f"floor/populated/{size}"))
                for heap in ("system", "cma"):
                    inform(sec, f"  embedded/{heap} {size_name(size)} vs {name}", get("alloc_bench", f"embedded/{heap}/{size}"), e)
            else:
                why = err("alloc_bench", f"{name}/{size}")
                t.add(sec, f"{name} {size_name(size)}", None, note=why if "on this host" in why else f"{HOST_FLOOR}: {why}")
    inform(sec, "service/hello (vs floor/ipc_roundtrip)", get("service_paths_bench", "service/hello"),
           get("service_paths_bench", "floor/ipc_roundtrip/0"))
    inform(sec, "run: foreign ioctl (CONTINUE path)", get("run_bench", "run/foreign_ioctl"), None)

    # ---- one frame's SYNC pair under dmaheap run ----
    sec = "per-frame SYNC start+end under dmaheap run (run_bench) vs the same pair in-process"
    host, emulated = get("alloc_bench", "floor/host_sync_pair"), get("run_bench", "floor/emulated_sync_pair")
    e = get("run_bench", "run/sync_pair")
    if host:
        judge(sec, "run/sync_pair vs a real dma-buf (floor/host_sync_pair, alloc_bench)", e, host, 1.5,
              note="" if e else err("run_bench", "run/sync_pair"))
        inform(sec, "run/sync_pair vs floor/emulated_sync_pair", e, emulated)
    else:
        judge(sec, "run/sync_pair vs floor/emulated_sync_pair (no real dma-buf here)", e, emulated, 1.5,
              note="" if e else err("run_bench", "run/sync_pair"))

    # ---- tracing (docs/traces.md): ALLOC with a trace against the same without ----
    sec = "dmaheap run --trace: alloc+free traced, ratio vs untraced (trace_bench)"
    for size in (4 << 10, 1 << 20):
        e, f = get("trace_bench", f"trace/traced/system/{size}"), get("trace_bench", f"trace/untraced/system/{size}")
        if e:
            inform(sec, f"trace/system {size_name(size)}", e, f)
        else:
            t.add(sec, f"trace/system {size_name(size)}", None, note=err("trace_bench", f"trace/traced/system/{size}"))

    # ---- scale ----
    def rate_row(sec, figure, e, f, floor_name):
        if not e or not e.get("items_per_second"):
            t.add(sec, figure, None, note="not measured")
            return
        r = e["items_per_second"]
        fr = f.get("items_per_second") if f else None
        t.add(sec, figure, r, fr, r / fr if fr else None, value_text=f"{r / 1e3:.3g}k/s",
              floor_text=f"{fr / 1e3:.3g}k/s" if fr else "", note="" if fr else f"no {floor_name}")

    sec = "service throughput, 4K allocs/s; ratio = rate / the SCM_RIGHTS floor's rate (service_paths_bench)"
    for k in (1, 2, 4, 8):
        key = f"throughput/service/clients:{k}"
        if not get("service_paths_bench", key):
            t.add(sec, f"{k} client process{'es' if k > 1 else ''}", None, note=err("service_paths_bench", key))
            continue
        rate_row(sec, f"{k} client process{'es' if k > 1 else ''}", get("service_paths_bench", key),
                 get("service_paths_bench", f"throughput/scm_rights_floor/clients:{k}"), "SCM_RIGHTS floor")
    sec = ("dmaheap run, 4K allocs/s from T threads at once (run_bench); "
           "ratio = rate / one thread's floor/seccomp_addfd_populated rate")
    f = get("run_bench", "floor/seccomp_addfd_populated/4096")
    floor_rate = {"items_per_second": 1e6 / f["real_us"]} if f else None
    for k in (1, 2, 4, 8):
        key = f"run/threads/threads:{k}"
        if not get("run_bench", key):
            t.add(sec, f"{k} thread{'s' if k > 1 else ''}", None, note=err("run_bench", key))
            continue
        rate_row(sec, f"{k} thread{'s' if k > 1 else ''}", get("run_bench", key), floor_rate, "seccomp floor")

    # ---- free latency ----
    sec = ("free latency: last close -> pages back in the heap (service); "
           "floor = the kernel's close() of a populated memfd in-process")
    for heap, size in (("system", 4 << 10), ("cma", 4 << 10), ("cma", 64 << 20)):
        key = f"free_latency/{heap}/{size}"
        e, f = get("service_paths_bench", key), get("service_paths_bench", f"floor/close_populated/{size}")
        inform(sec, f"{heap} {size_name(size)} p50", e, f, key="p50_us", floor_key="p50_us")
        judge(sec, f"{heap} {size_name(size)} p99", e, f if f and "p99_us" in f else None, 1.2,
              key="p99_us", floor_key="p99_us", note="" if e else err("service_paths_bench", key))

    # ---- CMA placement ----
    sec = "CMA placement, 4 GiB area, 50,000 live buffers (cma_placement_bench); ratio = speed-up"
    ours, ref = get("cma_placement_bench", "cma_placement/ours"), get("cma_placement_bench", "cma_placement/reference")
    if ours and ref:
        speed = ref["real_us"] / ours["real_us"]
        t.add(sec, "time per decision, ours", ours["real_us"], ref["real_us"], speed, ">= 20x", speed >= 20)
        so, sr = ours.get("success_rate", 0), ref.get("success_rate", 0)
        t.add(sec, "success rate, ours", so, sr, None, value_text=f"{so * 100:.2f}%", floor_text=f"{sr * 100:.2f}%")
        ho, hr = ours.get("answers_hash"), ref.get("answers_hash")
        if ho is None or hr is None:
            t.add(sec, "same answers as the reference", None, target="same placements", met=False,
                  note="no answers_hash counter")
        else:
            t.add(sec, "same answers as the reference", ho, hr, None, "same placements", ho == hr,
                  value_text=f"hash {int(ho):08x}", floor_text=f"hash {int(hr):08x}")
    else:
        t.add(sec, "time per decision, ours", None, target=">= 20x", met=False, note=err("cma_placement_bench", "cma_placement/ours"))

    # ---- memory model ----
    sec = "memory model build (memory_model_bench); ratio = time vs 1 GiB's time x the size"
    boards = {g: get("memory_model_bench", f"BM_BuildBoard/{g}") for g in (1, 4, 16, 64)}
    base = boards[1]
    for g, e in boards.items():
        if not e:
            t.add(sec, f"{g} GiB board", None, target="<= 1.5x" if g in (16, 64) else None,
                  met=False if g in (16, 64) else None, note=err("memory_model_bench", f"BM_BuildBoard/{g}"))
            continue
        per = (e["real_us"] / g) / (base["real_us"]) if base and g > 1 else None
        target, met = ("<= 1.5x (linear)", per <= 1.5) if (per is not None and g in (16, 64)) else (None, None)
        t.add(sec, f"{g} GiB: time", e["real_us"], base["real_us"] * g if base and g > 1 else None, per, target, met,
              floor_text=f"{fmt_us(base['real_us'] * g)} (1G x {g})" if base and g > 1 else "")
        pct = e.get("metadata_pct")
        if pct is not None:
            mper = (e["metadata_bytes"] / g) / base["metadata_bytes"] if base and g > 1 else None
            t.add(sec, f"{g} GiB: metadata", pct, None, mper,
                  value_text=f"{e['metadata_bytes'] / 2**20:.3g} MiB = {pct:.3f}%")

    # ---- dt-check ----
    sec = "dt-check over the Debian arm64 corpus (dtcheck_bench), default kernel"
    e = get("dtcheck_bench", "dtcheck/corpus_per_tree")
    if e:
        t.add(sec, f"per tree, mean of {int(e.get('trees', 0))} trees", e["real_us"],
              note=f"p50 {fmt_us(e.get('p50_us'))}, max {fmt_us(e.get('max_us'))}, whole corpus "
                   f"{fmt_us(e['real_us'] * e.get('trees', 0))}")
    else:
        t.add(sec, "per tree", None, note=err("dtcheck_bench", "dtcheck/corpus_per_tree"))

    # ---- output ----
    print(f"dmaheap bench: {context.get('host_name', '?')}, {context.get('num_cpus', '?')} CPUs, "
          f"load average at start {', '.join(f'{x:.2f}' for x in context.get('load_avg', []))}; "
          f"medians of {os.environ.get('BENCH_REPETITIONS', '?')} repetitions (CMA placement: 3), wall time")
    t.print()
    judged = [r for r in t.rows if r["met"] is not None]
    met = sum(1 for r in judged if r["met"])
    print(f"targets: {met} met, {len(judged) - met} missed")
    for line in missing:
        print(f"missing: {line}")
    with open(out_json, "w") as f:
        json.dump({
            "generated": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "context": context,
            "rows": t.rows,
            "targets": {"met": met, "missed": len(judged) - met},
            "medians": m,
        }, f, indent=1, default=str)
    print(f"written: {out_json}")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
