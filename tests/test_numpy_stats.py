"""funcad.numpy statistics, scans, sorting and searching: values equal NumPy's (including
empty arrays, size-1 axes, negative axes, keepdims) and derivatives pass check_grads
(forward and reverse, second order); subgradients at ties are pinned."""

import warnings

import numpy as np
import pytest

import funcad as fa
import funcad.numpy as fnp
from funcad.test_util import check_grads, check_vmap

rng = np.random.default_rng(0)
X = rng.standard_normal((3, 4))
X3 = rng.standard_normal((2, 3, 4))


def assert_same(actual, expected, rtol=1e-13):
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    if expected.dtype.kind in "biu":
        assert actual.dtype.kind == expected.dtype.kind, (actual.dtype, expected.dtype)
        np.testing.assert_array_equal(actual, expected)
    else:
        np.testing.assert_allclose(actual, expected, rtol=rtol, atol=1e-14)


# name -> (funcad, numpy, extra kwargs per case)
REDUCTIONS = {
    "var": (fnp.var, np.var), "std": (fnp.std, np.std), "nansum": (fnp.nansum, np.nansum),
    "nanmean": (fnp.nanmean, np.nanmean), "ptp": (fnp.ptp, np.ptp), "amax": (fnp.amax, np.amax),
    "amin": (fnp.amin, np.amin), "median": (fnp.median, np.median), "mean": (fnp.mean, np.mean),
    "nanmax": (fnp.nanmax, np.nanmax), "nanmin": (fnp.nanmin, np.nanmin),
    "nanvar": (fnp.nanvar, np.nanvar), "nanstd": (fnp.nanstd, np.nanstd),
}
AXES = [None, 0, -1, (0, 2), (-1, 0)]


@pytest.mark.parametrize("name", sorted(REDUCTIONS))
@pytest.mark.parametrize("axis", AXES)
@pytest.mark.parametrize("keepdims", [False, True])
def test_reduction_values(name, axis, keepdims):
    f, nf = REDUCTIONS[name]
    assert_same(f(X3, axis=axis, keepdims=keepdims), nf(X3, axis=axis, keepdims=keepdims))


@pytest.mark.parametrize("name", ["var", "std", "median", "nansum", "nanmean", "ptp", "amax", "nanvar"])
def test_reduction_size_one_and_empty(name):
    f, nf = REDUCTIONS[name]
    one = X[:1]
    for axis in (0, 1, None):
        assert_same(f(one, axis=axis), nf(one, axis=axis))
    if name in ("ptp", "amax"):
        with pytest.raises(ValueError):
            f(np.zeros((0, 3)), axis=0)
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for axis in (0, 1, None):
            assert_same(f(np.zeros((0, 3)), axis=axis), nf(np.zeros((0, 3)), axis=axis))


def test_var_std_ddof_and_integers():
    for ddof in (0, 1, 2):
        assert_same(fnp.var(X, axis=1, ddof=ddof), np.var(X, axis=1, ddof=ddof))
        assert_same(fnp.std(X, axis=0, ddof=ddof, keepdims=True), np.std(X, axis=0, ddof=ddof, keepdims=True))
    ints = np.arange(12).reshape(3, 4)
    assert_same(fnp.var(ints), np.var(ints))
    assert_same(fnp.std(ints, axis=1, ddof=1), np.std(ints, axis=1, ddof=1))
    assert_same(fnp.var(X, axis=0, correction=1), np.var(X, axis=0, correction=1))


def test_nan_functions_skip_nans():
    x = X.copy()
    x[0, 1] = x[2, 3] = np.nan
    x[1, :] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for f, nf in [(fnp.nansum, np.nansum), (fnp.nanmean, np.nanmean), (fnp.nanmax, np.nanmax),
                      (fnp.nanmin, np.nanmin), (fnp.nanvar, np.nanvar), (fnp.nanprod, np.nanprod)]:
            for axis in (None, 0, 1):
                assert_same(f(x, axis=axis), nf(x, axis=axis))
    # NaN entries get derivative 0 (the derivative of nansum in its argument).
    np.testing.assert_array_equal(fa.grad(fnp.nansum)(x), np.where(np.isnan(x), 0.0, 1.0))
    check_grads(lambda y: fnp.nanmean(fnp.where(np.isnan(x), np.nan, y), axis=0), (X,), order=2)


