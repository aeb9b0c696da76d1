"""funcad.numpy beyond the core (issue 17): ndarray methods of traced values, dtype utilities,
comparisons, searching and sets (with JAX's size=), convolutions, polynomials, cov/corrcoef,
gradient, block/r_/c_, reductions with where=/initial=, clip(min=, max=). Values against
NumPy, derivatives by check_grads, jit against eager, vmap against a loop."""

import numpy as np
import pytest

import funcad as fa
import funcad.numpy as fnp
from funcad.errors import ConcretizationError, UnsupportedFunctionError
from funcad.test_util import check_grads, check_vmap

rng = np.random.default_rng(17)
X = rng.standard_normal((3, 4))
V = rng.standard_normal(5)


def same(a, b, rtol=1e-12):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape, (a.shape, b.shape)
    if b.dtype.kind in "biu":
        np.testing.assert_array_equal(a, b)
    else:
        np.testing.assert_allclose(a, b, rtol=rtol, atol=1e-13)


# --------------------------------------------------------------------------------------
# ndarray methods on traced values

METHOD_CASES = [
    ("std", (), {}),
    ("var", (), {"ddof": 1}),
    ("std", (0,), {}),
    ("argmax", (), {}),
    ("argmin", (1,), {}),
    ("cumsum", (), {}),
    ("cumsum", (1,), {}),
    ("cumprod", (0,), {}),
    ("round", (1,), {}),
    ("any", (), {}),
    ("all", (0,), {}),
    ("copy", (), {}),
    ("argsort", (), {}),
    ("trace", (), {}),
    ("diagonal", (1,), {}),
    ("repeat", (2,), {"axis": 0}),
    ("take", ([0, 2],), {"axis": 1}),
    ("conj", (), {}),
    ("clip", (-0.5, 0.5), {}),
    ("prod", (1,), {}),
    ("flatten", (), {}),
    ("ravel", (), {}),
    ("mean", (0,), {}),
    ("sum", (), {"axis": 1, "keepdims": True}),
    ("max", (0,), {}),
    ("min", (), {}),
    ("swapaxes", (0, 1), {}),
    ("reshape", (4, 3), {}),
    ("transpose", (), {}),
    ("astype", (np.float32,), {}),
    ("squeeze", (), {}),
]


@pytest.mark.parametrize(
    "name,args,kwargs", METHOD_CASES, ids=[c[0] + str(i) for i, c in enumerate(METHOD_CASES)]
)
def test_methods_of_traced_values_match_numpy(name, args, kwargs):
    expected = getattr(X.copy(), name)(*args, **kwargs)
    f = lambda x: getattr(x, name)(*args, **kwargs)  # noqa: E731
    out = fa.vmap(f)(np.stack([X, 2 * X]))
    same(out[1], getattr(2 * X, name)(*args, **kwargs), rtol=1e-6 if name == "astype" else 1e-12)
    if np.asarray(expected).dtype.kind == "f" and name not in ("round", "astype"):
        check_grads(lambda x: fnp.sum(fnp.sin(f(x))), (X,), order=1)


def test_methods_under_jit_in_one_program():
    cases = [(name, args, kwargs) for name, args, kwargs in METHOD_CASES if name != "astype"]
    out = fa.jit(lambda x: [getattr(x, name)(*args, **kwargs) for name, args, kwargs in cases])(X)
    for got, (name, args, kwargs) in zip(out, cases):
        same(got, getattr(X.copy(), name)(*args, **kwargs))


def test_sort_method_returns_a_sorted_copy_and_attributes():
    same(fa.vmap(lambda x: x.sort(axis=0))(X[None]), np.sort(X, axis=0)[None])
    same(fa.vmap(lambda x: x.dot(x.T))(X[None]), (X @ X.T)[None])

    def attrs(x):
        assert (x.ndim, x.size, x.shape, x.dtype, x.itemsize, x.nbytes) == (2, 12, (3, 4), np.float64, 8, 96)
        return x.real + x.imag + x.T.T

    same(fa.jit(lambda x: (attrs(x), x.ptp(1)))(X)[0], 2 * X)
    same(fa.vmap(lambda x: x.ptp(1))(X[None])[0], np.ptp(X, 1))
    g = fa.grad(lambda x: x.real.sum() + x.imag.sum())(X)
    same(g, np.ones_like(X))
    with pytest.raises(ConcretizationError):
        fa.jit(lambda x: x.sum().item())(X)
    with pytest.raises(ConcretizationError):
        fa.jit(lambda x: x.tolist())(X)


