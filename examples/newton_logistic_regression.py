"""Logistic regression fitted by Newton's method on the breast-cancer data shipped with funcad.

Breast Cancer Wisconsin (Diagnostic), UCI Machine Learning Repository, CC BY 4.0 (see
funcad/data/README.md). Features are standardized; a small L2 penalty on the weights (not on
the intercept). The fit is checked against plain NumPy iteratively reweighted least squares.

    python examples/newton_logistic_regression.py
"""

import numpy as np

import funcad as fa
import funcad.numpy as fnp
from funcad.datasets import load_breast_cancer
from funcad.optimize import newton


def loss(params, X, y, lam):
    z = X @ params["w"] + params["b"]
    return fnp.mean(fa.nn.softplus(z) - y * z) + 0.5 * lam * fnp.sum(params["w"] ** 2)


def irls(X, y, lam, iters=50):
    """The textbook reference: Newton's method written out as weighted least squares."""
    n, d = X.shape
    A = np.hstack([np.ones((n, 1)), X])
    P = lam * np.eye(d + 1)
    P[0, 0] = 0.0
    beta = np.zeros(d + 1)
    for _ in range(iters):
        p = 1.0 / (1.0 + np.exp(-(A @ beta)))
        s = p * (1.0 - p)
        beta = np.linalg.solve(A.T @ (s[:, None] * A) / n + P, A.T @ (s * (A @ beta + (y - p) / s)) / n)
    return beta[0], beta[1:]


X, y = load_breast_cancer()
X = (X - X.mean(0)) / X.std(0)
y = y.astype(float)
lam = 1e-3

res = newton(loss, {"w": np.zeros(X.shape[1]), "b": 0.0}, (X, y, lam), verbose=True)
print(res.message)
b_ref, w_ref = irls(X, y, lam)
print("max |w - w_IRLS| =", np.max(np.abs(res.x["w"] - w_ref)), " |b - b_IRLS| =", abs(res.x["b"] - b_ref))
print("training accuracy:", np.mean(((X @ res.x["w"] + res.x["b"]) > 0) == (y > 0.5)))
