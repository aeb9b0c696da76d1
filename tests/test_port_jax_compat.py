"""What JAX scripts reach for first: config lines, block_until_ready, and the keyword
arguments JAX code passes (has_aux, axis_size, donate_argnums, unroll, batch_size,
checkpoint's static_argnums/policy, NumPy-integer argnums). Each checked against closed
forms, finite differences (check_grads), eager == jit and vmap == a Python loop."""

from __future__ import annotations

import numpy as np
import pytest

import funcad as fa
import funcad.numpy as fnp
from funcad import errors
from funcad.test_util import check_grads


def test_config_accepts_jax_first_lines():
    fa.config.update("jax_enable_x64", True)
    assert fa.config.jax_enable_x64 and fa.config.x64_enabled
    fa.config.update("jax_platform_name", "cpu")
    fa.config.update("jax_platforms", "cpu")
    assert fa.jit(lambda x: x * 2.0)(fnp.ones(2)).dtype == np.float64
    with pytest.raises(errors.ArgumentError, match="CPU only"):
        fa.config.update("jax_platform_name", "gpu")
    with pytest.raises(errors.ArgumentError, match="unknown option"):
        fa.config.update("jax_no_such_option", True)


def test_disable_jit_runs_eagerly():
    f = fa.jit(lambda x: x + 1.0 if float(x) > 0 else x - 1.0)
    with pytest.raises(errors.ConcretizationError):
        f(1.0)
    with fa.disable_jit():
        assert f(1.0) == 2.0 and f(-1.0) == -2.0
    fa.config.update("jax_disable_jit", True)
    try:
        assert f(2.0) == 3.0
    finally:
        fa.config.update("jax_disable_jit", False)


def test_block_until_ready_returns_its_argument():
    tree = {"a": np.ones(2), "b": (1.0,)}
    assert fa.block_until_ready(tree) is tree
    out = fa.jit(lambda x: (x * 2.0).block_until_ready() + 1.0)(np.ones(3))
    np.testing.assert_array_equal(out, 3.0 * np.ones(3))
    assert fa.grad(lambda x: fnp.sin(x).block_until_ready())(0.0) == 1.0


def test_jvp_has_aux():
    f = lambda x: (fnp.sin(x) * x, {"x2": x ** 2})  # noqa: E731
    y, t, aux = fa.jvp(f, (0.7,), (2.0,), has_aux=True)
    np.testing.assert_allclose(y, np.sin(0.7) * 0.7)
    np.testing.assert_allclose(t, 2.0 * (np.cos(0.7) * 0.7 + np.sin(0.7)))
    np.testing.assert_allclose(aux["x2"], 0.49)
    jit_out = fa.jit(lambda x, v: fa.jvp(f, (x,), (v,), has_aux=True))(0.7, 2.0)
    np.testing.assert_allclose(jit_out[1], t)


def test_linearize_has_aux():
    x = np.array([0.3, -1.2])
    y, f_jvp, aux = fa.linearize(lambda x: (fnp.tanh(x), fnp.sum(x)), x, has_aux=True)
    np.testing.assert_allclose(y, np.tanh(x))
    np.testing.assert_allclose(f_jvp(np.ones(2)), 1 - np.tanh(x) ** 2)
    np.testing.assert_allclose(aux, x.sum())


def test_hessian_and_jacobians_has_aux():
    x = np.array([1.0, 2.0, -0.5])
    f = lambda x: (fnp.sum(x ** 3), x * 2.0)  # noqa: E731
    h, aux = fa.hessian(f, has_aux=True)(x)
    np.testing.assert_allclose(h, np.diag(6 * x))
    np.testing.assert_allclose(aux, 2 * x)
    for jac in (fa.jacfwd, fa.jacrev):
        j, aux = jac(lambda x: (fnp.sin(x), x.sum()), has_aux=True)(x)
        np.testing.assert_allclose(j, np.diag(np.cos(x)))
        np.testing.assert_allclose(aux, x.sum())


@pytest.mark.parametrize("argnums", [np.int64(1), np.int32(1), (np.int64(0), np.int64(1))])
def test_argnums_as_numpy_integers(argnums):
    f = lambda a, b: a * fnp.sin(b)  # noqa: E731
    g = fa.grad(f, argnums=argnums)(2.0, 0.5)
    if isinstance(argnums, tuple):
        np.testing.assert_allclose(g, (np.sin(0.5), 2 * np.cos(0.5)))
    else:
        np.testing.assert_allclose(g, 2 * np.cos(0.5))
        np.testing.assert_allclose(fa.value_and_grad(f, argnums)(2.0, 0.5)[1], g)
        np.testing.assert_allclose(fa.jacrev(f, argnums)(2.0, 0.5), g)
        np.testing.assert_allclose(fa.jacfwd(f, argnums)(2.0, 0.5), g)
        np.testing.assert_allclose(fa.elementwise_grad(f, argnums)(2.0, 0.5), g)