def test_methods_derivatives_by_finite_differences():
    check_grads(lambda x: x.std(axis=1) + x.var(axis=1) + x.cumsum(axis=1).sum(1), (X,), order=2)
    check_grads(lambda x: x.clip(min=-0.3, max=0.4).sum() + x.prod() + x.trace(), (X,), order=1)
    check_grads(
        lambda x: (
            x.take([2, 0, 1], axis=1).dot(np.arange(3.0)).sum() + x.diagonal(1).sum() + x.repeat(2).sum()
        ),
        (X,),
        order=2,
    )


# --------------------------------------------------------------------------------------
# Reductions with where= and initial=, clip(min=, max=)


@pytest.mark.parametrize("axis", [None, 0, 1])
def test_reductions_with_where_and_initial_match_numpy(axis):
    mask = np.ones(X.shape, bool)
    mask[[0, 1, 2, 2], [1, 3, 0, 3]] = False
    for name in ("sum", "prod"):
        same(
            getattr(fnp, name)(X, axis=axis, where=mask, initial=2.0),
            getattr(np, name)(X, axis=axis, where=mask, initial=2.0),
        )
        same(getattr(fnp, name)(X, axis=axis, where=mask), getattr(np, name)(X, axis=axis, where=mask))
    for name in ("max", "min"):
        same(
            getattr(fnp, name)(X, axis=axis, where=mask, initial=0.1),
            getattr(np, name)(X, axis=axis, where=mask, initial=0.1),
        )
        same(
            getattr(fnp, name)(X, axis=axis, initial=0.1, keepdims=True),
            getattr(np, name)(X, axis=axis, initial=0.1, keepdims=True),
        )
    same(fnp.mean(X, axis=axis, where=mask), np.mean(X, axis=axis, where=mask))
    f = lambda x: fnp.sum(x, axis=axis, where=x > -0.3, initial=1.0)  # noqa: E731
    if axis == 0:
        same(fa.jit(f)(X), f(X))
    check_vmap(lambda x: fnp.max(x, axis=0, where=x > 0, initial=-1.0), (np.stack([X, -X]),))
    check_grads(
        lambda x: (
            fnp.sum(fnp.mean(x, axis=axis, where=mask) ** 2)
            + fnp.sum(fnp.max(x, axis=axis, where=mask, initial=-5.0))
        ),
        (X,),
        order=2,
    )
    same(fnp.max(np.zeros((0, 3)), axis=0, initial=1.5), np.max(np.zeros((0, 3)), axis=0, initial=1.5))


def test_where_without_initial_on_max_is_numpys_error_and_out_is_refused():
    with pytest.raises(ValueError, match="initial"):
        fnp.max(X, where=X > 0)
    with pytest.raises(TypeError, match="out="):
        fnp.sum(X, out=np.empty(()))


def test_clip_min_max_keywords():
    same(fnp.clip(X, min=-0.2, max=0.3), np.clip(X, -0.2, 0.3))
    same(fnp.clip(X, max=0.3), np.minimum(X, 0.3))
    same(fa.grad(lambda x: fnp.sum(fnp.clip(x, min=-0.2, max=0.3)))(X), ((X > -0.2) & (X < 0.3)) * 1.0)
    with pytest.raises(TypeError, match="not both"):
        fnp.clip(X, -1, min=0)


# --------------------------------------------------------------------------------------
# Dtype utilities pass through, on plain and traced values


