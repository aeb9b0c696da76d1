"""hvp, value_grad_hessian, linearize_grad and ravel_pytree against closed forms and finite differences."""

import numpy as np
import pytest

import funcad as fa
import funcad.numpy as fnp
from funcad.errors import DTypeError, NonScalarOutputError, TreeStructureError
from funcad.second_order import HVP_MODES, linearize_grad, ravel_pytree


def _logistic_problem(rng, n=40, d=5, lam=0.1):
    X = rng.normal(size=(n, d))
    y = (rng.random(n) < 0.5).astype(float)

    def loss(w):
        z = X @ w
        return fnp.mean(fa.nn.softplus(z) - y * z) + 0.5 * lam * fnp.sum(w * w)

    def closed_form(w):  # value, gradient and Hessian written out in NumPy
        z = X @ w
        p = 1.0 / (1.0 + np.exp(-z))
        value = np.mean(np.logaddexp(0.0, z) - y * z) + 0.5 * lam * w @ w
        g = X.T @ (p - y) / n + lam * w
        H = X.T @ ((p * (1 - p))[:, None] * X) / n + lam * np.eye(d)
        return value, g, H

    return loss, closed_form, rng.normal(size=d)


def _rosenbrock(x):
    return fnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def _rosenbrock_hessian(x):  # closed form (tridiagonal)
    d = x.size
    H = np.zeros((d, d))
    for i in range(d - 1):
        H[i, i] += 1200 * x[i] ** 2 - 400 * x[i + 1] + 2
        H[i + 1, i + 1] += 200
        H[i, i + 1] += -400 * x[i]
        H[i + 1, i] += -400 * x[i]
    return H


@pytest.mark.parametrize("mode", HVP_MODES)
def test_hvp_equals_closed_form_hessian_times_v(rng, mode):
    loss, closed_form, w = _logistic_problem(rng)
    v = rng.normal(size=w.size)
    _, _, H = closed_form(w)
    np.testing.assert_allclose(fa.hvp(loss, mode)(w, v), H @ v, rtol=1e-12, atol=1e-14)


def test_hvp_rosenbrock_and_extra_args(rng):
    x, v = rng.normal(size=7), rng.normal(size=7)
    np.testing.assert_allclose(fa.hvp(_rosenbrock)(x, v), _rosenbrock_hessian(x) @ v, rtol=1e-12)
    scaled = fa.hvp(lambda x, c: c * _rosenbrock(x))(x, v, 3.0)
    np.testing.assert_allclose(scaled, 3.0 * _rosenbrock_hessian(x) @ v, rtol=1e-12)


def test_hvp_pytree_against_finite_differences_of_the_gradient(rng):
    def f(p):
        return fnp.sum(fnp.sin(p["a"]) * p["b"][0]) + fnp.sum(p["b"] ** 3) * p["a"][1]

    x = {"a": rng.normal(size=3), "b": rng.normal(size=2)}
    v = {"a": rng.normal(size=3), "b": rng.normal(size=2)}
    hv = fa.hvp(f)(x, v)
    assert set(hv) == {"a", "b"}
    eps = 1e-6
    plus = fa.grad(f)({k: x[k] + eps * v[k] for k in x})
    minus = fa.grad(f)({k: x[k] - eps * v[k] for k in x})
    for k in x:
        np.testing.assert_allclose(hv[k], (plus[k] - minus[k]) / (2 * eps), rtol=1e-7, atol=1e-8)
    with pytest.raises(TreeStructureError):
        fa.hvp(f)(x, (v["a"], v["b"]))


