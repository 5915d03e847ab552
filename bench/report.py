#!/usr/bin/env python3
"""Turns the measurements of bench/run.sh into bench/RESULTS.md (standard library only).

usage: report.py RESULTS_DIR OUTPUT.md
"""

import json
import re
import statistics
import sys
from pathlib import Path

run = Path(sys.argv[1])
out = Path(sys.argv[2])

machine = {}
for line in (run / "machine.txt").read_text().splitlines():
    k, _, v = line.partition("=")
    machine[k] = v
notes = (run / "notes.txt").read_text().splitlines() if (run / "notes.txt").exists() else []
reused = run / "mvt-reused.txt"
if reused.exists():
    for line in reused.read_text().splitlines():
        inp, _, date = line.partition(" ")
        notes.append(
            f"MVT on {inp} was not run again: its measurement from an earlier run of this script "
            f"on the same input bytes, bundles and MVT version ({date}) was reused (bench/data/mvt-cache)."
        )

# input -> tool -> list of runs
runs = {}
order = []
for line in (run / "measurements.tsv").read_text().splitlines():
    f = line.split("\t")
    if len(f) < 10:
        continue
    inp, scale, tool, rep, wall, cpu, rss, rc, load, hits = f[:10]
    try:
        hits = json.loads(hits)
    except json.JSONDecodeError:
        hits = {"error": hits}
    if inp not in runs:
        order.append(inp)
    runs.setdefault(inp, {}).setdefault(tool, []).append(
        {
            "scale": scale,
            "wall": float(wall),
            "cpu": float(cpu),
            "rss": int(rss) / 1024,
            "rc": rc,
            "timeout": rc == "timeout",
            "load": load,
            "hits": hits,
        }
    )