@pytest.mark.parametrize("weights", [None, "full", "1d"])
def test_average(weights):
    w = {None: None, "full": rng.uniform(0.5, 2, X.shape), "1d": rng.uniform(0.5, 2, 4)}[weights]
    for axis in ((None, 1, -1) if weights != "1d" else (1, -1)):
        assert_same(fnp.average(X, axis=axis, weights=w), np.average(X, axis=axis, weights=w))
        a, s = fnp.average(X, axis=axis, weights=w, returned=True)
        ea, es = np.average(X, axis=axis, weights=w, returned=True)
        assert_same(a, ea)
        assert_same(s, es)
    assert_same(fnp.average(X, axis=1, weights=w, keepdims=True), np.average(X, axis=1, weights=w, keepdims=True))
    if w is not None:
        check_grads(lambda x, w: fnp.average(x, axis=1, weights=w), (X, w), order=2)
        with pytest.raises(ZeroDivisionError):
            fnp.average(X, axis=1, weights=np.zeros_like(w))


@pytest.mark.parametrize("fn", ["var", "std", "median", "ptp", "nansum", "nanmean", "amax", "amin"])
@pytest.mark.parametrize("axis,keepdims", [(None, False), (0, True), (-1, False), ((0, 2), False)])
def test_reduction_derivatives(fn, axis, keepdims):
    f = getattr(fnp, fn)
    kw = {"ddof": 1} if fn in ("var", "std") else {}
    check_grads(lambda x: f(x, axis=axis, keepdims=keepdims, **kw), (X3,), order=2)


def test_subgradients_at_ties_are_pinned():
    # max/min: ties share the derivative equally (documented in fnp.max).
    x = np.array([1.0, 3.0, 3.0, 2.0])
    np.testing.assert_allclose(fa.grad(fnp.max)(x), [0, 0.5, 0.5, 0])
    np.testing.assert_allclose(fa.grad(fnp.ptp)(np.array([1.0, 1.0, 3.0])), [-0.5, -0.5, 1.0])
    # sort: each sorted position takes the derivative of the element a stable sort puts there.
    w = np.array([10.0, 20.0, 30.0, 40.0])
    g = fa.grad(lambda x: fnp.sum(fnp.sort(x) * w))(np.array([2.0, 1.0, 2.0, 0.0]))
    np.testing.assert_allclose(g, [30.0, 20.0, 40.0, 10.0])
    # median of an even count with the middle pair tied: half to each of the two middles.
    np.testing.assert_allclose(fa.grad(fnp.median)(np.array([1.0, 2.0, 2.0, 5.0])), [0, 0.5, 0.5, 0])
    # abs at 0 (and fabs): sign(0) = 0.
    assert float(fa.grad(fnp.abs)(0.0)) == 0.0
    assert float(fa.grad(fnp.fabs)(0.0)) == 0.0
    # std of a constant slice: 0 (a subgradient), not nan.
    np.testing.assert_array_equal(fa.grad(lambda x: fnp.std(x))(np.ones(3)), np.zeros(3))


# --------------------------------------------------------------------------------------
# Scans


@pytest.mark.parametrize("fn", ["cumsum", "cumprod"])
@pytest.mark.parametrize("axis", [None, 0, 1, -1])
def test_scan_values_and_derivatives(fn, axis):
    f, nf = getattr(fnp, fn), getattr(np, fn)
    assert_same(f(X3, axis=axis), nf(X3, axis=axis))
    assert_same(f(np.arange(6).reshape(2, 3), axis=axis), nf(np.arange(6).reshape(2, 3), axis=axis))
    assert_same(f(np.ones((2, 3), bool), axis=axis), nf(np.ones((2, 3), bool), axis=axis))
    assert_same(f(np.zeros((0, 3)), axis=axis), nf(np.zeros((0, 3)), axis=axis))
    check_grads(lambda x: f(x, axis=axis), (X3,), order=2)


