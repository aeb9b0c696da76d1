"""Sparse Hessians and sparse Newton (issue 19), side by side with asdex on JAX.

    PYTHONPATH=. /work/venv-bench/bin/python benchmarks/sparse_newton.py [--repeats 5] [--quick]

Each part runs in a fresh process (first calls are cold; peak memory is the part's own):

* ``hessian``: the sparse Hessian of chained Rosenbrock at d = 10^5, by funcad
  (``fa.sparse_hessian``) and asdex (``hessian_coloring`` + ``hessian_from_coloring``, jitted
  by JAX): the first call (detection + coloring) and each later evaluation, and the colours.
* ``newton``: ``newton(..., hessian="sparse")`` on chained Rosenbrock at d = 10^6 from
  x0 = 0.5 to |grad| <= 1e-8: wall and CPU seconds, iterations, peak memory; and the dense
  Newton at d = 10^4 (a few iterations: seconds per iteration) and the sparse one at 10^4.
* ``plaplacian``: the 2-D p-Laplacian example (examples/sparse_newton_plaplacian.py) on a
  1000 x 1000 grid (10^6 unknowns) to |grad| <= 1e-8 by ``newton_cg`` with the sparse Hessian
  and the algebraic multigrid preconditioner (``preconditioner="amg"``); and at 300 x 300 by
  that and by ``newton(..., hessian="sparse")`` (a sparse factorization).
* ``check``: sparse Hessians and Jacobians equal the dense ones at d = 2,000.

The machine is shared: the load average is printed with each part; prefer the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np


def _load():
    return os.getloadavg()[0]


def _peak_gb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def part_funcad_hessian(d, repeats):
    import funcad as fa
    import funcad.numpy as fnp

    def rosen(x):
        return fnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)

    x = np.full(d, 0.5)
    sh = fa.sparse_hessian(rosen)
    t = time.perf_counter()
    H = sh(x)
    first = time.perf_counter() - t
    plan = next(iter(sh.cache.values()))
    evals, cpu = [], []
    for _ in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        H = sh(x)
        evals.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return {"system": "funcad", "d": d, "detect_color_s": plan.seconds, "first_call_s": first,
            "eval_s": evals, "eval_cpu_s": cpu, "colors": plan.num_colors, "nnz": int(H.nnz), "load": _load()}


def part_asdex_hessian(d, repeats):
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    import asdex

    def rosen(x):
        return jnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)

    x = np.full(d, 0.5)
    t = time.perf_counter()
    colored = asdex.hessian_coloring(rosen, x)
    detect = time.perf_counter() - t
    hess = asdex.hessian_from_coloring(rosen, colored)
    t = time.perf_counter()
    H = jax.block_until_ready(hess(x))
    first_eval = time.perf_counter() - t
    evals, cpu = [], []
    for _ in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        H = jax.block_until_ready(hess(x))
        evals.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    from importlib.metadata import version

    return {"system": f"asdex {version('asdex')} (jax {jax.__version__})",
            "d": d, "detect_color_s": detect, "first_call_s": detect + first_eval, "eval_s": evals,
            "eval_cpu_s": cpu,
            "colors": int(colored.num_colors if hasattr(colored, "num_colors") else -1),
            "nnz": int(H.nse if hasattr(H, "nse") else -1), "load": _load()}


def part_newton(d, kind, maxiter):
    import funcad.numpy as fnp
    from funcad.optimize import newton

    def rosen(x):
        return fnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)

    t, c = time.perf_counter(), time.process_time()
    res = newton(rosen, np.full(d, 0.5), gtol=1e-8, maxiter=maxiter, hessian=kind)
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    return {"d": d, "hessian": kind, "nit": res.nit, "grad_norm": res.grad_norm, "success": res.success,
            "wall_s": wall, "cpu_s": cpu, "s_per_iter": wall / max(res.nit, 1), "peak_gb": _peak_gb(),
            "load": _load()}


def part_plaplacian(n, solver):
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "examples"))
    from sparse_newton_plaplacian import main as plaplacian

    try:
        import sksparse  # noqa: F401

        cholmod = True
    except ImportError:
        cholmod = False
    out = plaplacian(n, plot=False, gtol=1e-8, solver=solver)
    out.update(n=n, load=_load(), cholmod=cholmod)
    return out


def part_check():
    import funcad as fa
    import funcad.numpy as fnp

    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "examples"))
    from sparse_newton_plaplacian import energy

    rng = np.random.default_rng(0)
    out = {}

    def rosen(x):
        return fnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)

    x = rng.uniform(-1, 1, 2000)
    out["rosenbrock hessian, d=2000"] = float(np.abs(fa.sparse_hessian(rosen)(x).toarray()
                                                     - fa.hessian(rosen)(x)).max())
    n = 44
    u, f = rng.normal(size=n * n), rng.normal(size=(n, n))
    out[f"p-Laplacian hessian, d={n * n}"] = float(np.abs(fa.sparse_hessian(energy)(u, f, 0.1).toarray()
                                                           - fa.hessian(energy)(u, f, 0.1)).max())
    g = lambda v: fnp.concatenate([fnp.sin(v[1:]) * v[:-1] ** 2, fnp.sum(v)[None]])  # noqa: E731
    out["banded + dense row jacobian, d=2000"] = float(np.abs(fa.sparse_jacobian(g)(x).toarray()
                                                              - fa.jacobian(g)(x)).max())
    return out


PARTS = {
    "funcad-hessian": lambda a: part_funcad_hessian(a.d_hess, a.repeats),
    "asdex-hessian": lambda a: part_asdex_hessian(a.d_hess, a.repeats),
    "newton-sparse-1e6": lambda a: part_newton(a.d_newton, "sparse", 100),
    "newton-sparse-1e4": lambda a: part_newton(10**4, "sparse", 100),
    "newton-dense-1e4": lambda a: part_newton(10**4, "dense", a.dense_iters),
    "plaplacian-1e6-amg": lambda a: part_plaplacian(a.n_grid, "amg"),
    "plaplacian-300-amg": lambda a: part_plaplacian(300, "amg"),
    "plaplacian-300-direct": lambda a: part_plaplacian(300, "direct"),
    "check": lambda a: part_check(),
}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--part", choices=sorted(PARTS))
    ap.add_argument("--parts", help="comma-separated parts to run (default: all)")
    ap.add_argument("--n-grid", type=int, default=1000, help="the p-Laplacian's grid width")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--d-hess", type=int, default=10**5)
    ap.add_argument("--d-newton", type=int, default=10**6)
    ap.add_argument("--dense-iters", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    a = ap.parse_args()
    if a.quick:
        a.d_hess, a.d_newton, a.dense_iters, a.n_grid = 10**4, 10**4, 1, 100
    if a.part:
        print(json.dumps(PARTS[a.part](a)))
        return
    results = {}
    for name in a.parts.split(",") if a.parts else PARTS:
        if a.quick and name == "newton-dense-1e4":
            continue
        cmd = [sys.executable, __file__, "--part", name, "--repeats", str(a.repeats),
               "--d-hess", str(a.d_hess), "--d-newton", str(a.d_newton), "--dense-iters", str(a.dense_iters),
               "--n-grid", str(a.n_grid)]
        print(f"[{time.strftime('%H:%M:%S')}] {name} (load {_load():.1f})", file=sys.stderr, flush=True)
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode:
            print(proc.stderr[-3000:], file=sys.stderr)
            results[name] = {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr else "failed"}
            continue
        results[name] = json.loads(proc.stdout.strip().splitlines()[-1])
    print(json.dumps(results, indent=1))
    print(table(results))


def table(r) -> str:
    lines = ["| sparse Hessian, chained Rosenbrock | d | detection + coloring (s) | first call (s) | "
             "later evaluation, min / median (s) | its CPU, median (s) | colours | load |",
             "|---|---|---|---|---|---|---|---|"]
    for key in ("funcad-hessian", "asdex-hessian"):
        h = r.get(key, {})
        if "eval_s" in h:
            ev = sorted(h["eval_s"])
            lines.append(f"| {h['system']} | {h['d']:,} | {h['detect_color_s']:.3f} | "
                         f"{h['first_call_s']:.3f} | {ev[0]:.3f} / {ev[len(ev) // 2]:.3f} | "
                         f"{sorted(h['eval_cpu_s'])[len(ev) // 2]:.3f} | {h['colors']} | {h['load']:.1f} |")
    lines += ["", "| Newton, chained Rosenbrock, x0 = 0.5, gtol 1e-8 | d | iterations | |grad| | wall (s) | "
              "CPU (s) | s / iteration | peak memory (GB) | load |", "|---|---|---|---|---|---|---|---|---|"]
    for key in ("newton-sparse-1e6", "newton-sparse-1e4", "newton-dense-1e4"):
        h = r.get(key, {})
        if "wall_s" in h:
            note = "" if h["success"] else " (stopped: maxiter)"
            lines.append(f"| {h['hessian']}{note} | {h['d']:,} | {h['nit']} | {h['grad_norm']:.1e} | "
                         f"{h['wall_s']:.1f} | {h['cpu_s']:.1f} | {h['s_per_iter']:.2f} | "
                         f"{h['peak_gb']:.2f} | {h['load']:.1f} |")
    rows = [r[k] for k in ("plaplacian-1e6-amg", "plaplacian-300-amg", "plaplacian-300-direct")
            if "seconds" in r.get(k, {})]
    if rows:
        lines += ["", "| p-Laplacian (p = 3), gtol 1e-8 | grid | d | Newton iterations | CG iterations | "
                  "|grad| | wall (s) | CPU (s) | peak memory (GB) | load |", "|---" * 10 + "|"]
        for h in rows:
            direct = "newton, " + ("CHOLMOD" if h["cholmod"] else "SuperLU")
            solver = {"amg": "newton_cg + AMG", "direct": direct}[h["solver"]]
            note = "" if h["success"] else " (not converged)"
            lines.append(f"| {solver}{note} | {h['n']} x {h['n']} | {h['d']:,} | {h['nit']} | "
                         f"{h['cg_iters'] or '-'} | {h['grad_norm']:.1e} | {h['seconds']:.1f} | "
                         f"{h['cpu_s']:.1f} | {h['peak_gb']:.2f} | {h['load']:.1f} |")
    if "check" in r and "error" not in r["check"]:
        lines += ["", "| sparse vs dense | max abs difference |", "|---|---|"]
        lines += [f"| {k} | {v:.1e} |" for k, v in r["check"].items()]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
