"""The symmetric product ``X.T @ (X * s[:, None])`` in jitted programs (backend/table.py,
``_weighted_gram``): ?gemm's upper triangle, the lower mirrored. Checked against NumPy's full
product (to rounding), for exact symmetry, and that the pattern is recognised (only where it
holds)."""

import numpy as np
import pytest

import funcad as fa
import funcad.numpy as fnp
from funcad.backend import table
from funcad.backend.simplify import simplify
from funcad.lax.linalg import matmul_p

rng = np.random.default_rng(7)


def _symmetric_products(f, *args) -> list:
    """Of the matrix products in ``jit(f)``'s simplified program, whether each is recognised
    as a weighted Gram matrix (computed as ?gemm's upper triangle, mirrored)."""
    jaxpr = simplify(fa.make_jaxpr(f)(*args).jaxpr)
    producers = {v: e for e in jaxpr.eqns for v in e.outputs}
    return [table._weighted_gram(producers, *e.inputs) for e in jaxpr.eqns if e.prim is matmul_p]


def gram(X, s):
    return X.T @ (X * s[:, None])


@pytest.mark.parametrize("n, d", [(40, 3), (200, 63), (300, 64), (500, 100), (333, 129), (7, 200)])
def test_weighted_gram_matches_numpy_and_is_symmetric(n, d):
    X, s = rng.standard_normal((n, d)), rng.standard_normal(n)  # weights of both signs
    H = fa.jit(gram)(X, s)
    ref = X.T @ (X * s[:, None])
    np.testing.assert_allclose(H, ref, rtol=1e-12, atol=1e-12 * np.abs(ref).max())
    assert np.array_equal(H, H.T)


def test_weighted_gram_other_layouts_and_dtypes():
    X = rng.standard_normal((300, 140))
    Xs, s = X[::2, 5:105], rng.standard_normal(150)  # a strided view
    np.testing.assert_allclose(fa.jit(gram)(Xs, s), Xs.T @ (Xs * s[:, None]), rtol=1e-11, atol=1e-11)
    Xf = np.asfortranarray(X)
    s2 = rng.standard_normal(300)
    np.testing.assert_allclose(fa.jit(gram)(Xf, s2), X.T @ (X * s2[:, None]), rtol=1e-11, atol=1e-10)
    X32, s32 = X.astype(np.float32), s2.astype(np.float32)
    H32 = fa.jit(gram)(X32, s32)
    assert H32.dtype == np.float32 and np.array_equal(H32, H32.T)
    np.testing.assert_allclose(H32, X.T @ (X * s2[:, None]), rtol=1e-4, atol=1e-3)
    # a scalar weight, on either side
    np.testing.assert_allclose(fa.jit(lambda X: X.T @ (2.5 * X))(X), 2.5 * X.T @ X, rtol=1e-12, atol=1e-10)


def test_the_pattern_is_recognised_only_where_it_holds():
    X, s = rng.standard_normal((50, 70)), rng.standard_normal(50)
    assert _symmetric_products(gram, X, s) == [True]
    Y = rng.standard_normal((50, 70))
    other = lambda X, Y, s: X.T @ (Y * s[:, None])  # noqa: E731  not symmetric
    assert _symmetric_products(other, X, Y, s) == [False]
    np.testing.assert_allclose(fa.jit(other)(X, Y, s), X.T @ (Y * s[:, None]), rtol=1e-12, atol=1e-12)
    rows = lambda X, t: X.T @ (X * t)  # noqa: E731  weights per column: not symmetric
    t = rng.standard_normal(70)
    assert _symmetric_products(rows, X, t) == [False]
    np.testing.assert_allclose(fa.jit(rows)(X, t), X.T @ (X * t), rtol=1e-12, atol=1e-12)


def test_logistic_hessian_jit_against_closed_form():
    n, d = 400, 100
    X, y, w = rng.standard_normal((n, d)) / 10, (rng.random(n) < 0.5) * 1.0, rng.standard_normal(d)

    def nll(w, X, y):
        z = X @ w
        return fnp.sum(fnp.logaddexp(0.0, z) - y * z)

    H = fa.jit(fa.hessian(nll))(w, X, y)
    p = 1 / (1 + np.exp(-X @ w))
    ref = X.T @ (X * (p * (1 - p))[:, None])
    np.testing.assert_allclose(H, ref, rtol=1e-11, atol=1e-13)
    assert np.array_equal(H, H.T)
    assert True in _symmetric_products(fa.hessian(nll), w, X, y)
