"""What a host step of the table backend costs (backend/table_host.py), on a small program
(CPU time per call, best of 5 rounds):

    python -m benchmarks.table_host_steps

The program is ``x * 2`` then ``n`` times ``cumsum(y) * 0.5`` (cumsum: a host step) then
``+ 1``, on 4 elements; the cost of a step is ``(t(10) - t(0)) / 10``: the callback round
trip, the views, cumsum's own NumPy call (printed alone) and the ``* 0.5`` loop.
"""

from __future__ import annotations

import time

import numpy as np


def main(calls: int = 20000) -> None:
    import funcad as fa
    import funcad.numpy as fnp
    from funcad.backend import dispatch
    from funcad.lax import cumulative

    x = np.linspace(0.1, 1.0, 4)

    def program(n):
        def f(x):
            y = x * 2.0
            for _ in range(n):
                y = fnp.cumsum(y) * 0.5
            return y + 1.0

        dispatch._executables.clear()
        fa.jit(f)(x)
        return list(dispatch._executables.values())[-1]

    exes = {n: program(n) for n in (0, 1, 10)}
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
    print(f"per call: {best[0]:.2f} us (no step), {best[1]:.2f} (1 step), "
          f"{best[10]:.2f} (10 steps); per step {(best[10] - best[0]) / 10:.2f} us")


if __name__ == "__main__":
    main()
