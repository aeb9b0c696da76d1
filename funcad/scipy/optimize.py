"""funcad.scipy.optimize: ``minimize`` with BFGS, as ``jax.scipy.optimize.minimize``.

The whole optimizer is one ``lax.while_loop`` over the BFGS state (a backtracking line search
with the Armijo condition nested in it), so it runs eagerly, under ``jit`` and ``vmap`` (a
batch of starting points, or of problems), and returns JAX's ``OptimizeResults``. For SciPy's
methods with funcad's derivatives (trust regions, Newton-CG, bounds), use
:func:`funcad.optimize.minimize`.

>>> import funcad.numpy as fnp
>>> res = minimize(lambda x: fnp.sum((x - 3.0) ** 2), fnp.zeros(2), method="BFGS")
>>> bool(res.success), res.x.round(6)
(True, array([3., 3.]))
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from ..errors import ArgumentError, ShapeError

__all__ = ["OptimizeResults", "minimize"]


class OptimizeResults(NamedTuple):
    """What :func:`minimize` returns (JAX's fields): ``x``, ``success``, ``status`` (0
    converged, 1 the iteration limit reached, 5 the line search failed), ``fun``, ``jac``
    (the gradient at ``x``), ``hess_inv`` (BFGS's estimate), ``nfev``, ``njev``, ``nit``."""

    x: Any
    success: Any
    status: Any
    fun: Any
    jac: Any
    hess_inv: Any
    nfev: Any
    njev: Any
    nit: Any


def minimize(fun, x0, args=(), *, method: str, tol: float | None = None, options: dict | None = None):
    """Minimize ``fun(x, *args)`` over a 1-d ``x`` from ``x0`` (``jax.scipy.optimize.minimize``).

    ``method`` must be ``"BFGS"``. ``tol`` sets ``gtol``; ``options``: ``maxiter`` (default
    ``200 * x0.size``), ``gtol`` (1e-5: stop when ``norm(grad, ord=norm)`` is below it),
    ``norm`` (``inf``), ``line_search_maxiter`` (10 halvings of the step).
    """
    from .. import api, lax
    from .. import numpy as fnp

    if not isinstance(args, tuple):
        raise ArgumentError(f"minimize: args must be a tuple of extra arguments to fun (as in JAX), "
                            f"got {type(args).__name__}; write args=(a,) for one.")
    if not isinstance(method, str) or method.lower() != "bfgs":
        raise ArgumentError(f"minimize: method {method!r} is not available; use method='BFGS' (as JAX), "
                            "or funcad.optimize.minimize for SciPy's other methods.")
    options = dict(options or {})
    if tol is not None:
        options.setdefault("gtol", tol)
    unknown = set(options) - {"maxiter", "gtol", "norm", "line_search_maxiter"}
    if unknown:
        raise ArgumentError(f"minimize: unknown options {sorted(unknown)}; BFGS takes maxiter, gtol, "
                            "norm and line_search_maxiter.")
    x0 = fnp.asarray(x0)
    if x0.ndim != 1:
        raise ShapeError(f"minimize: x0 must be 1-dimensional (as in JAX), got shape {x0.shape}; "
                         "ravel it (funcad.flatten_util.ravel_pytree for a pytree).")
    if x0.dtype.kind not in "f":
        x0 = x0.astype(np.float64)
    n = x0.shape[0]
    maxiter = options.get("maxiter") or 200 * n
    gtol, norm = options.get("gtol", 1e-5), options.get("norm", np.inf)
    ls_maxiter = options.get("line_search_maxiter", 10)
    value_and_grad = api.value_and_grad(lambda x: fun(x, *args))

    def line_search(x, f, g, p):
        slope = fnp.dot(g, p)

        def shorter(s):
            a, *_, i = s
            a = 0.5 * a
            return (a, *value_and_grad(x + a * p), i + 1)

        def armijo_fails(s):
            a, f_new, _, i = s
            return (~(f_new <= f + 1e-4 * a * slope)) & (i <= ls_maxiter)

        return lax.while_loop(armijo_fails, shorter, (fnp.ones((), x.dtype), *value_and_grad(x + p), 1))

    def step(s):
        k, nfev, x, f, g, H, _, failed = s
        p = -H @ g
        a, f1, g1, evals = line_search(x, f, g, p)
        failed = ~(f1 <= f + 1e-4 * a * fnp.dot(g, p))
        sk, yk = a * p, g1 - g
        sy = fnp.dot(sk, yk)
        rho = fnp.where(sy > 0, 1.0 / fnp.where(sy > 0, sy, 1.0), 0.0)  # skip on no curvature
        A = fnp.eye(n, dtype=x.dtype) - rho * fnp.outer(sk, yk)
        H1 = A @ H @ A.T + rho * fnp.outer(sk, sk)
        keep = lambda new, old: fnp.where(failed, old, new)  # noqa: E731
        x1, f1, g1, H1 = keep(x + sk, x), keep(f1, f), keep(g1, g), keep(H1, H)
        converged = fnp.linalg.norm(g1, ord=norm) < gtol
        return k + 1, nfev + evals, x1, f1, g1, H1, converged, failed

    def go_on(s):
        k, *_, converged, failed = s
        return (~converged) & (~failed) & (k < maxiter)

    f0, g0 = value_and_grad(x0)
    state = (0, 1, x0, f0, g0, fnp.eye(n, dtype=x0.dtype), fnp.linalg.norm(g0, ord=norm) < gtol,
             fnp.zeros((), bool))
    k, nfev, x, f, g, H, converged, failed = lax.while_loop(go_on, step, state)
    status = fnp.where(converged, 0, fnp.where(failed, 5, 1))
    return OptimizeResults(x=x, success=converged & ~failed, status=status, fun=f, jac=g, hess_inv=H,
                           nfev=nfev, njev=nfev, nit=k)
