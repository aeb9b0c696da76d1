"""funcad.dask's Newton against dask-glm's ``newton`` on the same LocalCluster and data.

    python -m benchmarks.dask_glm --rows 400000 --cols 50 --chunk-rows 50000

Logistic regression (dask-glm's ``newton`` has no penalty, so none here), data generated per
chunk from a seed and persisted on the workers; both fits run once to warm up (funcad's workers
compile or load their programs), then are timed. Also the in-memory funcad Newton (jit) on the
concatenated data. Prints a table, the agreement of the answers, and the load average.
"""

import argparse
import os
import time

import numpy as np

import funcad.numpy as fnp
from funcad import dask as fdask
from funcad.optimize import newton as newton_mem


def make_block(block_info=None, *, d, seed):
    rows = block_info[None]["chunk-shape"][0]
    rng = np.random.default_rng([seed, block_info[None]["chunk-location"][0]])
    X = rng.standard_normal((rows, d)) / np.sqrt(d)
    y = (rng.random(rows) < 1.0 / (1.0 + np.exp(-(X @ np.linspace(-2, 2, d))))).astype(float)
    return np.column_stack([X, y])


def nll(w, X, y):
    z = X @ w
    return fnp.sum(fnp.logaddexp(0.0, z) - y * z)


def timed(fn, repeats):
    best = np.inf
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=400_000)
    ap.add_argument("--cols", type=int, default=50)
    ap.add_argument("--chunk-rows", type=int, default=50_000)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args(argv)
    import dask.array as da
    from dask_glm.algorithms import newton as glm_newton
    from distributed import Client, LocalCluster

    n, d = args.rows, args.cols
    chunks = ((args.chunk_rows,) * (n // args.chunk_rows), (d + 1,))
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=":0") as cluster, \
            Client(cluster) as client:
        Z = da.map_blocks(make_block, d=d, seed=0, chunks=chunks, dtype=float,
                          meta=np.empty((0, d + 1))).persist()
        X, y = Z[:, :d].persist(), Z[:, d].persist()
        load0 = os.getloadavg()
        rows = []
        fd = lambda: fdask.newton(nll, np.zeros(d), X, y, gtol=1e-8)  # noqa: E731
        fd()  # warm-up: compile / load the workers' programs
        t_fd, res = timed(fd, args.repeats)
        glm = lambda: glm_newton(X, y, tol=1e-10)  # noqa: E731
        glm()
        t_glm, beta = timed(glm, args.repeats)
        Xm, ym = client.compute([X, y], sync=True)
        mem = lambda: newton_mem(nll, np.zeros(d), (Xm, ym), gtol=1e-8, jit=True)  # noqa: E731
        mem()
        t_mem, res_mem = timed(mem, args.repeats)
        load1 = os.getloadavg()
    rows = [("funcad.dask.newton", t_fd, res.nit), ("dask_glm newton", t_glm, None),
            ("funcad.optimize.newton (in memory, jit)", t_mem, res_mem.nit)]
    print(f"logistic regression, {n} x {d}, {n // args.chunk_rows} chunks, 2-worker LocalCluster "
          f"(processes, 1 thread each); best of {args.repeats}")
    print(f"| {'method':<42} | {'time (s)':>9} | {'iters':>5} | {'vs funcad.dask':>14} |")
    print(f"|{'-' * 44}|{'-' * 11}|{'-' * 7}|{'-' * 16}|")
    for name, t, it in rows:
        print(f"| {name:<42} | {t:9.3f} | {it if it is not None else '':>5} | {t / t_fd:14.2f} |")
    print(f"max |x_funcad.dask - x_dask_glm| = {np.max(np.abs(res.x - beta)):.2e}; "
          f"vs in-memory: {np.max(np.abs(res.x - res_mem.x)):.2e}; "
          f"|grad| funcad.dask {res.grad_norm:.1e}")
    print(f"load average before {load0[0]:.1f}, after {load1[0]:.1f} ({os.cpu_count()} CPUs)")


if __name__ == "__main__":
    main()
