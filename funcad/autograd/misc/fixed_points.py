"""``fixed_point(f, a, x0, distance, tol)``: iterate ``x = f(a)(x)`` from ``x0`` until
``distance(x, x_prev) <= tol``, differentiated with respect to ``a`` implicitly (the
reverse iteration of the adjoint fixed point), never through the iterations.

>>> import funcad.autograd.numpy as np
>>> from funcad.autograd import grad
>>> from funcad.autograd.misc.fixed_points import fixed_point
>>> newton_sqrt = lambda a: lambda x: 0.5 * (x + a / x)
>>> dist = lambda x, y: np.abs(x - y)
>>> sqrt = lambda a: fixed_point(newton_sqrt, a, 1.0, dist, 1e-12)
>>> round(float(sqrt(2.0)), 10), round(float(grad(sqrt)(2.0)), 10)   # 1 / (2 sqrt 2)
(1.4142135624, 0.3535533906)
"""

from __future__ import annotations

from ... import api
from ..extend import defvjp, primitive

__all__ = ["fixed_point"]


@primitive
def fixed_point(f, a, x0, distance, tol):
    """The fixed point of ``f(a)`` reached from ``x0``."""
    _f = f(a)
    x, x_prev = _f(x0), x0
    while distance(x, x_prev) > tol:
        x, x_prev = _f(x), x
    return x


def _fixed_point_vjp(ans, f, a, x0, distance, tol):
    # The adjoint w solves w = g + (d f(a)(x*)/dx)^T w, itself a fixed point (of a contraction
    # where the forward iteration is one); then ct_a = (d f(a)(x*)/da)^T w.
    def adjoint_step(params):
        a, x_star, g = params
        _, vjp_x = api.vjp(f(a), x_star)
        return lambda w: vjp_x(w)[0] + g

    def vjp(g):
        w = fixed_point(adjoint_step, (a, ans, g), g * 0.0, distance, tol)
        _, vjp_a = api.vjp(lambda a: f(a)(ans), a)
        return vjp_a(w)[0]

    return vjp


defvjp(fixed_point, None, _fixed_point_vjp, None)