def test_scan_edge_cases():
    assert_same(fnp.cumsum(2.5), np.cumsum(2.5))
    assert_same(fnp.cumsum(X, axis=0, dtype=np.float32), np.cumsum(X, axis=0, dtype=np.float32), rtol=1e-6)
    assert_same(fnp.cumulative_sum(X[0], include_initial=True), np.cumulative_sum(X[0], include_initial=True))
    assert_same(fnp.cumulative_prod(X, axis=1), np.cumulative_prod(X, axis=1))
    with pytest.raises(np.exceptions.AxisError):
        fnp.cumsum(X, axis=2)


def test_cumprod_and_prod_derivatives_exact_at_zeros():
    x = np.array([2.0, 0.0, 3.0, 0.0, 5.0])
    # prod with two zeros: every first derivative is 0, the Hessian is not.
    np.testing.assert_array_equal(fa.grad(fnp.prod)(x), np.zeros(5))
    h = fa.hessian(fnp.prod)(x)
    expected = np.zeros((5, 5))
    expected[1, 3] = expected[3, 1] = 2.0 * 3.0 * 5.0
    np.testing.assert_array_equal(h, expected)
    x1 = np.array([2.0, 0.0, 3.0, 4.0])
    np.testing.assert_array_equal(fa.grad(fnp.prod)(x1), [0.0, 24.0, 0.0, 0.0])
    jac = fa.jacfwd(fnp.cumprod)(x1)
    expected = np.array([[1, 0, 0, 0], [0, 2, 0, 0], [0, 6, 0, 0], [0, 24, 0, 0]], float)
    np.testing.assert_array_equal(jac, expected)
    np.testing.assert_array_equal(fa.jacrev(fnp.cumprod)(x1), expected)
    check_grads(lambda x: fnp.prod(x, axis=(0, 2)), (X3,), order=3)
    check_grads(lambda x: fnp.cumprod(x, axis=0), (np.array([[1.0, 0.0], [0.0, 2.0], [3.0, 4.0]]),), order=3)


def test_prod_derivative_memory_is_linear():
    # The O(n^2) leave-one-out construction is gone: a 20000-element product differentiates.
    x = np.linspace(0.999, 1.001, 20000)
    g = fa.grad(fnp.prod)(x)
    np.testing.assert_allclose(g, np.prod(x) / x, rtol=1e-10)


@pytest.mark.parametrize("n", [0, 1, 2, 3])
@pytest.mark.parametrize("axis", [0, -1])
def test_diff(n, axis):
    assert_same(fnp.diff(X, n=n, axis=axis), np.diff(X, n=n, axis=axis))
    assert_same(fnp.diff(X, n=n, axis=axis, prepend=0.5, append=X[:1] if axis == 0 else X[:, :1]),
                np.diff(X, n=n, axis=axis, prepend=0.5, append=X[:1] if axis == 0 else X[:, :1]))
    assert_same(fnp.diff(np.array([True, False, False, True]), n=n), np.diff(np.array([True, False, False, True]), n=n))
    if n:
        check_grads(lambda x: fnp.diff(x, n=n, axis=axis), (X,), order=2)
    assert_same(fnp.diff(X, n=6), np.diff(X, n=6))


# --------------------------------------------------------------------------------------
# any/all, argmax/argmin, sort/argsort, quantile


@pytest.mark.parametrize("fn", ["any", "all", "count_nonzero"])
def test_any_all(fn):
    f, nf = getattr(fnp, fn), getattr(np, fn)
    x = np.array([[0.0, 1.0, np.nan], [0.0, 0.0, 0.0]])
    for axis in (None, 0, -1):
        assert_same(f(x, axis=axis), nf(x, axis=axis))
        assert_same(f(x > 0, axis=axis, keepdims=True), nf(x > 0, axis=axis, keepdims=True))
    assert_same(f(np.zeros((0, 2))), nf(np.zeros((0, 2))))
    assert_same(f(np.zeros((0, 2)), axis=0), nf(np.zeros((0, 2)), axis=0))


