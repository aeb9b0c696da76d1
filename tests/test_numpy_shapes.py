"""funcad.numpy shape and selection functions, boolean masks, one-argument where and the
immutable updates x.at[idx]: values equal NumPy's, derivatives pass check_grads."""

import numpy as np
import pytest

import funcad as fa
import funcad.numpy as fnp
from funcad.errors import ConcretizationError
from funcad.test_util import check_grads, check_vmap

rng = np.random.default_rng(1)
X = rng.standard_normal((3, 4))
X3 = rng.standard_normal((2, 3, 4))
V = rng.standard_normal(3)


def assert_same(actual, expected):
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    np.testing.assert_allclose(actual, expected, rtol=1e-13, atol=1e-14)


def assert_list_same(actual, expected):
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected):
        assert_same(a, e)


# (funcad call, numpy call, differentiable argument)
CASES = {
    "take": (lambda m, x: m.take(x, [0, 2, 2, -1], axis=1), X),
    "take_flat": (lambda m, x: m.take(x, [[5, 0], [11, 3]]), X),
    "take_wrap": (lambda m, x: m.take(x, [5, -7], axis=1, mode="wrap"), X),
    "take_clip": (lambda m, x: m.take(x, [5, -7], axis=0, mode="clip"), X),
    "take_along_axis": (lambda m, x: m.take_along_axis(x, np.argsort(X3, axis=-2), axis=-2), X3),
    "take_along_axis_bcast": (lambda m, x: m.take_along_axis(x, np.array([[0], [2]]), axis=1), X[:2]),
    "diag_k1": (lambda m, x: m.diag(x, 1), V),
    "diag_km2": (lambda m, x: m.diag(x, -2), V),
    "diag_of_matrix": (lambda m, x: m.diag(x, -1), X),
    "diag_far": (lambda m, x: m.diag(x, 5), X),
    "diagonal": (lambda m, x: m.diagonal(x, 1, -1, 0), X3),
    "trace": (lambda m, x: m.trace(x, -1, 1, 2), X3),
    "tril": (lambda m, x: m.tril(x, -1), X3),
    "triu": (lambda m, x: m.triu(x, 1), X),
    "tril_1d": (lambda m, x: m.tril(x), V),
    "flip": (lambda m, x: m.flip(x, (0, -1)), X3),
    "flip_all": (lambda m, x: m.flip(x), X3),
    "fliplr": (lambda m, x: m.fliplr(x), X3),
    "flipud": (lambda m, x: m.flipud(x), V),
    "roll": (lambda m, x: m.roll(x, 5), X),
    "roll_axes": (lambda m, x: m.roll(x, (1, -6), axis=(0, -1)), X3),
    "rot90": (lambda m, x: m.rot90(x), X),
    "rot90_k3": (lambda m, x: m.rot90(x, 3, axes=(2, 0)), X3),
    "rot90_k2": (lambda m, x: m.rot90(x, -2), X),
    "tile": (lambda m, x: m.tile(x, (2, 1, 2)), X),
    "tile_int": (lambda m, x: m.tile(x, 3), V),
    "repeat": (lambda m, x: m.repeat(x, 2, axis=-1), X),
    "repeat_counts": (lambda m, x: m.repeat(x, [1, 0, 3], axis=0), X),
    "repeat_flat": (lambda m, x: m.repeat(x, 2), X),
    "pad": (lambda m, x: m.pad(x, ((1, 2), (0, 3))), X),
    "pad_values": (lambda m, x: m.pad(x, 1, constant_values=((1.5, 2.0), (3.0, -1.0))), X),
    "pad_edge": (lambda m, x: m.pad(x, ((2, 1), (1, 3)), mode="edge"), X),
    "pad_reflect": (lambda m, x: m.pad(x, 5, mode="reflect"), V),
    "pad_symmetric": (lambda m, x: m.pad(x, (2, 1), mode="symmetric"), X),
    "pad_wrap": (lambda m, x: m.pad(x, 4, mode="wrap"), V),
    "atleast_1d": (lambda m, x: m.atleast_1d(x[0, 0]), X),
    "atleast_2d": (lambda m, x: m.atleast_2d(x), V),
    "atleast_3d_1d": (lambda m, x: m.atleast_3d(x), V),
    "atleast_3d_2d": (lambda m, x: m.atleast_3d(x), X),
    "column_stack": (lambda m, x: m.column_stack([x, x * 2, np.ones((3, 2))]), V),
    "dstack": (lambda m, x: m.dstack([x, x[::-1]]), X),
    "dstack_1d": (lambda m, x: m.dstack([x, x]), V),
    "kron": (lambda m, x: m.kron(x, x[:2, :3]), X),
    "kron_nd": (lambda m, x: m.kron(x, V), X3),
    "cross": (lambda m, x: m.cross(x[:, :3], x[::-1, 1:]), X),
    "cross_axis": (lambda m, x: m.cross(x, x ** 2, axis=1), X3[:, :, :3].transpose(0, 2, 1).copy()),
    "cross_axes": (lambda m, x: m.cross(x[:3].T, V, axisa=-1, axisc=0), X),
    "cross_2x3": (lambda m, x: m.cross(x[:, :2], x[:, 1:]), X),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_values_and_derivatives(name):
    f, x = CASES[name]
    assert_same(f(fnp, x), f(np, x))
    check_grads(lambda x: f(fnp, x), (x,), order=2)


@pytest.mark.parametrize("name", ["take", "diag_k1", "trace", "roll_axes", "kron", "pad_values", "cross"])
def test_vmap_matches_loop(name):
    f, x = CASES[name]
    check_vmap(lambda x: f(fnp, x), (np.stack([x, 2 * x, -x]),))


def test_edge_cases():
    assert_same(fnp.flip(np.zeros((0, 2)), 0), np.flip(np.zeros((0, 2)), 0))
    assert_same(fnp.roll(np.zeros((0, 2)), 3, 0), np.roll(np.zeros((0, 2)), 3, 0))
    assert_same(fnp.diagonal(np.zeros((2, 0))), np.diagonal(np.zeros((2, 0))))
    assert_same(fnp.trace(np.ones((1, 1))), np.trace(np.ones((1, 1))))
    assert_same(fnp.tile(np.zeros((0, 2)), 2), np.tile(np.zeros((0, 2)), 2))
    assert_same(fnp.repeat(np.array(2.0), 3), np.repeat(np.array(2.0), 3))
    assert_same(fnp.pad(np.zeros((0,)), 2, constant_values=1.0), np.pad(np.zeros((0,)), 2, constant_values=1.0))
    res = fnp.atleast_1d(1.0, X)
    assert isinstance(res, tuple) and len(res) == 2
    assert_same(fnp.atleast_3d(X3), np.atleast_3d(X3))
    assert_same(fnp.kron(2.0, X), np.kron(2.0, X))
    with pytest.raises(ValueError):
        fnp.diag(X3)
    with pytest.raises(ValueError):
        fnp.fliplr(V)
    with pytest.raises(ValueError):
        fnp.cross(X, X)
    with pytest.raises(IndexError):
        fnp.take(X, [4], axis=1)
    with pytest.raises(ValueError):
        fnp.diagonal(X, axis1=1, axis2=-1)
    with pytest.raises(fa.errors.UnsupportedFunctionError):
        fnp.pad(X, 1, mode="median")


@pytest.mark.parametrize("sections", [2, 3, [1, 3], [0, 2, 2, 9]])
@pytest.mark.parametrize("axis", [0, -1])
def test_split_family(sections, axis):
    assert_list_same(fnp.array_split(X3, sections, axis), np.array_split(X3, sections, axis))
    if isinstance(sections, list) or X3.shape[axis] % sections == 0:
        assert_list_same(fnp.split(X3, sections, axis), np.split(X3, sections, axis))
    else:
        with pytest.raises(ValueError):
            fnp.split(X3, sections, axis)
    check_grads(lambda x: fnp.array_split(x, sections, axis), (X3,), order=2)
    assert_list_same(fnp.hsplit(X, 2), np.hsplit(X, 2))
    assert_list_same(fnp.vsplit(X, [1]), np.vsplit(X, [1]))
    assert_list_same(fnp.dsplit(X3, 2), np.dsplit(X3, 2))


@pytest.mark.parametrize("indexing", ["xy", "ij"])
@pytest.mark.parametrize("sparse", [False, True])
def test_meshgrid(indexing, sparse):
    a, b, c = V, X[0], X[1, :2]
    for args in [(a,), (a, b), (a, b, c)]:
        assert_list_same(fnp.meshgrid(*args, indexing=indexing, sparse=sparse),
                         np.meshgrid(*args, indexing=indexing, sparse=sparse))
    check_grads(lambda a, b: fnp.meshgrid(a, b, indexing=indexing, sparse=sparse), (a, b), order=2)


def test_boolean_mask_indexing_and_one_arg_where_eager():
    mask = X > 0
    assert_same(fa.jvp(lambda x: x[mask], (X,), (X,))[0], X[mask])
    # Under grad the mask is concrete: boolean indexing works and differentiates.
    g = fa.grad(lambda x: fnp.sum(x[x > 0] ** 2))(X)
    np.testing.assert_allclose(g, np.where(mask, 2 * X, 0.0))
    check_grads(lambda x: x[mask] * 3.0, (X,), order=2)
    check_grads(lambda x: x[:, mask[0]], (X,), order=2)
    for got, want in zip(fnp.where(mask), np.where(mask)):
        np.testing.assert_array_equal(got, want)
    for got, want in zip(fnp.nonzero(X[0] > 0), np.nonzero(X[0] > 0)):
        np.testing.assert_array_equal(got, want)
    seen = []

    def f(x):
        seen.append(fnp.where(x > 0))
        return fnp.sum(x[seen[-1]])

    np.testing.assert_allclose(fa.grad(f)(X), mask.astype(float))
    # Under jit the mask is abstract: a clear error that suggests where(mask, x, 0).
    if hasattr(fa, "jit"):
        with pytest.raises(ConcretizationError, match="where"):
            fa.jit(lambda x: fnp.sum(x[x > 0]))(X)
        with pytest.raises(ConcretizationError):
            fa.jit(lambda x: fnp.where(x > 0))(X)


# --------------------------------------------------------------------------------------
# x.at[idx]


def _numpy_update(x, idx, op, values):
    out = np.array(x, copy=True)
    if op == "set":
        out[idx] = values
    else:
        ufunc = {"add": np.add, "multiply": np.multiply, "divide": np.divide, "min": np.minimum,
                 "max": np.maximum, "subtract": np.subtract}[op]
        ufunc.at(out, idx, values)
    return out


INDICES = {
    "int": (1,),
    "slice": (slice(None), slice(1, None, 2)),
    "neg_step": (slice(None, None, -2),),
    "array_dups": (np.array([0, 2, 0, 0]), 1),
    "two_arrays": (np.array([0, 2, 0]), np.array([1, 1, 1])),
    "ellipsis": (Ellipsis, np.array([3, 0, 3])),
    "mask": (X > 0.3,),
}


@pytest.mark.parametrize("op", ["set", "add", "subtract", "multiply", "divide", "min", "max"])
@pytest.mark.parametrize("where", sorted(INDICES))
def test_at_updates(op, where):
    idx = INDICES[where]
    region = X[idx].shape
    vals = rng.uniform(0.5, 1.5, region) * np.where(rng.random(region) > 0.5, 1, -1)
    expected = _numpy_update(X, idx, op, vals)
    assert_same(getattr(fnp.at(X)[idx], op)(vals), expected)
    # Tracers have the property form, as in JAX.
    out = fa.jvp(lambda x: getattr(x.at[idx], op)(vals), (X,), (np.zeros_like(X),))[0]
    assert_same(out, expected)
    check_grads(lambda x, v: getattr(fnp.at(x)[idx], op)(v), (X, vals), order=2)


def test_at_set_with_repeated_indices_last_wins_and_broadcasts():
    idx = np.array([0, 2, 0])
    g = fa.grad(lambda v: fnp.sum(fnp.at(X)[idx, 1].set(v) * 2.0))(np.array([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(g, [0.0, 2.0, 2.0])  # the first update is overwritten
    assert_same(fnp.at(X)[1:].set(5.0), np.where(np.arange(3)[:, None] >= 1, 5.0, X))
    assert_same(fnp.at(X)[:, 0].add(V), X + np.outer(V, np.eye(4)[0]))
    assert_same(fnp.at(X)[0].get(), X[0])
    g = fa.grad(lambda x: fnp.sum(fnp.at(x)[0].min(0.0)))(np.array([[1.0, 0.0, -1.0]]))
    np.testing.assert_array_equal(g, [[0.0, 0.5, 1.0]])  # ties split as minimum does


def test_at_under_vmap_and_jit():
    check_vmap(lambda x, v: fnp.at(x)[np.array([0, 2, 0]), 1].set(v), (X3[:, :3, :], X3[:, :3, 0]))
    check_vmap(lambda x, v: fnp.at(x)[np.array([0, 2, 0]), 1].multiply(v), (X3[:, :3, :], X3[:, :3, 0]))
    if hasattr(fa, "jit"):
        f = fa.jit(lambda x, v: fnp.at(x)[1:, ::2].set(v))
        assert_same(f(X, X[1:, ::2] * 2), _numpy_update(X, (slice(1, None), slice(None, None, 2)), "set", X[1:, ::2] * 2))
