"""The command line: ``python -m benchmarks [--quick | --check] ...`` (see README.md)."""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Settings:
    """How much to measure; ``--quick`` and the full run differ only here."""

    quick: bool
    repeats: int
    target_s: float  # minimum length of one timed repeat
    settle_s: float  # untimed calls before each timed repeat (see measure.settle)
    max_call_s: float  # a system slower than this per call skips the larger sizes of a series
    fresh: tuple  # (workload, size, caches) measured in fresh processes; caches: cold, warm
    fresh_calls: int  # calls per fresh process (the later ones give the steady memory peak)


QUICK = Settings(
    True,
    repeats=5,
    target_s=0.02,
    settle_s=0.05,
    max_call_s=0.5,
    fresh=(("mlp", 128, ("cold", "warm")), ("newton", 200, ("cold",))),
    fresh_calls=3,
)
FULL = Settings(
    False,
    repeats=15,
    target_s=0.1,
    settle_s=0.1,
    max_call_s=5.0,
    fresh=(
        ("mlp", 128, ("cold", "warm")),
        ("newton", 200, ("cold", "warm")),
        ("newton", 1000, ("cold",)),
    ),
    fresh_calls=5,
)


class Progress:
    """Log lines with elapsed time on stderr; a live status line when stderr is a terminal."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.tty = sys.stderr.isatty()

    def log(self, message: str) -> None:
        clear = "\r\033[K" if self.tty else ""
        print(f"{clear}[{time.perf_counter() - self.start:6.1f}s] {message}", file=sys.stderr, flush=True)

    def status(self, message: str) -> None:
        if self.tty:
            elapsed = time.perf_counter() - self.start
            print(f"\r\033[K[{elapsed:6.1f}s] {message}", end="", file=sys.stderr, flush=True)


def parse_args(argv: list[str]) -> argparse.Namespace:
    from .systems import SYSTEMS  # neither imports funcad nor any peer
    from .workloads import WORKLOADS

    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Side-by-side benchmarks of funcad and its peers (see benchmarks/README.md). "
        "Run as: env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python -m benchmarks [--quick]",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="fewer repeats and sizes (< 3 min)")
    mode.add_argument(
        "--check", action="store_true", help="only check that every system agrees with NumPy, at small sizes"
    )
    mode.add_argument(
        "--report", metavar="JSON", type=Path, help="only regenerate RESULTS.md and plots from a results JSON"
    )
    parser.add_argument(
        "--systems", help="comma-separated system keys (default: all): " + ", ".join(s.key for s in SYSTEMS)
    )
    parser.add_argument(
        "--workloads",
        help="comma-separated workload keys (default: all): " + ", ".join(w.key for w in WORKLOADS),
    )
    parser.add_argument(
        "--no-fresh", action="store_true", help="skip the fresh-process first-call and memory measurements"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=HERE / "results.json",
        help="where to write the JSON (RESULTS.md and plots/ go beside it)",
    )
    parser.add_argument("--note", default="", help="a sentence to print at the top of RESULTS.md")
    return parser.parse_args(argv)


def _select(table, keys: str | None):
    if not keys:
        return list(table)
    wanted = keys.split(",")
    unknown = set(wanted) - {item.key for item in table}
    if unknown:
        raise SystemExit(f"unknown: {', '.join(sorted(unknown))}")
    by_key = {item.key: item for item in table}
    return [by_key[key] for key in dict.fromkeys(wanted)]  # in the order given


def _nbytes(tree) -> int:
    if isinstance(tree, (tuple, list)):
        return sum(_nbytes(x) for x in tree)
    if isinstance(tree, dict):
        return sum(_nbytes(x) for x in tree.values())
    return int(getattr(tree, "nbytes", 0))


def warm_touch(nbytes: int) -> None:
    """Write ``nbytes`` of fresh memory and free it, so that no system's first call pays the VM
    for pages the guest has not touched lately (see "First call" in README.md): every system
    then starts from memory touched moments before, whatever its place in the order."""
    import numpy as np

    if nbytes >= 1 << 20:
        np.ones(nbytes // 8).sum()


def load_systems(systems, progress: Progress) -> list:
    from .systems import load_system

    loaded = []
    for system in systems:
        progress.status(f"importing {system.label}")
        item = load_system(system)
        state = f"{item.import_s:.2f} s" if item.adapter else f"skipped ({item.reason})"
        progress.log(f"import {system.label}: {state}")
        loaded.append(item)
    return loaded


def run_size(
    workload, size: int, loaded: list, settings: Settings | None, too_slow: dict, progress: Progress
) -> list:
    """All systems on one (workload, size): build, check, then time interleaved.

    ``too_slow`` maps a system to the size at which one call took over ``max_call_s``; the
    system skips the larger sizes of the series.
    """
    from .measure import Cell, calibrate, prepare, run_interleaved
    from .report import fmt_size, fmt_time

    label = f"{workload.key} {fmt_size(workload, size)}".strip()
    inputs = workload.make_inputs(size)
    reference = workload.floors["numpy"]()(*inputs)
    touch = 4 * (_nbytes(inputs) + _nbytes(reference))
    cells, calls = {}, {}
    for item in loaded:
        key = item.system.key
        if size > too_slow.get(key, size):
            cells[key] = Cell(
                workload.key,
                size,
                key,
                "skipped",
                f"slower than {settings.max_call_s} s per call at a smaller size",
            )
            continue
        progress.status(f"{label}: first call of {item.system.label}")
        warm_touch(touch)
        cell, call = prepare(item, workload, size, inputs, reference)
        cells[key] = cell
        if call is not None and settings is not None:
            cell.number = calibrate(call, settings.target_s)
            calls[key] = call
        if cell.status == "ok":
            progress.log(
                f"{label}: {item.system.label} first call {fmt_time(cell.first_call_s)},"
                f" matches NumPy (max rel err {cell.max_rel_err:.1e})"
            )
        elif cell.status != "n/a" and item.adapter is not None:
            progress.log(f"{label}: {item.system.label} {cell.status}: {cell.reason}")
    if calls:
        progress.log(f"{label}: timing {len(calls)} systems x {settings.repeats} repeats, interleaved")
        run_interleaved(
            calls,
            cells,
            settings.repeats,
            settings.settle_s,
            lambda r: progress.status(f"{label}: timing, repeat {r}/{settings.repeats}"),
        )
        for key in calls:
            median = cells[key].stats()["median_s"]
            progress.log(f"{label}: {cells[key].system} {fmt_time(median)} per call")
            if median > settings.max_call_s:
                too_slow[key] = min(size, too_slow.get(key, size))
    return list(cells.values())


def run_fresh_measurements(settings: Settings, loaded: list, root: Path, progress: Progress) -> list:
    """First call cold and warm, and peak memory, each in a new interpreter."""
    from .fresh import run_fresh
    from .report import fmt_time
    from .workloads import workload_by_key

    runs = []
    for workload_key, size, caches in settings.fresh:
        run = {"workload": workload_key, "size": size, "systems": {}}
        for item in loaded:
            floor = item.system.floor
            if item.adapter is None or (floor and floor not in workload_by_key(workload_key).floors):
                continue
            cache_root = Path(tempfile.mkdtemp(prefix=f"{item.system.key}-", dir=root))
            results = {}
            for cache in caches:
                progress.status(f"fresh process: {workload_key} {size} {item.system.label} {cache}")
                results[cache] = run_fresh(
                    item.system.key, workload_key, size, settings.fresh_calls, cache_root
                )
                first = results[cache].get("first_call_s")
                progress.log(
                    f"fresh {workload_key} {size} {item.system.label} {cache}: "
                    f"{results[cache]['status']} {fmt_time(first)} "
                    f"{results[cache].get('reason', '')}"
                )
            run["systems"][item.system.key] = results
        runs.append(run)
    return runs


def write_outputs(results: dict, out: Path) -> Path:
    """Write the JSON, the plots and RESULTS.md; return RESULTS.md's path."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1, default=float) + "\n")
    return write_report(results, out)


