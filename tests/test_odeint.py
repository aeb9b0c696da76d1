"""funcad.scipy.integrate.odeint: values against closed forms and SciPy, derivatives (adjoint
reverse mode, forward mode) against closed forms and finite differences, jit against eager,
vmap against a loop, pytree states; and a port of autograd's ODE-net example."""

import numpy as np
import pytest
import scipy.integrate

import funcad as fa
import funcad.numpy as fnp
from funcad.errors import ShapeError
from funcad.scipy.integrate import odeint
from funcad.test_util import check_grads


def decay(y, t, k):
    return -k * y


def lotka_volterra(y, t, a, b):
    return fnp.stack([a * y[0] - b * y[0] * y[1], -y[1] + b * y[0] * y[1]])


def lotka_volterra_np(y, t, a, b):
    return np.array([a * y[0] - b * y[0] * y[1], -y[1] + b * y[0] * y[1]])


TS = np.array([0.0, 0.5, 1.0, 2.0])


def test_decay_matches_the_closed_form_and_its_derivatives():
    ys = odeint(decay, 1.0, TS, 0.5)
    np.testing.assert_allclose(ys, np.exp(-0.5 * TS), rtol=1e-7)
    g_k = fa.grad(lambda k: odeint(decay, 1.0, TS, k)[-1])(0.5)
    np.testing.assert_allclose(g_k, -2.0 * np.exp(-1.0), rtol=1e-6)
    g_y0 = fa.grad(lambda y0: odeint(decay, y0, TS, 0.5)[-1])(1.0)
    np.testing.assert_allclose(g_y0, np.exp(-1.0), rtol=1e-6)
    # the time points: d y(T)/dT = f(y(T)), d y(T)/d t0 = -f(y0) dy(T)/dy0
    g_t = fa.grad(lambda ts: odeint(decay, 1.0, ts, 0.5)[-1])(TS)
    np.testing.assert_allclose(g_t, [0.5 * np.exp(-1.0), 0.0, 0.0, -0.5 * np.exp(-1.0)],
                               rtol=1e-6, atol=1e-12)
    # forward mode differentiates the solver's steps
    np.testing.assert_allclose(fa.jacfwd(lambda k: odeint(decay, 1.0, TS, k))(0.5), -TS * np.exp(-0.5 * TS),
                               rtol=1e-6, atol=1e-12)


def test_lotka_volterra_against_scipy_and_finite_differences():
    y0, args = np.array([1.0, 0.5]), (1.1, 0.4)
    ts = np.linspace(0.0, 3.0, 5)
    ours = odeint(lotka_volterra, y0, ts, *args, rtol=1e-10, atol=1e-10)
    ref = scipy.integrate.odeint(lotka_volterra_np, y0, ts, args=args, rtol=1e-11, atol=1e-11)
    np.testing.assert_allclose(ours, ref, rtol=1e-7)
    ivp = scipy.integrate.solve_ivp(lambda t, y: lotka_volterra_np(y, t, *args), (0.0, 3.0), y0,
                                    t_eval=ts, rtol=1e-11, atol=1e-11)
    np.testing.assert_allclose(ours, ivp.y.T, rtol=1e-7)
    def loss(y0, a, b):
        return fnp.sum(odeint(lotka_volterra, y0, ts, a, b, rtol=1e-10, atol=1e-10) ** 2)

    check_grads(loss, (y0, *args), order=1, modes=("rev",), rtol=1e-4)
    check_grads(lambda a: odeint(lotka_volterra, y0, ts[:3], a, 0.4), (1.1,), order=1, modes=("fwd",),
                rtol=1e-4)


def test_pytree_state_and_vmap_against_a_loop():
    def f(state, t, k):
        return {"x": state["v"], "v": -k * state["x"]}  # a harmonic oscillator

    ts = np.linspace(0.0, 1.0, 3)
    out = odeint(f, {"x": 1.0, "v": 0.0}, ts, 4.0)
    np.testing.assert_allclose(out["x"], np.cos(2.0 * ts), rtol=1e-7)
    np.testing.assert_allclose(out["v"], -2.0 * np.sin(2.0 * ts), rtol=1e-6, atol=1e-12)
    g = fa.grad(lambda k: odeint(f, {"x": 1.0, "v": 0.0}, ts, k)["x"][-1])(4.0)
    # x = cos(sqrt(k) t): dx/dk = -sin(sqrt(k) t) t / (2 sqrt(k))
    np.testing.assert_allclose(g, -np.sin(2.0) / 4.0, rtol=1e-6)
    ks = np.array([0.3, 0.5, 0.9])
    batched = fa.vmap(lambda k: odeint(decay, 1.0, TS, k))(ks)
    np.testing.assert_allclose(batched, [odeint(decay, 1.0, TS, k) for k in ks], rtol=1e-12)


