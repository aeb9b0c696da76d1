"""Every primitive and funcad.numpy function of the foundation: values equal NumPy's, and
derivatives pass check_grads (forward and reverse, second order) over scalar, vector, matrix
and broadcasting shapes."""

import numpy as np
import pytest

import funcad as fa
import funcad.numpy as fnp
from funcad.test_util import check_grads

SHAPES = [(), (3,), (2, 3)]
# Pairs of operand shapes for binary functions: equal shapes and NumPy broadcasting.
PAIRS = [((), ()), ((3,), (3,)), ((2, 3), (2, 3)), ((1, 3), (2, 1)), ((2, 3), (1, 3)),
         ((2, 3), ()), ((), (3,)), ((3,), (2, 3))]


def _rand(rng, shape, lo, hi):
    return rng.uniform(lo, hi, size=shape) if shape else float(rng.uniform(lo, hi))


# name -> (funcad function, NumPy function, domain (lo, hi))
UNARY = {
    "negative": (fnp.negative, np.negative, (-2, 2)),
    "square": (fnp.square, np.square, (-2, 2)),
    "sqrt": (fnp.sqrt, np.sqrt, (0.5, 3)),
    "cbrt": (fnp.cbrt, np.cbrt, (0.5, 3)),
    "reciprocal": (fnp.reciprocal, np.reciprocal, (0.5, 3)),
    "exp": (fnp.exp, np.exp, (-2, 2)),
    "exp2": (fnp.exp2, np.exp2, (-2, 2)),
    "log": (fnp.log, np.log, (0.5, 3)),
    "log2": (fnp.log2, np.log2, (0.5, 3)),
    "log10": (fnp.log10, np.log10, (0.5, 3)),
    "log1p": (fnp.log1p, np.log1p, (-0.5, 2)),
    "expm1": (fnp.expm1, np.expm1, (-2, 2)),
    "sin": (fnp.sin, np.sin, (-3, 3)),
    "cos": (fnp.cos, np.cos, (-3, 3)),
    "tan": (fnp.tan, np.tan, (-1.2, 1.2)),
    "arcsin": (fnp.arcsin, np.arcsin, (-0.8, 0.8)),
    "arccos": (fnp.arccos, np.arccos, (-0.8, 0.8)),
    "arctan": (fnp.arctan, np.arctan, (-3, 3)),
    "sinh": (fnp.sinh, np.sinh, (-2, 2)),
    "cosh": (fnp.cosh, np.cosh, (-2, 2)),
    "tanh": (fnp.tanh, np.tanh, (-2, 2)),
    "arcsinh": (fnp.arcsinh, np.arcsinh, (-3, 3)),
    "arccosh": (fnp.arccosh, np.arccosh, (1.5, 4)),
    "arctanh": (fnp.arctanh, np.arctanh, (-0.8, 0.8)),
    "abs": (fnp.abs, np.abs, (0.2, 2)),
    "abs_neg": (fnp.abs, np.abs, (-2, -0.2)),
    "power_int": (lambda x: x ** 3, lambda x: np.asarray(x) ** 3, (-2, 2)),
    "power_neg_int": (lambda x: x ** -2, lambda x: np.asarray(x) ** -2.0, (0.5, 2)),
    "power_float": (lambda x: x ** 2.5, lambda x: np.asarray(x) ** 2.5, (0.5, 2)),
    "rpower": (lambda x: 2.0 ** x, lambda x: 2.0 ** np.asarray(x), (-2, 2)),
    "clip": (lambda x: fnp.clip(x, -1.0, 1.0), lambda x: np.clip(x, -1.0, 1.0), (-3, 3)),
    "clip_lo": (lambda x: fnp.clip(x, a_min=0.0), lambda x: np.clip(x, 0.0, None), (-3, 3)),
    "sigmoid": (fa.nn.sigmoid, lambda x: 1 / (1 + np.exp(-np.asarray(x))), (-4, 4)),
    "softplus": (fa.nn.softplus, lambda x: np.log1p(np.exp(x)), (-4, 4)),
    "relu": (fa.nn.relu, lambda x: np.maximum(x, 0), (-3, 3)),
}

