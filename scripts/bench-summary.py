#!/usr/bin/env python3
"""make bench, second half: one table of medians from the Google Benchmark JSON files that
scripts/run-bench.sh wrote, each figure next to the floor of the same size measured by the same
program in the same run, with the ratio and issue 7's target marked met or missed.

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
            "target": target, "met": met, "note": note,
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

    # ---- allocation + free against floor/populated of the same size, same program ----
    paths = [
        ("embedded (in-process)", "alloc_bench", "embedded", {4 << 10: 1.3, 64 << 20: 1.1}),
        ("service (dmaheapd round trip)", "service_paths_bench", "service", {4 << 10: 2.5, 64 << 20: 1.15}),
        ("dmaheap run (ioctl under seccomp)", "run_bench", "run", {4 << 10: 6.0, 64 << 20: 1.2}),
    ]
    for section, prog, prefix, targets in paths:
        sec = f"{section}: alloc+free, ratio vs floor/populated ({prog})"
        for heap in ("system", "cma"):
            for size in SIZES:
                key = f"{prefix}/{heap}/{size}"
                e, f = get(prog, key), get(prog, f"floor/populated/{size}")
                limit = targets.get(size)
                target = f"<= {limit}x" if limit else None
                if not e or not f:
                    t.add(sec, f"{prefix}/{heap} {size_name(size)}", None, target=target,
                          met=False if limit else None, note=err(prog, key) if not e else "no floor")
                    continue
                ratio = e["real_us"] / f["real_us"]
                t.add(sec, f"{prefix}/{heap} {size_name(size)}", e["real_us"], f["real_us"], ratio, target,
                      (ratio <= limit) if limit else None)
    # Floors and transport floors, for reading the ratios above.
    sec = "floors (service_paths_bench): lazy and fd-passing, ratio vs floor/populated"
    for size in SIZES:
        for name in ("floor/lazy", "floor/scm_rights_populated"):
            e, f = get("service_paths_bench", f"{name}/{size}"), get("service_paths_bench", f"floor/populated/{size}")
            if e and f:
                t.add(sec, f"{name} {size_name(size)}", e["real_us"], f["real_us"], e["real_us"] / f["real_us"])
    e, f = get("service_paths_bench", "service/hello"), get("service_paths_bench", "floor/ipc_roundtrip/0")
    if e and f:
        t.add(sec, "service/hello (vs floor/ipc_roundtrip)", e["real_us"], f["real_us"], e["real_us"] / f["real_us"])
    e, f = get("run_bench", "run/foreign_ioctl"), None
    if e:
        t.add(sec, "run: foreign ioctl (CONTINUE path)", e["real_us"])

    # ---- tracing (docs/traces.md): ALLOC with a trace against the same without ----
    sec = "dmaheap run --trace: alloc+free traced, ratio vs untraced (trace_bench)"
    for size in (4 << 10, 1 << 20):
        e, f = get("trace_bench", f"trace/traced/system/{size}"), get("trace_bench", f"trace/untraced/system/{size}")
        if e and f:
            t.add(sec, f"trace/system {size_name(size)}", e["real_us"], f["real_us"], e["real_us"] / f["real_us"])
        else:
            t.add(sec, f"trace/system {size_name(size)}", None, note=err("trace_bench", f"trace/traced/system/{size}"))

    # ---- throughput ----
    sec = "service throughput, 4K allocs/s; ratio = floor rate / rate (service_paths_bench)"
    rates = {}
    for k in (1, 2):
        e, f = get("service_paths_bench", f"throughput/service/clients:{k}"), get("service_paths_bench", f"throughput/floor/clients:{k}")
        if e and f and e.get("items_per_second") and f.get("items_per_second"):
            rates[k] = e["items_per_second"]
            t.add(sec, f"{k} client process{'es' if k > 1 else ''}", e["items_per_second"], f["items_per_second"],
                  f["items_per_second"] / e["items_per_second"],
                  value_text=f"{e['items_per_second'] / 1e3:.3g}k/s", floor_text=f"{f['items_per_second'] / 1e3:.3g}k/s")
        else:
            t.add(sec, f"{k} client processes", None, note=err("service_paths_bench", f"throughput/service/clients:{k}"))
    if 1 in rates and 2 in rates:
        t.add(sec, "scaling 2 clients / 1 client", rates[2] / rates[1], value_text=f"{rates[2] / rates[1]:.2f}x")

    # ---- free latency ----
    sec = "free latency: last close -> pages back in the heap (service); floor = close() of a populated memfd in-process"
    for heap, size in (("system", 4 << 10), ("cma", 4 << 10), ("cma", 64 << 20)):
        key = f"free_latency/{heap}/{size}"
        e = get("service_paths_bench", key)
        if not e:
            t.add(sec, f"{heap} {size_name(size)} p99", None, target="< 10 ms", met=False, note=err("service_paths_bench", key))
            continue
        f = get("service_paths_bench", f"floor/close_populated/{size}")
        close = f["real_us"] if f else None
        t.add(sec, f"{heap} {size_name(size)} p50", e["p50_us"], close, e["p50_us"] / close if close else None)
        t.add(sec, f"{heap} {size_name(size)} p99", e["p99_us"], target="< 10 ms", met=e["p99_us"] < 10e3)

    # ---- CMA placement ----
    sec = "CMA placement, 4 GiB area, 50,000 live buffers (cma_placement_bench); ratio = speed-up"
    ours, ref = get("cma_placement_bench", "cma_placement/ours"), get("cma_placement_bench", "cma_placement/reference")
    if ours and ref:
        speed = ref["real_us"] / ours["real_us"]
        t.add(sec, "time per decision, ours", ours["real_us"], ref["real_us"], speed, ">= 10x", speed >= 10)
        so, sr = ours.get("success_rate", 0), ref.get("success_rate", 0)
        t.add(sec, "success rate, ours", so, sr, None, ">= reference", so >= sr,
              value_text=f"{so * 100:.2f}%", floor_text=f"{sr * 100:.2f}%")
    else:
        t.add(sec, "time per decision, ours", None, target=">= 10x", met=False, note=err("cma_placement_bench", "cma_placement/ours"))

    # ---- memory model ----
    sec = "memory model build (memory_model_bench); ratio = per-GiB cost vs the 1 GiB board"
    boards = {g: get("memory_model_bench", f"BM_BuildBoard/{g}") for g in (1, 4, 16, 64)}
    base = boards[1]
    for g, e in boards.items():
        if not e:
            t.add(sec, f"{g} GiB board", None, met=False, note=err("memory_model_bench", f"BM_BuildBoard/{g}"))
            continue
        per = (e["real_us"] / g) / (base["real_us"]) if base else None
        target, met = ("<= 1.5x (linear)", per <= 1.5) if (per is not None and g > 1) else (None, None)
        t.add(sec, f"{g} GiB: time", e["real_us"], base["real_us"] * g if base else None, per, target, met,
              floor_text=f"{fmt_us(base['real_us'] * g)} (1G x {g})" if base else "")
        if g == 64:
            t.add(sec, "64 GiB: time", e["real_us"], target="< 1 s", met=e["real_us"] < 1e6)
        pct = e.get("metadata_pct")
        if pct is not None:
            mper = (e["metadata_bytes"] / g) / base["metadata_bytes"] if base else None
            t.add(sec, f"{g} GiB: metadata", pct, None, mper,
                  "< 0.5% of RAM" + (", linear" if g > 1 else ""),
                  pct < 0.5 and (mper is None or mper <= 1.05),
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
