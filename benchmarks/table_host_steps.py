"""What a host step of the table backend costs (backend/table_host.py) beside the Numba
path's ``objmode`` block, on the same small program, in one process (CPU time per call,
best of 5 rounds, the two backends alternating):

    python -m benchmarks.table_host_steps

The program is ``x * 2`` then ``n`` times ``cumsum(y) * 0.5`` (cumsum: a host step on the
table, an objmode block on the Numba path) then ``+ 1``, on 4 elements; the cost of a step is
``(t(10) - t(0)) / 10``: the callback or objmode round trip, the views, cumsum's own NumPy
call (printed alone) and the ``* 0.5`` loop.
"""

from __future__ import annotations

import os
import time

import numpy as np


def main(calls: int = 20000) -> None:
    import funcad as fa
    import funcad.numpy as fnp
    from funcad.backend import dispatch
    from funcad.lax import cumulative

    x = np.linspace(0.1, 1.0, 4)

    def program(backend, n):
        def f(x):
            y = x * 2.0
            for _ in range(n):
                y = fnp.cumsum(y) * 0.5
            return y + 1.0

        os.environ["FUNCAD_JIT_BACKEND"] = backend
        dispatch._executables.clear()
        fa.jit(f)(x)
        exe = list(dispatch._executables.values())[-1]
        assert (type(exe).__name__ == "TableProgram") == (backend == "table"), exe
        return exe

    exes = {(b, n): program(b, n) for b in ("table", "numba") for n in (0, 1, 10)}
    best = dict.fromkeys(exes, float("inf"))
    for _ in range(5):
        for key, exe in exes.items():
            t = time.process_time()
            for _ in range(calls):
                exe((x,))
            best[key] = min(best[key], (time.process_time() - t) / calls * 1e6)
    t = time.process_time()
    for _ in range(calls):
        cumulative.cumsum_p.impl(x, axis=0, reverse=False)
    print(f"cumsum's NumPy implementation alone: {(time.process_time() - t) / calls * 1e6:.2f} us")
    for b in ("table", "numba"):
        print(f"{b:6s} per call: {best[b, 0]:.2f} us (no step), {best[b, 1]:.2f} (1 step), "
              f"{best[b, 10]:.2f} (10 steps); per step {(best[b, 10] - best[b, 0]) / 10:.2f} us")


if __name__ == "__main__":
    main()
