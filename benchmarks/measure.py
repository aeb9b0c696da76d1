"""Building, checking and timing one workload on every system, interleaved.

For one (workload, size) the harness:

1. builds each system's callable and times its first call (trace + compile + run; imports are
   already done, caches are cold unless the user pointed them elsewhere);
2. checks the first call's result against the hand-written NumPy reference (np.allclose);
3. calibrates, per system, how many calls make one timed repeat (at least ``target_s`` long);
4. runs the repeats round-robin: repeat r times every system once, starting from a rotating
   position, so that drift of the machine (turbo, other load) spreads over all systems alike;
   each timed repeat follows untimed "settle" calls (see :func:`settle`);
5. reports per-call median, quartiles and extremes over the repeats.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .systems import Loaded, outputs_to_numpy
from .tree import tree_flatten, tree_map
from .workloads import Workload


class NotApplicable(Exception):
    """A floor system that has no hand-written version of this workload."""


RTOL = 1e-6  # every system must match the NumPy reference to this relative tolerance


@dataclass
class Cell:
    """The result for one (workload, size, system): a status and, if timed, its figures."""

    workload: str
    size: int
    system: str
    status: str = "ok"  # ok | skipped | failed | mismatch | n/a (a floor this workload lacks)
    reason: str = ""
    first_call_s: float | None = None
    max_rel_err: float | None = None
    number: int = 0  # calls per timed repeat
    times_s: list[float] = field(default_factory=list)  # per-call time of each repeat

    def stats(self) -> dict:
        """Median, quartiles and extremes of the per-call times (empty if not timed)."""
        if not self.times_s:
            return {}
        t = np.asarray(self.times_s)
        q1, median, q3 = np.percentile(t, [25, 50, 75])
        return {"median_s": median, "q1_s": q1, "q3_s": q3, "min_s": t.min(), "max_s": t.max()}

    def to_json(self) -> dict:
        return {**self.__dict__, **self.stats()}


def build_call(loaded: Loaded, workload: Workload, inputs: tuple) -> Callable[[], Any]:
    """Return a no-argument function that runs ``workload`` once on ``loaded``'s system."""
    system, adapter = loaded.system, loaded.adapter
    if system.floor is not None:
        if system.floor not in workload.floors:
            raise NotApplicable(f"no {system.floor} floor for this workload")
        fn = workload.floors[system.floor]()
        args = inputs
    else:
        fn = adapter.jit(workload.program(adapter))
        args = tree_map(adapter.to_native, inputs)
    block = adapter.block
    return lambda: block(fn(*args))


def compare(out: Any, reference: Any) -> tuple[float, bool]:
    """Largest leafwise |out - ref| / max|ref|, and whether every leaf passes np.allclose.

    Raises ValueError when the number or shapes of the outputs differ from the reference.
    """
    out_leaves, _ = tree_flatten(out)
    ref_leaves, _ = tree_flatten(reference)
    if len(out_leaves) != len(ref_leaves):
        raise ValueError(f"{len(out_leaves)} outputs, reference has {len(ref_leaves)}")
    worst, close = 0.0, True
    for o, r in zip(out_leaves, ref_leaves, strict=True):
        o, r = np.asarray(o, dtype=np.float64), np.asarray(r, dtype=np.float64)
        if o.shape != r.shape:
            raise ValueError(f"output shape {o.shape}, reference shape {r.shape}")
        scale = max(float(np.max(np.abs(r), initial=0.0)), 1e-300)
        worst = max(worst, float(np.max(np.abs(o - r), initial=0.0)) / scale)
        close = close and bool(np.allclose(o, r, rtol=RTOL, atol=RTOL * scale))
    return worst, close


def prepare(loaded: Loaded, workload: Workload, size: int, inputs: tuple, reference: Any):
    """Build, time the first call and check one system; return (cell, call or None)."""
    cell = Cell(workload.key, size, loaded.system.key)
    if loaded.adapter is None:
        cell.status, cell.reason = "skipped", loaded.reason
        return cell, None
    try:
        start = time.perf_counter()
        call = build_call(loaded, workload, inputs)
        out = call()
        cell.first_call_s = time.perf_counter() - start
        cell.max_rel_err, close = compare(outputs_to_numpy(loaded.adapter, out), reference)
    except NotApplicable as exc:
        cell.status, cell.reason = "n/a", str(exc)
        return cell, None
    except Exception as exc:  # noqa: BLE001 - a failing system must not stop the others
        cell.status, cell.reason = "failed", f"{type(exc).__name__}: {exc}"
        return cell, None
    if not close:
        cell.status = "mismatch"
        cell.reason = f"max relative error {cell.max_rel_err:.2e} against hand NumPy"
        return cell, None
    return cell, call


def calibrate(call: Callable[[], Any], target_s: float) -> int:
    """Calls per repeat so that one repeat lasts at least ``target_s`` (also warms up)."""
    number = 1
    while True:
        start = time.perf_counter()
        for _ in range(number):
            call()
        elapsed = time.perf_counter() - start
        if elapsed >= target_s:
            return number
        number = max(number * 2, int(number * target_s / max(elapsed, 1e-9) * 1.2))


def time_once(call: Callable[[], Any], number: int) -> float:
    """Per-call seconds over ``number`` back-to-back calls."""
    start = time.perf_counter()
    for _ in range(number):
        call()
    return (time.perf_counter() - start) / number


def settle(call: Callable[[], Any], settle_s: float) -> None:
    """Untimed calls for ``settle_s`` seconds (at least one) before a timed repeat.

    After a library's last call its worker threads keep spinning for tens of milliseconds
    (OpenBLAS, OpenMP); in one process on 2 cores they steal a core from whichever system runs
    next. Measured here: PyTorch's Newton step takes 30-37 ms right after NumPy's, 19 ms
    after three calls of its own.
    """
    start = time.perf_counter()
    call()
    while time.perf_counter() - start < settle_s:
        call()


def run_interleaved(calls: dict, cells: dict, repeats: int, settle_s: float, on_repeat: Callable) -> None:
    """Time every system ``repeats`` times, round-robin with a rotating start."""
    keys = list(calls)
    for r in range(repeats):
        shift = r % len(keys)
        for key in keys[shift:] + keys[:shift]:
            settle(calls[key], settle_s)
            cells[key].times_s.append(time_once(calls[key], cells[key].number))
        on_repeat(r + 1)