def test_dtype_utilities():
    assert fnp.finfo(fnp.float32).eps == np.finfo(np.float32).eps
    assert fnp.iinfo(fnp.int32).max == 2**31 - 1
    assert fnp.promote_types(fnp.int32, fnp.float32) == np.float64
    assert fnp.issubdtype(fnp.float64, fnp.floating)
    assert fnp.result_type(np.float32, 1.0) == np.float32

    def f(x):
        assert fnp.result_type(x, np.float32) == np.float64
        assert fnp.finfo(x.dtype).bits == 64 and not fnp.iscomplexobj(x) and not fnp.isscalar(x)
        assert fnp.can_cast(x, np.float64)
        return x

    fa.jit(f)(X)
    fa.grad(lambda x: fnp.sum(f(x)))(X)


# --------------------------------------------------------------------------------------
# Elementwise and comparisons


def test_elementwise_extras_match_numpy():
    a = np.array([1.5, -2.0, np.nan, 0.0, -0.0, 7.0, -3.5])
    b = np.array([0.5, np.nan, 1.0, -1.0, 2.0, -2.0, 2.0])
    for name in ("fmax", "fmin", "copysign"):
        same(getattr(fnp, name)(a, b), getattr(np, name)(a, b))
    for name in ("floor_divide",):
        ok = ~np.isnan(a) & ~np.isnan(b)
        same(getattr(fnp, name)(a[ok], b[ok]), getattr(np, name)(a[ok], b[ok]))
    same(fnp.signbit(a), np.signbit(a))
    ia, ib = np.array([7, -7, 7, -7, 0, 5]), np.array([2, 2, -2, -2, 3, 0])
    with np.errstate(divide="ignore"):
        same(fnp.floor_divide(ia, ib), np.floor_divide(ia, ib))
        same(fnp.divmod(ia[:4], ib[:4])[0], np.divmod(ia[:4], ib[:4])[0])
    same(fnp.ldexp(np.array([1.5, 2.0]), np.array([2, -1])), np.ldexp([1.5, 2.0], [2, -1]))
    same(fnp.modf(np.array([1.5, -2.25]))[0], np.modf([1.5, -2.25])[0])
    same(fnp.float_power(np.array([2, 3]), 0.5), np.float_power([2, 3], 0.5))
    same(fnp.isposinf(np.array([np.inf, -np.inf])), [True, False])
    same(fnp.gcd(np.array([12, 18]), 8), np.gcd([12, 18], 8))
    check_grads(
        lambda x, y: fnp.fmax(x, y) + fnp.copysign(x, y) + fnp.modf(x)[0],
        (np.array([1.2, -0.7]), np.array([0.3, -2.0])),
        order=2,
    )


def test_nextafter_matches_numpy_traced_and_has_a_zero_derivative():
    x = np.array([1.0, -0.0, 0.0, np.inf, -np.inf, np.nan, 5e-324, 3.0])
    y = np.array([2.0, 1.0, -1.0, 0.0, np.inf, 1.0, 0.0, 3.0])
    for a, b in [(x, y), (x.astype(np.float32), y.astype(np.float32)), (x.astype(np.float32), 2.0),
                 (np.arange(3), 1.5)]:
        want = np.nextafter(a, b)
        for f in (fnp.nextafter, fa.jit(fnp.nextafter), fa.lax.nextafter):
            got = np.asarray(f(a, b))
            assert got.dtype == want.dtype and np.array_equal(got.view(np.uint8), want.view(np.uint8))
    same(fa.vmap(fnp.nextafter)(x, y), np.nextafter(x, y))
    same(fa.grad(lambda x: fnp.sum(fnp.nextafter(x, 2.0) * x))(np.array([1.0, 3.0])),
         np.nextafter([1.0, 3.0], 2.0))
    with pytest.raises(UnsupportedFunctionError, match="nextafter"):
        fnp.nextafter(np.array([1j]), 2.0)


