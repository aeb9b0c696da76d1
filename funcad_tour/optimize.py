"""Tour sections for second-order methods: Newton's method, Newton-CG, SciPy, and a picture.

Each section prints its optimizer's convergence per iteration; all of them together take a
few seconds. The picture of tanh and its derivatives goes to ``funcad-tour/`` in the current
directory (when matplotlib is installed: ``pip install "funcad[plot]"``).
"""

from __future__ import annotations

import os
import time

import numpy as np

import funcad as fa
import funcad.numpy as fnp
from funcad.datasets import load_breast_cancer
from funcad.optimize import minimize, newton, newton_cg

from .tour import section

OUTPUT_DIR = "funcad-tour"


# --------------------------------------------------------------------------------------
# Logistic regression by Newton's method, checked against iteratively reweighted least squares


def logistic_loss(params, X, y, lam):
    """Mean logistic loss with an L2 penalty on the weights (not on the intercept)."""
    z = X @ params["w"] + params["b"]
    return fnp.mean(fa.nn.softplus(z) - y * z) + 0.5 * lam * fnp.sum(params["w"] ** 2)


def irls(X, y, lam, tol=1e-14, maxiter=100):
    """Plain NumPy iteratively reweighted least squares for the same objective: (b, w)."""
    n, d = X.shape
    A = np.hstack([np.ones((n, 1)), X])
    P = lam * np.eye(d + 1)
    P[0, 0] = 0.0
    beta = np.zeros(d + 1)
    for _ in range(maxiter):
        p = 1.0 / (1.0 + np.exp(-(A @ beta)))
        s = p * (1.0 - p)
        z_work = A @ beta + (y - p) / s
        new = np.linalg.solve(A.T @ (s[:, None] * A) / n + P, A.T @ (s * z_work) / n)
        if np.max(np.abs(new - beta)) < tol:
            return new[0], new[1:]
        beta = new
    return beta[0], beta[1:]


def standardized_breast_cancer():
    X, y = load_breast_cancer()
    return (X - X.mean(0)) / X.std(0), y.astype(float)


@section("Newton's method: logistic regression on the breast-cancer data")
def logistic_regression():
    X, y = standardized_breast_cancer()
    lam = 1e-3
    print(f"Breast Cancer Wisconsin (UCI, CC BY 4.0): {X.shape[0]} samples, {X.shape[1]} standardized "
          f"features; L2 penalty {lam:g} on the weights. Exact Hessians, Cholesky solves:")
    import scipy.linalg  # noqa: F401  (imported before the clock starts: the fit is what is timed)

    start = time.perf_counter()
    res = newton(logistic_loss, {"w": np.zeros(X.shape[1]), "b": 0.0}, (X, y, lam), verbose=True)
    took = time.perf_counter() - start
    b_ref, w_ref = irls(X, y, lam)
    diff = max(np.max(np.abs(res.x["w"] - w_ref)), abs(float(res.x["b"]) - b_ref))
    acc = np.mean(((X @ res.x["w"] + res.x["b"]) > 0) == (y > 0.5))
    print(f"{res.message}; {res.nit} iterations in {took * 1e3:.0f} ms; training accuracy {acc:.3f}.")
    print(f"Largest difference from plain NumPy IRLS in the coefficients: {diff:.1e}.")


# --------------------------------------------------------------------------------------
# Rosenbrock in 100 dimensions


def rosenbrock(x):
    """The chained Rosenbrock function; its minimum is 0 at x = (1, ..., 1)."""
    return fnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


@section("Rosenbrock in 100 dimensions: newton and newton_cg")
def rosenbrock_100():
    x0 = np.full(100, -1.2)
    print("newton: dense Hessian (100 x 100), modified Cholesky, Armijo backtracking; "
          "printing every 20th iteration:")
    start = time.perf_counter()
    res = newton(rosenbrock, x0, maxiter=500, verbose=20)
    t1 = time.perf_counter() - start
    print(f"{res.message}; {res.nit} iterations in {t1:.2f} s; "
          f"max |x - 1| = {np.max(np.abs(res.x - 1)):.1e}.")
    print("\nnewton_cg: Hessian-vector products and conjugate gradients (no Hessian formed):")
    start = time.perf_counter()
    res_cg = newton_cg(rosenbrock, x0, maxiter=500, verbose=20)
    t2 = time.perf_counter() - start
    cg = sum(h.get("cg_iters") or 0 for h in res_cg.history)
    print(f"{res_cg.message}; {res_cg.nit} iterations ({cg} Hessian-vector products) in {t2:.2f} s; "
          f"max |x - 1| = {np.max(np.abs(res_cg.x - 1)):.1e}.")


