"""funcad.numpy.linalg: NumPy's linear algebra, differentiable."""

from __future__ import annotations


from ..lax import linalg as _linalg
from ..core import get_aval
from ..errors import ShapeError
from . import _promote_float, _as_nd
from ..lax.shapes import reshape as _reshape


def solve(a, b):
    """``numpy.linalg.solve``: the x with ``a @ x == b`` (b a vector or a stack of columns).

    >>> import funcad.numpy as fnp
    >>> fnp.linalg.solve(fnp.eye(2) * 2.0, fnp.ones(2))
    array([0.5, 0.5])
    """
    (a, b), _ = _promote_float(a, b)
    a, b = _as_nd(a), _as_nd(b)
    sa, sb = get_aval(a).shape, get_aval(b).shape
    if len(sa) < 2:
        raise ShapeError(f"solve: a must be at least 2-D (n, n), got shape {sa}")
    if len(sb) == 1:
        return _reshape(_linalg.solve(a, _reshape(b, sb + (1,))), sb)
    return _linalg.solve(a, b)


__all__ = ["solve"]