BINARY = {
    "add": (fnp.add, np.add, (-2, 2), (-2, 2)),
    "subtract": (fnp.subtract, np.subtract, (-2, 2), (-2, 2)),
    "multiply": (fnp.multiply, np.multiply, (-2, 2), (-2, 2)),
    "divide": (fnp.divide, np.divide, (-2, 2), (0.5, 2)),
    "power": (fnp.power, np.power, (0.5, 2), (-2, 2)),
    "arctan2": (fnp.arctan2, np.arctan2, (0.5, 2), (-2, 2)),
    "logaddexp": (fnp.logaddexp, np.logaddexp, (-2, 2), (-2, 2)),
    "hypot": (fnp.hypot, np.hypot, (0.5, 2), (-2, -0.5)),
    "maximum": (fnp.maximum, np.maximum, (-2, 2), (-2, 2)),
    "minimum": (fnp.minimum, np.minimum, (-2, 2), (-2, 2)),
    "op_add": (lambda x, y: x + y, lambda x, y: np.asarray(x) + y, (-2, 2), (-2, 2)),
    "op_sub": (lambda x, y: x - y, lambda x, y: np.asarray(x) - y, (-2, 2), (-2, 2)),
    "op_mul": (lambda x, y: x * y, lambda x, y: np.asarray(x) * y, (-2, 2), (-2, 2)),
    "op_div": (lambda x, y: x / y, lambda x, y: np.asarray(x) / y, (-2, 2), (0.5, 2)),
    "op_pow": (lambda x, y: x ** y, lambda x, y: np.asarray(x) ** y, (0.5, 2), (-2, 2)),
    "where": (lambda x, y: fnp.where(x > 0, x, y), lambda x, y: np.where(np.asarray(x) > 0, x, y),
              (-2, 2), (-2, 2)),
    "where_inline": (lambda x, y: fnp.where(x > y, x * y, fnp.sin(y)),
                     lambda x, y: np.where(np.asarray(x) > y, np.multiply(x, y), np.sin(y)),
                     (-2, 2), (-2, 2)),
}


def _unary_args(rng, name, shape):
    lo, hi = UNARY[name][2]
    return (_rand(rng, shape, lo, hi),)


def _binary_args(rng, name, shapes):
    (lo1, hi1), (lo2, hi2) = BINARY[name][2:]
    x, y = _rand(rng, shapes[0], lo1, hi1), _rand(rng, shapes[1], lo2, hi2)
    if name in ("maximum", "minimum", "where"):  # keep clear of ties, where they are kinks
        y = np.where(np.abs(np.subtract(x, y)) < 0.1, np.add(y, 0.3), y) if np.ndim(y) else (
            y + 0.3 if np.min(np.abs(np.subtract(x, y))) < 0.1 else y)
    return x, y


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_values_and_grads(name, shape, rng, transform):
    f, np_f, _ = UNARY[name]
    (x,) = _unary_args(rng, name, shape)
    if name.startswith("clip"):  # keep clear of the bounds, where clip has kinks
        x = np.where(np.abs(np.abs(x) - 1) < 0.1, x * 0.5, x) if np.ndim(x) else x
        x = np.where(np.abs(x) < 0.1, 0.5, x) if np.ndim(x) else x
    if name == "relu":
        x = np.where(np.abs(x) < 0.1, 0.5, x) if np.ndim(x) else (x if abs(x) > 0.1 else 0.5)
    out = transform(f)(x)
    np.testing.assert_allclose(out, np_f(x), rtol=1e-12, atol=1e-14)
    assert np.shape(out) == np.shape(np_f(x))
    check_grads(f, (x,), order=2, modes=("fwd", "rev"))


@pytest.mark.parametrize("shapes", PAIRS, ids=str)
@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_values_and_grads(name, shapes, rng, transform):
    f, np_f = BINARY[name][:2]
    x, y = _binary_args(rng, name, shapes)
    out = transform(f)(x, y)
    np.testing.assert_allclose(out, np_f(x, y), rtol=1e-12, atol=1e-14)
    assert np.shape(out) == np.shape(np_f(x, y))
    check_grads(f, (x, y), order=2, modes=("fwd", "rev"))