def write_report(results: dict, out: Path) -> Path:
    """Regenerate the plots and RESULTS.md beside ``out`` from ``results``."""
    from .report import plot_scaling, render_markdown

    results["meta"]["json_name"] = out.name
    plots = plot_scaling(results, out.parent / "plots")
    md = out.parent / "RESULTS.md"
    md.write_text(render_markdown(results, plots))
    return md


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.report:
        print(write_report(json.loads(args.report.read_text()), args.report))
        return 0
    progress = Progress()
    load_start = os.getloadavg()
    load = load_start[0]
    if load > 0.5 * (os.cpu_count() or 1):
        progress.log(
            f"warning: load average {load:.1f} on {os.cpu_count()} cores: other work "
            "on this machine will inflate and scatter the figures"
        )
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        if var in os.environ:
            progress.log(f"warning: {var} is set; it slows current NumPy BLAS (see README.md)")
    scratch = Path(tempfile.mkdtemp(prefix="funcad-bench-"))
    from .fresh import cache_env

    os.environ.update(cache_env(scratch / "main"))  # before any system is imported: cold caches

    from .machine import machine_info
    from .report import summary_tables
    from .systems import SYSTEMS
    from .workloads import WORKLOADS

    settings = None if args.check else (QUICK if args.quick else FULL)
    started = datetime.datetime.now().isoformat(timespec="seconds")
    loaded = load_systems(_select(SYSTEMS, args.systems), progress)
    cells, too_slow = [], {}
    for workload in _select(WORKLOADS, args.workloads):
        sizes = [workload.check_size or workload.size] if args.check else workload.sizes(args.quick)
        slow = too_slow.setdefault(workload.key, {})
        for size in sizes:
            cells += run_size(workload, size, loaded, settings, slow, progress)
    if args.check:
        shutil.rmtree(scratch, ignore_errors=True)
        return report_check(cells, progress)

    fresh = [] if args.no_fresh else run_fresh_measurements(settings, loaded, scratch, progress)
    results = {
        "meta": {
            "mode": "quick" if args.quick else "full",
            "started": started,
            "load_average_start": load_start,
            "duration_s": time.perf_counter() - progress.start,
            "argv": sys.argv,
            "settings": settings.__dict__,
            "machine": machine_info(),
            "note": args.note,
        },
        "systems": {
            i.system.key: {
                "status": "ok" if i.adapter else "skipped",
                "reason": i.reason,
                "import_s": i.import_s,
                "version": i.adapter.version if i.adapter else None,
            }
            for i in loaded
        },
        "cells": [c.to_json() for c in cells],
        "fresh": fresh,
    }
    shutil.rmtree(scratch, ignore_errors=True)
    md = write_outputs(results, args.out)
    print("\n".join(summary_tables(results)))
    progress.log(f"wrote {args.out} and {md}")
    return 0


def report_check(cells: list, progress: Progress) -> int:
    """Print the agreement check; exit status 1 if an available system failed or disagreed."""
    bad = [c for c in cells if c.status in ("failed", "mismatch")]
    for c in (c for c in cells if c.status != "n/a"):
        err = "" if c.max_rel_err is None else f" max rel err {c.max_rel_err:.1e}"
        print(f"{c.workload:12s} {c.system:13s} {c.status:9s}{err} {c.reason}")
    progress.log(f"check: {len(cells) - len(bad)} fine (ok or skipped), {len(bad)} failed/mismatched")
    return 1 if bad else 0
