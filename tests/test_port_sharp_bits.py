"""Ported code's sharp bits (issue 17, second round): in-place updates that mean the same
eagerly and under jit, NumPy scalar conversions of traced values, grad's allow_int and
reduce_axes, NaN-aware quantiles and JAX's functional put/fill_diagonal/place."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import funcad as fa
import funcad.numpy as fnp
from funcad.errors import ArgumentError, ConcretizationError, TracerArrayConversionError
from funcad.test_util import check_grads

# --------------------------------------------------------------------------------------
# y[i] = v on an array the function made: NumPy's update, eagerly and under jit alike


def _fill(x):
    y = fnp.zeros(3)
    y[0] = 1.0
    y[1:] = fnp.arange(2.0)
    alias = y  # the same array: sees every update, as in NumPy
    y[2] += 5.0
    kept = y.copy()  # a copy does not
    y[0] = 4.0
    return fnp.sum(y * x) + alias[0] + kept[0]


def test_setitem_on_a_made_array_is_the_same_eagerly_and_under_jit():
    expected = (4 * 2.0 + 0 + 6 * 2.0) + 4.0 + 1.0
    assert _fill(2.0) == pytest.approx(expected)
    assert fa.jit(_fill)(2.0) == pytest.approx(expected)
    assert fa.grad(_fill)(2.0) == pytest.approx(10.0)
    assert fa.jit(fa.grad(_fill))(2.0) == pytest.approx(10.0)
    assert fa.grad(fa.jit(_fill))(2.0) == pytest.approx(10.0)
    xs = np.array([1.0, 2.0, 3.0])
    np.testing.assert_allclose(fa.vmap(fa.jit(_fill))(xs), [_fill(x) for x in xs])
    np.testing.assert_allclose(fa.jit(fa.vmap(_fill))(xs), [_fill(x) for x in xs])


def test_copies_do_not_see_a_later_update_eagerly_or_under_jit():
    def f(s):
        y = fnp.zeros(2)
        copies = [fnp.copy(y), y.copy(), fnp.array(y), fnp.positive(y)]
        same = fnp.astype(y, np.float64)  # JAX's astype (copy=False): y itself, in both modes
        y[0] = 1.0
        return fnp.stack(copies + [y, same]) * s

    want = np.array([[0.0, 0.0]] * 4 + [[1.0, 0.0]] * 2)
    np.testing.assert_array_equal(f(1.0), want)
    np.testing.assert_array_equal(fa.jit(f)(1.0), want)


def test_setitem_refused_under_jit_where_numpy_would_differ():
    def view_then_update(x):
        y = fnp.zeros(3)
        v = y[:2]  # a view in NumPy: it would see the update below
        y[0] = 1.0
        return v * x

    np.testing.assert_allclose(view_then_update(1.0), [1.0, 0.0])  # eager: NumPy's view
    with pytest.raises(ConcretizationError, match=r"y = y.at\[0\].set"):
        fa.jit(view_then_update)(1.0)
    with pytest.raises(ConcretizationError, match="at"):  # a traced value into it
        fa.jit(lambda x: fnp.zeros(2).__setitem__(0, x))(1.0)
    with pytest.raises(ConcretizationError, match="at"):  # an array computed from x
        fa.jit(lambda x: (x * fnp.ones(2)).__setitem__(0, 1.0))(1.0)
    with pytest.raises(ConcretizationError):  # the same under eager grad
        fa.grad(lambda x: fnp.sum((x * fnp.ones(2)).__setitem__(0, 1.0)))(1.0)


# --------------------------------------------------------------------------------------
# np.float64(tracer): a ConcretizationError naming the argument


@pytest.mark.parametrize("transform", ["grad", "jit", "vmap", "jit_grad"])
def test_numpy_scalar_conversion_of_a_traced_value_names_the_argument(transform):
    def f(weight):
        return np.float64(weight) * weight

    tr = {"grad": fa.grad, "jit": fa.jit, "vmap": fa.vmap,
          "jit_grad": lambda g: fa.jit(fa.grad(g))}[transform]
    arg = np.ones(2) if transform == "vmap" else 3.0
    with pytest.raises(ConcretizationError, match=r"np.float64\(x\)") as info:
        tr(f)(arg)
    assert isinstance(info.value, TracerArrayConversionError)
    if transform != "vmap":
        assert "weight" in str(info.value)


# --------------------------------------------------------------------------------------
# allow_int and reduce_axes, as JAX 0.10.2


def test_allow_int_holds_integer_inputs_fixed():
    def f(x, n):
        return x ** 2 * n

    with pytest.raises(TypeError, match="integer"):
        fa.grad(f, argnums=(0, 1))(3.0, 2)
    gx, gn = fa.grad(f, argnums=(0, 1), allow_int=True)(3.0, 2)
    assert gx == 12.0 and gn == 0 and gn.dtype == np.int64
    v, (gx, gn) = fa.value_and_grad(f, argnums=(0, 1), allow_int=True)(3.0, 2)
    assert v == 18.0 and gx == 12.0
    g = fa.jit(fa.grad(lambda d: d["x"] ** 2 * d["n"], allow_int=True))({"x": 3.0, "n": 2})
    assert g["x"] == 12.0 and g["n"] == 0
    xs, ns = np.array([1.0, 2.0]), np.array([1, 3])
    gx, gn = fa.vmap(fa.grad(f, argnums=(0, 1), allow_int=True))(xs, ns)
    np.testing.assert_allclose(gx, [fa.grad(f)(x, n) for x, n in zip(xs, ns)])
    np.testing.assert_array_equal(gn, [0, 0])
    jx, jn = fa.jacrev(lambda x, n: x * n, argnums=(0, 1), allow_int=True)(np.ones(2), np.arange(2))
    np.testing.assert_allclose(jx, np.diag([0.0, 1.0]))
    assert jn.shape == (2, 2) and not jn.any()
    check_grads(lambda x: fa.grad(f, allow_int=True)(x, 3), (1.5,), order=1)


def test_reduce_axes_accepted_empty_as_in_jax():
    assert fa.grad(lambda x: x ** 2, reduce_axes=())(3.0) == 6.0
    assert fa.vjp(lambda x: x ** 2, 3.0, reduce_axes=())[1](1.0)[0] == 6.0
    for make in (lambda: fa.grad(lambda x: x, reduce_axes=("i",)),
                 lambda: fa.value_and_grad(lambda x: x, reduce_axes=("i",)),
                 lambda: fa.vjp(lambda x: x, 1.0, reduce_axes=("i",))):
        with pytest.raises(ArgumentError, match="reduce_axes"):
            make()


# --------------------------------------------------------------------------------------
# nanmedian, nanquantile, nanpercentile


DATA = np.array([[1.0, np.nan, 3.0, 7.0], [4.0, 5.0, 6.0, np.nan], [np.nan] * 4])


@pytest.mark.parametrize("method", ["linear", "lower", "higher", "nearest", "midpoint"])
def test_nanquantile_matches_numpy(method):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # NumPy's all-NaN slice warning
        for axis in (None, 0, 1, (0, 1)):
            for q in (0.3, np.array([0.0, 0.5, 1.0]), np.array([[0.2], [0.9]])):
                for keepdims in (False, True):
                    got = fnp.nanquantile(DATA, q, axis=axis, method=method, keepdims=keepdims)
                    want = np.nanquantile(DATA, q, axis=axis, method=method, keepdims=keepdims)
                    assert got.shape == want.shape
                    np.testing.assert_allclose(got, want, equal_nan=True)
        np.testing.assert_allclose(fnp.nanpercentile(DATA, 40.0, axis=0, method=method),
                                   np.nanpercentile(DATA, 40.0, axis=0, method=method), equal_nan=True)
        np.testing.assert_allclose(fnp.nanmedian(DATA, axis=1), np.nanmedian(DATA, axis=1), equal_nan=True)
        np.testing.assert_allclose(fnp.nanmedian(DATA[:2]), np.nanmedian(DATA[:2]))


def test_nanquantile_derivatives_jit_and_vmap():
    x = np.array([1.0, np.nan, 3.0, 4.0, 0.5])
    np.testing.assert_allclose(fa.grad(fnp.nanmedian)(x), [0.5, 0, 0.5, 0, 0])  # (1 + 3) / 2
    finite = np.array([1.0, 3.0, 4.0, 0.5, 2.5])
    check_grads(lambda a: fnp.nanquantile(a, 0.3), (finite,), order=2)
    check_grads(lambda q: fnp.nanquantile(x, q), (0.3,), order=1)
    f = lambda a: fnp.nanpercentile(a, np.array([25.0, 60.0]), axis=1)  # noqa: E731
    np.testing.assert_allclose(fa.jit(f)(DATA[:2]), f(DATA[:2]))
    np.testing.assert_allclose(fa.vmap(fnp.nanmedian)(DATA[:2]), [fnp.nanmedian(r) for r in DATA[:2]])


# --------------------------------------------------------------------------------------
# put, fill_diagonal, place: JAX's signatures


def test_put_fill_diagonal_place_match_numpy():
    for mode in ("wrap", "clip"):
        want = np.zeros(5)
        np.put(want, [0, 7, -1], [1.0, 2.0], mode=mode)
        got = fnp.put(fnp.zeros(5), np.array([0, 7, -1]), np.array([1.0, 2.0]), mode=mode, inplace=False)
        np.testing.assert_array_equal(got, want)
    with pytest.raises(IndexError, match="out of bounds"):
        fnp.put(fnp.zeros(5), np.array([7]), 1.0, inplace=False)
    for shape, wrap in (((3, 3), False), ((7, 3), True), ((7, 3), False), ((2, 4), False),
                        ((3, 3, 3), False)):
        want = np.zeros(shape)
        np.fill_diagonal(want, [1.0, 2.0], wrap=wrap)
        np.testing.assert_array_equal(
            fnp.fill_diagonal(fnp.zeros(shape), np.array([1.0, 2.0]), wrap=wrap, inplace=False), want)
    want = np.zeros(6)
    np.place(want, np.arange(6) % 2 == 0, [1.0, 2.0])
    np.testing.assert_array_equal(
        fnp.place(np.zeros(6), np.arange(6) % 2 == 0, np.array([1.0, 2.0]), inplace=False), want)


def test_put_fill_diagonal_place_in_place_as_numpy_on_concrete_arrays():
    a = np.zeros(4)
    assert fnp.put(a, [1, 3], 2.0) is None
    np.testing.assert_array_equal(a, [0, 2, 0, 2])
    m = np.zeros((2, 2))
    assert fnp.fill_diagonal(m, 3.0) is None
    np.testing.assert_array_equal(m, 3 * np.eye(2))

    def made_inside(x):
        y = fnp.zeros((3, 3))
        fnp.fill_diagonal(y, 2.0)
        return y * x

    np.testing.assert_allclose(fa.jit(made_inside)(1.5), made_inside(1.5))
    with pytest.raises(ConcretizationError, match="inplace=False"):
        fa.jit(lambda x: fnp.fill_diagonal(x, 2.0))(np.ones((2, 2)))
    with pytest.raises(ConcretizationError, match="inplace=False"):
        fa.grad(lambda x: fnp.sum(fnp.put(fnp.zeros(3), np.array([0]), x)))(1.0)


def test_put_fill_diagonal_place_derivatives_jit_vmap():
    def f(x, v):
        y = fnp.put(x, np.array([0, 2]), v, inplace=False)
        y = fnp.fill_diagonal(fnp.reshape(y, (2, 2)), v[0] * 3.0, inplace=False)
        return fnp.place(y, y > 0.5, v * 2.0, inplace=False)

    x, v = np.array([0.3, 0.9, 0.1, 0.7]), np.array([1.5, -0.25])
    check_grads(f, (x, v), order=2)
    np.testing.assert_allclose(fa.jit(f)(x, v), f(x, v))
    xs = np.stack([x, x + 1.0, x - 1.0])
    np.testing.assert_allclose(fa.vmap(f, (0, None))(xs, v), [f(r, v) for r in xs])


# --------------------------------------------------------------------------------------
# jit of odeint's adjoint gradient


def test_jit_of_odeint_adjoint_gradient_equals_eager():
    from funcad.scipy.integrate import odeint

    def dynamics(y, t, a):
        return -a * y + fnp.sin(t)

    def loss(y0, a):
        return fnp.sum(odeint(dynamics, y0, fnp.linspace(0.0, 2.0, 5), a) ** 2)

    y0, a = np.array([1.0, 0.5]), 0.7
    eager = fa.grad(loss, (0, 1))(y0, a)
    jitted = fa.jit(fa.grad(loss, (0, 1)))(y0, a)
    np.testing.assert_allclose(jitted[0], eager[0], rtol=1e-10)
    np.testing.assert_allclose(jitted[1], eager[1], rtol=1e-10)


@pytest.mark.parametrize("module", ["funcad.numpy._ports", "funcad.autograd.scipy.signal"])
def test_docstring_examples_of_the_new_modules(module):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