def test_comparisons_match_numpy():
    a = np.array([1.0, np.inf, np.nan, 1e-9, -np.inf])
    b = np.array([1.0 + 1e-7, np.inf, np.nan, 0.0, np.inf])
    same(fnp.isclose(a, b), np.isclose(a, b))
    same(fnp.isclose(a, b, equal_nan=True), np.isclose(a, b, equal_nan=True))
    assert bool(fnp.allclose(X, X + 1e-10)) and not bool(fnp.allclose(X, X + 1e-3))
    assert bool(fnp.array_equal(X, X.copy())) and not bool(fnp.array_equal(X, X[:2]))
    assert bool(fnp.array_equiv(np.ones(3), np.ones((2, 3))))
    assert bool(fa.jit(lambda x: fnp.allclose(x, x * (1 + 1e-9)))(X))


# --------------------------------------------------------------------------------------
# Building arrays


def test_building_functions_match_numpy():
    same(fnp.append(X, V), np.append(X, V))
    same(fnp.append(X, X, axis=0), np.append(X, X, axis=0))
    conds = [X > 0.5, X < -0.5]
    same(fnp.select(conds, [X, 2 * X], -1.0), np.select(conds, [X, 2 * X], -1.0))
    blocks = [[np.eye(2), np.zeros((2, 3))], [np.ones((1, 2)), np.full((1, 3), 2.0)]]
    same(fnp.block(blocks), np.block(blocks))
    same(fnp.block([V, V]), np.block([V, V]))
    same(fnp.r_[V, 0.5, 1:4], np.r_[V, 0.5, 1:4])
    same(fnp.r_[0:1:5j], np.r_[0:1:5j])
    same(fnp.r_["0,2", V, V], np.r_["0,2", V, V])
    same(fnp.c_[V, V], np.c_[V, V])
    same(fnp.c_[X, X], np.c_[X, X])
    same(fnp.vander(V[:3]), np.vander(V[:3]))
    same(fnp.vander(V[:3], 4, increasing=True), np.vander(V[:3], 4, increasing=True))
    same(fnp.diagflat(V[:3], 1), np.diagflat(V[:3], 1))
    same(fnp.delete(X, [0, 2], axis=1), np.delete(X, [0, 2], axis=1))
    same(fnp.delete(V, 1), np.delete(V, 1))
    for obj, vals, axis in [
        (1, 9.0, None),
        ([0, 2], [7.0, 8.0], None),
        (1, 5.0, 1),
        (2, V[:3], 1),
        ([1, 3], [[1.0], [2.0], [3.0]], 1),
    ]:
        same(fnp.insert(X, obj, vals, axis), np.insert(X, obj, vals, axis))
    same(fnp.resize(V, (3, 3)), np.resize(V, (3, 3)))
    same(fnp.ediff1d(V, to_begin=0.0, to_end=[1.0, 2.0]), np.ediff1d(V, to_begin=0.0, to_end=[1.0, 2.0]))
    same(fnp.trim_zeros(np.array([0.0, 0, 1, 2, 0])), np.trim_zeros(np.array([0.0, 0, 1, 2, 0])))
    same(
        fnp.choose(np.array([0, 1, 2, 1]), [V[:4], 2 * V[:4], 3 * V[:4]]),
        np.choose([0, 1, 2, 1], [V[:4], 2 * V[:4], 3 * V[:4]]),
    )
    same(fnp.compress([True, False, True], X, axis=1), np.compress([True, False, True], X, axis=1))
    same(fnp.extract(X > 0, X), np.extract(X > 0, X))
    pw = lambda m: m.piecewise(V, [V < 0, V > 1], [lambda x: -x, lambda x: x**2, 0.5])  # noqa: E731
    same(pw(fnp), pw(np))
    for name in ("tril_indices_from", "triu_indices_from"):
        same(getattr(fnp, name)(X, 1)[1], getattr(np, name)(X, 1)[1])
    same(fnp.diag_indices_from(np.eye(3))[0], np.diag_indices_from(np.eye(3))[0])
    same(fnp.rollaxis(np.ones((2, 3, 4)), 2).shape, np.rollaxis(np.ones((2, 3, 4)), 2).shape)
    for fn in (fnp.triu_indices, fnp.tril_indices):
        same(fn(4, 1)[0], getattr(np, fn.__name__)(4, 1)[0])
    same(fnp.unstack(X, axis=1)[2], X[:, 2])
    # derivatives flow through the compositions
    check_grads(
        lambda x, v: (
            fnp.sum(fnp.block([[x, x[:, :1]], [v[None, :4], v[None, 4:]]]) ** 2)
            + fnp.sum(fnp.insert(x, 1, v[:3], axis=1) ** 3)
            + fnp.sum(fnp.r_[v, x[0]] ** 2)
            + fnp.sum(fnp.select([x > 0], [x**2], x))
        ),
        (X, V),
        order=2,
    )