def test_jit_equals_eager():
    f = lambda y0, k: odeint(decay, y0, TS, k)  # noqa: E731
    np.testing.assert_allclose(fa.jit(f)(1.0, 0.5), f(1.0, 0.5), rtol=1e-13)


def test_bad_times():
    with pytest.raises(ShapeError, match="1-D"):
        odeint(decay, 1.0, np.ones((2, 2)), 0.5)
    # too few steps allowed: NaN, not a value at an earlier time
    assert np.isnan(odeint(decay, 1.0, np.array([0.0, 100.0]), 0.5, mxstep=2)[-1])


def test_autograd_ode_net_example():
    # A port of autograd's ode_net example, written from its description: fit the parameters
    # of a small neural network dynamics dy/dt = nn(y; params) to a target trajectory by
    # gradient descent through odeint (adjoint). The loss must go down, and the gradient must
    # agree with finite differences.
    rng = np.random.default_rng(0)
    ts = np.linspace(0.0, 1.0, 4)
    true_y = odeint(lambda y, t: fnp.stack([-0.1 * y[0] + 2.0 * y[1], -2.0 * y[0] - 0.1 * y[1]]),
                    np.array([1.0, 0.0]), ts)

    def dynamics(y, t, w1, w2):
        return fnp.dot(fnp.tanh(fnp.dot(y, w1)), w2)

    def loss(w1, w2):
        pred = odeint(dynamics, np.array([1.0, 0.0]), ts, w1, w2, rtol=1e-6, atol=1e-6)
        return fnp.mean((pred - true_y) ** 2)

    w1, w2 = 0.5 * rng.normal(size=(2, 4)), 0.5 * rng.normal(size=(4, 2))
    check_grads(loss, (w1, w2), order=1, modes=("rev",), rtol=1e-3, atol=1e-6)
    first = loss(w1, w2)
    g = fa.grad(loss, argnums=(0, 1))
    for _ in range(10):
        g1, g2 = g(w1, w2)
        w1, w2 = w1 - 0.5 * g1, w2 - 0.5 * g2
    assert loss(w1, w2) < 0.8 * first


def test_closed_over_values_and_integer_arguments():
    # JAX converts the closure to arguments: closed-over parameters get derivatives too
    idx = np.array([1, 0])

    def final(k):
        return odeint(lambda y, t: -k * y[idx], np.array([1.0, 1.0]), TS)[-1, 0]

    np.testing.assert_allclose(final(0.5), np.exp(-1.0), rtol=1e-7)
    np.testing.assert_allclose(fa.grad(final)(0.5), -2.0 * np.exp(-1.0), rtol=1e-6)
    g = fa.grad(lambda k: odeint(lambda y, t, k, i: -k * y[i], np.ones(2), TS, k, idx)[-1, 1])(0.5)
    np.testing.assert_allclose(g, -2.0 * np.exp(-1.0), rtol=1e-6)


def test_jax_pendulum_example_under_jit():
    # A port of JAX's odeint test of a damped pendulum (SciPy's odeint documentation's
    # example): theta'' = -m theta' - g sin(theta), reverse-mode derivatives in the initial
    # state, the time points and both parameters, through jit, against JAX's values
    # (jax 0.4, float64, stored), SciPy and finite differences.
    def pend(y, t, m, g):
        return fnp.stack([y[1], -m * y[1] - g * fnp.sin(y[0])])

    def loss(y0, ts, m, g):
        return fnp.sum(odeint(pend, y0, ts, m, g) ** 2)

    y0, ts = np.array([np.pi - 0.1, 0.0]), np.linspace(0.0, 1.0, 11)
    ref = scipy.integrate.odeint(lambda y, t: [y[1], -0.25 * y[1] - 9.8 * np.sin(y[0])], y0, ts,
                                 rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(fa.jit(odeint, static_argnums=0)(pend, y0, ts, 0.25, 9.8), ref, rtol=1e-6)
    g = fa.jit(fa.grad(loss, (0, 1, 2, 3)))(y0, ts, 0.25, 9.8)
    jax_g = ([-157.61891256032655, -57.5019335971641],
             [-56.25802278407502, -0.3997211967216326, -0.7735695949363993, -1.0752800235845958,
              -1.2037056604019678, -0.9492988309518292, 0.09217452688574074, 2.646519527578472,
              7.896610239929511, 17.448925522358984, 32.57536827391874],
             -12.236093858968594, 4.976677142622644)
    for ours, theirs in zip(g, jax_g):
        np.testing.assert_allclose(ours, theirs, rtol=1e-6)
    check_grads(fa.jit(loss), (y0, ts, 0.25, 9.8), order=1, modes=("rev",), rtol=1e-4)
