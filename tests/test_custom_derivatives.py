"""custom_jvp, custom_vjp and checkpoint: eager, jit, vmap, and derivatives to second order."""

import functools

import numpy as np
import pytest

import funcad as fa
import funcad.numpy as fnp
from funcad.errors import ArgumentError, TreeStructureError
from funcad.test_util import check_grads, check_vmap


def close(a, b, tol=1e-12):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=tol, atol=tol)


@fa.custom_jvp
def log1pexp(x):
    return fnp.log(1.0 + fnp.exp(x))


@log1pexp.defjvp
def _log1pexp_jvp(primals, tangents):
    (x,), (x_dot,) = primals, tangents
    return log1pexp(x), x_dot * fa.nn.sigmoid(x)


def sigmoid_np(x):
    return 1.0 / (1.0 + np.exp(-x))


@fa.custom_vjp
def sin_times(x, y):
    return fnp.sin(x) * y


def _sin_times_fwd(x, y):
    return sin_times(x, y), (fnp.cos(x), fnp.sin(x), y)


def _sin_times_bwd(res, g):
    cos_x, sin_x, y = res
    return cos_x * g * y, sin_x * g


sin_times.defvjp(_sin_times_fwd, _sin_times_bwd)

RUNNERS = [lambda f: f, fa.jit]


@pytest.fixture(params=[0, 1], ids=["eager", "jit"])
def run(request):
    return RUNNERS[request.param]


def test_custom_jvp_rule_is_used(run):
    # The naive derivative of log(1 + exp(x)) is nan at x = 1000; the rule's is 1.
    close(run(fa.grad(log1pexp))(1000.0), 1.0)
    close(run(fa.grad(log1pexp))(0.3), sigmoid_np(0.3))
    close(fa.grad(run(log1pexp))(1000.0), 1.0)
    close(run(log1pexp)(0.3), np.log1p(np.exp(0.3)))


def test_custom_jvp_second_order_and_vmap():
    check_grads(log1pexp, (0.3,), order=2)
    close(fa.hessian(log1pexp)(0.3), sigmoid_np(0.3) * (1 - sigmoid_np(0.3)))
    xs = np.array([-1.0, 0.3, 1000.0])
    close(fa.vmap(fa.grad(log1pexp))(xs), sigmoid_np(xs))
    close(fa.grad(lambda x: fnp.sum(fa.vmap(log1pexp)(x)))(xs), sigmoid_np(xs))
    check_vmap(log1pexp, (xs[:2],))


def test_custom_jvp_nondiff_argnums():
    @functools.partial(fa.custom_jvp, nondiff_argnums=(0,))
    def scaled(n, x):
        return x * n

    @scaled.defjvp
    def _(n, primals, tangents):
        return scaled(n, primals[0]), 100.0 * tangents[0]  # deliberately not the true derivative

    close(fa.grad(lambda x: scaled(3.0, x))(1.0), 100.0)


def test_custom_vjp_rule_is_used(run):
    x, y = 0.7, 1.3
    close(run(fa.grad(sin_times))(x, y), np.cos(x) * y)
    close(run(fa.grad(sin_times, 1))(x, y), np.sin(x))
    close(fa.grad(run(sin_times))(x, y), np.cos(x) * y)

    @fa.custom_vjp
    def clip_gradient(x):
        return x

    clip_gradient.defvjp(lambda x: (x, None), lambda _, g: (fnp.clip(g, -1.0, 1.0),))
    close(fa.grad(lambda x: 3.0 * clip_gradient(x))(2.0), 1.0)  # the rule, not the math


def test_custom_vjp_forward_mode_differentiates_the_function(run):
    # JAX raises here; funcad differentiates sin_times itself.
    x, y = 0.7, 1.3
    _, t = fa.jvp(sin_times, (x, y), (1.0, 0.5))
    close(t, np.cos(x) * y + 0.5 * np.sin(x))
    close(run(fa.jacfwd(sin_times))(x, y), np.cos(x) * y)
    close(run(fa.hessian(sin_times))(x, y), -np.sin(x) * y)
    close(fa.jacfwd(fa.jacfwd(sin_times))(x, y), -np.sin(x) * y)


def test_custom_vjp_second_order_and_vmap():
    check_grads(sin_times, (0.7, 1.3), order=2)
    xs, ys = np.array([0.1, 0.7, 2.0]), np.array([1.0, 2.0, -1.0])
    check_vmap(sin_times, (xs, ys))
    close(fa.vmap(fa.grad(sin_times))(xs, ys), np.cos(xs) * ys)
    close(fa.grad(lambda xs: fnp.sum(fa.vmap(sin_times)(xs, ys)))(xs), np.cos(xs) * ys)
    g = fa.grad(lambda y: fnp.sum(fa.vmap(sin_times, in_axes=(0, None))(xs, y)))(2.0)
    close(g, np.sum(np.sin(xs)))


def test_custom_vjp_pytrees():
    @fa.custom_vjp
    def f(p):
        return {"out": p["a"] * p["b"]}

    f.defvjp(lambda p: (f(p), p), lambda p, g: ({"a": g["out"] * p["b"], "b": g["out"] * p["a"]},))
    close(fa.grad(lambda p: f(p)["out"])({"a": 2.0, "b": 3.0})["a"], 3.0)


def test_errors():
    @fa.custom_vjp
    def f(x):
        return x

    with pytest.raises(ArgumentError, match="defvjp"):
        f(1.0)
    f.defvjp(lambda x: (x, None), lambda _, g: g)  # bwd must return a tuple
    with pytest.raises(TreeStructureError, match="tuple"):
        fa.grad(f)(1.0)

    @fa.custom_jvp
    def h(x):
        return x

    with pytest.raises(ArgumentError, match="defjvp"):
        h(1.0)


def test_checkpoint(run):
    f = fa.checkpoint(lambda x: fnp.sin(fnp.sin(x)) * x)
    plain = lambda x: fnp.sin(fnp.sin(x)) * x
    for x in (0.3, 1.2):
        close(run(f)(x), plain(x))
        close(run(fa.grad(f))(x), fa.grad(plain)(x))
        close(fa.hessian(f)(x), fa.hessian(plain)(x))
    check_grads(f, (0.8,), order=2)
    xs = np.array([0.1, 0.5])
    close(fa.vmap(fa.grad(f))(xs), fa.vmap(fa.grad(plain))(xs))


def test_checkpoint_recomputes_in_the_backward_pass():
    # The linear program holds the checkpointed function whole (to rerun it), not its
    # intermediate values.
    f = fa.checkpoint(lambda x: fnp.sin(fnp.exp(x)))
    _, f_jvp = fa.linearize(lambda x: f(x) * 2.0, 0.5)
    close(f_jvp(1.0), 2.0 * np.cos(np.exp(0.5)) * np.exp(0.5))
    from funcad import ad

    _, lin, residuals = ad.linearize_flat(lambda x: [f(x)], [np.float64(0.5)])
    assert [e.prim.name for e in lin.eqns] == ["checkpoint"]
    assert all(np.shape(r) == () for r in residuals)  # only the input, not exp(x) etc.
    close(ad.backward_pass(lin, residuals, [1.0])[0], np.cos(np.exp(0.5)) * np.exp(0.5))