# --------------------------------------------------------------------------------------
# Value-dependent shapes: concrete, or size= under jit and vmap


def test_unique_matches_numpy_and_is_traceable_with_size():
    a = np.array([3.0, 1.0, 3.0, np.nan, 2.0, 1.0, np.nan])
    same(fnp.unique(a), np.unique(a))
    kw = {"return_index": True, "return_inverse": True, "return_counts": True}
    for x, y in zip(fnp.unique(a, **kw), np.unique(a, **kw)):
        same(x, y)
    u = fa.jit(
        lambda x: fnp.unique(
            x, size=6, fill_value=-1.0, return_counts=True, return_index=True, return_inverse=True
        )
    )(a)
    vals, idx, inv, cnt = np.unique(a, return_index=True, return_inverse=True, return_counts=True)
    same(u[0], np.r_[vals, -1.0, -1.0])
    same(u[1], np.r_[idx, 0, 0])
    same(u[2], inv)
    same(u[3], np.r_[cnt, 0, 0])
    same(fa.vmap(lambda x: fnp.unique(x, size=2))(a[None])[0], vals[:2])
    m = np.array([[2.0, 1.0, 2.0], [5.0, 5.0, 4.0]])
    check_vmap(lambda x: fnp.unique(x, size=3), (m,))
    # the values are a gather: they carry the derivative (eagerly and with size=)
    g = fa.grad(lambda x: fnp.sum(fnp.unique(x) ** 2))(np.array([3.0, 1.0, 3.0]))
    same(g, [6.0, 2.0, 0.0])
    g = fa.grad(lambda x: fnp.sum(fnp.unique(x, size=2) ** 2))
    same(g(np.array([3.0, 1.0, 3.0])), [6.0, 2.0, 0.0])
    same(fa.vmap(g)(np.array([[3.0, 1.0, 3.0]]))[0], [6.0, 2.0, 0.0])  # the traced path
    same(fnp.unique(np.array([[1, 2], [1, 2], [0, 1]]), axis=0), np.unique([[1, 2], [1, 2], [0, 1]], axis=0))
    with pytest.raises(ConcretizationError, match="size="):
        fa.jit(fnp.unique)(a)
    same(fnp.unique_counts(a).counts, np.unique_counts(a).counts)
    same(fnp.unique_all(a).indices, np.unique_all(a).indices)
    same(fnp.union1d(V[:2], V[1:3]), np.union1d(V[:2], V[1:3]))
    same(fnp.intersect1d([1, 2, 3], [2, 3, 4]), np.intersect1d([1, 2, 3], [2, 3, 4]))
    same(fnp.setdiff1d([1, 2, 3], [2]), np.setdiff1d([1, 2, 3], [2]))


def test_nonzero_argwhere_flatnonzero_with_size():
    m = np.array([[0.0, 1.5, 0.0], [2.0, 0.0, 3.0]])
    for got, want in zip(fnp.nonzero(m), np.nonzero(m)):
        same(got, want)
    out = fa.jit(lambda x: fnp.nonzero(x, size=4, fill_value=-1))(m)
    same(out[0], np.r_[np.nonzero(m)[0], -1])
    same(out[1], np.r_[np.nonzero(m)[1], -1])
    same(fa.jit(lambda x: fnp.argwhere(x, size=2))(m), np.argwhere(m)[:2])
    same(fnp.argwhere(m), np.argwhere(m))
    same(fa.vmap(lambda x: fnp.flatnonzero(x, size=3))(m[None])[0], np.flatnonzero(m))
    same(fa.vmap(lambda x: fnp.where(x > 1.0, size=2)[1])(m[None])[0], np.nonzero(m > 1.0)[1][:2])
    check_vmap(lambda x: fnp.flatnonzero(x, size=2), (m,))
    for f in (fnp.nonzero, fnp.argwhere, fnp.flatnonzero, lambda x: fnp.where(x)):
        with pytest.raises(ConcretizationError, match="size="):
            fa.jit(f)(m)