def test_grad_values_match_closed_forms(rng, transform):
    x = rng.uniform(0.5, 2, size=5)
    egrad = fa.elementwise_grad
    cases = [
        (fnp.sin, np.cos(x)), (fnp.cos, -np.sin(x)), (fnp.tan, 1 / np.cos(x) ** 2),
        (fnp.exp, np.exp(x)), (fnp.log, 1 / x), (fnp.sqrt, 0.5 / np.sqrt(x)),
        (fnp.tanh, 1 - np.tanh(x) ** 2), (fnp.arctan, 1 / (1 + x ** 2)),
        (fnp.cbrt, x ** (-2 / 3) / 3), (fnp.log10, 1 / (x * np.log(10))),
        (fnp.exp2, np.log(2) * 2 ** x), (fnp.arccosh, 1 / np.sqrt(x ** 2 - 1) if False else None),
    ]
    for f, expected in cases:
        if expected is None:
            continue
        np.testing.assert_allclose(transform(egrad(f))(x), expected, rtol=1e-12)


# --------------------------------------------------------------------------------------
# Piecewise functions at their kinks, and functions with zero derivative


def test_sign_and_comparisons_have_zero_tangents(rng):
    x = rng.standard_normal(4)
    for f in (fnp.sign, fnp.floor, fnp.ceil, lambda x: fnp.astype(x > 0, float),
              lambda x: fnp.astype(fnp.logical_and(x > 0, x < 1), float),
              lambda x: fnp.astype(fnp.logical_or(x > 0, x < -1), float),
              lambda x: fnp.astype(fnp.logical_not(x > 0), float),
              lambda x: fnp.astype(fnp.logical_xor(x > 0, x < 1), float)):
        y, y_dot = fa.jvp(f, (x,), (np.ones(4),))
        np.testing.assert_array_equal(y_dot, np.zeros(4))
        np.testing.assert_array_equal(fa.elementwise_grad(f)(x), np.zeros(4))


@pytest.mark.parametrize("op,np_op", [("__lt__", np.less), ("__le__", np.less_equal),
                                      ("__gt__", np.greater), ("__ge__", np.greater_equal),
                                      ("__eq__", np.equal), ("__ne__", np.not_equal)])
def test_comparison_values(op, np_op, rng, transform):
    x = rng.integers(0, 3, size=(2, 3)).astype(float)
    y = rng.integers(0, 3, size=(1, 3)).astype(float)

    def f(x, y):
        z = getattr(x * 1.0, op)(y)
        assert z.dtype == np.bool_  # traced comparisons are boolean
        return fnp.where(z, x, 0.0)

    np.testing.assert_array_equal(fnp.equal(x, y), x == y)
    np.testing.assert_array_equal(getattr(fnp, np_op.__name__)(x, y), np_op(x, y))
    np.testing.assert_array_equal(fa.grad(lambda x: fnp.sum(f(x, y)))(x), np_op(x, y) * 1.0)


def test_abs_max_min_at_kinks():
    # abs'(0) = 0 (the subgradient), max/min split the derivative equally at ties.
    assert float(fa.grad(fnp.abs)(0.0)) == 0.0
    assert float(fa.grad(lambda x: fnp.maximum(x, 1.0))(1.0)) == 0.5
    g = fa.grad(lambda x: fnp.max(x))(np.array([1.0, 3.0, 3.0]))
    np.testing.assert_array_equal(g, [0.0, 0.5, 0.5])


# --------------------------------------------------------------------------------------
# Reductions


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", [None, 0, 1, -1, (0, 1)])
@pytest.mark.parametrize("name", ["sum", "mean", "prod", "max", "min"])
def test_reductions(name, axis, keepdims, rng, transform):
    x = rng.uniform(0.5, 2.0, size=(2, 3))
    f = lambda x: getattr(fnp, name)(x, axis=axis, keepdims=keepdims)  # noqa: E731
    out = transform(f)(x)
    expected = getattr(np, name)(x, axis=axis, keepdims=keepdims)
    np.testing.assert_allclose(out, expected, rtol=1e-13)
    assert np.shape(out) == np.shape(expected)
    check_grads(f, (x,), order=2)


