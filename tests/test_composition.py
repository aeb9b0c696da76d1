"""Transformations composed to depth: against closed forms and finite differences."""

import numpy as np
import pytest

import funcad as fa
import funcad.numpy as fnp
from funcad.test_util import check_grads


def test_third_derivative_by_nested_grad(transform):
    f = lambda x: x ** 4 * fnp.sin(x)  # noqa: E731
    d3 = transform(fa.grad(fa.grad(fa.grad(f))))
    x = 0.7
    # (x^4 sin x)''' = 24x sin x + 36x^2 cos x - 12x^3 sin x - x^4 cos x
    expected = 24 * x * np.sin(x) + 36 * x ** 2 * np.cos(x) - 12 * x ** 3 * np.sin(x) - x ** 4 * np.cos(x)
    np.testing.assert_allclose(d3(x), expected, rtol=1e-12)


def test_fourth_derivative_mixing_modes():
    f = fnp.exp
    d4 = fa.grad(lambda x: fa.jvp(fa.grad(fa.grad(f)), (x,), (1.0,))[1])
    np.testing.assert_allclose(d4(0.3), np.exp(0.3), rtol=1e-12)


def _rosen(x):
    return fnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


def _rosen_hessian(x):
    n = len(x)
    H = np.zeros((n, n))
    for i in range(n - 1):
        H[i, i] += 1200 * x[i] ** 2 - 400 * x[i + 1] + 2
        H[i + 1, i + 1] += 200
        H[i, i + 1] = H[i + 1, i] = -400 * x[i]
    return H


def test_jacfwd_of_jacrev_and_hessian_match_closed_form(rng, transform):
    x = rng.standard_normal(4)
    H = _rosen_hessian(x)
    np.testing.assert_allclose(transform(fa.jacfwd(fa.jacrev(_rosen)))(x), H, rtol=1e-12)
    np.testing.assert_allclose(transform(fa.hessian(_rosen))(x), H, rtol=1e-12)
    np.testing.assert_allclose(transform(fa.jacrev(fa.jacrev(_rosen)))(x), H, rtol=1e-12)
    np.testing.assert_allclose(transform(fa.jacfwd(fa.jacfwd(_rosen)))(x), H, rtol=1e-12)
    np.testing.assert_allclose(transform(fa.jacrev(fa.grad(_rosen)))(x), H, rtol=1e-12)


def test_hvp_by_jvp_of_grad(rng, transform):
    x, v = rng.standard_normal(5), rng.standard_normal(5)

    def hvp(x, v):
        return fa.jvp(fa.grad(_rosen), (x,), (v,))[1]

    np.testing.assert_allclose(transform(hvp)(x, v), _rosen_hessian(x) @ v, rtol=1e-12)
    # and reverse-over-reverse: grad of <grad f, v>
    rr = fa.grad(lambda x: fnp.dot(fa.grad(_rosen)(x), v))
    np.testing.assert_allclose(transform(rr)(x), _rosen_hessian(x) @ v, rtol=1e-12)


def test_grad_inside_a_function_being_differentiated(transform):
    # d/dx [x * d/dy (x * y)] = d/dx [x * x] = 2x : the inner grad closes over the traced x.
    def f(x):
        inner = fa.grad(lambda y: x * y)(3.0)
        return x * inner

    np.testing.assert_allclose(transform(fa.grad(f))(2.0), 4.0)

    # JAX's perturbation-confusion test: d/dx [x * (d/dy (x + y))|y=1] = 1
    g = fa.grad(lambda x: x * fa.grad(lambda y: x + y)(1.0))
    np.testing.assert_allclose(transform(g)(5.0), 1.0)

    # inner grad w.r.t. a closed-over matrix, outer w.r.t. the vector
    A = np.array([[2.0, 1.0], [0.0, 3.0]])

    def outer(v):
        inner = fa.grad(lambda M: fnp.sum(fnp.sin(M @ v)))(A)  # = cos(A v) v^T
        return fnp.sum(inner ** 2)

    check_grads(outer, (np.array([0.3, -0.5]),), order=2)


def test_jvp_inside_vjp_and_vice_versa(rng):
    x = rng.standard_normal(3)
    f = lambda x: fnp.sin(x) * fnp.sum(x ** 2)  # noqa: E731
    J = fa.jacfwd(f)(x)
    # vjp of (x -> jvp(f, x, v)) is J'(x)[v]^T ct; check against jacrev of the same function
    v = rng.standard_normal(3)
    g = lambda x: fa.jvp(f, (x,), (v,))[1]  # noqa: E731
    np.testing.assert_allclose(fa.jacrev(g)(x), fa.jacfwd(g)(x), rtol=1e-12)
    np.testing.assert_allclose(g(x), J @ v, rtol=1e-12)
    check_grads(g, (x,), order=2)