def test_searchsorted_digitize_bincount_isin():
    a = np.sort(rng.standard_normal(8))
    v = np.r_[rng.standard_normal(5), a[2], a[5], np.inf, -np.inf, np.nan]
    for side in ("left", "right"):
        same(fnp.searchsorted(a, v, side=side), np.searchsorted(a, v, side=side))
        same(
            fa.vmap(lambda v: fnp.searchsorted(a, v, side=side))(v[None])[0], np.searchsorted(a, v, side=side)
        )
    perm = rng.permutation(8)
    same(
        fnp.searchsorted(a[perm], v, sorter=np.argsort(a[perm])),
        np.searchsorted(a[perm], v, sorter=np.argsort(a[perm])),
    )
    check_vmap(
        lambda a, v: fnp.searchsorted(a, v),
        (np.sort(rng.standard_normal((3, 6))), rng.standard_normal((3, 4))),
    )
    bins = np.array([-1.0, 0.0, 0.5, 2.0])
    for right in (False, True):
        same(fnp.digitize(v[:-1], bins, right), np.digitize(v[:-1], bins, right))
        same(fnp.digitize(v[:-1], bins[::-1], right), np.digitize(v[:-1], bins[::-1], right))
    x = np.array([0, 1, 1, 3, 2, 1, 7])
    w = rng.standard_normal(7)
    same(fnp.bincount(x), np.bincount(x))
    same(fnp.bincount(x, w, minlength=10), np.bincount(x, w, minlength=10))
    same(fa.jit(lambda x, w: fnp.bincount(x, w, length=8))(x, w), np.bincount(x, w))
    same(fa.grad(lambda w: fnp.bincount(x, w)[1])(w), (x == 1) * 1.0)
    with pytest.raises(ConcretizationError, match="length="):
        fa.jit(fnp.bincount)(x)
    same(fnp.isin(x, [1, 7]), np.isin(x, [1, 7]))
    same(fnp.isin(x, [1, 7], invert=True), np.isin(x, [1, 7], invert=True))
    keys = (np.array([1, 0, 1, 0]), np.array([2, 2, 1, 1]))
    same(fnp.lexsort(keys), np.lexsort(keys))
    same(fnp.unravel_index(np.array([5, 7]), (3, 4))[1], np.unravel_index([5, 7], (3, 4))[1])
    same(fa.vmap(lambda i: fnp.unravel_index(i, (3, 4))[0])(np.array([5, 7])), [1, 1])
    same(
        fa.vmap(lambda i, j: fnp.ravel_multi_index((i, j), (3, 4), mode="clip"))(
            np.array([1, 2]), np.array([3, 0])
        ),
        np.ravel_multi_index(([1, 2], [3, 0]), (3, 4)),
    )
    same(fnp.nanargmax(np.array([1.0, np.nan, 3.0])), 2)
    same(fnp.nancumsum(np.array([1.0, np.nan, 3.0])), np.nancumsum([1.0, np.nan, 3.0]))
    same(fnp.partition(V, 2)[2], np.partition(V, 2)[2])


# --------------------------------------------------------------------------------------
# Interpolation, polynomials, convolution, statistics


