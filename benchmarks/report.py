"""Turn the JSON of raw results into RESULTS.md, terminal tables and PNG plots."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .systems import SYSTEMS
from .workloads import WORKLOADS

BASELINE = "funcad-jit"
FLOOR = "numpy"
LABELS = {s.key: s.label for s in SYSTEMS}


def fmt_time(seconds: float | None) -> str:
    """Human units: 12.3 ms, 45.6 us, 1.23 s."""
    if seconds is None or not math.isfinite(seconds):
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def fmt_ratio(value: float | None, base: float | None) -> str:
    if value is None or base is None or base <= 0:
        return "-"
    return f"{value / base:.2f}x"


def fmt_size(workload, size: int) -> str:
    if not workload.size_name:
        return ""
    text = f"{size:.0e}".replace("e+0", "e") if size >= 10**4 else str(size)
    return f"{workload.size_name}={text}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def _index(results: dict) -> dict:
    """(workload, size, system) -> cell dict."""
    return {(c["workload"], c["size"], c["system"]): c for c in results["cells"]}


def _cell_text(cell: dict | None) -> str:
    if cell is None or cell["status"] == "n/a":
        return "-"
    if cell["status"] == "ok":
        return fmt_time(cell.get("median_s"))
    return cell["status"]


def _systems(results: dict) -> list[str]:
    return [key for key in LABELS if key in results["systems"]]


def summary_tables(results: dict) -> list[str]:
    """Median per call, ratio to funcad jit, and in-process first call, at headline sizes."""
    cells, systems = _index(results), _systems(results)
    header = ["workload"] + [LABELS[k] for k in systems]
    steady, ratio, first = [], [], []
    for w in WORKLOADS:
        if not any((w.key, w.size, k) in cells for k in systems):
            continue
        row = [cells.get((w.key, w.size, k)) for k in systems]
        base = (cells.get((w.key, w.size, BASELINE)) or {}).get("median_s")
        steady.append([w.title] + [_cell_text(c) for c in row])
        ratio.append([w.title] + [fmt_ratio(c and c.get("median_s"), base) for c in row])
        first.append([w.title] + [fmt_time(c and c.get("first_call_s")) for c in row])
    return (
        ["### Median time per call", ""]
        + _table(header, steady)
        + ["", "### Relative to funcad jit (time / funcad jit's time: above 1, funcad jit is faster)"]
        + [""]
        + _table(header, ratio)
        + ["", "### First call in-process (build + trace + compile + run, cold caches)", ""]
        + _table(header, first)
    )


def detail_table(results: dict, workload, size: int) -> list[str]:
    """One row per system: median, spread, first call, ratios, check, status."""
    cells = _index(results)
    base = cells.get((workload.key, size, BASELINE), {}).get("median_s")
    floor = cells.get((workload.key, size, FLOOR), {}).get("median_s")
    rows = []
    for key in _systems(results):
        c = cells.get((workload.key, size, key))
        if c is None or c["status"] == "n/a":
            continue
        ok = c["status"] == "ok"
        spread = f"{fmt_time(c.get('q1_s'))} - {fmt_time(c.get('q3_s'))}" if ok else ""
        extremes = f"{fmt_time(c.get('min_s'))} - {fmt_time(c.get('max_s'))}" if ok else ""
        err = f"{c['max_rel_err']:.1e}" if c.get("max_rel_err") is not None else ""
        note = c["status"] + (f": {c['reason']}" if c["reason"] else "")
        rows.append(
            [
                LABELS[key],
                fmt_time(c.get("median_s")),
                spread,
                extremes,
                fmt_time(c.get("first_call_s")),
                fmt_ratio(c.get("median_s"), base),
                fmt_ratio(c.get("median_s"), floor),
                err,
                f"{c['number']}x{len(c['times_s'])}" if ok else "",
                note,
            ]
        )
    header = [
        "system",
        "median",
        "IQR",
        "min - max",
        "first call",
        "/ funcad jit",
        "/ hand NumPy",
        "max rel err",
        "calls x repeats",
        "status",
    ]
    return _table(header, rows)


def scaling_table(results: dict, workload) -> list[str]:
    """Median per call at each size of the series, one column per system."""
    cells, systems = _index(results), _systems(results)
    sizes = sorted({c["size"] for c in results["cells"] if c["workload"] == workload.key})
    rows = [
        [fmt_size(workload, n)] + [_cell_text(cells.get((workload.key, n, k))) for k in systems]
        for n in sizes
    ]
    return _table([workload.size_name] + [LABELS[k] for k in systems], rows)


def scaling_notes(results: dict, workload) -> list[str]:
    """What the series (and its plot) shows, in words computed from the numbers: how to read
    the plot, funcad jit against funcad eager and hand NumPy at each size, the fastest system."""
    cells = _index(results)

    def median(n, key):
        c = cells.get((workload.key, n, key))
        return c["median_s"] if c and c["status"] == "ok" else None

    sizes = sorted({c["size"] for c in results["cells"] if c["workload"] == workload.key})
    lines = [
        f"The plot: median time per call (bars: interquartile range) against {workload.size_name}, "
        "both axes logarithmic, one line per system, funcad's two lines thick; a line's slope is "
        "how its cost grows with the size, and the vertical gap between two lines is their "
        "ratio. Read from the table above:"
    ]

    def ratios(other):
        out = [(n, median(n, BASELINE) / median(n, other)) for n in sizes
               if median(n, BASELINE) and median(n, other)]
        return ", ".join(f"{fmt_size(workload, n)}: {r:.2f}x" for n, r in out), out

    text, eager = ratios("funcad-eager")
    if eager:
        slower = [fmt_size(workload, n) for n, r in eager if r > 1.0]
        verdict = ("at or below eager at every size" if not slower
                   else f"slower than eager at {', '.join(slower)}")
        lines.append(f"- funcad jit / funcad eager ({text}): jit is {verdict}.")
    text, floor = ratios(FLOOR)
    if floor:
        lines.append(f"- funcad jit / hand NumPy: {text}.")
    best = []
    for n in sizes:
        timed = [(median(n, k), k) for k in _systems(results) if median(n, k)]
        if timed:
            best.append(f"{fmt_size(workload, n)}: {LABELS[min(timed)[1]]}")
    if best:
        lines.append(f"- fastest at each size: {'; '.join(best)}.")
    return lines


def fresh_tables(results: dict) -> list[str]:
    """First call in a fresh process (cold / warm cache) and peak memory."""
    lines = []
    for run in results.get("fresh", []):
        rows = []
        for key in _systems(results):
            cold, warm = run["systems"].get(key, {}).get("cold"), run["systems"].get(key, {}).get("warm")
            if cold is None:
                continue
            if cold["status"] != "ok":
                rows.append([LABELS[key], "", cold["status"], "", "", "", "", cold.get("reason", "")])
                continue
            mem_first = cold["peak_first_mb"] - cold["rss_base_mb"]
            steady = cold.get("peak_steady_mb")
            rows.append(
                [
                    LABELS[key],
                    fmt_time(cold["import_s"]),
                    fmt_time(cold["first_call_s"]),
                    fmt_time(warm and warm.get("first_call_s")),
                    f"{cold['rss_base_mb']:.0f} MB",
                    f"{mem_first:+.1f} MB",
                    "-" if steady is None else f"{steady:+.1f} MB",
                    "" if not warm or warm["status"] == "ok" else warm.get("reason", ""),
                ]
            )
        workload = next(w for w in WORKLOADS if w.key == run["workload"])
        lines += [f"#### {workload.title} ({fmt_size(workload, run['size'])})", ""]
        lines += _table(
            [
                "system",
                "import",
                "first call, cold",
                "first call, warm cache",
                "RSS after import",
                "peak over that, incl. compile",
                "peak per steady call",
                "note",
            ],
            rows,
        )
        lines.append("")
    return lines


def _loads(values) -> str:
    return ", ".join(f"{x:.2f}" for x in values) if values else "not recorded"


def machine_lines(results: dict) -> list[str]:
    meta = results["meta"]
    m = meta["machine"]
    blas = "; ".join(
        ", ".join(f"{k}={v}" for k, v in lib.items() if k != "prefix" and v is not None) for lib in m["blas"]
    )
    versions = ", ".join(f"{k} {v}" for k, v in m["versions"].items() if v)
    env = ", ".join(f"{k}={'unset' if v is None else v}" for k, v in m["openblas_env"].items())
    return [
        f"- CPU: {m['cpu']}, {m['cores']} cores ({m['cores_usable']} usable); "
        f"{m.get('vector_target', 'LLVM host not recorded')}",
        f"- Python {m['python']} on {m['platform']}",
        f"- BLAS (threadpoolctl): {blas}",
        f"- OpenBLAS environment: {env}",
        f"- Load average (1, 5, 15 min) at the start: {_loads(meta.get('load_average_start'))}; "
        f"at the end: {_loads(m.get('load_average'))}",
        f"- Versions: {versions}",
        f"- funcad: work tree at {m['funcad_revision']}",
    ]


def system_lines(results: dict) -> list[str]:
    lines = []
    for key, info in results["systems"].items():
        system = next(s for s in SYSTEMS if s.key == key)
        state = f"version {info['version']}" if info["status"] == "ok" else f"**skipped**: {info['reason']}"
        note = f" ({system.note})" if system.note else ""
        lines.append(f"- {system.label}{note}: {state}")
    return lines


def render_markdown(results: dict, plots: dict) -> str:
    """The whole of RESULTS.md."""
    meta = results["meta"]
    lines = [
        "# funcad benchmark results",
        "",
        f"Generated by `benchmarks/report.py` from `{meta['json_name']}` "
        f"({meta['mode']} run, {meta['started']}, {meta['duration_s']:.0f} s). "
        "Times are the median per call over the repeats after warm-up, "
        "systems interleaved round-robin; see benchmarks/README.md for the method.",
        "",
    ]
    if meta.get("note"):
        lines += [f"> {meta['note']}", ""]
    lines += ["## Machine", ""] + machine_lines(results) + ["", "## Systems", ""]
    lines += system_lines(results) + ["", "## Summary", ""] + summary_tables(results)
    lines += ["", "## Each workload", ""]
    for w in WORKLOADS:
        if any(c["workload"] == w.key and c["size"] == w.size for c in results["cells"]):
            lines += [f"### {w.title} ({fmt_size(w, w.size)})".replace(" ()", ""), ""]
            lines += detail_table(results, w, w.size) + [""]
    lines += ["## Scaling", ""]
    for w in WORKLOADS:
        if len({c["size"] for c in results["cells"] if c["workload"] == w.key}) > 1:
            lines += [f"### {w.title}", ""] + scaling_table(results, w) + [""]
            if w.key in plots:
                lines += [f"![{w.key}]({plots[w.key]})", ""] + scaling_notes(results, w) + [""]
    if results.get("fresh"):
        lines += [
            "## First call in a fresh process, and peak memory",
            "",
            "Each figure from a new interpreter; cold: every system's disk cache in a new "
            "empty directory; warm: a second process on the directory the cold run filled. "
            "Memory is resident set size from /proc/self/status (VmRSS/VmHWM), not "
            "tracemalloc, so it counts every allocator.",
            "",
        ]
        lines += fresh_tables(results)
    return "\n".join(lines) + "\n"


def plot_scaling(results: dict, outdir: Path) -> dict:
    """One log-log PNG per scaling series; {} when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return {}
    outdir.mkdir(parents=True, exist_ok=True)
    made = {}
    for w in WORKLOADS:
        cells = [c for c in results["cells"] if c["workload"] == w.key and c["status"] == "ok"]
        if len({c["size"] for c in cells}) < 2:
            continue
        fig, ax = plt.subplots(figsize=(7.5, 4.8))
        for color, key in enumerate(LABELS):
            series = sorted(
                (c["size"], c["median_s"], c["q1_s"], c["q3_s"]) for c in cells if c["system"] == key
            )
            if series:
                n, med, q1, q3 = (np.array(col) for col in zip(*series, strict=True))
                ax.errorbar(
                    n,
                    med,
                    yerr=[med - q1, q3 - med],
                    marker="o",
                    capsize=3,
                    color=f"C{color}",
                    label=LABELS[key],
                    linewidth=2.5 if key.startswith("funcad") else 1.2,
                )
        sizes = sorted({c["size"] for c in cells})
        ax.set(
            xscale="log",
            yscale="log",
            xlabel=w.size_name,
            ylabel="seconds per call (median, IQR)",
            title=w.title,
        )
        ax.set_xticks(sizes, [fmt_size(w, n).split("=")[1] for n in sizes])
        ax.minorticks_off()
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=8, loc="upper left")
        fig.tight_layout()
        path = outdir / f"{w.key}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        made[w.key] = f"plots/{path.name}"
    return made