def median_run(rs):
    """The run with the median wall time (the lower middle one for an even count)."""
    s = sorted(rs, key=lambda r: r["wall"])
    return s[(len(s) - 1) // 2]


TOOLS = ["portcullis", "experiment", "mvt"]


def tool_name(t):
    return {"portcullis": "Portcullis", "mvt": "MVT"}.get(t, machine.get("experiment_label", t))


def fmt_s(x):
    return f"{x:.2f}" if x < 10 else f"{x:.1f}"


def fmt_mb(x):
    return f"{x:,.0f}"


def hits_cell(h):
    if "error" in h:
        return "no results"
    if "planted" not in h:
        return "–"
    cell = f"{h['found']}/{h['planted']}"
    if h.get("missing"):
        cell += " (missing " + ", ".join(h["missing"]) + ")"
    if h.get("extra"):
        cell += f"; {len(h['extra'])} other indicator hits"
    return cell


def label(inp):
    if inp.startswith("ios-"):
        return f"iOS backup, scale {inp[4:]}"
    if inp.startswith("android-"):
        return f"Android bugreport, {int(inp[8:]):,} packages"
    if inp == "load-1m-domains":
        return "1,000,000 domain indicators, tiny backup"
    return inp


def size_cell(inp):
    b = machine.get(f"size_{inp}")
    return f"{int(b) / 1e6:,.0f} MB" if b else ""


lines = []
w = lines.append
w("# Benchmark results")
w("")
w("Written by `bench/run.sh` (see [README.md](README.md)); do not edit by hand.")
w("")
w(f"- Date: {machine.get('date')}")
w(f"- Machine: {machine.get('nproc')} cores ({machine.get('cpu')}), {machine.get('ram')} RAM, {machine.get('kernel')}")
w(f"- Portcullis: {machine.get('portcullis')}, release build, {machine.get('rustc')}")
w(f"- MVT: {machine.get('mvt')} ({machine.get('python')}, `pip install mvt` in bench/.venv)")
w(f"- Indicators for both tools: {machine.get('pegasus')} plus {int(machine.get('domains', 0)):,} synthetic domains, 100 URLs, 100 process names, 100 app ids")
w(f"- Runs per input: Portcullis {machine.get('repeat')} (median shown), MVT {machine.get('mvt_repeat')}; "
  f"load average at the end: {machine.get('load_end')}; the 1-minute load before each run is in the table")
for n in notes:
    w(f"- **Note:** {n}")
w("")

w("## Whole checks")
w("")
w("| Input | Size | Tool | Wall s | CPU s | Peak RSS MB | Planted hits found | Alerts | Load before |")
w("|---|---|---|---:|---:|---:|---|---:|---:|")
for inp in order:
    for tool in TOOLS:
        rs = runs[inp].get(tool)
        if not rs:
            continue
        r = median_run(rs)
        walls = ", ".join(fmt_s(x["wall"]) for x in rs)
        wall = fmt_s(r["wall"]) + (f" ({walls})" if len(rs) > 1 else "")
        if r["timeout"]:
            wall = f"> {fmt_s(r['wall'])} (stopped at the {machine.get('timeout')} s limit)"
        w(
            f"| {label(inp)} | {size_cell(inp)} | {tool_name(tool)} | {wall} | "
            f"{fmt_s(r['cpu'])} | {fmt_mb(r['rss'])} | {hits_cell(r['hits'])} | "
            f"{r['hits'].get('alerts', '–')} | {r['load']} |"
        )
w("")

def hits_ok(r):
    h = r["hits"]
    return h.get("found") == h.get("planted") and not h.get("extra") and not h.get("missing")


# MVT's own log times its indicator loading (one line before and one after the bundles).
def mvt_load_seconds(inp):
    log = run / f"out-{inp}-mvt" / "command.log"
    if not log.exists():
        return None
    from datetime import datetime

    stamps = []
    for line in log.read_text(errors="replace").splitlines():
        m = re.match(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+) - .* - (.*)", line)
        if m:
            stamps.append((datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f"), m.group(2)))
    first = next((t for t, msg in stamps if msg.startswith("Parsing STIX2")), None)
    parsing = [i for i, (_, msg) in enumerate(stamps) if msg.startswith("Parsing STIX2")]
    last = stamps[parsing[-1] + 1][0] if parsing and parsing[-1] + 1 < len(stamps) else None
    if first is None or last is None:
        return None
    return (last - first).total_seconds()


loads = {inp: mvt_load_seconds(inp) for inp in order}
if any(v is not None for v in loads.values()):
    w("MVT's log times its indicator loading (parsing the bundles before any module runs):")
    w("")
    for inp, v in loads.items():
        if v is not None:
            w(f"- {label(inp)}: {v:.1f} s of MVT's run")
    w("")

w("## Ratios (MVT ÷ Portcullis, same inputs, same run)")
w("")
w("A ratio marked ≤ (≥) is a bound: that Portcullis (MVT) run was stopped at the time limit.")
w("")
w("The last column leaves out the time MVT's log shows it spent loading the indicators, to show")
w("the two tools' work on the data alone.")
w("")
w("| Input | Portcullis build | Faster (wall) | Less CPU | Less memory (peak RSS) | Same planted hits | Faster, MVT's indicator loading left out |")
w("|---|---|---:|---:|---:|---|---:|")
ratios = {}
for inp in order:
    m = runs[inp].get("mvt")
    if not m:
        continue
    m = median_run(m)
    for tool in ("portcullis", "experiment"):
        p = runs[inp].get(tool)
        if not p:
            continue
        p = median_run(p)
        rw, rc, rm = m["wall"] / p["wall"], m["cpu"] / max(p["cpu"], 1e-3), m["rss"] / p["rss"]
        ratios[(inp, tool)] = (rw, rc, rm, p["timeout"], m["timeout"])
        same = all(hits_ok(r) for t in (tool, "mvt") for r in runs[inp][t])
        stopped = p["timeout"] or m["timeout"]
        bound = "≤ " if p["timeout"] and not m["timeout"] else ("≥ " if m["timeout"] and not p["timeout"] else ("? " if stopped else ""))
        loading = loads.get(inp)
        data_only = "–" if loading is None or m["timeout"] else f"{(m['wall'] - loading) / p['wall']:.2f}×"
        w(
            f"| {label(inp)} | {tool_name(tool)} | {bound}{rw:.2f}× | {bound}{rc:.2f}× | "
            f"{bound}{rm:.2f}× | {'yes' if same else ('NO' if not stopped else 'no results (stopped)')} | {data_only} |"
        )
w("")

# Growth between the smallest and largest iOS scale.
ios = [i for i in order if i.startswith("ios-")]
growth = {}
if len(ios) >= 2:
    small, big = ios[0], ios[-1]
    factor = float(big[4:]) / float(small[4:])
    w(f"## Growth from scale {small[4:]} to {big[4:]} ({factor:g}× the data)")
    w("")
    w("| Tool | Wall | Peak RSS |")
    w("|---|---:|---:|")
    for tool in TOOLS:
        a, b = runs[small].get(tool), runs[big].get(tool)
        if a and b:
            a, b = median_run(a), median_run(b)
            growth[tool] = (b["wall"] / a["wall"], b["rss"] / a["rss"], b["timeout"])
            ge = "≥ " if b["timeout"] else ""
            w(f"| {tool_name(tool)} | {ge}{growth[tool][0]:.1f}× | {ge}{growth[tool][1]:.1f}× |")
    w("")

# Criterion.
UNITS = {"ps": 1e-12, "ns": 1e-9, "µs": 1e-6, "us": 1e-6, "ms": 1e-3, "s": 1.0}
RATE = {"": 1, "K": 1e3, "M": 1e6, "G": 1e9, "Ki": 1024, "Mi": 1024**2, "Gi": 1024**3}


def criterion(path):
    """name -> (seconds per iteration, throughput per second or None, unit)"""
    res = {}
    if not path.exists():
        return res
    name = None
    for line in path.read_text(errors="replace").splitlines():
        m = re.match(r"^(\S[^\s]*)\s*(time:.*)?$", line)
        if m and not line.startswith(("Benchmarking", "Found", "Warning", "Gnuplot", "WARNING", "Running", "Compiling", "Finished", "corpus", "minimal_fields:", "all_fields:")) and "/" in m.group(1):
            name = m.group(1)
        t = re.search(r"time:\s+\[\S+ \S+ (\S+) (\S+) \S+ \S+\]", line)
        if t and name:
            res.setdefault(name, {})["time"] = float(t.group(1)) * UNITS[t.group(2)]
        th = re.search(r"thrpt:\s+\[\S+ \S+ (\S+) (\S+) \S+ \S+\]", line)
        if th and name:
            u = re.match(r"(Ki|Mi|Gi|K|M|G|)(elem|B)/s", th.group(2))
            if u:
                res.setdefault(name, {})["thrpt"] = (float(th.group(1)) * RATE[u.group(1)], u.group(2))
    return res


crit = {}
for f in ("indicators", "crypto", "url_extraction"):
    crit.update(criterion(run / f"criterion-{f}.txt"))

if crit:
    w("## Micro-benchmarks (criterion; the indicator ones in full, the others with `--quick`)")
    w("")
    w("| Benchmark | Time per iteration | Throughput |")
    w("|---|---:|---:|")
    for name, v in crit.items():
        t = v.get("time")
        ts = "" if t is None else (f"{t * 1e3:.2f} ms" if t < 1 else f"{t:.2f} s")
        th = v.get("thrpt")
        if th is None:
            ths = ""
        elif th[1] == "B":
            ths = f"{th[0] / 1e6:,.0f} MB/s"
        elif th[0] >= 1e6:
            ths = f"{th[0] / 1e6:,.2f} M/s"
        else:
            ths = f"{th[0] / 1e3:,.1f} K/s"
        w(f"| {name} | {ts} | {ths} |")
    w("")


def target_row(what, goal, value, ok):
    status = "–" if ok is None else ("**met**" if ok else "**not met**")
    w(f"| {what} | {goal} | {value} | {status} |")


w("## Targets (issue 5)")
w("")
w("| Target | Goal | Measured | Status |")
w("|---|---|---|---|")
full = ios[-1] if ios else None
for tool in ("portcullis", "experiment"):
    suffix = "" if tool == "portcullis" else f" — {tool_name(tool)}"
    if full and (full, tool) in ratios:
        rw, rc, rm, p_stopped, m_stopped = ratios[(full, tool)]
        b = "≤ " if p_stopped else ("≥ " if m_stopped else "")
        target_row(f"Speed, {label(full)}{suffix}", "≥ 30× faster than MVT", f"{b}{rw:.2f}×", rw >= 30)
        target_row(f"Memory, {label(full)}{suffix}", "≤ 1/10 of MVT's peak", f"{1 / rm:.2f}× MVT's", rm >= 10)
    elif tool == "portcullis":
        target_row("Speed and memory against MVT", "≥ 30×, ≤ 1/10", "MVT not run", None)
    if tool in growth:
        g, stopped = growth[tool][1], growth[tool][2]
        target_row(f"Peak memory growth when data grows {factor:g}×{suffix}", "< 2×", f"{'≥ ' if stopped else ''}{g:.2f}×", g < 2)
load = [crit.get(k, {}).get("time") for k in ("load_1m_domains/all_fields", "load_1m_domains/minimal_fields")]
if load[0] is not None:
    target_row("Load 1,000,000 domain indicators (all STIX fields)", "< 1 s", f"{load[0]:.2f} s", load[0] < 1)
if load[1] is not None:
    target_row("Load 1,000,000 domain indicators (minimal fields)", "< 1 s", f"{load[1]:.2f} s", load[1] < 1)
if "load-1m-domains" in runs:
    r = median_run(runs["load-1m-domains"]["portcullis"])
    target_row("Whole `portcullis check` of a tiny backup with 1,000,000 domains", "(context)", f"{r['wall']:.2f} s, {r['rss']:,.0f} MB", None)
look = crit.get("check_host_1pct_hits/1000000_indicators", {}).get("thrpt")
if look:
    target_row("Host lookups per core (1,000,000 indicators, host names, 1 % hits)", "≥ 5,000,000/s", f"{look[0] / 1e6:.1f} M/s", look[0] >= 5e6)
look = crit.get("check_url_half_hits/1000000_indicators", {}).get("thrpt")
if look:
    target_row("URL checks per core (1,000,000 indicators, full URLs, half hits)", "(context)", f"{look[0] / 1e6:.1f} M/s", None)
dec = crit.get("aes256_cbc_decrypt/all_cores_one_file_each", {}).get("thrpt")
if dec:
    target_row(f"Backup decryption on {machine.get('nproc')} cores", "≥ 500 MB/s", f"{dec[0] / 1e6:,.0f} MB/s", dec[0] >= 500e6)
all_same = all(
    hits_ok(r)
    for (inp, tool) in ratios
    for t in (tool, "mvt")
    for r in runs[inp][t]
)
if ratios:
    uncompared = [label(i) for i in order if i != "load-1m-domains" and "mvt" not in runs[i]]
    measured = "all compared inputs" if all_same else "see table"
    if uncompared:
        measured += "; MVT not run on: " + ", ".join(uncompared)
    target_row("Same planted hits found by both tools, every scale", "all", measured, all_same)
w("")

# The hand-written profile of the gaps (bench/PROFILE.md) goes in verbatim, so RESULTS.md
# stays one self-contained, regenerated file.
profile = out.parent / "PROFILE.md"
if profile.exists():
    w(profile.read_text().rstrip())
    w("")

out.write_text("\n".join(lines))