def test_interp_matches_numpy_and_differentiates():
    xp = np.array([0.0, 1.0, 1.5, 3.0])
    fp = np.array([1.0, -1.0, 2.0, 0.5])
    x = np.array([-1.0, 0.0, 0.3, 1.0, 1.2, 2.9, 3.0, 4.0])
    same(fnp.interp(x, xp, fp), np.interp(x, xp, fp))
    same(fnp.interp(x, xp, fp, left=-9.0, right=9.0), np.interp(x, xp, fp, left=-9.0, right=9.0))
    same(fnp.interp(x, xp, fp, period=2.5), np.interp(x, xp, fp, period=2.5))
    same(fa.jit(fnp.interp)(x, xp, fp), np.interp(x, xp, fp))
    check_grads(lambda x, xp, fp: fnp.interp(x, xp, fp), (np.array([0.3, 1.2, 2.0]), xp, fp), order=1)
    check_vmap(lambda x: fnp.interp(x, xp, fp), (rng.uniform(-1, 4, (3, 5)),))


def test_polynomials():
    p = np.array([2.0, -1.0, 0.5, 3.0])
    same(fnp.polyval(p, V), np.polyval(p, V))
    same(fnp.polyval([1.0, 2.0], 3.0), np.polyval([1.0, 2.0], 3.0))
    same(fnp.polyder(p, 2), np.polyder(p, 2))
    same(fnp.polyint(p), np.polyint(p))
    same(fnp.polyadd(p, [1.0, 1.0]), np.polyadd(p, [1.0, 1.0]))
    same(fnp.polysub([1.0, 1.0], p), np.polysub([1.0, 1.0], p))
    same(fnp.polymul(p, [1.0, 2.0]), np.polymul(p, [1.0, 2.0]))
    same(fnp.poly([1.0, 2.0, -1.0]), np.poly([1.0, 2.0, -1.0]))
    x = np.linspace(0, 1, 9)
    y = np.sin(3 * x)
    same(fnp.polyfit(x, y, 3), np.polyfit(x, y, 3), rtol=1e-9)
    same(fnp.polyfit(x, y, 2, w=1 + x), np.polyfit(x, y, 2, w=1 + x), rtol=1e-9)
    check_grads(lambda p, x: fnp.polyval(p, x), (p, V), order=2)
    check_grads(lambda y: fnp.polyfit(x, y, 2), (y,), order=1)
    check_vmap(fnp.polyval, (np.stack([p, 2 * p]), np.stack([V, V])))
    same(fnp.roots([1.0, -3.0, 2.0]), np.roots([1.0, -3.0, 2.0]))


@pytest.mark.parametrize("mode", ["full", "same", "valid"])
@pytest.mark.parametrize("n,m", [(6, 3), (3, 6), (4, 4), (5, 1)])
def test_convolve_correlate_match_numpy(mode, n, m):
    a, v = rng.standard_normal(n), rng.standard_normal(m)
    same(fnp.convolve(a, v, mode), np.convolve(a, v, mode))
    same(fnp.correlate(a, v, mode), np.correlate(a, v, mode))
    if (n, m) == (6, 3):
        same(fa.jit(lambda a, v: fnp.correlate(a, v, mode))(a, v), np.correlate(a, v, mode))
    check_grads(lambda a, v: fnp.convolve(a, v, mode) ** 2, (a, v), order=1)


def test_convolve_batches_and_correlate_grads():
    a, v = rng.standard_normal((3, 6)), rng.standard_normal(3)
    check_vmap(lambda a: fnp.convolve(a, v, "same"), (a,))
    check_grads(lambda a, v: fnp.correlate(a, v, "full"), (a[0], v), order=2)


