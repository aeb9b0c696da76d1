"""Control flow on the table backend: per-iteration cost of a scan of 10,000 tiny steps and of
a while_loop of 1,000 iterations (CPU time), and the first call of a scan'd RNN gradient
(fresh processes, empty caches). (Written beside the former Numba backend: its figures are
in backend/table_control.py's docstring.)

    python -m benchmarks.table_control [--repeat 7]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

_FIRST_CALL = r"""
import time, numpy as np
t0, c0 = time.perf_counter(), time.process_time()
import funcad as fa, funcad.numpy as fnp
from funcad.backend import dispatch, table

def loss(W, U, xs):
    def step(h, x):
        h = fnp.tanh(W @ h + U @ x)
        return h, fnp.sum(h * h)
    h, ys = fa.lax.scan(step, fnp.zeros(W.shape[0]), xs)
    return fnp.sum(ys) + fnp.sum(h)

rng = np.random.default_rng(0)
W, U, xs = rng.normal(0, 0.3, (32, 32)), rng.normal(0, 0.3, (32, 8)), rng.normal(size=(50, 8))
g = fa.jit(fa.grad(loss, argnums=(0, 1)))
g(W, U, xs)
kind = {type(e).__name__ for e in dispatch._executables.values()}
print(time.perf_counter() - t0, time.process_time() - c0, kind)
"""


def programs():
    import funcad as fa
    import funcad.numpy as fnp

    def scan_tiny(xs):
        return fa.lax.scan(lambda c, x: (c * 0.999 + x, c), 0.0, xs)

    def while_1000(x):
        return fa.lax.while_loop(lambda c: c[1] < 1000.0, lambda c: (fnp.sin(c[0]) + 0.5, c[1] + 1.0), (x, 0.0))

    return {"scan, 10,000 steps": (scan_tiny, (np.random.default_rng(0).normal(size=10_000),), 10_000),
            "while_loop, 1,000 iterations": (while_1000, (0.3,), 1000)}


def per_iteration(repeat: int) -> None:
    import funcad as fa

    for name, (f, args, n) in programs().items():
        g, best = fa.jit(f), np.inf
        g(*args)
        for _ in range(repeat):
            c0 = time.process_time()
            for _ in range(20):
                g(*args)
            best = min(best, (time.process_time() - c0) / 20)
        print(f"{name}: {best / n * 1e9:.1f} ns/iteration (CPU time, best of {repeat} x 20 calls)")


def first_call(repeat: int) -> None:
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as d:
            env = dict(os.environ, FUNCAD_CACHE_DIR=d)
            out = subprocess.run([sys.executable, "-c", _FIRST_CALL], env=env, capture_output=True,
                                 text=True, check=True).stdout.split(maxsplit=2)
            print(f"RNN-50 gradient (scan), first call: {float(out[0]):.2f} s wall, "
                  f"{float(out[1]):.2f} s CPU (with import), {out[2].strip()}")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=7)
    p.add_argument("--first-calls", type=int, default=2)
    a = p.parse_args()
    per_iteration(a.repeat)
    first_call(a.first_calls)