def test_value_grad_hessian_matches_closed_form_and_separate_calls(rng):
    loss, closed_form, w = _logistic_problem(rng)
    value, g, H = fa.value_grad_hessian(loss)(w)
    v_ref, g_ref, H_ref = closed_form(w)
    np.testing.assert_allclose(value, v_ref, rtol=1e-13)
    np.testing.assert_allclose(g, g_ref, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(H, H_ref, rtol=1e-12, atol=1e-15)
    v_sep, g_sep = fa.value_and_grad(loss)(w)
    np.testing.assert_allclose(value, v_sep, rtol=1e-14)
    np.testing.assert_allclose(g, g_sep, rtol=1e-14, atol=1e-16)
    np.testing.assert_allclose(H, fa.hessian(loss)(w), rtol=1e-12, atol=1e-15)
    assert type(H) is np.ndarray and H.shape == (w.size, w.size)


def test_value_grad_hessian_is_exactly_symmetric(rng):
    # A dense, non-separable function whose Hessian would come out asymmetric in rounding.
    A = rng.normal(size=(30, 12))

    def f(x):
        z = A @ x
        return fnp.sum(fnp.tanh(z) * fnp.exp(0.1 * z)) + fnp.sum(x[:-1] * x[1:] ** 3)

    x = rng.normal(size=12)
    _, _, H = fa.value_grad_hessian(f)(x)
    assert np.array_equal(H, H.T)
    np.testing.assert_allclose(H, fa.hessian(f)(x), rtol=1e-12, atol=1e-13)
    _, _, H_ros = fa.value_grad_hessian(_rosenbrock)(x)  # no matmul: the unfolded path
    assert np.array_equal(H_ros, H_ros.T)
    np.testing.assert_allclose(H_ros, _rosenbrock_hessian(x), rtol=1e-13, atol=1e-12)


def test_value_grad_hessian_pytree_structure_matches_hessian(rng):
    def f(p, scale):
        return scale * (fnp.sum(p["a"] ** 2 * p["b"][0]) + fnp.sum(p["b"] ** 3) + p["c"] * p["a"][0])

    x = {"a": rng.normal(size=2), "b": rng.normal(size=(3,)), "c": 1.5}
    value, g, H = fa.value_grad_hessian(f)(x, 2.0)
    H_ref = fa.hessian(f)(x, 2.0)
    for i in x:
        np.testing.assert_allclose(g[i], fa.grad(f)(x, 2.0)[i], rtol=1e-14)
        for j in x:
            assert np.shape(H[i][j]) == np.shape(H_ref[i][j])
            np.testing.assert_allclose(H[i][j], H_ref[i][j], rtol=1e-13, atol=1e-14)
            ni, nj = np.ndim(x[i]), np.ndim(x[j])  # H[j][i] has x[j]'s axes first
            mirrored = np.transpose(H[j][i], list(range(nj, nj + ni)) + list(range(nj)))
            np.testing.assert_array_equal(H[i][j], mirrored)


def test_value_grad_hessian_keeps_float32():
    x = np.array([0.5, -1.0], dtype=np.float32)
    value, g, H = fa.value_grad_hessian(lambda x: fnp.sum(fnp.exp(x) * x[0]))(x)
    assert g.dtype == np.float32 and H.dtype == np.float32
    np.testing.assert_allclose(H, fa.hessian(lambda x: fnp.sum(fnp.exp(x) * x[0]))(x), rtol=1e-6)


def test_value_grad_hessian_errors():
    with pytest.raises(NonScalarOutputError):
        fa.value_grad_hessian(lambda x: x ** 2)(np.ones(3))
    with pytest.raises(DTypeError):
        fa.value_grad_hessian(lambda x: fnp.sum(x ** 2))(np.arange(3))


def test_linearize_grad_gives_value_grad_and_hvps(rng):
    loss, closed_form, w = _logistic_problem(rng)
    value, g, hvp_fn = linearize_grad(loss)(w)
    v_ref, g_ref, H_ref = closed_form(w)
    np.testing.assert_allclose(value, v_ref, rtol=1e-13)
    np.testing.assert_allclose(g, g_ref, rtol=1e-12, atol=1e-15)
    for _ in range(3):
        v = rng.normal(size=w.size)
        np.testing.assert_allclose(hvp_fn(v), H_ref @ v, rtol=1e-12, atol=1e-15)


def test_ravel_pytree_round_trip():
    tree = {"w": np.arange(6.0).reshape(2, 3), "b": (np.float32(2.0), [np.ones(2)])}
    flat, unravel = ravel_pytree(tree)
    assert flat.shape == (9,) and flat.dtype == np.float64
    back = unravel(flat * 2)
    np.testing.assert_array_equal(back["w"], tree["w"] * 2)
    assert back["b"][0].dtype == np.float32 and float(back["b"][0]) == 4.0
    np.testing.assert_array_equal(back["b"][1][0], [2.0, 2.0])


def test_value_grad_hessian_under_jit_matches_eager(rng):
    if not hasattr(fa, "jit"):
        pytest.skip("funcad.jit is not available yet")
    loss, closed_form, w = _logistic_problem(rng)
    value, g, H = fa.jit(fa.value_grad_hessian(loss))(w)
    _, _, H_ref = closed_form(w)
    np.testing.assert_allclose(H, H_ref, rtol=1e-12, atol=1e-15)
    assert np.array_equal(H, H.T)
    np.testing.assert_allclose(fa.jit(fa.hvp(loss))(w, w), H_ref @ w, rtol=1e-12)


@pytest.mark.parametrize("name", ["funcad.second_order", "funcad.optimize"])
def test_docstring_examples(name):
    import doctest
    import importlib

    module = importlib.import_module(name)
    flags = doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS
    failures, tried = doctest.testmod(module, optionflags=flags, verbose=False)
    assert tried >= 4 and failures == 0, f"{failures} of {tried} docstring examples failed in {name}"