def test_cov_corrcoef_match_numpy():
    m = rng.standard_normal((3, 7))
    same(fnp.cov(m), np.cov(m))
    same(fnp.cov(m.T, rowvar=False), np.cov(m.T, rowvar=False))
    same(fnp.cov(m[0], m[1]), np.cov(m[0], m[1]))
    same(fnp.cov(m, bias=True), np.cov(m, bias=True))
    same(fnp.cov(m[0]), np.cov(m[0]))
    fw, aw = np.array([1, 2, 1, 3, 1, 1, 2]), rng.uniform(0.5, 2, 7)
    same(fnp.cov(m, fweights=fw, aweights=aw), np.cov(m, fweights=fw, aweights=aw))
    same(fnp.cov(m, aweights=aw, ddof=0), np.cov(m, aweights=aw, ddof=0))
    same(fnp.corrcoef(m), np.corrcoef(m))
    same(fnp.corrcoef(m[0], m[1]), np.corrcoef(m[0], m[1]))
    same(fa.jit(fnp.corrcoef)(m), np.corrcoef(m))
    check_grads(lambda m: fnp.cov(m) + fnp.corrcoef(m), (m,), order=2)
    check_vmap(fnp.cov, (rng.standard_normal((2, 3, 5)),))


def test_gradient_matches_numpy():
    f = rng.standard_normal((5, 6))
    x = np.cumsum(rng.uniform(0.5, 1.5, 6))
    for args, kw in [
        ((), {}),
        ((0.5,), {}),
        ((0.5, x), {}),
        ((), {"axis": 1}),
        ((), {"edge_order": 2}),
        ((x,), {"axis": 1, "edge_order": 2}),
        ((x,), {"axis": -1}),
    ]:
        got, want = fnp.gradient(f, *args, **kw), np.gradient(f, *args, **kw)
        for g, w in zip(got if isinstance(got, list) else [got], want if isinstance(want, tuple) else [want]):
            same(g, w)
    same(fnp.gradient(V), np.gradient(V))
    check_vmap(lambda f: fnp.gradient(f, x), (f,))
    check_grads(lambda f, x: fnp.gradient(f, x), (f[0], x), order=1)


def test_trapezoid_and_numpy2_products():
    x = np.cumsum(rng.uniform(0.1, 1.0, 4))
    same(fnp.trapezoid(X), np.trapezoid(X))
    same(fnp.trapezoid(X, x), np.trapezoid(X, x))
    same(fnp.trapezoid(X, dx=0.3, axis=0), np.trapezoid(X, dx=0.3, axis=0))
    check_grads(lambda y, x: fnp.trapezoid(y, x), (X, x), order=2)
    A = rng.standard_normal((2, 3, 4))
    same(fnp.matvec(A, X[0]), np.einsum("bij,j->bi", A, X[0]))
    same(fnp.vecmat(X[0, :3], A), np.einsum("i,bij->bj", X[0, :3], A))
    same(fnp.vecdot(X, X), np.sum(X * X, -1))


def test_vectorize_and_apply_along_axis_through_vmap():
    f = fnp.vectorize(lambda a, b: fnp.where(a > b, a - b, a + b))
    a, b = rng.standard_normal((3, 1)), rng.standard_normal(4)
    same(f(a, b), np.where(a > b, a - b, a + b))
    g = fnp.vectorize(lambda x, w: fnp.dot(x, w), signature="(n),(n)->()")
    same(g(X, X[0]), X @ X[0])
    check_grads(lambda x: g(x, X[0]), (X,), order=2)
    h = fnp.vectorize(lambda x, p: x**p, excluded={1})
    same(h(V, 3), V**3)
    same(
        fnp.apply_along_axis(lambda r: fnp.cumsum(r) / fnp.sum(r**2), 0, X),
        np.apply_along_axis(lambda r: np.cumsum(r) / np.sum(r**2), 0, X),
    )
    same(fnp.apply_along_axis(fnp.sum, 1, X), X.sum(1))
    same(
        fnp.apply_over_axes(fnp.sum, np.ones((2, 3, 4)), [0, 2]),
        np.apply_over_axes(np.sum, np.ones((2, 3, 4)), [0, 2]),
    )


def test_numpy_functions_on_tracers_dispatch_to_the_new_functions():
    # plain NumPy called inside a transformation reaches funcad.numpy (__array_function__)
    g = fa.grad(lambda x: np.sum(np.convolve(x, np.array([1.0, 2.0]))) + np.interp(0.5, np.arange(3.0), x))(
        V[:3]
    )
    same(g, [3.0 + 0.5, 3.0 + 0.5, 3.0])