def test_vmap_axis_size_with_no_mapped_input():
    out = fa.vmap(lambda: fnp.arange(3.0), axis_size=4)()
    np.testing.assert_array_equal(out, np.tile(np.arange(3.0), (4, 1)))
    out = fa.vmap(lambda x, y: x + y, in_axes=(None, None), axis_size=2)(1.0, 2.0)
    np.testing.assert_array_equal(out, [3.0, 3.0])
    xs = np.arange(6.0).reshape(3, 2)
    out = fa.vmap(lambda x: fnp.sum(x ** 2), axis_name="batch", axis_size=3)(xs)
    np.testing.assert_allclose(out, [np.sum(r ** 2) for r in xs])
    with pytest.raises(errors.BatchingError, match="axis_size=2"):
        fa.vmap(lambda x: x, axis_size=2)(xs)


def test_jit_accepts_donation_and_the_argument_stays_valid():
    x = np.arange(3.0)
    f = fa.jit(lambda x, y: x * y, donate_argnums=(0,), donate_argnames="y", keep_unused=True,
               inline=True, device=None)
    np.testing.assert_array_equal(f(x, 2.0), 2 * x)
    np.testing.assert_array_equal(x, np.arange(3.0))  # a donated argument is still usable
    with pytest.raises(errors.ArgumentError, match="unexpected keyword"):
        fa.jit(lambda x: x, donate=0)


def test_scan_and_fori_loop_accept_unroll():
    f = lambda x, u: fa.lax.scan(lambda c, x: (c * x, c), 1.0, x, unroll=u)  # noqa: E731
    x = np.array([1.5, 2.0, 0.5])
    for u in (1, 2, True):
        c, ys = f(x, u)
        np.testing.assert_allclose(c, np.prod(x))
        np.testing.assert_allclose(ys, np.cumprod(np.r_[1.0, x])[:-1])
    check_grads(lambda x: f(x, 2)[0], (x,), order=1)
    g = lambda a: fa.lax.fori_loop(0, 4, lambda i, v: v * a + i, 1.0, unroll=2)  # noqa: E731
    np.testing.assert_allclose(fa.jit(g)(1.5), g(1.5))
    check_grads(g, (1.5,), order=1)


@pytest.mark.parametrize("n,b", [(6, 2), (7, 3), (2, 5)])
def test_lax_map_batch_size_equals_a_loop(n, b):
    xs = np.linspace(-1.0, 1.0, 2 * n).reshape(n, 2)
    f = lambda x: {"s": fnp.sin(x).sum(), "v": x * 2.0}  # noqa: E731
    out = fa.lax.map(f, xs, batch_size=b)
    np.testing.assert_allclose(out["s"], [np.sin(r).sum() for r in xs])
    np.testing.assert_allclose(out["v"], 2 * xs)
    if n == 7:  # one compiled case (a chunked scan and a remainder): compiling costs seconds
        jitted = fa.jit(lambda xs: fa.lax.map(f, xs, batch_size=b))(xs)
        np.testing.assert_allclose(jitted["s"], out["s"])
    check_grads(lambda xs: fa.lax.map(f, xs, batch_size=b)["s"].sum(), (xs,), order=1)


def test_checkpoint_static_argnums_and_policies():
    def f(x, n, flag):
        y = x
        for _ in range(n):  # n is a Python int: static
            y = fnp.sin(y)
        return y if flag else -y

    g = fa.checkpoint(f, static_argnums=(1, 2), policy=fa.checkpoint_policies.dots_saveable)
    np.testing.assert_allclose(fa.grad(g)(0.4, 2, True), np.cos(np.sin(0.4)) * np.cos(0.4))
    np.testing.assert_allclose(fa.grad(g)(0.4, 2, False), -np.cos(np.sin(0.4)) * np.cos(0.4))
    np.testing.assert_allclose(fa.jit(fa.grad(g), static_argnums=(1, 2))(0.4, 2, True),
                               fa.grad(g)(0.4, 2, True))
    pol = fa.checkpoint_policies
    for p in (pol.everything_saveable, pol.nothing_saveable, pol.checkpoint_dots,
              pol.dots_with_no_batch_dims_saveable, pol.save_only_these_names("a"),
              pol.save_any_names_but_these("a")):
        h = fa.checkpoint(lambda x: fnp.exp(fa.checkpoint_name(x * 2.0, "a")), policy=p)
        np.testing.assert_allclose(fa.grad(h)(0.3), 2 * np.exp(0.6))

    @fa.checkpoint(static_argnums=1)
    def powered(x, n):
        return x ** n

    assert fa.grad(powered)(2.0, 3) == 12.0


