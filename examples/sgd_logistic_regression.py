"""Minibatch SGD lowering a logistic-regression loss on the breast-cancer data."""

import numpy as np

import funcad as fa
import funcad.numpy as fnp
from funcad.datasets import load_breast_cancer


def loss(w, b, X, y):
    """Mean logistic loss for labels y in {0, 1}."""
    return fnp.mean(fa.nn.softplus(-(2 * y - 1) * (X @ w + b)))


X, y = load_breast_cancer()
X = (X - X.mean(0)) / X.std(0)
y = y.astype(float)
rng = np.random.default_rng(0)
w, b = np.zeros(X.shape[1]), 0.0
grad = fa.grad(loss, argnums=(0, 1))
for epoch in range(10):
    for idx in np.array_split(rng.permutation(len(y)), len(y) // 32):
        gw, gb = grad(w, b, X[idx], y[idx])
        w, b = w - 0.1 * gw, b - 0.1 * gb
    print(f"epoch {epoch}: loss {loss(w, b, X, y):.4f}")
print(f"training accuracy: {np.mean(((X @ w + b) > 0) == (y > 0.5)):.3f}")
