"""Code funcad cannot trace: pure_callback (eager, jit, vmap by each vmap_method, derivatives
through custom_jvp/custom_vjp), and custom rules whose function runs on concrete values."""

import numpy as np
import pytest
import scipy.special

import funcad as fa
import funcad.numpy as fnp
from funcad.errors import (
    BatchingError,
    CallbackDerivativeError,
    CallbackResultError,
    ConcretizationError,
)
from funcad.test_util import check_grads


class SDS:  # what result_shape_dtypes needs: a shape and a dtype (as JAX's ShapeDtypeStruct)
    def __init__(self, shape, dtype):
        self.shape, self.dtype = shape, np.dtype(dtype)


# --------------------------------------------------------------------------------------
# pure_callback


def scipy_j0(x):
    return fa.pure_callback(scipy.special.j0, np.zeros_like(x), x, vmap_method="expand_dims")


def test_pure_callback_eager_and_under_jit():
    x = np.linspace(0.0, 3.0, 4)
    np.testing.assert_allclose(scipy_j0(x), scipy.special.j0(x))
    np.testing.assert_allclose(fa.jit(lambda x: fnp.sin(scipy_j0(x)) * 2.0)(x),
                               np.sin(scipy.special.j0(x)) * 2.0)


def test_pure_callback_with_pytrees_and_kwargs():
    def stats(d, *, scale):
        return {"sum": np.sum(d["a"]) * scale, "prod": d["a"] * d["b"]}

    out_spec = {"sum": SDS((), np.float64), "prod": SDS((3,), np.float64)}
    args = {"a": np.arange(3.0), "b": np.ones(3)}
    for f in [lambda d: fa.pure_callback(stats, out_spec, d, scale=2.0)]:
        for g in [f, fa.jit(f)]:
            out = g(args)
            assert out["sum"] == 6.0
            np.testing.assert_array_equal(out["prod"], np.arange(3.0))


@pytest.mark.parametrize("method", ["sequential", "expand_dims", "broadcast_all", "legacy_vectorized"])
def test_pure_callback_under_vmap_matches_a_loop(method):
    seen = []

    def cb(a, b):
        seen.append((a.shape, b.shape))
        return np.tanh(a * b)

    f = lambda x, y: fa.pure_callback(cb, SDS((3,), float), x, y, vmap_method=method)  # noqa: E731
    xs, y = np.random.default_rng(0).normal(size=(4, 3)), np.arange(3.0)
    loop = np.stack([np.tanh(x * y) for x in xs])
    np.testing.assert_allclose(fa.vmap(f, in_axes=(0, None))(xs, y), loop)
    expected_shapes = {"sequential": ((3,), (3,)), "expand_dims": ((4, 3), (1, 3)),
                       "broadcast_all": ((4, 3), (4, 3)), "legacy_vectorized": ((4, 3), (3,))}[method]
    assert seen[-1] == expected_shapes
    np.testing.assert_allclose(fa.jit(fa.vmap(f, in_axes=(0, None)))(xs, y), loop)
    # nested vmap, and a batch axis that is not the first
    xss = np.stack([xs, 2 * xs])
    np.testing.assert_allclose(fa.vmap(fa.vmap(f, in_axes=(0, None)), in_axes=(0, None))(xss, y),
                               np.tanh(xss * y))
    np.testing.assert_allclose(fa.vmap(f, in_axes=(1, None))(xs.T, y), loop)


def test_pure_callback_errors():
    x = np.ones(2)
    with pytest.raises(CallbackDerivativeError, match="custom_jvp"):
        fa.grad(lambda x: fnp.sum(scipy_j0(x)))(x)
    with pytest.raises(BatchingError, match="vmap_method"):
        fa.vmap(lambda x: fa.pure_callback(np.sin, x, x))(x)
    with pytest.raises(CallbackResultError, match=r"shape \(2,\).*\(3,\)"):
        fa.pure_callback(np.sin, np.zeros(3), x)
    with pytest.raises(CallbackResultError, match="dtype"):
        fa.pure_callback(lambda x: x + 0.5j, np.zeros(2), x)
    # a callback whose result is not needed for the derivative: stop_gradient
    g = fa.grad(lambda x: fnp.sum(scipy_j0(fa.lax.stop_gradient(x)) * x))(x)
    assert g[0] == pytest.approx(scipy.special.j0(1.0))


# A port of JAX's external-callbacks documentation example: SciPy's Bessel function jv with
# a custom_jvp whose rule calls the callback again (d/dz J_v(z) = (J_{v-1}(z) - J_{v+1}(z)) / 2).


def _jv_callback(v, z):
    return fa.pure_callback(lambda v, z: scipy.special.jv(v, z).astype(z.dtype),
                            SDS(np.shape(z), np.float64), v, z, vmap_method="broadcast_all")