@pytest.mark.parametrize("name", ["sum", "mean", "prod", "max", "min"])
def test_reduction_methods_and_scalars(name, rng, transform):
    x = rng.uniform(0.5, 2.0, size=(3, 2))
    f = lambda x: getattr(x * 1.0, name)(axis=0)  # noqa: E731
    np.testing.assert_allclose(transform(f)(x), getattr(x, name)(axis=0), rtol=1e-13)
    check_grads(f, (x,), order=2)
    check_grads(lambda s: getattr(fnp, name)(s), (1.5,), order=2)


def test_prod_derivative_exact_at_zero():
    x = np.array([2.0, 0.0, 3.0])
    np.testing.assert_array_equal(fa.grad(fnp.prod)(x), [0.0, 6.0, 0.0])


# --------------------------------------------------------------------------------------
# Products


PRODUCTS = {
    "dot_vv": (fnp.dot, np.dot, [(3,), (3,)]),
    "dot_mv": (fnp.dot, np.dot, [(2, 3), (3,)]),
    "dot_mm": (fnp.dot, np.dot, [(2, 3), (3, 4)]),
    "dot_3d": (fnp.dot, np.dot, [(2, 2, 3), (3, 2)]),
    "dot_scalar": (fnp.dot, np.dot, [(), (3,)]),
    "matmul_vv": (fnp.matmul, np.matmul, [(3,), (3,)]),
    "matmul_vm": (fnp.matmul, np.matmul, [(3,), (3, 2)]),
    "matmul_mv": (fnp.matmul, np.matmul, [(2, 3), (3,)]),
    "matmul_mm": (fnp.matmul, np.matmul, [(2, 3), (3, 4)]),
    "matmul_batch": (fnp.matmul, np.matmul, [(2, 2, 3), (3, 4)]),
    "matmul_batch_bcast": (fnp.matmul, np.matmul, [(2, 1, 2, 3), (3, 3, 2)]),
    "op_matmul": (lambda a, b: a @ b, lambda a, b: a @ b, [(2, 3), (3, 2)]),
    "outer": (fnp.outer, np.outer, [(3,), (2,)]),
    "outer_2d": (fnp.outer, np.outer, [(2, 2), (3,)]),
    "inner_vv": (fnp.inner, np.inner, [(3,), (3,)]),
    "inner_mm": (fnp.inner, np.inner, [(2, 3), (4, 3)]),
    "tensordot_2": (fnp.tensordot, np.tensordot, [(2, 3, 4), (3, 4, 2)]),
    "tensordot_axes": (lambda a, b: fnp.tensordot(a, b, axes=([0], [1])),
                       lambda a, b: np.tensordot(a, b, axes=([0], [1])), [(2, 3), (4, 2)]),
    "einsum_matmul": (lambda a, b: fnp.einsum("ij,jk->ik", a, b),
                      lambda a, b: np.einsum("ij,jk->ik", a, b), [(2, 3), (3, 4)]),
    "einsum_trace": (lambda a, b: fnp.einsum("ii,i->", a, b),
                     lambda a, b: np.einsum("ii,i->", a, b), [(3, 3), (3,)]),
    "einsum_implicit": (lambda a, b: fnp.einsum("ij,kj", a, b),
                        lambda a, b: np.einsum("ij,kj", a, b), [(2, 3), (4, 3)]),
    "einsum_ellipsis": (lambda a, b: fnp.einsum("...ij,...jk->...ik", a, b),
                        lambda a, b: np.einsum("...ij,...jk->...ik", a, b), [(2, 2, 3), (2, 3, 2)]),
    "einsum_sum_out": (lambda a, b: fnp.einsum("ij,j->i", a, b),
                       lambda a, b: np.einsum("ij,j->i", a, b), [(2, 3), (3,)]),
    "einsum_outer3": (lambda a, b: fnp.einsum("i,j,i->j", a, b, a),
                      lambda a, b: np.einsum("i,j,i->j", a, b, a), [(3,), (2,)]),
}


@pytest.mark.parametrize("name", sorted(PRODUCTS))
def test_products(name, rng, transform):
    f, np_f, shapes = PRODUCTS[name]
    args = tuple(_rand(rng, s, -1, 1) for s in shapes)
    out = transform(f)(*args)
    np.testing.assert_allclose(out, np_f(*args), rtol=1e-12, atol=1e-14)
    assert np.shape(out) == np.shape(np_f(*args))
    check_grads(f, args, order=2)


