"""A quick measurement: vmap of solve / cholesky / inv over 10,000 3x3 matrices.

Against NumPy on the stacked array and a hand-written Numba loop. Eager vmap calls np.linalg
on the stack; jit(vmap) runs funcad's own per-matrix loops for small n (backend/nbrt.py:
solve_batched, cholesky_batched), within 2x of the Numba loop. The figures in
docs/architecture.md come from

    OPENBLAS_NUM_THREADS=1 NUMBA_NUM_THREADS=1 python examples/small_solves_timing.py
"""

import time

import numba
import numpy as np

import funcad as fa
import funcad.numpy as fnp

N, n = 10_000, 3
rng = np.random.default_rng(0)
M = rng.normal(size=(N, n, n))
A = M @ np.swapaxes(M, 1, 2) + n * np.eye(n)   # SPD
b = rng.normal(size=(N, n))

@numba.njit(cache=True)
def nb_solve(A, b):
    N, n = b.shape
    out = np.empty_like(b)
    a = np.empty((n, n))
    x = np.empty(n)
    for k in range(N):
        for i in range(n):
            x[i] = b[k, i]
            for j in range(n):
                a[i, j] = A[k, i, j]
        for c in range(n):                 # Gaussian elimination, partial pivoting
            p = c
            for r in range(c + 1, n):
                if abs(a[r, c]) > abs(a[p, c]):
                    p = r
            if p != c:
                for j in range(n):
                    a[c, j], a[p, j] = a[p, j], a[c, j]
                x[c], x[p] = x[p], x[c]
            for r in range(c + 1, n):
                f = a[r, c] / a[c, c]
                for j in range(c, n):
                    a[r, j] -= f * a[c, j]
                x[r] -= f * x[c]
        for i in range(n - 1, -1, -1):
            s = x[i]
            for j in range(i + 1, n):
                s -= a[i, j] * out[k, j]
            out[k, i] = s / a[i, i]
    return out

@numba.njit(cache=True)
def nb_cholesky(A):
    N, n, _ = A.shape
    L = np.zeros_like(A)
    for k in range(N):
        for i in range(n):
            for j in range(i + 1):
                s = A[k, i, j]
                for m in range(j):
                    s -= L[k, i, m] * L[k, j, m]
                L[k, i, j] = np.sqrt(s) if i == j else s / L[k, j, j]
    return L

@numba.njit(cache=True)
def nb_inv(A):
    N, n, _ = A.shape
    out = np.empty_like(A)
    a = np.empty((n, 2 * n))
    for k in range(N):
        for i in range(n):
            for j in range(n):
                a[i, j] = A[k, i, j]
                a[i, n + j] = 1.0 if i == j else 0.0
        for c in range(n):                 # Gauss-Jordan, partial pivoting
            p = c
            for r in range(c + 1, n):
                if abs(a[r, c]) > abs(a[p, c]):
                    p = r
            if p != c:
                for j in range(2 * n):
                    a[c, j], a[p, j] = a[p, j], a[c, j]
            d = a[c, c]
            for j in range(2 * n):
                a[c, j] /= d
            for r in range(n):
                if r != c:
                    f = a[r, c]
                    for j in range(2 * n):
                        a[r, j] -= f * a[c, j]
        for i in range(n):
            for j in range(n):
                out[k, i, j] = a[i, n + j]
    return out

def best(fn, reps=30):
    fn()
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return min(ts) * 1e3


v_solve = fa.vmap(fnp.linalg.solve)
v_chol = fa.vmap(fnp.linalg.cholesky)
v_inv = fa.vmap(fnp.linalg.inv)
np.testing.assert_allclose(v_solve(A, b), nb_solve(A, b), rtol=1e-10)
np.testing.assert_allclose(v_chol(A), nb_cholesky(A), rtol=1e-10, atol=1e-12)
np.testing.assert_allclose(v_inv(A), nb_inv(A), rtol=1e-9, atol=1e-12)
rows = [
    ("solve", nb_solve, lambda A, b: np.linalg.solve(A, b[..., None]), v_solve, (A, b)),
    ("cholesky", nb_cholesky, np.linalg.cholesky, v_chol, (A,)),
    ("inv", nb_inv, np.linalg.inv, v_inv, (A,)),
]
print(f"{'op':9s} {'Numba loop':>11s} {'np stacked':>11s} {'vmap eager':>11s} {'jit(vmap)':>11s}"
      "   (eager, jit) / Numba")
for name, nb, stacked, vmapped, args in rows:
    t_nb, t_np, t_ev = (best(lambda f=f: f(*args)) for f in (nb, stacked, vmapped))
    t_j = float("nan")
    if hasattr(fa, "jit"):
        jitted = fa.jit(vmapped)
        t_j = best(lambda: jitted(*args))
    print(f"{name:9s} {t_nb:9.3f}ms {t_np:9.3f}ms {t_ev:9.3f}ms {t_j:9.3f}ms   "
          f"{t_ev / t_nb:5.2f}x {t_j / t_nb:5.2f}x")