@pytest.mark.parametrize("fn", ["argmax", "argmin"])
def test_argmax_argmin(fn):
    f, nf = getattr(fnp, fn), getattr(np, fn)
    x = np.array([[1.0, 3.0, 3.0], [np.nan, 0.0, np.nan], [2.0, 2.0, -1.0]])
    for axis in (None, 0, 1, -1):
        for keepdims in (False, True):
            assert_same(f(x, axis=axis, keepdims=keepdims), nf(x, axis=axis, keepdims=keepdims))
    assert_same(f(np.arange(5)[::-1]), nf(np.arange(5)[::-1]))
    assert_same(f(3.0), nf(3.0))
    with pytest.raises(ValueError):
        f(np.zeros(0))
    # No derivative flows through an index, but using one inside grad works.
    g = fa.grad(lambda x: x[f(x)] * 2.0)(np.array([1.0, 5.0, -2.0]))
    assert_same(g, np.eye(3)[nf(np.array([1.0, 5.0, -2.0]))] * 2.0)


@pytest.mark.parametrize("axis", [None, 0, 1, -1])
def test_sort_argsort(axis):
    x = X3.copy()
    x[0, 1, 2] = np.nan
    x[1, 0, :2] = 7.0
    assert_same(fnp.sort(x, axis=axis), np.sort(x, axis=axis))
    assert_same(fnp.argsort(x, axis=axis), np.argsort(x, axis=axis, kind="stable"))
    assert_same(fnp.sort(np.zeros((0, 2)), axis=axis), np.sort(np.zeros((0, 2)), axis=axis))
    check_grads(lambda x: fnp.sort(x, axis=axis), (X3,), order=2)
    with pytest.raises(np.exceptions.AxisError):
        fnp.sort(1.0)


@pytest.mark.parametrize("method", ["linear", "lower", "higher", "nearest", "midpoint"])
@pytest.mark.parametrize("q", [0.0, 0.3, 0.5, 1.0, [0.1, 0.9], [[0.25], [0.75]]])
@pytest.mark.parametrize("axis,keepdims", [(None, False), (1, False), (-1, True), ((0, 2), True)])
def test_quantile_values(method, q, axis, keepdims):
    assert_same(fnp.quantile(X3, q, axis=axis, method=method, keepdims=keepdims),
                np.quantile(X3, q, axis=axis, method=method, keepdims=keepdims))


def test_quantile_percentile_edge_cases_and_derivatives():
    assert_same(fnp.percentile(X, [10, 50], axis=0), np.percentile(X, [10, 50], axis=0))
    x = X.copy()
    x[1, 2] = np.nan
    assert_same(fnp.quantile(x, 0.3, axis=1), np.quantile(x, 0.3, axis=1))
    assert_same(fnp.median(x, axis=1), np.median(x, axis=1))
    assert_same(fnp.median(np.arange(7)), np.median(np.arange(7)))
    with pytest.raises(IndexError):
        np.quantile(np.zeros((0, 3)), 0.5, axis=0)
    with pytest.raises(IndexError):
        fnp.quantile(np.zeros((0, 3)), 0.5, axis=0)
    with pytest.raises(ValueError):
        fnp.quantile(X, 1.5)
    check_grads(lambda x: fnp.quantile(x, np.array([0.1, 0.5, 0.8]), axis=1), (X,), order=2)
    check_grads(lambda q: fnp.quantile(X, q, axis=0), (np.array([0.15, 0.6]),), order=2)
    check_grads(lambda x: fnp.median(x, axis=0, keepdims=True), (X,), order=2)


def test_vmap_of_new_primitives():
    check_vmap(lambda x: fnp.sort(x, axis=0), (X3,), in_axes=1)
    check_vmap(lambda x: fnp.argsort(x), (X3,), in_axes=2)
    check_vmap(lambda x: fnp.argmax(x, axis=0), (X3,), in_axes=1)
    check_vmap(lambda x: fnp.cumsum(x, axis=1), (X3,), in_axes=0)
    check_vmap(lambda x: fnp.cumprod(x, axis=0), (X3,), in_axes=2)
    check_vmap(fa.grad(lambda x: fnp.prod(fnp.cumprod(x))), (X,), in_axes=0)
    check_vmap(fa.grad(lambda x: fnp.sum(fnp.sort(x) ** 3)), (X,), in_axes=1)
