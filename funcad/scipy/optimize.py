"""funcad.scipy.optimize: ``minimize`` by BFGS, as ``jax.scipy.optimize.minimize``.

The whole solver is one :func:`funcad.lax.while_loop` (its line search another), so it runs
eagerly, under :func:`funcad.jit` and under :func:`funcad.vmap` (a batch of problems, each
stopping when it converges). The gradient comes from :func:`funcad.value_and_grad`. The line
search finds a point satisfying the strong Wolfe conditions (Nocedal and Wright, Algorithms 3.5
and 3.6, with a safeguarded quadratic step in the zoom), so iteration counts may differ from
JAX's and SciPy's line searches while the minimizer agrees. Like JAX's, ``minimize`` is not
meant to be differentiated: for derivatives of a minimizer, use :func:`funcad.lax.custom_root`
on the gradient. For Newton's method with exact Hessians, see :mod:`funcad.optimize`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import numpy as np

from .. import api, lax
from .. import numpy as fnp
from ..errors import ArgumentError, ShapeError

__all__ = ["OptimizeResults", "minimize"]


class OptimizeResults(NamedTuple):
    """The result of :func:`minimize` (JAX's fields).

    ``status``: 0 converged (gradient norm below ``gtol``), 1 ``maxiter`` reached, 3 the line
    search found no strong Wolfe point in ``line_search_maxiter`` steps (``x`` is then the last
    point reached)."""
    x: Any
    success: Any
    status: Any
    fun: Any
    jac: Any
    hess_inv: Any
    nfev: Any
    njev: Any
    nit: Any


def minimize(fun: Callable, x0, args: tuple = (), *, method: str, tol: float | None = None,
             options: Mapping[str, Any] | None = None) -> OptimizeResults:
    """Minimize ``fun(x, *args)`` over a 1-D ``x`` from ``x0`` (``jax.scipy.optimize.minimize``).

    ``method`` must be ``"BFGS"``. ``options``: ``maxiter`` (default ``200 * x0.size``),
    ``gtol`` (1e-5; ``tol`` sets it, as in SciPy), ``norm`` (of the gradient, ``inf``),
    ``line_search_maxiter`` (10).

    >>> import funcad.numpy as fnp
    >>> from funcad.scipy.optimize import minimize
    >>> rosen = lambda x: fnp.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)
    >>> r = minimize(rosen, fnp.zeros(3), method="BFGS")
    >>> bool(r.success), fnp.round(r.x, 4).tolist()
    (True, [1.0, 1.0, 1.0])
    """
    if not isinstance(args, tuple):
        raise ArgumentError(f"minimize: args must be a tuple of extra arguments to fun, got "
                            f"{type(args).__name__}; write args=(a,) for one.")
    if not isinstance(method, str) or method.lower() != "bfgs":
        raise ArgumentError(f"minimize: method={method!r} is not available; funcad.scipy.optimize "
                            "has method='BFGS' (funcad.optimize.minimize wraps SciPy's methods).")
    options = dict(options or {})
    unknown = set(options) - {"maxiter", "gtol", "norm", "line_search_maxiter"}
    if unknown:
        raise ArgumentError(f"minimize: unknown BFGS options {sorted(unknown)}; the options are "
                            "maxiter, gtol, norm and line_search_maxiter.")
    x0 = fnp.asarray(x0)
    if x0.ndim != 1 or not fnp.issubdtype(x0.dtype, fnp.floating):
        raise ShapeError(f"minimize: x0 must be a 1-D floating-point array, got shape {x0.shape} "
                         f"dtype {x0.dtype}; ravel a parameter array (funcad.flatten_util."
                         "ravel_pytree for a pytree) and pass floats.")
    if tol is not None:
        options.setdefault("gtol", tol)
    return _bfgs(lambda x: fun(x, *args), x0, **options)


def _bfgs(f, x0, maxiter=None, gtol=1e-5, norm=np.inf, line_search_maxiter=10):
    maxiter = 200 * x0.size if maxiter is None else maxiter
    value_and_grad = api.value_and_grad(f)
    f0, g0 = value_and_grad(x0)
    eye = fnp.eye(x0.size, dtype=x0.dtype)
    init = (0, x0, f0, g0, eye, fnp.linalg.norm(g0, ord=norm) < gtol, False, 1)

    def cond(s):
        k, _, _, _, _, converged, failed, _ = s
        return ~converged & ~failed & (k < maxiter)

    def body(s):
        k, x, fx, g, H, _, _, nfev = s
        p = -H @ g
        a, f1, g1, n, failed = _line_search(value_and_grad, x, p, fx, g, line_search_maxiter)
        sk, yk = a * p, g1 - g
        curved = yk @ sk > 0  # else the update would lose positive definiteness: skip it
        rho = 1.0 / fnp.where(curved, yk @ sk, 1.0)
        W = eye - rho * fnp.outer(sk, yk)
        H1 = fnp.where(curved, W @ H @ W.T + rho * fnp.outer(sk, sk), H)
        keep = lambda old, new: fnp.where(failed, old, new)  # noqa: E731  (never a worse point)
        x1, f1, g1 = keep(x, x + sk), keep(fx, f1), keep(g, g1)
        return (k + 1, x1, f1, g1, keep(H, H1), fnp.linalg.norm(g1, ord=norm) < gtol, failed,
                nfev + n)

    k, x, fx, g, H, converged, failed, nfev = lax.while_loop(cond, body, init)
    status = fnp.where(converged, 0, fnp.where(failed, 3, fnp.where(k >= maxiter, 1, -1)))
    return OptimizeResults(x, converged & ~failed, status, fx, g, H, nfev, nfev, k)


def _line_search(value_and_grad, x, p, f0, g0, maxiter, c1=1e-4, c2=0.9):
    """A step ``a`` along ``p`` with ``f(x + a p) <= f0 + c1 a d0`` and ``|d(a)| <= c2 |d0|``
    (``d`` the slope along ``p``): bracket by doubling from 1, then zoom; one evaluation per
    iteration. Returns ``(a, f, g, evaluations, failed)``."""
    d0 = g0 @ p

    def interpolate(lo, hi):  # the quadratic through f_lo, d_lo, f_hi, clipped to the bracket's middle 80%
        (a_lo, f_lo, d_lo), (a_hi, f_hi, _) = lo, hi
        delta = a_hi - a_lo
        curv = f_hi - f_lo - d_lo * delta  # > 0: the quadratic has a minimum
        a_q = a_lo - d_lo * delta ** 2 / (2 * fnp.where(curv > 0, curv, 1.0))
        ends = (a_lo + 0.1 * delta, a_hi - 0.1 * delta)
        a_q = fnp.clip(a_q, fnp.minimum(*ends), fnp.maximum(*ends))
        return fnp.where(curv > 0, a_q, a_lo + 0.5 * delta)

    def body(s):
        i, a, zoom, prev, lo, hi, _, best, _ = s
        f, g = value_and_grad(x + a * p)
        d = g @ p
        cur = (a, f, d)
        worse = (f > f0 + c1 * a * d0) | (f >= fnp.where(zoom, lo[1], prev[1])) & (zoom | (i > 0))
        found = ~worse & (fnp.abs(d) <= -c2 * d0)
        pick = lambda c, t, e: tuple(fnp.where(c, u, v) for u, v in zip(t, e))  # noqa: E731
        # bracketing: a worse point or an uphill slope brackets a minimum; else double the step
        bracket_lo = pick(worse, prev, cur)
        bracket_hi = pick(worse, cur, prev)
        to_zoom = ~zoom & ~found & (worse | (d >= 0))
        # zooming: a worse point is the new hi; else it is the new lo (the old lo becomes hi if
        # the slope points back past it)
        zoom_hi = pick(worse, cur, pick(d * (hi[0] - lo[0]) >= 0, lo, hi))
        zoom_lo = pick(worse, lo, cur)
        lo1 = pick(zoom, zoom_lo, pick(to_zoom, bracket_lo, lo))
        hi1 = pick(zoom, zoom_hi, pick(to_zoom, bracket_hi, hi))
        zoom1 = zoom | to_zoom
        a1 = fnp.where(zoom1, interpolate(lo1, hi1), 2 * a)
        best1 = pick(found, (a, f), best)
        return i + 1, a1, zoom1, cur, lo1, hi1, found, best1, fnp.where(found, g, s[8])

    start = (f0 * 0, f0, d0)
    init = (0, fnp.ones_like(f0), False, start, start, start, False, (f0 * 0, f0), g0)
    i, _, _, _, _, _, found, (a, f), g = lax.while_loop(
        lambda s: ~s[6] & (s[0] < maxiter), body, init)
    return a, f, g, i, ~found
