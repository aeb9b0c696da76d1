"""Eager (no jit) per-call cost of funcad against autograd and hand-written NumPy, interleaved.

    python tools/eager_overhead.py                 # every workload below
    python tools/eager_overhead.py scalar newton   # some of them
    FUNCAD_MALLOC_TUNING=1 python tools/eager_overhead.py newton   # with funcad/_malloc.py
    python tools/eager_overhead.py --malloc newton  # with and without it, processes alternating

The workloads are the benchmark's own (benchmarks/workloads.py, through its system adapters),
so the figures are comparable with benchmarks/RESULTS.md. The machine is shared: the systems
are timed round-robin, repeat after repeat, with CPU time (``time.process_time``) per call,
and the report gives the minimum and the median per system and the same-run ratio of medians
against the first system (funcad), together with the load average. BLAS runs on one thread
(unless OPENBLAS_NUM_THREADS / OMP_NUM_THREADS are set): on two shared cores its worker
threads make wall and CPU times of matrix workloads swing by 10x, and their spinning is
counted by process_time.
"""

from __future__ import annotations

import os
import sys
import time

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import numpy as np  # noqa: E402

from benchmarks import systems as _systems  # noqa: E402
from benchmarks.workloads import workload_by_key  # noqa: E402

# workload key -> (size, the systems compared, repeats, target seconds per repeat)
PLAN = {
    "scalar": (1, ("funcad", "autograd", "numpy"), 31, 0.05),
    "mlp": (128, ("funcad", "autograd", "numpy"), 21, 0.1),
    "tanh6": (200, ("funcad", "autograd", "numpy"), 21, 0.1),
    "newton": (200, ("funcad", "autograd", "numpy"), 21, 0.1),
}


def _callable(system: str, key: str, size: int):
    workload = workload_by_key(key)
    inputs = workload.make_inputs(size)
    if system == "numpy":
        fn = workload.floors["numpy"]()
    else:
        loader = {"funcad": lambda: _systems._load_funcad(False),
                  "autograd": _systems._load_autograd}[system]
        fn = workload.program(loader())
    return lambda: fn(*inputs)


def _time(call, number: int) -> float:
    t0 = time.process_time()
    for _ in range(number):
        call()
    return (time.process_time() - t0) / number


def measure(key: str) -> None:
    size, names, repeats, target = PLAN[key]
    calls = {}
    for name in names:
        try:
            calls[name] = _callable(name, key, size)
            calls[name]()  # warm: first-call caches
        except Exception as e:  # noqa: BLE001 - a system that cannot run this workload
            print(f"  {name}: skipped ({type(e).__name__}: {e})")
    numbers = {}
    for name, call in calls.items():
        number, t = 1, 0.0
        while t < target / 4:
            t = _time(call, number) * number
            number *= 2
        numbers[name] = max(1, int(number * target / max(t, 1e-9) / 2))
    times: dict[str, list[float]] = {n: [] for n in calls}
    order = list(calls)
    for r in range(repeats):
        for name in order[r % len(order):] + order[: r % len(order)]:
            times[name].append(_time(calls[name], numbers[name]))
    base = float(np.median(times[order[0]]))
    print(f"{key} (size {size}):")
    for name in order:
        t = np.asarray(times[name])
        med = float(np.median(t))
        print(f"  {name:9s} min {t.min() * 1e6:10.1f} us   median {med * 1e6:10.1f} us   "
              f"{order[0]}/{name} = {base / med:5.2f}")


def compare_malloc(keys: list[str], rounds: int = 4) -> None:
    """Each workload in child processes with FUNCAD_MALLOC_TUNING=1 and =0, alternating (the
    order flips every round), so both settings see the same load; funcad's medians per setting."""
    import re
    import subprocess

    found: dict[tuple[str, str], list[float]] = {}
    for r in range(rounds):
        for setting in ("1", "0") if r % 2 == 0 else ("0", "1"):
            out = subprocess.run([sys.executable, os.path.abspath(__file__), *keys], capture_output=True,
                                 text=True, check=True, env=dict(os.environ, FUNCAD_MALLOC_TUNING=setting))
            key = None
            for line in out.stdout.splitlines():
                if m := re.match(r"(\w+) \(size", line):
                    key = m.group(1)
                elif m := re.match(r"\s+funcad\s+min\s+[\d.]+ us\s+median\s+([\d.]+) us", line):
                    found.setdefault((key, setting), []).append(float(m.group(1)))
    print(f"funcad's median per process over {rounds} rounds, alternating (load {os.getloadavg()}):")
    for key in keys:
        on, off = (np.asarray(found[(key, s)]) / 1e3 for s in ("1", "0"))
        print(f"  {key}: FUNCAD_MALLOC_TUNING=1 {on.min():.2f}-{on.max():.2f} ms (median {np.median(on):.2f}), "
              f"=0 {off.min():.2f}-{off.max():.2f} ms (median {np.median(off):.2f}); "
              f"off/on = {np.median(off) / np.median(on):.2f}")


def main(argv: list[str]) -> None:
    import funcad._malloc as malloc

    if argv[:1] == ["--malloc"]:
        return compare_malloc(argv[1:] or ["newton"])

    keys = argv or list(PLAN)
    print(f"load: {os.getloadavg()}  malloc tuning applied: {malloc.applied}")
    for key in keys:
        measure(key)
    print(f"load: {os.getloadavg()}")


if __name__ == "__main__":
    main(sys.argv[1:])
