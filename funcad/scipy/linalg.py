"""funcad.scipy.linalg: triangular and Cholesky solves, differentiable."""

from __future__ import annotations

import numpy as _np

from ..core import get_aval
from ..lax import decompositions as _dec
from ..lax.shapes import reshape as _reshape
from ..numpy import _as_nd, _promote_float
from ..numpy.linalg import LinAlgError, cholesky as _np_cholesky

__all__ = ["solve_triangular", "cho_solve", "cho_factor", "cholesky"]


def _rhs(a, b, name):
    (a, b), _ = _promote_float(a, b)
    a, b = _as_nd(a), _as_nd(b)
    sa, sb = get_aval(a).shape, get_aval(b).shape
    if len(sa) != 2 or sa[0] != sa[1]:
        raise ValueError(f"{name}: expected a square matrix, got shape {sa}")
    if not sb or sb[0] != sa[0]:
        raise ValueError(f"{name}: shapes of a {sa} and b {sb} are incompatible")
    vec = len(sb) == 1
    rest = sb[1:]
    b2 = _reshape(b, (sb[0], int(_np.prod(rest, dtype=_np.int64)) if rest else 1))
    return a, b2, (lambda x: _reshape(x, sb) if vec or len(sb) > 2 else x)


def solve_triangular(a, b, trans=0, lower=False, unit_diagonal=False, overwrite_b=False,
                     check_finite=True):
    """``scipy.linalg.solve_triangular``: solve ``a x = b`` (trans=0/'N') or ``a^T x = b``
    (trans=1/'T'/2/'C') reading only one triangle of ``a``. Linear in b, differentiable in a.

    >>> import funcad.numpy as fnp
    >>> solve_triangular(fnp.array([[2.0, 0.0], [1.0, 1.0]]), fnp.array([2.0, 3.0]), lower=True)
    array([1., 2.])
    """
    transpose = {0: False, "N": False, 1: True, "T": True, 2: True, "C": True}.get(trans)
    if transpose is None:
        raise ValueError(f"solve_triangular: invalid trans {trans!r}")
    a, b2, back = _rhs(a, b, "solve_triangular")
    return back(_dec.triangular_solve(a, b2, lower=lower, transpose_a=transpose,
                                      unit_diagonal=unit_diagonal))


def cho_factor(a, lower=False, overwrite_a=False, check_finite=True):
    """``scipy.linalg.cho_factor``: (c, lower) with c a Cholesky factor of ``a``.

    Unlike SciPy, the unused triangle of ``c`` is zero (SciPy leaves arbitrary values there).
    """
    return cholesky(a, lower), lower


def cholesky(a, lower=False, overwrite_a=False, check_finite=True):
    """``scipy.linalg.cholesky``: upper u with a = u^T u (lower=True: l with a = l l^T).

    Reads only the triangle of ``a`` it is asked for (the upper one by default), as SciPy;
    the derivative sees ``a`` through that triangle too."""
    if lower:
        return _np_cholesky(a)
    return _dec.mT(_np_cholesky(_dec.mT(a)))  # a's upper triangle is a^T's lower one


def cho_solve(c_and_lower, b, overwrite_b=False, check_finite=True):
    """``scipy.linalg.cho_solve``: solve ``a x = b`` given ``(c, lower)`` from cho_factor.

    >>> import funcad.numpy as fnp
    >>> cho_solve(cho_factor(fnp.eye(2) * 4.0), fnp.ones(2))
    array([0.25, 0.25])
    """
    c, lower = c_and_lower
    c, b2, back = _rhs(c, b, "cho_solve")
    # a = l l^T: solve l y = b, then l^T x = y (with c = l^T when upper).
    y = _dec.triangular_solve(c, b2, lower=lower, transpose_a=not lower)
    return back(_dec.triangular_solve(c, y, lower=lower, transpose_a=lower))


_ = LinAlgError
