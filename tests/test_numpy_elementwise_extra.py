"""Elementwise extras of funcad.numpy: values equal NumPy's (with broadcasting, special
values), derivatives pass check_grads where defined; rounding has zero derivative."""

import numpy as np
import pytest

import funcad as fa
import funcad.numpy as fnp
from funcad.test_util import check_grads

rng = np.random.default_rng(2)
A = rng.uniform(-3, 3, (2, 3))
B = rng.uniform(0.5, 2, (3,)) * np.array([1, -1, 1])
SPECIAL = np.array([0.0, -0.0, 0.5, -0.5, 1.5, 2.5, -2.5, np.inf, -np.inf, np.nan, 1e300, -7.0])


def assert_same(actual, expected):
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape and actual.dtype == expected.dtype, (actual, expected)
    # float32: NumPy's C kernels round their constants in float32 (1 ulp apart at most)
    rtol = 1e-14 if expected.dtype != np.float32 else 2e-7
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=0)


UNARY = ["floor", "ceil", "round", "around", "rint", "trunc", "fix", "sinc", "deg2rad", "rad2deg",
         "radians", "degrees", "fabs", "nan_to_num", "isfinite", "isnan", "isinf"]


@pytest.mark.parametrize("name", UNARY)
def test_unary_values(name):
    f, nf = getattr(fnp, name), getattr(np, name)
    with np.errstate(all="ignore"):
        for x in (A, SPECIAL, np.arange(-3, 4), np.float32(1.25) * np.ones(2, np.float32)):
            assert_same(f(x), nf(x))


@pytest.mark.parametrize("decimals", [-1, 0, 1, 2])
def test_round_decimals(decimals):
    x = np.array([1.2345, -2.675, 15.5, 25.0, 0.125])
    assert_same(fnp.round(x, decimals), np.round(x, decimals))
    assert_same(fnp.round(np.array([15, 25, -35]), decimals), np.round(np.array([15, 25, -35]), decimals))


@pytest.mark.parametrize("name", ["fmod", "mod", "remainder", "logaddexp2", "heaviside"])
def test_binary_values(name):
    f, nf = getattr(fnp, name), getattr(np, name)
    with np.errstate(all="ignore"):
        assert_same(f(A, B), nf(A, B))
        assert_same(f(SPECIAL, 1.5), nf(SPECIAL, 1.5))
        if name in ("fmod", "mod", "remainder"):
            assert_same(f(np.arange(-5, 5), 3), nf(np.arange(-5, 5), 3))


def test_nan_to_num_options_and_derivative():
    kw = dict(nan=-1.0, posinf=9.0, neginf=-9.0)
    assert_same(fnp.nan_to_num(SPECIAL, **kw), np.nan_to_num(SPECIAL, **kw))
    assert_same(fnp.nan_to_num(np.arange(3)), np.nan_to_num(np.arange(3)))
    g = fa.grad(lambda x: fnp.sum(fnp.nan_to_num(x) * 3.0))(np.array([1.0, np.nan, np.inf, -2.0]))
    np.testing.assert_array_equal(g, [3.0, 0.0, 0.0, 3.0])


@pytest.mark.parametrize("name", ["sinc", "deg2rad", "rad2deg", "fabs", "nan_to_num"])
def test_unary_derivatives(name):
    check_grads(getattr(fnp, name), (A,), order=2)


def test_sinc_derivatives_at_zero():
    assert float(fa.grad(fnp.sinc)(0.0)) == 0.0
    np.testing.assert_allclose(fa.grad(fa.grad(fnp.sinc))(0.0), -np.pi ** 2 / 3, rtol=1e-12)
    np.testing.assert_allclose(fa.grad(fa.grad(fa.grad(fa.grad(fnp.sinc))))(0.0), np.pi ** 4 / 5, rtol=1e-12)
    check_grads(fnp.sinc, (np.array([0.0, 1e-5, 0.3, 1.0]),), order=3)


@pytest.mark.parametrize("name", ["fmod", "mod", "logaddexp2"])
def test_binary_derivatives(name):
    f = getattr(fnp, name)
    a = np.array([[2.3, -1.7, 0.6], [5.2, -4.4, 3.9]])  # away from the jumps of fmod/mod
    check_grads(f, (a, np.array([1.1, 0.7, -1.35])), order=2)
    check_grads(f, (a, 0.9), order=2)


def test_piecewise_constant_have_zero_derivative():
    for name in ["floor", "ceil", "round", "rint", "trunc"]:
        np.testing.assert_array_equal(fa.grad(lambda x: fnp.sum(getattr(fnp, name)(x)))(A), np.zeros_like(A))
    g = fa.grad(lambda h: fnp.sum(fnp.heaviside(np.array([-1.0, 0.0, 2.0, 0.0]), h)))(0.5)
    assert float(g) == 2.0  # only where x1 == 0 does x2 show through
    gx = fa.grad(lambda x: fnp.sum(fnp.heaviside(x, 0.5)))(np.array([-1.0, 0.0, 1.0]))
    np.testing.assert_array_equal(gx, np.zeros(3))
