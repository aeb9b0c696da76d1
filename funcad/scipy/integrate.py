"""funcad.scipy.integrate: ``odeint``, an adaptive ODE solver with an adjoint derivative.

As JAX's ``jax.experimental.ode.odeint``: Dormand-Prince 5(4) steps with adaptive step size,
output at the requested times by the method's 4th-order dense interpolation, all in funcad
operations (``lax.while_loop`` inside ``lax.scan``), so it runs eagerly, under jit and under
vmap. Reverse mode is the adjoint method: a ``custom_vjp`` whose backward pass integrates the
augmented system (state, its cotangent, and the cotangents of the time points and of
``*args``) backwards in time, between consecutive output times (Chen et al., *Neural Ordinary
Differential Equations*, 2018). Forward mode (jvp, jacfwd) differentiates the solver's steps.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from .. import lax
from .. import numpy as fnp
from ..api import vjp
from ..custom_derivatives import custom_vjp
from ..errors import ArgumentError, ShapeError
from ..lax.jax_api import closure_convert
from ..tree_util import tree_flatten, tree_map, tree_unflatten

__all__ = ["odeint"]


def odeint(func: Callable, y0, t, *args, rtol: float = 1.4e-8, atol: float = 1.4e-8,
           mxstep: float = math.inf, hmax: float = math.inf):
    """Integrate ``dy/dt = func(y, t, *args)`` from ``y(t[0]) = y0``; return ``y`` at each ``t``.

    SciPy's ``odeint`` argument order (``func(y, t, *args)``) and JAX's solver: ``y0`` may be
    an array or a pytree of arrays; ``t`` an increasing 1-D array of times; the result has a
    leading axis of length ``len(t)``. ``rtol``/``atol`` bound each step's error estimate,
    ``mxstep`` the steps between two output times (an unfinished interval gives NaN rather
    than a wrong value), ``hmax`` the step size.

    Differentiable in ``y0``, ``t``, ``*args`` and the values ``func`` closes over (reverse
    mode by the adjoint ODE).

    >>> import funcad as fa, funcad.numpy as fnp
    >>> from funcad.scipy.integrate import odeint
    >>> ys = odeint(lambda y, t, k: -k * y, 1.0, fnp.array([0.0, 1.0]), 0.5)
    >>> round(float(ys[1]), 6), round(float(fnp.exp(-0.5)), 6)
    (0.606531, 0.606531)
    >>> decay = lambda k: odeint(lambda y, t, k: -k * y, 1.0, fnp.array([0.0, 1.0]), k)[1]
    >>> round(float(fa.grad(decay)(0.5)), 6)
    -0.606531
    """
    if not callable(func):
        raise ArgumentError(f"odeint: func must be callable, got {type(func).__name__}.")
    t = fnp.asarray(t)
    t = fnp.astype(t, float) if t.dtype.kind in "biu" else t
    if t.ndim != 1:
        raise ShapeError(f"odeint: t must be a 1-D array of times, got shape {t.shape}.")
    y0 = tree_map(lambda y: fnp.astype(fnp.asarray(y), float) if fnp.asarray(y).dtype.kind in "biu"
                  else fnp.asarray(y), y0)
    # the values func closes over become arguments, so they have derivatives too (as in JAX)
    converted, consts = closure_convert(func, y0, t[0], *args)
    return _odeint(converted, float(rtol), float(atol), float(mxstep), float(hmax), y0, t, *args, *consts)


def _ravel(tree):
    """``(flat 1-D array, unravel)`` for a pytree of arrays."""
    leaves, treedef = tree_flatten(tree)
    shapes = [fnp.shape(x) for x in leaves]
    sizes = [int(np.prod(s, dtype=np.int64)) for s in shapes]
    flat = fnp.concatenate([fnp.reshape(x, (-1,)) for x in leaves]) if leaves else fnp.zeros(0)

    def unravel(v):
        out, start = [], 0
        for s, n in zip(shapes, sizes):
            out.append(fnp.reshape(v[start:start + n], s))
            start += n
        return tree_unflatten(treedef, out)

    return flat, unravel


def _flat_func(func, unravel):
    return lambda y, t, *args: _ravel(func(unravel(y), t, *args))[0]


def _odeint_impl(func, rtol, atol, mxstep, hmax, y0, ts, *args):
    y0_flat, unravel = _ravel(y0)
    f = _flat_func(func, unravel)
    ys = _dopri(lambda y, t: f(y, t, *args), y0_flat, ts, rtol, atol, mxstep, hmax)
    return _unravel_rows(ys, unravel)


def _unravel_rows(ys, unravel):
    """Rows of flat states ``ys`` (time first) as a pytree of arrays with a time axis."""
    return lax.map(unravel, ys)


def _odeint_fwd(func, rtol, atol, mxstep, hmax, y0, ts, *args):
    ys = _odeint_impl(func, rtol, atol, mxstep, hmax, y0, ts, *args)
    return ys, (ys, ts, args)


def _odeint_bwd(func, rtol, atol, mxstep, hmax, res, g):
    ys, ts, args = res
    ys_flat = lax.map(lambda y: _ravel(y)[0], ys)
    g_flat = lax.map(lambda y: _ravel(y)[0], g)
    _, unravel = _ravel(tree_map(lambda y: y[0], ys))
    f = _flat_func(func, unravel)

    # only floating-point arguments have cotangents (an integer index array is a constant)
    arg_leaves, arg_tree = tree_flatten(args)
    is_float = [fnp.asarray(a).dtype.kind == "f" for a in arg_leaves]
    diff = [a for a, d in zip(arg_leaves, is_float) if d]

    def with_diff(d, others=None):
        it = iter(d)
        return tree_unflatten(arg_tree, [next(it) if fl else (a if others is None else others(a))
                                         for a, fl in zip(arg_leaves, is_float)])

    def aug_dynamics(state, t, *d):
        # the augmented system in reversed time (-t): the state, its cotangent, and the
        # cotangents of t and of the arguments accumulate as the adjoint equations say
        y, y_bar = state[0], state[1]
        y_dot, vjp_fn = vjp(lambda y, t, *d: f(y, t, *with_diff(d)), y, -t, *d)
        return (-y_dot, *vjp_fn(y_bar))

    def step(carry, x):  # from output time i back to i - 1
        y_bar, t0_bar, d_bar = carry
        y_i, t_i, t_prev, g_i, g_prev = x
        t_bar = fnp.dot(f(y_i, t_i, *args), g_i)  # moving the output time
        t0_bar = t0_bar - t_bar
        out = _odeint(aug_dynamics, rtol, atol, mxstep, hmax, (y_i, y_bar, t0_bar, d_bar),
                      fnp.stack([-t_i, -t_prev]), *diff)
        _, y_bar, t0_bar, d_bar = tree_map(lambda x: x[1], out)
        return (y_bar + g_prev, t0_bar, d_bar), t_bar

    init = (g_flat[-1], fnp.zeros((), ts.dtype), tuple(fnp.zeros_like(d) for d in diff))
    xs = (ys_flat[1:], ts[1:], ts[:-1], g_flat[1:], g_flat[:-1])
    (y_bar, t0_bar, d_bar), rev_ts_bar = lax.scan(step, init, xs, reverse=True)
    ts_bar = fnp.concatenate([fnp.reshape(t0_bar, (1,)), rev_ts_bar])
    return (unravel(y_bar), ts_bar, *with_diff(d_bar, fnp.zeros_like))


_odeint = custom_vjp(_odeint_impl, nondiff_argnums=(0, 1, 2, 3, 4))
_odeint.defvjp(_odeint_fwd, _odeint_bwd)


# --------------------------------------------------------------------------------------
# Dormand-Prince 5(4) on a flat state


_ALPHA = np.array([1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0, 1.0])
_BETA = [
    [1 / 5],
    [3 / 40, 9 / 40],
    [44 / 45, -56 / 15, 32 / 9],
    [19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729],
    [9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656],
    [35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84],
]
_C_SOL = np.array([35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84, 0.0])
_C_ERR = np.array([35 / 384 - 1951 / 21600, 0.0, 500 / 1113 - 22642 / 50085, 125 / 192 - 451 / 720,
                   -2187 / 6784 + 12231 / 42400, 11 / 84 - 649 / 6300, -1.0 / 60.0])
_C_MID = np.array([6025192743 / 30085553152 / 2, 0.0, 51252292925 / 65400821598 / 2,
                   -2691868925 / 45128329728 / 2, 187940372067 / 1594534317056 / 2,
                   -1776094331 / 19743644256 / 2, 11237099 / 235043384 / 2])


def _rk_step(fun, y0, f0, t0, dt):
    k = [f0]
    for alpha, beta in zip(_ALPHA, _BETA):
        yi = y0 + dt * sum(b * kj for b, kj in zip(beta, k) if b != 0.0)
        k.append(fun(yi, t0 + dt * alpha))
    k = fnp.stack(k)  # (7, n)
    y1 = y0 + dt * fnp.dot(_C_SOL, k)
    return y1, k[-1], dt * fnp.dot(_C_ERR, k), k


def _interp_fit(y0, y1, k, dt):
    """The 4th-order polynomial through the step (coefficients, highest power first)."""
    y_mid = y0 + dt * fnp.dot(_C_MID, k)
    dy0, dy1 = k[0], k[-1]
    a = -2.0 * dt * dy0 + 2.0 * dt * dy1 - 8.0 * y0 - 8.0 * y1 + 16.0 * y_mid
    b = 5.0 * dt * dy0 - 3.0 * dt * dy1 + 18.0 * y0 + 14.0 * y1 - 32.0 * y_mid
    c = -4.0 * dt * dy0 + dt * dy1 - 11.0 * y0 - 5.0 * y1 + 16.0 * y_mid
    return fnp.stack([a, b, c, dt * dy0, y0])


def _rms(x):
    return fnp.sqrt(fnp.mean(x * x)) if x.shape[0] else fnp.zeros(())


def _initial_step(fun, t0, y0, f0, rtol, atol, order=4):
    # Hairer, Norsett & Wanner, Solving ODEs I, p. 169 (as SciPy's select_initial_step)
    scale = atol + fnp.abs(y0) * rtol
    d0, d1 = _rms(y0 / scale), _rms(f0 / scale)
    h0 = fnp.where((d0 < 1e-5) | (d1 < 1e-5), 1e-6, 0.01 * d0 / fnp.where(d1 < 1e-5, 1.0, d1))
    f1 = fun(y0 + h0 * f0, t0 + h0)
    d2 = _rms((f1 - f0) / scale) / h0
    big = fnp.maximum(d1, d2)
    h1 = fnp.where(big <= 1e-15, fnp.maximum(1e-6, h0 * 1e-3),
                   (0.01 / fnp.where(big <= 1e-15, 1.0, big)) ** (1.0 / (order + 1.0)))
    return fnp.minimum(100.0 * h0, h1)


def _next_step(last, error_ratio, safety=0.9, ifactor=10.0, dfactor=0.2, order=5.0):
    dfactor = fnp.where(error_ratio < 1.0, 1.0, dfactor)
    safe_ratio = fnp.where(error_ratio == 0.0, 1.0, error_ratio)
    factor = fnp.minimum(ifactor, fnp.maximum(safe_ratio ** (-1.0 / order) * safety, dfactor))
    return fnp.where(error_ratio == 0.0, last * ifactor, last * factor)


def _dopri(fun, y0, ts, rtol, atol, mxstep, hmax):
    def to_time(carry, target_t):
        def cond(state):
            i, _, _, t, dt, _, _ = state
            return (t < target_t) & (i < mxstep) & (dt > 0.0)

        def body(state):
            i, y, f, t, dt, last_t, coeffs = state
            next_y, next_f, err, k = _rk_step(fun, y, f, t, dt)
            tol = atol + rtol * fnp.maximum(fnp.abs(y), fnp.abs(next_y))
            ratio = _rms(err / tol)
            new_dt = fnp.clip(_next_step(dt, ratio), 0.0, hmax)
            new = [i + 1, next_y, next_f, t + dt, new_dt, t, _interp_fit(y, next_y, k, dt)]
            old = [i + 1, y, f, t, new_dt, last_t, coeffs]
            return [fnp.where(ratio <= 1.0, a, b) for a, b in zip(new, old)]

        i, y, f, t, dt, last_t, coeffs = lax.while_loop(cond, body, [fnp.zeros((), float)] + carry)
        s = (target_t - last_t) / (t - last_t)
        y_target = (((coeffs[0] * s + coeffs[1]) * s + coeffs[2]) * s + coeffs[3]) * s + coeffs[4]
        # mxstep reached before target_t: NaN, not the value at an earlier time
        y_target = fnp.where(t >= target_t, y_target, fnp.nan)
        return [y, f, t, dt, last_t, coeffs], y_target

    t0 = ts[0]
    f0 = fun(y0, t0)
    dt = fnp.clip(_initial_step(fun, t0, y0, f0, rtol, atol), 0.0, hmax)
    coeffs = fnp.stack([y0] * 5)
    _, ys = lax.scan(to_time, [y0, f0, t0, dt, t0, coeffs], ts[1:])
    return fnp.concatenate([fnp.reshape(y0, (1, -1)), ys])
