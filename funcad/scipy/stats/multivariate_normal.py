"""``scipy.stats.multivariate_normal``'s logpdf and pdf, through a Cholesky factor.

>>> import numpy as np
>>> from funcad.scipy.stats import multivariate_normal
>>> round(float(multivariate_normal.logpdf(np.zeros(2), np.zeros(2), np.eye(2))), 6)
-1.837877
"""

from __future__ import annotations

import math

import numpy as _np

from ... import numpy as _fnp
from ...core import get_aval
from ...errors import UnsupportedFunctionError
from ...lax import decompositions as _dec
from ...lax import elementwise as _ew
from ...numpy import _as_nd, _promote_float

__all__ = ["logpdf", "pdf"]


def logpdf(x, mean=None, cov=1, allow_singular=False):
    """log density of N(mean, cov) at the rows of ``x`` (shape (d,) or (..., d)).

    ``cov`` is a matrix, a vector (the diagonal) or a scalar, as in SciPy. Differentiable
    in x, mean and cov (the derivative in cov treats it as symmetric).
    """
    if allow_singular:
        raise UnsupportedFunctionError("multivariate_normal.logpdf: allow_singular=True is "
                                       "not supported (funcad factors cov by Cholesky).")
    args = [x, cov] + ([mean] if mean is not None else [])
    promoted, dt = _promote_float(*args)
    x, cov = _as_nd(promoted[0]), _as_nd(promoted[1])
    x_shape = get_aval(x).shape
    d = x_shape[-1] if x_shape else 1
    if not x_shape:
        x = _fnp.reshape(x, (1,))
    if mean is not None:
        x = _ew.sub(x, _as_nd(promoted[2]))
    cov_nd = get_aval(cov).ndim
    if cov_nd == 0:
        cov = _ew.mul(_np.eye(d, dtype=dt), cov)
    elif cov_nd == 1:
        cov = _fnp.diag(cov)
    if get_aval(cov).shape != (d, d):
        raise ValueError(f"multivariate_normal: cov of shape {get_aval(cov).shape} does not fit "
                         f"dimension {d}")
    l = _dec.cholesky(cov)
    xs = _fnp.reshape(x, (-1, d))
    z = _dec.triangular_solve(l, _dec.mT(xs), lower=True)  # (d, n)
    maha = _fnp.sum(_ew.mul(z, z), axis=0)
    log_det = _ew.mul(2.0, _fnp.sum(_ew.log(_dec._diag(l))))
    out = _ew.mul(-0.5, _ew.add(maha, _ew.add(log_det, d * math.log(2.0 * math.pi))))
    batch = get_aval(x).shape[:-1]
    return _fnp.reshape(out, batch) if batch else _fnp.reshape(out, ())


def pdf(x, mean=None, cov=1, allow_singular=False):
    """density: exp(logpdf)."""
    return _ew.exp(logpdf(x, mean, cov, allow_singular))