jv = fa.custom_jvp(_jv_callback, nondiff_argnums=(0,))


@jv.defjvp
def _jv_jvp(v, primals, tangents):
    (z,), (z_dot,) = primals, tangents
    djv_dz = 0.5 * (jv(v - 1, z) - jv(v + 1, z))
    return jv(v, z), z_dot * djv_dz


def test_jax_docs_bessel_example_custom_jvp():
    z = np.linspace(0.5, 4.0, 5)
    np.testing.assert_allclose(jv(1, z), scipy.special.jv(1, z))
    check_grads(lambda z: jv(1, z), (z,), order=2, modes=("fwd", "rev"))
    g = fa.vmap(fa.grad(lambda z: jv(1, z)))(z)
    np.testing.assert_allclose(g, scipy.special.jvp(1, z), rtol=1e-10)
    np.testing.assert_allclose(fa.jit(fa.vmap(fa.grad(lambda z: jv(1, z))))(z), g)


def test_pure_callback_inside_custom_vjp():
    # an "external solver": x -> x ** 3 computed by NumPy, its VJP by another callback
    def cube(x):
        return fa.pure_callback(lambda x: x ** 3, np.zeros_like(x), x, vmap_method="sequential")

    f = fa.custom_vjp(cube)
    f.defvjp(lambda x: (cube(x), x),
             lambda x, g: (g * fa.pure_callback(lambda x: 3 * x ** 2, np.zeros_like(x), x,
                                                vmap_method="sequential"),))
    x = np.array([0.5, -1.0, 2.0])
    loss = lambda x: fnp.sum(fnp.sin(f(x)))  # noqa: E731
    np.testing.assert_allclose(fa.grad(loss)(x), np.cos(x ** 3) * 3 * x ** 2)
    np.testing.assert_allclose(fa.jit(fa.grad(loss))(x), np.cos(x ** 3) * 3 * x ** 2)
    np.testing.assert_allclose(fa.vmap(fa.grad(lambda x: fnp.sin(f(x))))(x), np.cos(x ** 3) * 3 * x ** 2)
    check_grads(loss, (x,), order=1, modes=("rev",))


# --------------------------------------------------------------------------------------
# custom_jvp/custom_vjp run their function on concrete values when nothing forces tracing


def test_custom_vjp_function_with_python_control_flow():
    f = fa.custom_vjp(lambda x: x if x > 0 else -x)
    f.defvjp(lambda x: (f(x), x), lambda x, g: (g * fnp.sign(x),))
    assert f(1.0) == 1.0 and f(-2.0) == 2.0  # JAX returns 1.0: the example
    assert fa.grad(f)(-2.0) == -1.0 and fa.grad(f)(3.0) == 1.0
    assert fa.jvp(f, (-2.0,), (1.0,))[1] == -1.0  # forward mode differentiates f itself
    with pytest.raises(ConcretizationError, match="custom_vjp") as info:
        fa.jit(f)(1.0)
    with pytest.raises(ConcretizationError, match="custom_vjp"):
        fa.vmap(f)(np.array([1.0, -2.0]))
    assert "inside jit" not in str(info.value)


def test_custom_jvp_function_with_python_control_flow():
    g = fa.custom_jvp(lambda x: x * x if x > 0 else 0.0 * x)
    g.defjvp(lambda p, t: (g(p[0]), 2.0 * p[0] * t[0] if p[0] > 0 else 0.0 * t[0]))
    assert g(3.0) == 9.0
    assert fa.grad(g)(3.0) == 6.0 and fa.grad(g)(-3.0) == 0.0
    assert fa.jacfwd(g)(2.0) == 4.0
    assert fa.hessian(g)(2.0) == 2.0


def test_a_scalar_conversion_inside_a_custom_rule_function_is_still_refused_under_grad():
    f = fa.custom_vjp(lambda x: float(x) * x)
    f.defvjp(lambda x: (f(x), x), lambda x, g: (g,))
    assert f(2.0) == 4.0
    with pytest.raises(ConcretizationError):
        fa.grad(f)(2.0)


def test_jax_docs_pure_callback_example_with_shape_dtype_struct():
    # jax.pure_callback's documented example: NumPy's sin called from jit and vmap
    def host_sin(x):
        return np.sin(x)

    def f(x):
        return fa.pure_callback(host_sin, fa.ShapeDtypeStruct(x.shape, x.dtype), x,
                                vmap_method="sequential")

    x = np.linspace(0.0, 1.0, 4)
    np.testing.assert_allclose(fa.jit(f)(x), np.sin(x))
    np.testing.assert_allclose(fa.vmap(f)(np.stack([x, 2 * x])), np.sin(np.stack([x, 2 * x])))
    spec = fa.eval_shape(f, x)
    assert spec.shape == (4,) and spec.dtype == np.float64
