"""Dtype promotion: NumPy 2's rules (NEP 50), through every transformation.

float64 by default, float32 stays float32 (in values and in every derivative), integers
promote as NumPy promotes them, Python scalars are weak (they take the array's dtype)."""

import sys
from pathlib import Path

import numpy as np
import pytest

import funcad as fa
import funcad.numpy as fnp

sys.path.insert(0, str(Path(__file__).parent))
from test_primitives import BINARY, PRODUCTS, SHAPE_FUNS, UNARY  # noqa: E402

X32 = np.linspace(0.6, 0.9, 3).astype(np.float32)


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_float32_stays_float32_in_every_derivative(name):
    f = UNARY[name][0]
    assert np.asarray(f(X32)).dtype == np.float32
    assert fa.elementwise_grad(f)(X32).dtype == np.float32
    assert fa.elementwise_grad(fa.elementwise_grad(f))(X32).dtype == np.float32
    assert fa.jvp(f, (X32,), (X32,))[1].dtype == np.float32


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_float32_with_python_scalars_stays_float32(name):
    f = BINARY[name][0]
    y32 = X32[::-1] + np.float32(0.05)
    for argnum in (0, 1):
        g2 = fa.elementwise_grad(fa.elementwise_grad(f, argnum), argnum)(X32, y32)
        assert g2.dtype == np.float32
    assert fa.hessian(lambda x: fnp.sum(f(1.5, x)))(X32).dtype == np.float32
    assert fa.hessian(lambda x: fnp.sum(f(x, 1.5)))(X32).dtype == np.float32


@pytest.mark.parametrize("name", sorted(PRODUCTS))
def test_products_float32(name):
    f, _, shapes = PRODUCTS[name]
    args = [np.full(s, 0.5, np.float32) for s in shapes]
    assert np.asarray(f(*args)).dtype == np.float32
    assert fa.jacrev(lambda *a: fnp.sum(f(*a) ** 2))(*args).dtype == np.float32


@pytest.mark.parametrize("name", sorted(set(SHAPE_FUNS) - {"astype"}))
def test_shape_functions_float32(name):
    f, _, shape = SHAPE_FUNS[name]
    assert fa.hessian(lambda a: fnp.sum(f(a) ** 3))(np.full(shape, 0.5, np.float32)).dtype == np.float32


@pytest.mark.parametrize("name", ["sum", "mean", "prod", "max", "min"])
def test_reductions_float32(name):
    x = np.full((2, 3), 0.5, np.float32) + np.arange(3, dtype=np.float32)
    h = fa.hessian(lambda a: fnp.sum(getattr(fnp, name)(a, axis=0)))(x)
    assert h.dtype == np.float32


@pytest.mark.parametrize("name", ["logsumexp", "softmax", "log_softmax", "sigmoid", "softplus", "relu"])
def test_nn_float32(name):
    f = getattr(fa.nn, name)
    assert np.asarray(f(X32)).dtype == np.float32
    assert fa.hessian(lambda a: fnp.sum(f(a) ** 2))(X32).dtype == np.float32


def _np_result(f_np, *args):
    return np.asarray(f_np(*args)).dtype


@pytest.mark.parametrize("a,b", [
    (np.arange(3), 2), (np.arange(3), 2.0), (np.arange(3), np.arange(3.0)),
    (np.arange(3, dtype=np.int32), np.int64(1)), (np.arange(3, dtype=np.int8), 1000 % 100),
    (np.ones(3, np.float32), 2.0), (np.ones(3, np.float32), np.float64(2.0)),
    (np.ones(3, np.float32), np.arange(3)), (np.ones(3, np.float32), np.ones(3, bool)),
    (np.ones(3, np.float32), np.ones(3, np.int8)), (np.ones(3, bool), 1), (np.ones(3, bool), 1.5),
    (np.arange(3, dtype=np.uint8), np.arange(3, dtype=np.int8)),
], ids=lambda v: str(getattr(v, "dtype", type(v).__name__)))
@pytest.mark.parametrize("op", ["add", "subtract", "multiply", "divide", "maximum", "arctan2"])
def test_promotion_matches_numpy(op, a, b, transform):
    expected = _np_result(getattr(np, op), a, b)
    out = transform(getattr(fnp, op))(a, b)
    assert np.asarray(out).dtype == expected
    np.testing.assert_allclose(out, getattr(np, op)(a, b))
    # the same dtype when traced (the staged program is typed like NumPy's result)
    jaxpr = fa.make_jaxpr(getattr(fnp, op))(a, b)
    assert jaxpr.out_avals[0].dtype == expected


def test_integer_inputs_promote_like_numpy():
    i = np.arange(1, 4)
    assert fnp.sin(i).dtype == np.sin(i).dtype == np.float64
    assert fnp.mean(i).dtype == np.float64
    assert fnp.sum(np.ones(3, bool)).dtype == np.sum(np.ones(3, bool)).dtype
    assert fnp.sum(np.ones(3, np.int32)).dtype == np.sum(np.ones(3, np.int32)).dtype
    assert fnp.power(i, 2).dtype == np.power(i, 2).dtype
    assert fnp.sqrt(np.ones(2, np.float32)).dtype == np.float32
    assert fnp.divide(i, 2).dtype == np.float64
    with pytest.raises(ValueError, match="negative integer powers"):
        fnp.power(i, np.array(-1))


def test_python_scalars_are_weak_under_tracing():
    jaxpr = fa.make_jaxpr(lambda x: x * 2.0 + 1)(np.ones(3, np.float32))
    assert str(jaxpr) == ("{ lambda ; a:f32[3]. let\n    b:f32[3] = mul a 2.0\n"
                          "    c:f32[3] = add b 1\n  in (c,) }")


def test_default_is_float64_and_results_are_ndarrays(transform):
    g = transform(fa.grad(lambda x: x ** 2))(3.0)
    assert isinstance(g, np.ndarray) and g.dtype == np.float64
    v, g = transform(fa.value_and_grad(lambda x: fnp.sum(x)))(np.array([1.0, 2.0]))
    assert isinstance(v, np.ndarray) and isinstance(g, np.ndarray)
    assert fnp.asarray([1, 2.5]).dtype == np.float64
    assert isinstance(transform(fa.jacrev(fnp.sin))(np.ones(2)), np.ndarray)
    assert transform(fa.hessian(lambda x: x ** 3))(1.0).dtype == np.float64



def test_gradient_of_a_weak_python_float_has_its_dtype_under_jit():
    # jit traces a Python float weakly: x * float32_array is float32 with no
    # convert_element_type of x, and the transposes of mul/add/div/select handed back a float32
    # gradient for the float64 argument (eager grad and JAX give float64)
    o32 = np.array([1.0, 2.0, 3.0], np.float32)
    for f in (lambda x: fnp.sum(x * o32), lambda x: fnp.sum((x + o32) ** 2),
              lambda x: fnp.sum(o32 / x), lambda x: fnp.sum(fnp.where(o32 > 1, x, o32))):
        g = fa.jit(fa.grad(f))(0.3)
        assert g.dtype == np.float64
        np.testing.assert_allclose(g, fa.grad(f)(0.3), rtol=1e-6)  # float32 arithmetic inside

def test_mixed_precision_gradient_takes_each_input_dtype():
    x32, x64 = np.ones(2, np.float32), np.ones(2)
    g32, g64 = fa.grad(lambda a, b: fnp.sum(a * b), argnums=(0, 1))(x32, x64)
    assert g32.dtype == np.float32 and g64.dtype == np.float64
