"""Sparse Newton on chained Rosenbrock at a million unknowns.

    f(x) = sum_i 100 (x[i+1] - x[i]^2)^2 + (1 - x[i])^2

The Hessian is tridiagonal. funcad reads that pattern off the program (no derivative is
evaluated), star-colours it with 3 colours, and each Newton iteration evaluates the Hessian
with 3 Hessian-vector products (batched), then solves with a banded Cholesky factorization:
the d x d matrix is never dense. ``--plot`` writes a picture of the pattern and colouring.
"""

import argparse
import resource
import time

import numpy as np

import funcad as fa
import funcad.numpy as fnp
from funcad.optimize import newton


def rosen(x):
    return fnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def main(d: int, plot: bool, gtol: float = 1e-8) -> dict:
    x0 = np.full(d, 0.5)  # (from zeros Newton needs O(d) iterations: the valley fills one entry at a time)
    t = time.perf_counter()
    sh = fa.sparse_hessian(rosen)
    sh(x0)
    plan = next(iter(sh.cache.values()))
    print(f"chained Rosenbrock, d = {d:,}: Hessian pattern nnz = {plan.pattern.nnz:,}, "
          f"{plan.num_colors} colours, found in {time.perf_counter() - t:.2f} s")
    t, c = time.perf_counter(), time.process_time()
    res = newton(rosen, x0, hessian="sparse", gtol=gtol)
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"  {res.message}")
    print(f"  {res.nit} Newton iterations in {wall:.1f} s ({cpu:.1f} s CPU); "
          f"|x - 1|_max = {np.max(np.abs(res.x - 1)):.1e}; peak memory {peak:.2f} GB")
    if plot:
        _plot()
    return {"d": d, "nit": res.nit, "seconds": wall, "grad_norm": res.grad_norm, "peak_gb": peak}


def _plot(m: int = 24):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from funcad.coloring import color_star

    P = fa.hessian_sparsity(rosen)(np.zeros(m))
    colors = color_star(P)
    rows, cols = P.nonzero()
    fig, ax = plt.subplots(figsize=(4.6, 4.6))
    ax.scatter(cols, rows, c=[f"C{k}" for k in colors[cols]], s=40, marker="s")
    ax.set_xlim(-1, m)
    ax.set_ylim(m, -1)
    ax.set_aspect("equal")
    ax.set_title(f"Rosenbrock Hessian pattern (d = {m}),\n{colors.max() + 1} star colours, by column")
    fig.tight_layout()
    fig.savefig("docs/images/sparse_rosenbrock.png", dpi=90)
    print("wrote docs/images/sparse_rosenbrock.png")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--d", type=int, default=10**6)
    ap.add_argument("--plot", action="store_true")
    a = ap.parse_args()
    main(a.d, a.plot)