# --------------------------------------------------------------------------------------
# Shapes, joining and indexing


SHAPE_FUNS = {
    "transpose": (fnp.transpose, np.transpose, (2, 3, 4)),
    "transpose_axes": (lambda x: fnp.transpose(x, (1, 2, 0)), lambda x: np.transpose(x, (1, 2, 0)), (2, 3, 4)),
    "T": (lambda x: (x * 1.0).T, lambda x: x.T, (2, 3)),
    "method_transpose": (lambda x: (x * 1.0).transpose(1, 0), lambda x: x.transpose(1, 0), (2, 3)),
    "reshape": (lambda x: fnp.reshape(x, (3, -1)), lambda x: np.reshape(x, (3, -1)), (2, 3)),
    "method_reshape": (lambda x: (x * 1.0).reshape(6, 1), lambda x: x.reshape(6, 1), (2, 3)),
    "ravel": (fnp.ravel, np.ravel, (2, 3)),
    "expand_dims": (lambda x: fnp.expand_dims(x, 1), lambda x: np.expand_dims(x, 1), (2, 3)),
    "squeeze": (fnp.squeeze, np.squeeze, (2, 1, 3)),
    "squeeze_axis": (lambda x: fnp.squeeze(x, axis=1), lambda x: np.squeeze(x, axis=1), (2, 1, 3)),
    "broadcast_to": (lambda x: fnp.broadcast_to(x, (4, 2, 3)), lambda x: np.broadcast_to(x, (4, 2, 3)), (1, 3)),
    "moveaxis": (lambda x: fnp.moveaxis(x, 0, -1), lambda x: np.moveaxis(x, 0, -1), (2, 3, 4)),
    "swapaxes": (lambda x: fnp.swapaxes(x, 0, 2), lambda x: np.swapaxes(x, 0, 2), (2, 3, 4)),
    "slice": (lambda x: x[1:, ::2], lambda x: x[1:, ::2], (3, 4)),
    "slice_neg": (lambda x: x[::-1, -1], lambda x: x[::-1, -1], (3, 4)),
    "int_index": (lambda x: x[1], lambda x: x[1], (3, 4)),
    "newaxis_ellipsis": (lambda x: x[..., None, 0], lambda x: x[..., None, 0], (3, 4)),
    "int_array_index": (lambda x: x[np.array([0, 2, 0])], lambda x: x[np.array([0, 2, 0])], (3, 4)),
    "int_array_2d": (lambda x: x[np.array([0, 2, 2]), np.array([1, 1, 3])],
                     lambda x: x[np.array([0, 2, 2]), np.array([1, 1, 3])], (3, 4)),
    "mixed_index": (lambda x: x[1:, [0, 0, 3]], lambda x: x[1:, [0, 0, 3]], (3, 4)),
    "bool_mask": (lambda x: x[np.array([True, False, True])], lambda x: x[np.array([True, False, True])], (3, 4)),
    "concatenate": (lambda x: fnp.concatenate([x, 2 * x, x[:1]]),
                    lambda x: np.concatenate([x, 2 * x, x[:1]]), (3, 4)),
    "concatenate_axis1": (lambda x: fnp.concatenate([x, x ** 2], axis=1),
                          lambda x: np.concatenate([x, x ** 2], axis=1), (3, 4)),
    "stack": (lambda x: fnp.stack([x, fnp.sin(x)], axis=1), lambda x: np.stack([x, np.sin(x)], axis=1), (3, 4)),
    "hstack": (lambda x: fnp.hstack([x, x * 3]), lambda x: np.hstack([x, x * 3]), (3,)),
    "hstack_2d": (lambda x: fnp.hstack([x, x * 3]), lambda x: np.hstack([x, x * 3]), (2, 3)),
    "vstack": (lambda x: fnp.vstack([x, x * 3]), lambda x: np.vstack([x, x * 3]), (3,)),
    "vstack_2d": (lambda x: fnp.vstack([x, x * 3]), lambda x: np.vstack([x, x * 3]), (2, 3)),
    "array_of_tracers": (lambda x: fnp.array([x[0] * x[1], x[1], 2.0]),
                         lambda x: np.array([x[0] * x[1], x[1], 2.0]), (3,)),
    "asarray_nested": (lambda x: fnp.asarray([[x[0], 1.0], [x[1], x[2] ** 2]]),
                       lambda x: np.asarray([[x[0], 1.0], [x[1], x[2] ** 2]]), (3,)),
    "astype": (lambda x: fnp.astype(x, np.float32).astype(np.float64) * x,
               lambda x: x.astype(np.float32).astype(np.float64) * x, (3,)),
}