def test_devices_and_device_put():
    assert fa.devices() == fa.local_devices() and fa.devices()[0].platform == "cpu"
    assert fa.device_count() == fa.local_device_count() == 1 and fa.default_backend() == "cpu"
    out = fa.device_put({"a": 1.0, "b": [np.arange(2)]}, fa.devices()[0])
    assert isinstance(out["a"], np.ndarray) and out["b"][0].dtype == np.arange(2).dtype
    assert fa.device_get(out)["a"] == 1.0
    with pytest.raises(errors.ArgumentError, match="CPU only"):
        fa.devices("gpu")


def test_make_jaxpr_of_shape_dtype_structs():
    j = fa.make_jaxpr(lambda x, y: fnp.sin(x) @ y)(fa.ShapeDtypeStruct((2, 3), np.float32),
                                                   fa.ShapeDtypeStruct((3,), np.float32))
    assert "f32[2,3]" in str(j) and "f32[3]" in str(j)


def test_array_type_for_isinstance_and_annotations():
    assert isinstance(np.ones(2), fa.Array) and isinstance(np.float64(1.0), fa.Array)
    assert not isinstance([1.0], fa.Array)
    seen = []
    fa.grad(lambda x: seen.append(isinstance(x, fa.Array)) or fnp.sin(x))(1.0)
    fa.jit(lambda x: seen.append(isinstance(x, fa.Array)) or x)(1.0)
    assert seen == [True, True]


def test_collectives_over_a_named_vmap_axis():
    lax = fa.lax
    x = np.array([1.0, 3.0, 4.0])
    normalise = fa.vmap(lambda x: x / lax.psum(x, "i"), axis_name="i")
    np.testing.assert_allclose(normalise(x), x / x.sum())
    np.testing.assert_allclose(fa.jit(normalise)(x), x / x.sum())
    check_grads(lambda x: normalise(x) ** 2, (x,), order=2)
    mean, mx, mn, idx, gathered, count = fa.vmap(
        lambda v: (lax.pmean(v, "i"), lax.pmax(v, "i"), lax.pmin(v, "i"), lax.axis_index("i"),
                   lax.all_gather(v, "i"), lax.psum(1.0, "i")), axis_name="i")(x)
    np.testing.assert_allclose(mean, [x.mean()] * 3)
    np.testing.assert_array_equal(mx, [4.0] * 3)
    np.testing.assert_array_equal(mn, [1.0] * 3)
    np.testing.assert_array_equal(idx, [0, 1, 2])
    np.testing.assert_array_equal(gathered, np.tile(x, (3, 1)))
    np.testing.assert_array_equal(count, [3.0] * 3)  # an unmapped value counts once per example
    # JAX's values (0.10): psum's transpose is psum; all_gather's Jacobian
    np.testing.assert_allclose(fa.vmap(fa.grad(lambda v: lax.psum(v ** 2, "i")), axis_name="i")(x), 6 * x)
    jac = fa.jacrev(fa.vmap(lambda v: lax.all_gather(v, "i") * v, axis_name="i"))(x)
    np.testing.assert_allclose(jac[1], [[3, 1, 0], [0, 6, 0], [0, 4, 3]])
    check_grads(fa.vmap(lambda v: lax.pmax(v, "i") * v, axis_name="i"), (x,), order=1)
    nested = fa.vmap(fa.vmap(lambda v: lax.psum(v, "j") + 10 * lax.psum(v, "i"), axis_name="j"),
                     axis_name="i")(np.arange(4.0).reshape(2, 2))
    np.testing.assert_array_equal(nested, [[21, 41], [25, 45]])
    tiled = fa.vmap(lambda v: lax.all_gather(v, "i", tiled=True), axis_name="i")(np.ones((2, 3)))
    assert tiled.shape == (2, 6)
    with pytest.raises(errors.BatchingError, match="not bound"):
        lax.psum(x, "i")
    with pytest.raises(errors.BatchingError, match="not bound"):
        fa.vmap(lambda v: lax.psum(v, "k"), axis_name="i")(x)
