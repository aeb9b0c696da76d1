"""A quick measurement: the Newton step (Hessian + solve) of the L2 logistic loss, d=200, n=1000.

Hand-written NumPy against funcad eager (value_grad_hessian; grad + hessian) and jitted. The
figures in docs/architecture.md ("Second-order methods") come from it, run as

    OPENBLAS_NUM_THREADS=1 NUMBA_NUM_THREADS=1 python examples/newton_step_timing.py

(one thread each: on a shared machine the minimum of single-threaded runs is what repeats).
The side-by-side suite against JAX, PyTorch and autograd is benchmarks/ (workload "newton").
"""

import time

import numpy as np

import funcad as fa
import funcad.numpy as fnp

rng = np.random.default_rng(0)
n, d, lam = 1000, 200, 1e-2
X = rng.normal(size=(n, d))
y = (rng.random(n) < 0.5) * 1.0
w = rng.normal(size=d) * 0.1


def loss(w, X, y):
    z = X @ w
    return fnp.mean(fa.nn.softplus(z) - y * z) + 0.5 * lam * fnp.sum(w * w)


def numpy_step(w, X, y):
    p = 1 / (1 + np.exp(-(X @ w)))
    g = X.T @ (p - y) / n + lam * w
    H = X.T @ ((p * (1 - p))[:, None] * X) / n + lam * np.eye(d)
    return w - np.linalg.solve(H, g)


vgh = fa.value_grad_hessian(loss)


def eager_vgh_step(w, X, y):
    _, g, H = vgh(w, X, y)
    return w - np.linalg.solve(H, g)


def eager_hessian_step(w, X, y):
    g, H = fa.grad(loss)(w, X, y), fa.hessian(loss)(w, X, y)
    return w - np.linalg.solve(H, g)


def traced_step(w, X, y):
    _, g, H = vgh(w, X, y)
    return w - fnp.linalg.solve(H, g)


def best(fn, reps=40):
    fn()
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return min(ts) * 1e3, np.median(ts) * 1e3


ref = numpy_step(w, X, y)
cands = [("hand NumPy", numpy_step), ("funcad eager value_grad_hessian", eager_vgh_step),
         ("funcad eager grad + hessian", eager_hessian_step)]
if hasattr(fa, "jit"):
    jitted = fa.jit(traced_step)
    t = time.perf_counter()
    jitted(w, X, y)
    print(f"jit first call (trace + compile, or load from the disk cache): {time.perf_counter() - t:.1f} s")
    cands.append(("funcad jit(value_grad_hessian + solve)", jitted))
base = None
for name, fn in cands:
    err = np.max(np.abs(fn(w, X, y) - ref))
    lo, med = best(lambda fn=fn: fn(w, X, y))
    base = base or lo
    print(f"{name:40s} min {lo:7.2f} ms  median {med:7.2f} ms  ({lo / base:4.2f}x NumPy)  |diff| {err:.1e}")