# --------------------------------------------------------------------------------------
# Maximum likelihood through scipy.optimize.minimize


def student_t_nll(params, data, df):
    """Negative log-likelihood (up to a constant) of a Student-t location-scale model."""
    scale = fnp.exp(params["log_scale"])
    r = (data - params["loc"]) / scale
    return fnp.sum(params["log_scale"] + 0.5 * (df + 1.0) * fnp.log1p(r * r / df))


@section("Maximum likelihood through scipy.optimize.minimize")
def maximum_likelihood():
    rng = np.random.default_rng(42)
    df = 4.0
    data = 3.0 + 2.0 * rng.standard_t(df, size=2000)
    print(f"Student-t location-scale fit (df = {df:g} known) to {data.size} synthetic points "
          "(true loc 3, scale 2); SciPy's trust-exact gets funcad's exact gradient and Hessian:")
    res = minimize(student_t_nll, {"loc": float(np.median(data)), "log_scale": 0.0}, (data, df),
                   method="trust-exact", verbose=True)
    loc, scale = float(res.x["loc"]), float(np.exp(res.x["log_scale"]))
    print(f"{res.message} loc = {loc:.6f}, scale = {scale:.6f}, |grad| = {res.grad_norm:.1e}.")
    try:
        import scipy.stats

        _, ref_loc, ref_scale = scipy.stats.t.fit(data, fdf=df)
        print(f"scipy.stats.t.fit (derivative-free): loc = {ref_loc:.6f}, scale = {ref_scale:.6f}.")
    except Exception as e:  # noqa: BLE001  (a cross-check only)
        print(f"(scipy.stats.t.fit cross-check unavailable: {e})")


# --------------------------------------------------------------------------------------
# tanh and its first six derivatives


def tanh_derivatives(x, order=6):
    """``[tanh(x), tanh'(x), ..., tanh^(order)(x)]`` by nested elementwise_grad."""
    fs = [fnp.tanh]
    for _ in range(order):
        fs.append(fa.elementwise_grad(fs[-1]))
    return [np.asarray(f(x)) for f in fs]


@section("The picture: tanh and its first six derivatives, saved as a PNG")
def tanh_picture():
    x = np.linspace(-4.0, 4.0, 400)
    start = time.perf_counter()
    ys = tanh_derivatives(x)
    took = time.perf_counter() - start
    t = np.tanh(x)
    err = np.max(np.abs(ys[2] - (-2.0 * t * (1 - t * t))))
    print(f"Seven curves by nested elementwise_grad in {took * 1e3:.0f} ms "
          f"(tanh'' against -2 tanh (1 - tanh^2): max difference {err:.1e}).")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print('matplotlib is not installed, so no picture: pip install "funcad[plot]" '
              "(or pip install matplotlib) and run the tour again.")
        return
    os.makedirs(OUTPUT_DIR, exist_ok=True)
    path = os.path.join(OUTPUT_DIR, "tanh_derivatives.png")
    fig, axes = plt.subplots(2, 4, figsize=(12, 5.5), sharex=True)
    for k, (ax, y) in enumerate(zip(axes.flat, ys, strict=False)):
        ax.plot(x, y, color=f"C{k}")
        ax.axhline(0.0, color="0.8", lw=0.8)
        ax.set_title("tanh(x)" if k == 0 else f"derivative {k}", fontsize=10)
    axes.flat[-1].axis("off")
    fig.suptitle("tanh and its first six derivatives (funcad.elementwise_grad, nested)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    print(f"Saved {os.path.abspath(path)}")