def test_has_aux(rng, transform):
    def loss(w, x):
        pred = fnp.tanh(x @ w)
        return fnp.sum(pred ** 2), {"pred": pred, "n": 3}

    w, x = rng.standard_normal(3), rng.standard_normal((4, 3))
    g, aux = transform(fa.grad(loss, has_aux=True))(w, x)
    (v, aux2), g2 = fa.value_and_grad(loss, has_aux=True)(w, x)
    pred = np.tanh(x @ w)
    np.testing.assert_allclose(aux["pred"], pred)
    assert aux["n"] == 3 or np.asarray(aux["n"]) == 3
    np.testing.assert_allclose(v, np.sum(pred ** 2))
    np.testing.assert_allclose(g, x.T @ (2 * pred * (1 - pred ** 2)), rtol=1e-12)
    np.testing.assert_allclose(g2, g)
    out, vjp_fn, aux3 = fa.vjp(lambda w: loss(w, x), w, has_aux=True)
    np.testing.assert_allclose(vjp_fn(1.0)[0], g)
    jac, aux4 = fa.jacrev(loss, has_aux=True)(w, x)
    np.testing.assert_allclose(jac, g)
    jac, aux5 = fa.jacfwd(loss, has_aux=True)(w, x)
    np.testing.assert_allclose(jac, g, rtol=1e-12)


def test_argnums_tuple_and_negative(rng, transform):
    def f(a, b, c):
        return fnp.sum(a * fnp.sin(b)) * c

    a, b, c = rng.standard_normal(3), rng.standard_normal(3), 2.0
    ga, gc = transform(fa.grad(f, argnums=(0, 2)))(a, b, c)
    np.testing.assert_allclose(ga, np.sin(b) * c)
    np.testing.assert_allclose(gc, np.sum(a * np.sin(b)))
    gb = fa.grad(f, argnums=-2)(a, b, c)
    np.testing.assert_allclose(gb, a * np.cos(b) * c)
    (J_a, J_b) = fa.jacrev(lambda a, b: a * b, argnums=(0, 1))(a, b)
    np.testing.assert_allclose(J_a, np.diag(b))
    (J_a, J_b) = fa.jacfwd(lambda a, b: a * b, argnums=(0, 1))(a, b)
    np.testing.assert_allclose(J_b, np.diag(a))
    H = fa.hessian(f, argnums=(0, 1))(a, b, c)
    np.testing.assert_allclose(H[0][1], np.diag(np.cos(b) * c), rtol=1e-12)
    np.testing.assert_allclose(H[1][1], np.diag(-a * np.sin(b) * c), rtol=1e-12)


def test_python_control_flow_on_values_under_eager_grad():
    def f(x):
        if x > 0:
            return x ** 2
        out = x
        while out < 10:
            out = out * 3 + 20
        return out

    assert float(fa.grad(f)(3.0)) == 6.0
    assert float(fa.grad(f)(-1.0)) == 3.0
    assert float(fa.grad(fa.grad(f))(3.0)) == 2.0


def test_linearize_matches_jvp_and_is_reusable(rng):
    x = rng.standard_normal(4)
    y, f_jvp = fa.linearize(lambda x: fnp.tanh(x) * fnp.sum(x), x)
    for _ in range(3):
        v = rng.standard_normal(4)
        np.testing.assert_allclose(f_jvp(v), fa.jvp(lambda x: fnp.tanh(x) * fnp.sum(x), (x,), (v,))[1],
                                   rtol=1e-12)


def test_derivative_of_unused_and_constant_inputs_is_zero(transform):
    g = transform(fa.grad(lambda x, y: x * 2.0, argnums=(0, 1)))(1.0, np.ones(3))
    np.testing.assert_array_equal(g[1], np.zeros(3))
    assert transform(fa.grad(lambda x: 3.0))(1.0) == 0.0
    np.testing.assert_array_equal(fa.jacrev(lambda x: np.ones(2))(np.ones(3)), np.zeros((2, 3)))
    np.testing.assert_array_equal(fa.hessian(lambda x: fnp.sum(x))(np.ones(2)), np.zeros((2, 2)))


@pytest.mark.parametrize("depth", [1, 2, 3, 4])
def test_nested_egrad_of_sin_cycles(depth):
    x = np.linspace(-2, 2, 7)
    f = fnp.sin
    for _ in range(depth):
        f = fa.elementwise_grad(f)
    expected = [np.sin, np.cos, lambda x: -np.sin(x), lambda x: -np.cos(x)][depth % 4](x)
    np.testing.assert_allclose(f(x), expected, atol=1e-13)
