"""Optimization with exact derivatives: Newton's method, Newton-CG, and SciPy's minimize.

* :func:`newton`: exact Hessian (from :func:`funcad.value_grad_hessian`), Cholesky solve, an
  added multiple of the identity when the Hessian is not positive definite (so the step
  stays a descent direction), and an Armijo backtracking line search.
* :func:`newton_cg`: the Hessian is never formed; conjugate gradients on Hessian-vector
  products (forward-over-reverse) solve for the step, truncated at negative curvature.
* :func:`minimize`: ``scipy.optimize.minimize`` with funcad's ``jac``, ``hess`` and ``hessp``.

All three take parameters as pytrees (dicts, tuples, lists of arrays; flattened to one vector
internally), return an :class:`OptimizeResult` like SciPy's (``x``, ``fun``, ``grad``, ``nit``,
``success``, ``message``, ``history``), and print one line per iteration with ``verbose=True``.
The optimizer is an outer loop on concrete values; what it evaluates (value, gradient,
Hessian or Hessian-vector products) runs eagerly by default, or compiled with
:func:`funcad.jit` with ``jit=True``: worth it for many iterations on a large problem, as each
compiled program costs seconds to build the first time (then it is cached on disk).

Bad input raises at once: :class:`~funcad.errors.NonScalarObjectiveError` for an objective
that does not return a scalar, :class:`~funcad.errors.IntegerParameterError` for integer
parameters, and :class:`~funcad.errors.NonFiniteError` (with the iteration and the partial
result) when the objective, gradient or Hessian becomes NaN or infinite.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import api
from .core import get_aval
from .errors import ArgumentError, IntegerParameterError, NonFiniteError, NonScalarObjectiveError
from .second_order import _linearized_hvp_flat, _value_grad_hessian_flat, ravel_pytree
from .tree_util import tree_flatten

__all__ = ["OptimizeResult", "newton", "newton_cg", "minimize"]


class OptimizeResult(dict):
    """The result of an optimizer: a dict with attribute access, as SciPy's.

    Fields: ``x`` (the parameters, a pytree like ``x0``), ``fun``, ``grad`` (a pytree like
    ``x0``), ``grad_norm``, ``nit``, ``nfev``, ``success``, ``status``, ``message``, and
    ``history`` (one dict per iteration: ``nit``, ``fun``, ``grad_norm`` and the method's
    step details).
    """

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    __setattr__ = dict.__setitem__
    __delattr__ = dict.__delitem__

    def __repr__(self):
        keys = [k for k in ("success", "status", "message", "fun", "grad_norm", "nit", "nfev", "x")
                if k in self]
        lines = [f"{k:>10}: {self[k]!r}" for k in keys]
        if "history" in self:
            lines.append(f"{'history':>10}: [{len(self['history'])} iterations]")
        return "\n".join(lines)

    def __dir__(self):
        return list(self.keys())


# --------------------------------------------------------------------------------------
# The problem: an objective of a pytree, flattened to a vector, checked, optionally jitted


def _check_x0(x0, name: str):
    leaves, _ = tree_flatten(x0)
    paths = api._leaf_paths((x0,), ["x0"])
    if not leaves:
        raise ArgumentError(f"{name}: x0 has no parameters (an empty pytree).")
    for leaf, path in zip(leaves, paths, strict=False):
        arr = api._as_leaf(leaf, path)
        dt = get_aval(arr).dtype
        if dt.kind in "biu":
            raise IntegerParameterError(
                f"{name}: the parameter {path} has dtype {dt}, but parameters must be floating "
                f"point: an integer cannot take a Newton step. Pass {path} as floats "
                f"(e.g. np.asarray({path}, float), or 1.0 instead of 1)."
            )
    return paths


def _use_jit(jit: bool) -> Callable | None:
    import funcad

    if jit:
        fn = getattr(funcad, "jit", None)
        if fn is None:
            raise ArgumentError("jit=True, but this funcad has no jit.")
        return fn
    return None


class _Problem:
    """``fun(x_pytree, *args)`` as functions of one flat float vector."""

    def __init__(self, fun: Callable, x0, args: Sequence, jit, name: str):
        self.name, self.fun = name, fun
        self.paths = _check_x0(x0, name)
        x_flat, self.unravel = ravel_pytree(x0)
        self.x0 = np.array(x_flat, dtype=np.result_type(x_flat.dtype, np.float32))
        self.sizes = [get_aval(leaf).size for leaf in tree_flatten(x0)[0]]
        self.args = tuple(args)
        self._check_scalar(x0)
        unravel = self.unravel

        def f(v, *a):
            return fun(unravel(v), *a)

        def value_and_grad(v, *a):
            return api.value_and_grad(f)(v, *a)

        def vgh(v, *a):
            return _value_grad_hessian_flat(lambda u: f(u, *a), v)

        def hvp(v, t, *a):
            return api.jvp(lambda u: api.grad(f)(u, *a), (v,), (t,))[1]

        jit_fn = _use_jit(jit)
        self.jitted = jit_fn is not None
        wrap = jit_fn if jit_fn is not None else (lambda g: g)
        self._f, self._vg, self._vgh, self._hvp = wrap(f), wrap(value_and_grad), wrap(vgh), wrap(hvp)
        self._flat_f = f
        self._sparse = None
        self.nfev = self.ngev = self.nhev = 0

    def _check_scalar(self, x0):
        out = self.fun(x0, *self.args)
        leaves, _ = tree_flatten(out)
        shapes = [np.shape(o) for o in leaves]
        if len(leaves) != 1 or shapes[0] != ():
            what = f"shape {shapes[0]}" if len(leaves) == 1 else f"{len(leaves)} arrays, shapes {shapes}"
            raise NonScalarObjectiveError(
                f"{self.name}: the objective {api._fun_name(self.fun)} must return a scalar, but it "
                f"returned {what}. Sum or average it (e.g. fnp.sum(residuals ** 2)); for a "
                "least-squares problem, return the sum of squares.")
        if np.asarray(leaves[0]).dtype.kind != "f":
            raise NonScalarObjectiveError(
                f"{self.name}: the objective {api._fun_name(self.fun)} must return a real float "
                f"scalar, but it returned dtype {np.asarray(leaves[0]).dtype}.")

    # Concrete evaluations, counted.
    def f(self, x) -> float:
        self.nfev += 1
        return float(self._f(x, *self.args))

    def value_and_grad(self, x):
        self.nfev += 1
        self.ngev += 1
        v, g = self._vg(x, *self.args)
        return float(v), np.asarray(g, dtype=x.dtype)

    def value_grad_hessian(self, x):
        self.nfev += 1
        self.ngev += 1
        self.nhev += 1
        v, g, H = self._vgh(x, *self.args)
        return float(v), np.asarray(g, dtype=x.dtype), np.asarray(H, dtype=x.dtype)

    def value_grad_sparse_hessian(self, x):
        """Value, gradient and the Hessian as a CSR matrix (:mod:`funcad.sparse_ad`): the
        pattern and star coloring are found at the first call, then one linearization of the
        gradient and one batched pass of one Hessian-vector product per colour."""
        from . import sparse_ad

        self.nfev += 1
        self.ngev += 1
        self.nhev += 1
        if self._sparse is None:
            self._sparse = sparse_ad._HessianEvaluator(self._flat_f, self.args, self.jitted)
        v, g, H = self._sparse(x)
        return float(v), np.asarray(g, dtype=x.dtype), H

    def hvp(self, x, t):
        self.nhev += 1
        return np.asarray(self._hvp(x, t, *self.args), dtype=x.dtype)

    def linearize(self, x):
        """Value, gradient and an ``hvp_fn`` at ``x``: linearized once (eager), or jitted hvp."""
        if self.jitted:
            v, g = self.value_and_grad(x)
            return v, g, lambda t: self.hvp(x, t)
        self.nfev += 1
        self.ngev += 1
        from .jaxpr import eval_jaxpr

        v, g, jaxpr, consts = _linearized_hvp_flat(lambda u: self._flat_f(u, *self.args), x)

        def hvp_fn(t):
            self.nhev += 1
            return np.asarray(eval_jaxpr(jaxpr, consts, t)[0], dtype=x.dtype)

        return float(v), np.asarray(g, dtype=x.dtype), hvp_fn

    def where(self, flat_index: int) -> str:
        """The name of the parameter entry at ``flat_index`` of the flat vector."""
        start = 0
        for path, n in zip(self.paths, self.sizes, strict=False):
            if flat_index < start + n:
                return f"{path}" + (f" (entry {flat_index - start})" if n > 1 else "")
            start += n
        return f"entry {flat_index}"

    def result(self, x, fun, g, nit, status, message, history, **extra) -> OptimizeResult:
        return OptimizeResult(
            x=self.unravel(x), fun=fun, grad=self.unravel(g) if g is not None else None,
            grad_norm=float(np.linalg.norm(g)) if g is not None else math.nan,
            nit=nit, nfev=self.nfev, ngev=self.ngev, nhev=self.nhev, success=status == 0,
            status=status, message=message, history=history, **extra)

    def nonfinite(self, what: str, k: int, values, x, fun, g, history, on_nonfinite: str):
        bad = np.flatnonzero(~np.isfinite(np.atleast_1d(values)))
        kind = "NaN" if np.isnan(np.atleast_1d(values)).any() else "inf"
        where = ""
        if what != "objective" and bad.size:
            where = f" (first at {self.where(int(bad[0]))}" + (
                f"; {bad.size} entries" if bad.size > 1 else "") + ")"
        message = (f"{self.name}: the {what} became {kind} at iteration {k}{where}; stopped. "
                   "The parameters in the result are those of that iteration. Check the objective "
                   "for log/sqrt/division of non-positive values at these parameters.")
        res = self.result(x, fun, g if g is not None and np.all(np.isfinite(g)) else None,
                          k, 3, message, history)
        if on_nonfinite == "raise":
            raise NonFiniteError(message, iteration=k, result=res)
        return res


def _check_on_nonfinite(on_nonfinite, name):
    if on_nonfinite not in ("raise", "return"):
        raise ArgumentError(f"{name}: on_nonfinite must be 'raise' or 'return', got {on_nonfinite!r}.")


# --------------------------------------------------------------------------------------
# Dense Newton: modified Cholesky and Armijo backtracking


def _modified_cholesky(H, beta: float = 1e-3):
    """Cholesky factor of ``H + tau I`` with the smallest ``tau`` in 0, beta, 2 beta... that works.

    Nocedal & Wright, Numerical Optimization (2006), Algorithm 3.3: the shift keeps the
    Newton step a descent direction where ``H`` is not positive definite.
    """
    from scipy.linalg import LinAlgError, cho_factor

    scale = max(1.0, float(np.max(np.abs(np.diag(H))))) if H.size else 1.0
    beta = beta * scale
    min_diag = float(np.min(np.diag(H))) if H.size else 1.0
    tau = 0.0 if min_diag > 0 else beta - min_diag
    eye = np.eye(H.shape[0], dtype=H.dtype)
    for _ in range(100):
        try:
            return cho_factor(H + tau * eye if tau else H, lower=True, check_finite=False), tau
        except LinAlgError:
            tau = max(2.0 * tau, beta)
    raise FloatingPointError("modified Cholesky: no shift made the Hessian positive definite")


def _sparse_modified_cholesky(H, beta: float = 1e-3):
    """A solver for ``(H + tau I) p = b`` with ``H`` a sparse symmetric matrix and ``tau`` chosen
    as in :func:`_modified_cholesky` (0, then beta, doubling, until the factorization shows
    ``H + tau I`` positive definite). Returns ``(solve, tau)``."""
    import scipy.sparse as sp

    H = sp.csr_matrix(H)
    diag = H.diagonal()
    scale = max(1.0, float(np.max(np.abs(diag)))) if diag.size else 1.0
    beta = beta * scale
    min_diag = float(np.min(diag)) if diag.size else 1.0
    tau = 0.0 if min_diag > 0 else beta - min_diag
    eye = sp.identity(H.shape[0], dtype=H.dtype, format="csr")
    factor = _sparse_spd_factor(H)
    for _ in range(100):
        solve = factor(H + tau * eye if tau else H)
        if solve is not None:
            return solve, tau
        tau = max(2.0 * tau, beta)
    raise FloatingPointError("sparse modified Cholesky: no shift made the Hessian positive definite")


def _sparse_spd_factor(H):
    """A function ``A -> solve`` (or None when ``A``, of ``H``'s pattern, is not positive
    definite), picked once for the pattern: CHOLMOD where scikit-sparse is installed; else a
    banded Cholesky (LAPACK) when the bandwidth, after a reverse Cuthill-McKee reordering if
    that narrows it, is at most 8; else SuperLU in symmetric mode without off-diagonal
    pivoting, whose pivots are those of ``A = L D L^T`` (positive definite iff all are
    positive, by Sylvester's law of inertia)."""
    import scipy.sparse as sp

    try:
        from sksparse.cholmod import CholmodNotPositiveDefiniteError, cholesky
    except ImportError:
        cholesky = None
    if cholesky is not None:
        def cholmod(A):
            # CHOLMOD factors a sparse enough matrix as L D L^T (simplicial mode), which exists
            # for some indefinite ones without an error: positive definite iff D > 0.
            try:
                factor = cholesky(sp.csc_matrix(A))
            except CholmodNotPositiveDefiniteError:
                return None
            return factor if np.all(factor.D() > 0) else None

        return cholmod
    n = H.shape[0]
    perm = None
    bw = _bandwidth(H)
    if bw > 8 and n > 1:
        from scipy.sparse.csgraph import reverse_cuthill_mckee

        p = reverse_cuthill_mckee(sp.csr_matrix(H), symmetric_mode=True)
        bw_p = _bandwidth(H[p][:, p])
        if bw_p < bw:
            perm, bw = p, bw_p
    # Measured at d = 10^4: bandwidth 101 (a 2-D grid), SuperLU 0.17 s, banded 0.2-1.2 s;
    # at d = 10^6, bandwidth 1: banded 0.3 s of CPU, SuperLU 2.2 s.
    if bw <= 8:
        return functools.partial(_banded_cholesky, perm=perm, bw=bw)
    return _superlu_ldl


def _bandwidth(A):
    A = _csr(A)
    rows = np.repeat(np.arange(A.shape[0]), np.diff(A.indptr))
    return int(np.max(np.abs(rows - A.indices))) if A.nnz else 0


def _csr(A):
    import scipy.sparse as sp

    return A if isinstance(A, sp.csr_matrix) else sp.csr_matrix(A)


def _banded_cholesky(A, perm, bw):
    import scipy.sparse as sp
    from scipy.linalg import LinAlgError, cho_solve_banded, cholesky_banded

    A = sp.csr_matrix(A) if perm is None else sp.csr_matrix(A)[perm][:, perm]
    ab = np.zeros((bw + 1, A.shape[0]), A.dtype)  # LAPACK's upper band storage
    for k in range(bw + 1):
        ab[bw - k, k:] = A.diagonal(k)
    try:
        cb = cholesky_banded(ab, lower=False, check_finite=False)
    except LinAlgError:
        return None
    if perm is None:
        return lambda b: cho_solve_banded((cb, False), b, check_finite=False)
    inv = np.argsort(perm)
    return lambda b: cho_solve_banded((cb, False), b[perm], check_finite=False)[inv]


def _superlu_ldl(A):
    import scipy.sparse as sp
    from scipy.sparse.linalg import splu

    try:
        lu = splu(sp.csc_matrix(A), permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0,
                  options=dict(SymmetricMode=True))
    except RuntimeError:  # exactly singular
        return None
    if not (np.array_equal(lu.perm_r, lu.perm_c) and np.all(lu.U.diagonal() > 0)):
        return None
    return lu.solve


def _armijo(problem, x, f, g, p, c1=1e-4, shrink=0.5, max_halvings=60, full_step=None):
    """Backtrack from ``alpha = 1`` until ``f(x + alpha p) <= f + c1 alpha g.p``.

    A trial point where the objective is NaN or inf is rejected like one where it is too
    large (the count is reported). Rounding in ``f`` near a minimum is tolerated: without
    that, a converged iterate's last full step could be rejected for a 1e-17 increase.
    Where ``f``'s change is within ``sqrt(eps) |f|`` (a sum over many terms, or over chunks,
    is that noisy near a minimum: a step's true decrease drowns in it), the test is Hager
    and Zhang's approximate Armijo condition on the slope at the trial point,
    ``g(x + alpha p).p <= (2 c1 - 1) g.p`` (SIAM J. Optim. 16 (2005), eq. 23), exact for
    a quadratic and free of cancellation; this costs a gradient at such points only.

    ``full_step(x + p)``, when given, evaluates ``(f, g, ...)`` at the full step (a caller
    that wants the next iteration's derivatives from the same pass); its tuple is returned
    as the fifth value when that step is taken, else None.
    """
    slope = float(g @ p)
    eps = np.finfo(x.dtype).eps
    slack, noise = 16 * eps * abs(f), math.sqrt(eps) * abs(f)
    alpha, nonfinite = 1.0, 0
    for _ in range(max_halvings):
        x_new = x + alpha * p
        evaluated = full_step(x_new) if full_step is not None and alpha == 1.0 else None
        f_new = problem.f(x_new) if evaluated is None else evaluated[0]
        if not math.isfinite(f_new):
            nonfinite += 1
        elif f_new <= f + c1 * alpha * slope + slack:
            return alpha, x_new, f_new, nonfinite, evaluated
        elif f_new <= f + noise:
            g_new = problem.value_and_grad(x_new)[1] if evaluated is None else evaluated[1]
            if np.all(np.isfinite(g_new)) and float(g_new @ p) <= (2 * c1 - 1) * slope:
                return alpha, x_new, f_new, nonfinite, evaluated
        alpha *= shrink
    return None, x, f, nonfinite, None


def _header(name, extra):
    print(f"{name}: {'iter':>4} {'f(x)':>22} {'|grad|':>10} {'|step|':>10} {'alpha':>8} {extra:>10}")


def _line(name, h, extra_key):
    step = "" if h.get("step_norm") is None else f"{h['step_norm']:10.3e}"
    alpha = "" if h.get("alpha") is None else f"{h['alpha']:8.3g}"
    extra = "" if h.get(extra_key) is None else f"{h[extra_key]:10.3g}"
    print(f"{' ' * len(name)}  {h['nit']:>4} {h['fun']:>22.15e} {h['grad_norm']:10.3e} "
          f"{step:>10} {alpha:>8} {extra:>10}")


def newton(fun: Callable, x0, args: Sequence = (), *, gtol: float = 1e-10, maxiter: int = 100,
           verbose: bool = False, callback: Callable | None = None, jit: bool = False,
           on_nonfinite: str = "raise", hessian: str = "dense") -> OptimizeResult:
    """Minimize ``fun(x, *args)`` by Newton's method with exact Hessians.

    Each iteration computes the value, gradient and Hessian in one program, solves
    ``(H + tau I) p = -g`` by Cholesky (``tau = 0`` when ``H`` is positive definite; otherwise
    the smallest added multiple of the identity that makes it so, which keeps ``p`` a descent
    direction), and backtracks from the full step until the Armijo condition holds. It stops
    when the gradient's 2-norm is at most ``gtol``.

    ``x0`` is a pytree of float arrays; ``result.x`` has its structure. ``verbose=True`` prints
    one line per iteration (``verbose=10``: every tenth, and the last);
    ``callback(history_entry)`` is called after each. A NaN or inf in the objective, gradient or
    Hessian raises :class:`~funcad.errors.NonFiniteError` naming the
    iteration (``on_nonfinite="return"`` returns the result with ``success=False`` instead).
    ``jit=True`` compiles the value-gradient-Hessian program with :func:`funcad.jit`.

    ``hessian="sparse"``: the Hessian is never dense. Its pattern is read from the program
    and star-coloured once (:func:`funcad.sparse_hessian`), each iteration evaluates one
    Hessian-vector product per colour, and the shifted system is factorized sparse: CHOLMOD
    when scikit-sparse is installed (``pip install funcad[sparse]``), else a banded Cholesky
    (after reverse Cuthill-McKee) when the bandwidth is small, else SuperLU with an inertia
    check. This takes chained Rosenbrock to a million unknowns.

    >>> import funcad.numpy as fnp
    >>> from funcad.optimize import newton
    >>> res = newton(lambda p: fnp.sum((p["w"] - 3.0) ** 2) + fnp.cosh(p["b"]),
    ...              {"w": fnp.zeros(2), "b": 1.0})
    >>> res.success, res.x["w"], abs(float(res.x["b"])) < 1e-12
    (True, array([3., 3.]), True)
    """
    _check_on_nonfinite(on_nonfinite, "newton")
    if hessian not in ("dense", "sparse"):
        raise ArgumentError(f"newton: hessian must be 'dense' or 'sparse', got {hessian!r}.")

    return _newton_loop(_Problem(fun, x0, args, jit, "newton"), gtol, maxiter, verbose, callback,
                        on_nonfinite, hessian)


def _newton_loop(P, gtol, maxiter, verbose, callback, on_nonfinite, hessian="dense") -> OptimizeResult:
    """Newton's iterations on a problem ``P`` (a :class:`_Problem`, or funcad.dask's, which
    evaluates over chunks on a cluster): ``P.value_grad_hessian`` and ``P.f`` are all it calls."""
    from scipy.linalg import cho_solve

    x, history = P.x0.copy(), []
    if verbose:
        _header("newton", "shift")
    f = g = None
    evaluate = P.value_grad_sparse_hessian if hessian == "sparse" else P.value_grad_hessian
    # A problem whose passes over the data cost more than the Hessian's arithmetic (funcad.dask)
    # evaluates the value, gradient and Hessian at the full step in one pass: the line search's
    # test, and the next iteration's derivatives when the step is taken (not after a rejection:
    # far from the optimum, a wasted Hessian; value-only trials until a full step is taken).
    fused = getattr(P, "fuse_full_step", False)
    full_step, evaluated = (evaluate if fused else None), None
    for k in range(maxiter + 1):
        f, g, H = evaluate(x) if evaluated is None else evaluated
        if not math.isfinite(f):
            return P.nonfinite("objective", k, f, x, f, None, history, on_nonfinite)
        if not np.all(np.isfinite(g)):
            return P.nonfinite("gradient", k, g, x, f, g, history, on_nonfinite)
        gnorm = float(np.linalg.norm(g))
        entry = {"nit": k, "fun": f, "grad_norm": gnorm, "step_norm": None, "alpha": None, "shift": None}
        if gnorm <= gtol:
            history.append(entry)
            _report(verbose, callback, "newton", entry, "shift", last=True)
            return P.result(x, f, g, k, 0, f"converged: |grad| = {gnorm:.3e} <= gtol = {gtol:g}", history)
        if k == maxiter:
            history.append(entry)
            _report(verbose, callback, "newton", entry, "shift", last=True)
            break
        H_values = H.data if hessian == "sparse" else H
        if not np.all(np.isfinite(H_values)):
            history.append(entry)
            return P.nonfinite("Hessian", k, H_values, x, f, g, history, on_nonfinite)
        if hessian == "sparse":
            solve, tau = _sparse_modified_cholesky(H)
            p = -solve(g)
        else:
            factor, tau = _modified_cholesky(H)
            p = -cho_solve(factor, g, check_finite=False)
        alpha, x_new, f_new, n_bad, evaluated = _armijo(P, x, f, g, p, full_step=full_step)
        full_step = evaluate if fused and alpha == 1.0 else None
        entry.update(step_norm=float(np.linalg.norm(p)), alpha=alpha, shift=tau, nonfinite_trials=n_bad)
        history.append(entry)
        _report(verbose, callback, "newton", entry, "shift", last=alpha is None)
        if alpha is None:
            return P.result(x, f, g, k, 2, f"line search failed at iteration {k}: no step along the "
                            f"Newton direction decreased the objective (|grad| = {gnorm:.3e}"
                            + (f"; {n_bad} trial points gave NaN/inf" if n_bad else "")
                            + "). gtol may be below what rounding allows for this objective.", history)
        x = x_new
    return P.result(x, f, g, maxiter, 1, f"maximum number of iterations ({maxiter}) reached; "
                    f"|grad| = {np.linalg.norm(g):.3e} > gtol = {gtol:g}", history)


def _report(verbose, callback, name, entry, extra_key, last=False):
    every = int(verbose)
    if every and (last or entry["nit"] % every == 0):
        _line(name, entry, extra_key)
    if callback is not None:
        callback(entry)


# --------------------------------------------------------------------------------------
# Newton-CG: truncated conjugate gradients on Hessian-vector products


def _truncated_cg(hvp_fn, g, tol: float, maxiter: int, precondition=None):
    """Approximately solve ``H p = -g`` (Nocedal & Wright, Algorithm 7.1, preconditioned by
    ``precondition(r) ~ H^-1 r`` when given, Algorithm 5.3).

    Stops when the residual is below ``tol`` or at the first direction of non-positive
    curvature, returning the iterate so far (or the (preconditioned) steepest descent
    direction if that happens at once), which is a descent direction in every case.
    """
    z = np.zeros_like(g)
    r = g.copy()
    y = r if precondition is None else precondition(r)
    ry = float(r @ y)
    if ry <= 0:  # a preconditioner that is not positive definite here: go without
        precondition, y, ry = None, r, float(r @ r)
    d = -y
    for j in range(maxiter):
        Hd = hvp_fn(d)
        dHd = float(d @ Hd)
        if dHd <= 0:
            return (d if j == 0 else z), j + 1, True
        a = ry / dHd
        z = z + a * d
        r = r + a * Hd
        if math.sqrt(float(r @ r)) <= tol:
            return z, j + 1, False
        y = r if precondition is None else precondition(r)
        ry_new = float(r @ y)
        if ry_new <= 0:
            return z, j + 1, False
        d = -y + (ry_new / ry) * d
        ry = ry_new
    return z, maxiter, False


def _preconditioner(H, kind):
    """``r -> M^-1 r`` from the sparse Hessian: its (absolute) diagonal, an algebraic multigrid
    V-cycle (:class:`_SmoothedAggregation`), or an incomplete LU."""
    diag = H.diagonal()
    if kind == "jacobi" or (kind == "amg" and not np.all(diag > 0)):  # AMG needs a positive diagonal
        diag = np.abs(diag)
        inv = 1.0 / np.where(diag > 0, diag, 1.0)
        return lambda r: inv * r
    if kind == "amg":
        from scipy.linalg import LinAlgError

        try:
            return _SmoothedAggregation(H)
        except LinAlgError:  # the coarsest matrix is not positive definite, so neither is H
            return _preconditioner(H, "jacobi")
    from scipy.sparse.linalg import spilu

    try:
        ilu = spilu(H.tocsc(), drop_tol=1e-4, fill_factor=10)
    except RuntimeError:  # a zero pivot: fall back to the diagonal
        return _preconditioner(H, "jacobi")
    return ilu.solve


class _SmoothedAggregation:
    """A smoothed-aggregation algebraic multigrid V-cycle for a sparse symmetric ``A`` with a
    positive diagonal (Vanek, Mandel & Brezina, Computing 56 (1996)), as CG's preconditioner.

    Each level groups strongly coupled unknowns (``|a_ij| >= theta sqrt(a_ii a_jj)``) into
    aggregates, smooths the piecewise-constant prolongator ``P0`` by one damped Jacobi step
    (``P = (I - w D^-1 A) P0``) and takes ``P^T A P`` as the next level's matrix, down to a few
    hundred unknowns, solved directly. The cycle (two damped Jacobi sweeps before and after
    the coarse correction) is symmetric, so CG keeps its guarantees; on a 2-D diffusion
    Hessian CG needs a few tens of cycles whatever the grid size, where diagonal scaling needs
    O(grid width) iterations.
    """

    def __init__(self, A, theta: float = 0.08, max_coarse: int = 500, max_levels: int = 25):
        import scipy.sparse as sp

        A = sp.csr_matrix(A)
        self.levels = []
        while A.shape[0] > max_coarse and len(self.levels) < max_levels:
            d = A.diagonal()
            agg, n_agg = _aggregate(_strong(A, d, theta), A.shape[0])
            if n_agg >= A.shape[0] or n_agg == 0:
                break
            dinv = 1.0 / d
            # Gershgorin's bound on the spectral radius of D^-1 A: never below it
            rho = float(np.max(dinv * np.asarray(abs(A).sum(axis=1)).ravel()))
            w = 4.0 / (3.0 * rho)
            P0 = sp.csr_matrix((np.ones(A.shape[0]), (np.arange(A.shape[0]), agg)),
                               shape=(A.shape[0], n_agg))
            P = (P0 - sp.diags(w * dinv) @ (A @ P0)).tocsr()
            R = P.T.tocsr()
            self.levels.append((A, P, R, w * dinv))
            A = (R @ A @ P).tocsr()
        from scipy.linalg import cho_factor

        self.coarse = cho_factor(A.toarray(), lower=True, check_finite=False)

    def __call__(self, b):
        return self._cycle(0, b)

    def _cycle(self, level, b):
        from scipy.linalg import cho_solve

        if level == len(self.levels):
            return cho_solve(self.coarse, b, check_finite=False)
        A, P, R, wdinv = self.levels[level]
        x = wdinv * b
        x += wdinv * (b - A @ x)
        x += P @ self._cycle(level + 1, R @ (b - A @ x))
        x += wdinv * (b - A @ x)
        x += wdinv * (b - A @ x)
        return x


def _strong(A, d, theta):
    """The strong couplings of ``A``, off the diagonal, as a CSR pattern."""
    import scipy.sparse as sp

    C = sp.coo_matrix(A)
    keep = (C.row != C.col) & (np.abs(C.data) >= theta * np.sqrt(np.abs(d[C.row] * d[C.col])))
    S = sp.csr_matrix((np.ones(int(keep.sum())), (C.row[keep], C.col[keep])), shape=A.shape)
    S.sort_indices()
    return S


def _aggregate(S, n):
    agg = np.full(n, -1, np.int64)
    n_agg = _aggregation_kernel()(S.indptr.astype(np.int64), S.indices.astype(np.int64), agg)
    return agg, n_agg


@functools.cache
def _aggregation_kernel():
    import numba

    from ._numba_cache import KernelCache

    @KernelCache.attach  # under funcad's cache directory (Numba's cache=True: beside funcad)
    @numba.njit(nogil=True)
    def aggregate(ptr, idx, agg):
        # Vanek et al.'s three passes: whole free neighbourhoods become aggregates; the rest
        # join a neighbouring aggregate; what is left forms aggregates of its free neighbours.
        n, k = len(agg), 0
        for i in range(n):
            if agg[i] >= 0:
                continue
            free = True
            for p in range(ptr[i], ptr[i + 1]):
                if agg[idx[p]] >= 0:
                    free = False
                    break
            if free and ptr[i + 1] > ptr[i]:
                agg[i] = k
                for p in range(ptr[i], ptr[i + 1]):
                    agg[idx[p]] = k
                k += 1
        joined = agg.copy()
        for i in range(n):
            if agg[i] < 0:
                for p in range(ptr[i], ptr[i + 1]):
                    if agg[idx[p]] >= 0:
                        joined[i] = agg[idx[p]]
                        break
        for i in range(n):
            if joined[i] < 0:
                joined[i] = k
                for p in range(ptr[i], ptr[i + 1]):
                    if joined[idx[p]] < 0:
                        joined[idx[p]] = k
                k += 1
        agg[:] = joined
        return k

    return aggregate


def newton_cg(fun: Callable, x0, args: Sequence = (), *, gtol: float = 1e-10, maxiter: int = 200,
              cg_maxiter: int | None = None, verbose: bool = False, callback: Callable | None = None,
              jit: bool = False, on_nonfinite: str = "raise", hessian: str = "hvp",
              preconditioner: str | None = None) -> OptimizeResult:
    """Minimize ``fun(x, *args)`` by Newton-CG: the Hessian is never formed.

    Each iteration solves the Newton system by conjugate gradients on Hessian-vector products
    (forward-over-reverse), to a relative residual ``min(0.5, sqrt(|g|))`` (superlinear
    convergence), stopping early at negative curvature; an Armijo backtracking line search
    follows. Each product costs about two gradient evaluations, so this suits large ``d``.
    Arguments and result as in :func:`newton`; the history records ``cg_iters`` per iteration.

    ``hessian="sparse"`` evaluates the Hessian as a sparse matrix each iteration (one
    Hessian-vector product per colour of its star coloring, :func:`funcad.sparse_hessian`)
    and runs CG on sparse matrix-vector products; ``preconditioner=`` ``"jacobi"`` (its
    diagonal), ``"amg"`` (a smoothed-aggregation algebraic multigrid V-cycle built from it each
    iteration: CG then needs a few iterations whatever the size of a 2-D or 3-D grid problem;
    this solves a 10^6-unknown p-Laplacian in minutes) or ``"ilu"`` (an incomplete LU, not
    symmetric: for small problems) preconditions CG (and implies ``hessian="sparse"``).

    >>> import funcad.numpy as fnp
    >>> from funcad.optimize import newton_cg
    >>> res = newton_cg(lambda x: fnp.sum((x - fnp.arange(3.0)) ** 4 + (x - 1.0) ** 2), fnp.zeros(3))
    >>> res.success, bool(res.grad_norm <= 1e-10)
    (True, True)
    """
    _check_on_nonfinite(on_nonfinite, "newton_cg")
    if hessian not in ("hvp", "sparse"):
        raise ArgumentError(f"newton_cg: hessian must be 'hvp' or 'sparse', got {hessian!r}.")
    if preconditioner not in (None, "jacobi", "amg", "ilu"):
        raise ArgumentError("newton_cg: preconditioner must be None, 'jacobi', 'amg' or 'ilu', got "
                            f"{preconditioner!r}.")
    sparse = hessian == "sparse" or preconditioner is not None
    return _newton_cg_loop(_Problem(fun, x0, args, jit, "newton_cg"), gtol, maxiter, cg_maxiter,
                           verbose, callback, on_nonfinite, sparse, preconditioner)


def _newton_cg_loop(P, gtol, maxiter, cg_maxiter, verbose, callback, on_nonfinite, sparse=False,
                    preconditioner=None) -> OptimizeResult:
    """Newton-CG's iterations on a problem ``P``: ``P.linearize`` (value, gradient, hvp) and ``P.f``."""
    x, history = P.x0.copy(), []
    cg_maxiter = cg_maxiter or max(20, 2 * x.size)
    if verbose:
        _header("newton_cg", "cg iters")
    f = g = None
    for k in range(maxiter + 1):
        if sparse:
            f, g, H = P.value_grad_sparse_hessian(x)
            hvp_fn = H.__matmul__
        else:
            f, g, hvp_fn = P.linearize(x)
        if not math.isfinite(f):
            return P.nonfinite("objective", k, f, x, f, None, history, on_nonfinite)
        if not np.all(np.isfinite(g)):
            return P.nonfinite("gradient", k, g, x, f, g, history, on_nonfinite)
        gnorm = float(np.linalg.norm(g))
        entry = {"nit": k, "fun": f, "grad_norm": gnorm, "step_norm": None, "alpha": None,
                 "cg_iters": None}
        if gnorm <= gtol or k == maxiter:
            history.append(entry)
            _report(verbose, callback, "newton_cg", entry, "cg_iters", last=True)
            if gnorm <= gtol:
                return P.result(x, f, g, k, 0, f"converged: |grad| = {gnorm:.3e} <= gtol = {gtol:g}",
                                history)
            break

        def checked_hvp(t):
            Ht = hvp_fn(t)
            if not np.all(np.isfinite(Ht)):
                raise _HvpNonFinite(Ht)
            return Ht

        try:
            M = None if preconditioner is None else _preconditioner(H, preconditioner)
            p, n_cg, neg_curv = _truncated_cg(checked_hvp, g, min(0.5, math.sqrt(gnorm)) * gnorm,
                                              cg_maxiter, M)
        except _HvpNonFinite as e:
            history.append(entry)
            return P.nonfinite("Hessian-vector product", k, e.args[0], x, f, g, history, on_nonfinite)
        alpha, x_new, f_new, n_bad, _ = _armijo(P, x, f, g, p)
        entry.update(step_norm=float(np.linalg.norm(p)), alpha=alpha, cg_iters=n_cg,
                     negative_curvature=neg_curv, nonfinite_trials=n_bad)
        history.append(entry)
        _report(verbose, callback, "newton_cg", entry, "cg_iters", last=alpha is None)
        if alpha is None:
            return P.result(x, f, g, k, 2, f"line search failed at iteration {k} (|grad| = {gnorm:.3e}"
                            + (f"; {n_bad} trial points gave NaN/inf" if n_bad else "")
                            + "). gtol may be below what rounding allows for this objective.", history)
        x = x_new
    return P.result(x, f, g, maxiter, 1, f"maximum number of iterations ({maxiter}) reached; "
                    f"|grad| = {np.linalg.norm(g):.3e} > gtol = {gtol:g}", history)


class _HvpNonFinite(Exception):
    pass


# --------------------------------------------------------------------------------------
# scipy.optimize.minimize with funcad's derivatives

_USES_HESS = {"newton-cg", "dogleg", "trust-ncg", "trust-krylov", "trust-exact", "trust-constr"}
_USES_HESSP = {"newton-cg", "trust-ncg", "trust-krylov", "trust-constr"}
_NO_JAC = {"nelder-mead", "powell", "cobyla", "cobyqa"}


def minimize(fun: Callable, x0, args: Sequence = (), method: str = "trust-exact", *,
             hessian: str = "auto", bounds=None, constraints=(), tol: float | None = None,
             options: dict | None = None, verbose: bool = False, callback: Callable | None = None,
             jit: bool = False) -> OptimizeResult:
    """``scipy.optimize.minimize`` with funcad's gradient, Hessian and Hessian-vector product.

    ``x0`` is a pytree of float arrays (``result.x`` and ``result.grad`` have its structure).
    The gradient is always supplied (``jac=True``); methods that use second derivatives get
    ``hessp`` (Newton-CG, trust-ncg, trust-krylov, trust-constr: the Hessian is never formed)
    or ``hess`` (dogleg, trust-exact; or any of them with ``hessian="dense"``). ``bounds`` is
    SciPy's (on the flattened parameters) or a pair ``(lower, upper)`` of pytrees like ``x0``.
    A NaN or inf in the objective or gradient raises :class:`~funcad.errors.NonFiniteError`.

    >>> import funcad.numpy as fnp
    >>> from funcad.optimize import minimize
    >>> res = minimize(lambda p: (p["a"] - 1.0) ** 2 + (p["b"] - p["a"] ** 2) ** 2,
    ...                {"a": 0.0, "b": 0.5}, method="trust-exact")
    >>> res.success, round(float(res.x["a"]), 6), round(float(res.x["b"]), 6)
    (True, 1.0, 1.0)
    """
    import scipy.optimize

    P = _Problem(fun, x0, args, jit, "minimize")
    m = method.lower() if isinstance(method, str) else ""
    if hessian not in ("auto", "dense", "hessp"):
        raise ArgumentError(f"minimize: hessian must be 'auto', 'dense' or 'hessp', got {hessian!r}.")
    history: list[dict] = []
    cache: dict = {}  # last evaluation, keyed by the bytes of x
    state = {"iteration": 0}

    def checked(what, x, values):
        if not np.all(np.isfinite(values)):
            k = state["iteration"]
            kind = "NaN" if np.isnan(values).any() else "inf"
            bad = np.flatnonzero(~np.isfinite(np.atleast_1d(values)))
            where = f" (first at {P.where(int(bad[0]))})" if what != "objective" and bad.size else ""
            raise NonFiniteError(f"minimize ({method}): the {what} became {kind} at iteration {k}"
                                 f"{where}, evaluated at x = {x!r}; stopped.", iteration=k)

    def fun_and_jac(x):
        key = x.tobytes()
        if key not in cache:
            cache.clear()
            cache[key] = P.value_and_grad(x)
        f, g = cache[key]
        checked("objective", x, np.asarray(f))
        checked("gradient", x, g)
        return f, g

    def hess(x):
        f, g, H = P.value_grad_hessian(x)
        cache.clear()
        cache[x.tobytes()] = (f, g)
        checked("Hessian", x, H)
        return H

    def hessp(x, p):
        Hp = P.hvp(x, np.asarray(p, dtype=x.dtype))
        checked("Hessian-vector product", x, Hp)
        return Hp

    def cb(intermediate_result):
        xk = np.asarray(intermediate_result.x)
        f, g = fun_and_jac(xk)
        state["iteration"] += 1
        entry = {"nit": state["iteration"], "fun": float(f), "grad_norm": float(np.linalg.norm(g))}
        history.append(entry)
        if verbose:
            print(f"minimize ({method}): iter {entry['nit']:>4}  f(x) = {entry['fun']:.15e}  "
                  f"|grad| = {entry['grad_norm']:.3e}")
        if callback is not None:
            callback(entry)

    kw: dict[str, Any] = {}
    if m not in _NO_JAC:
        kw["jac"] = True
    if m in _USES_HESS:
        if m in _USES_HESSP and hessian != "dense":
            kw["hessp"] = hessp
        else:
            kw["hess"] = hess
    if bounds is not None:
        kw["bounds"] = _flat_bounds(bounds, x0)
    def value_only(x):  # derivative-free methods: no gradient evaluations
        f = P.f(x)
        checked("objective", x, np.asarray(f))
        return f

    objective = fun_and_jac if "jac" in kw else value_only
    if verbose:
        f, g = fun_and_jac(P.x0)
        print(f"minimize ({method}): iter {0:>4}  f(x) = {f:.15e}  |grad| = {np.linalg.norm(g):.3e}")
    start = time.perf_counter()
    res = scipy.optimize.minimize(objective, P.x0, method=method, constraints=constraints, tol=tol,
                                  options=options, callback=cb, **kw)
    x = np.asarray(res.x, dtype=P.x0.dtype)
    f, g = fun_and_jac(x)
    out = P.result(x, float(f), g, int(getattr(res, "nit", state["iteration"])),
                   int(res.status), str(res.message), history)
    out.update(success=bool(res.success), seconds=time.perf_counter() - start, scipy_result=res)
    return out


def _flat_bounds(bounds, x0):
    if isinstance(bounds, tuple) and len(bounds) == 2:
        lo_leaves, lo_tree = tree_flatten(bounds[0])
        x_tree = tree_flatten(x0)[1]
        if lo_tree == x_tree:
            import scipy.optimize

            lo, _ = ravel_pytree(bounds[0])
            hi, _ = ravel_pytree(bounds[1])
            return scipy.optimize.Bounds(np.asarray(lo, float), np.asarray(hi, float))
    return bounds