@pytest.mark.parametrize("name", sorted(SHAPE_FUNS))
def test_shape_functions(name, rng, transform):
    f, np_f, shape = SHAPE_FUNS[name]
    x = rng.uniform(-1, 1, size=shape)
    out = transform(f)(x)
    np.testing.assert_allclose(out, np_f(x), rtol=1e-12 if name != "astype" else 1e-6)
    assert np.shape(out) == np.shape(np_f(x))
    check_grads(f, (x,), order=2, atol=None if name != "astype" else 1e-4,
                rtol=None if name != "astype" else 1e-4, eps=None if name != "astype" else 1e-3)


def test_traced_integer_index(rng):
    # An integer index array that is itself computed inside the function.
    x = rng.standard_normal(5)
    idx = np.array([4, 0, 0])
    check_grads(lambda x: fnp.sum(x[idx] ** 2), (x,))
    np.testing.assert_allclose(fa.grad(lambda x: fnp.sum(x[idx] ** 2))(x),
                               [4 * x[0], 0, 0, 0, 2 * x[4]])


# --------------------------------------------------------------------------------------
# Creation functions: constants (zero derivative) with NumPy's values


def test_creation_functions(transform):
    def f(x):
        return (fnp.zeros(3) + fnp.ones((3,)) * x + fnp.full(3, 2.0) + fnp.zeros_like(x)
                + fnp.ones_like(x) + fnp.arange(3.0) + fnp.linspace(0, 1, 3) + fnp.eye(3)[0])

    x = np.array([1.0, 2.0, 3.0])
    expected = (np.zeros(3) + np.ones(3) * x + np.full(3, 2.0) + 0 + 1 + np.arange(3.0)
                + np.linspace(0, 1, 3) + np.eye(3)[0])
    np.testing.assert_allclose(transform(f)(x), expected)
    np.testing.assert_allclose(fa.elementwise_grad(f)(x), np.ones(3))
    assert fnp.zeros((2, 3), np.float32).dtype == np.float32
    assert fnp.full((2,), 3).dtype == np.full((2,), 3).dtype
    np.testing.assert_array_equal(fnp.eye(3, 4, 1), np.eye(3, 4, 1))
    np.testing.assert_array_equal(fnp.arange(1, 7, 2), np.arange(1, 7, 2))
    # full with a traced fill value differentiates through it
    np.testing.assert_allclose(fa.grad(lambda s: fnp.sum(fnp.full((2, 3), s)))(1.0), 6.0)


def test_array_attributes_under_trace():
    seen = {}

    def f(x):
        seen.update(shape=x.shape, ndim=x.ndim, dtype=x.dtype, size=x.size, len=len(x))
        return fnp.sum(x)

    fa.grad(f)(np.zeros((2, 3)))
    assert seen == dict(shape=(2, 3), ndim=2, dtype=np.float64, size=6, len=2)


def test_unary_minus_and_pos_operators(rng):
    x = rng.standard_normal(3)
    check_grads(lambda x: -x + (+x) * 2 - abs(x), (x,))


def test_numpy_ufuncs_on_tracers_dispatch_to_funcad(rng):
    # np.sin(tracer) and np.sum(tracer) are intercepted, so NumPy-written code differentiates.
    x = rng.standard_normal(3)
    f = lambda x: np.sum(np.sin(x) * np.exp(x))  # noqa: E731
    np.testing.assert_allclose(fa.grad(f)(x), np.cos(x) * np.exp(x) + np.sin(x) * np.exp(x))
    check_grads(f, (x,))


def test_stop_gradient(rng):
    x = rng.standard_normal(3)
    np.testing.assert_allclose(fa.grad(lambda x: fnp.sum(x * fa.stop_gradient(x)))(x), x)
    np.testing.assert_allclose(fa.grad(fa.grad(lambda x: x ** 2 * fa.stop_gradient(x)))(2.0), 4.0)
