"""Sparse Newton on a 2-D nonlinear Poisson problem: the p-Laplacian energy on an n x n grid.

    E(u) = h^2 sum_cells [ (eps^2 + |grad u|^2)^(p/2) / p - f u ],   u = 0 on the boundary,

with forward differences on each cell (a 7-point Hessian stencil). funcad reads the Hessian's
pattern off the program, star-colours it (a handful of colours whatever n is), and each
Newton system is solved either by :func:`funcad.optimize.newton_cg` with
``preconditioner="amg"`` (conjugate gradients on the sparse Hessian, preconditioned by an
algebraic multigrid V-cycle built from it: ``--solver amg``, the default) or by
:func:`funcad.optimize.newton` with ``hessian="sparse"`` (a sparse Cholesky/LU factorization:
``--solver direct``; CHOLMOD's nested dissection when scikit-sparse is installed, else
SuperLU, whose fill on a 2-D grid makes it slow at a million unknowns).
``python examples/sparse_newton_plaplacian.py --n 1000`` is the million-unknown run;
``--plot`` writes the pattern/colouring and solution pictures.
"""

import argparse
import resource
import time

import numpy as np

import funcad as fa
import funcad.numpy as fnp
from funcad.optimize import newton, newton_cg

P, EPS = 3.0, 1e-1


def energy(u, f, h):
    n = f.shape[0]
    U = fnp.pad(fnp.reshape(u, (n, n)), 1)
    gx = (U[1:, :-1] - U[:-1, :-1]) / h
    gy = (U[:-1, 1:] - U[:-1, :-1]) / h
    return h * h * (fnp.sum((EPS**2 + gx**2 + gy**2) ** (P / 2)) / P - fnp.sum(f * fnp.reshape(u, (n, n))))


def main(n: int, plot: bool, gtol: float, verbose: bool = False, solver: str = "amg") -> dict:
    h = 1.0 / (n + 1)
    xs = np.linspace(h, 1 - h, n)
    f = 10.0 * np.outer(np.sin(np.pi * xs), np.sin(2 * np.pi * xs)) + 5.0
    u0 = np.zeros(n * n)
    t = time.perf_counter()
    c = time.process_time()
    if solver == "amg":
        res = newton_cg(energy, u0, args=(f, h), hessian="sparse", preconditioner="amg", gtol=gtol,
                        maxiter=60, verbose=verbose)
    else:
        res = newton(energy, u0, args=(f, h), hessian="sparse", gtol=gtol, maxiter=60, verbose=verbose)
    seconds, cpu = time.perf_counter() - t, time.process_time() - c
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"p-Laplacian (p = {P}) on a {n} x {n} grid (d = {n * n:,}): {res.message}")
    cg = sum(e.get("cg_iters") or 0 for e in res.history)
    print(f"  solver {solver}: {res.nit} Newton iterations" + (f" ({cg} CG iterations)" if cg else "")
          + f" in {seconds:.1f} s wall, {cpu:.1f} s CPU; |grad| = {res.grad_norm:.2e}; "
          f"peak memory {peak:.2f} GB")
    if plot:
        _plots(n, f, h, res.x)
    return {"d": n * n, "solver": solver, "nit": res.nit, "cg_iters": cg, "seconds": seconds,
            "cpu_s": cpu, "grad_norm": res.grad_norm, "success": res.success, "peak_gb": peak}


def _plots(n, f, h, u):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from funcad.coloring import color_star

    m = 12  # the pattern of a small grid, to see the stencil
    fs = f[:: max(1, n // m)][:m, :m] if n >= m else f
    Hp = fa.hessian_sparsity(energy)(np.zeros(m * m), fs, h)
    colors = color_star(Hp)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.6))
    rows, cols = Hp.nonzero()
    axes[0].scatter(cols, rows, c=colors[cols], cmap="tab10", s=4, marker="s", vmin=0, vmax=9)
    axes[0].set_xlim(-1, m * m)
    axes[0].set_ylim(m * m, -1)
    axes[0].set_aspect("equal")
    axes[0].set_title(f"Hessian pattern, {m}x{m} grid: {colors.max() + 1} star colours\n"
                      "(each nonzero coloured by its column's colour)")
    im = axes[1].imshow(np.reshape(u, (n, n)), origin="lower", extent=(0, 1, 0, 1))
    axes[1].set_title(f"solution u, {n} x {n} grid")
    fig.colorbar(im, ax=axes[1])
    fig.tight_layout()
    fig.savefig("docs/images/sparse_plaplacian.png", dpi=90)
    print("wrote docs/images/sparse_plaplacian.png")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--gtol", type=float, default=1e-8)
    ap.add_argument("--plot", action="store_true")
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--solver", choices=("amg", "direct"), default="amg")
    a = ap.parse_args()
    main(a.n, a.plot, a.gtol, a.verbose, a.solver)
