"""funcad.scipy.stats: the normal distribution (``norm``) and ``multivariate_normal.logpdf``.

>>> from funcad.scipy.stats import norm
>>> float(norm.cdf(0.0))
0.5
"""

from __future__ import annotations

import math

import numpy as _np

from .. import numpy as _fnp
from ..core import get_aval
from ..lax import decompositions as _dec
from ..lax import elementwise as _ew
from ..lax import special as _sp
from ..numpy import _as_nd, _promote_float

__all__ = ["norm", "multivariate_normal"]

_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


def _standardize(x, loc, scale):
    (x, loc, scale), dt = _promote_float(x, loc, scale)
    return _ew.div(_ew.sub(_as_nd(x), loc), scale), _as_nd(scale), dt


class _Norm:
    """The normal distribution N(loc, scale^2), as ``scipy.stats.norm``'s functions."""

    @staticmethod
    def logpdf(x, loc=0.0, scale=1.0):
        """log density: -z^2/2 - log(scale) - log(sqrt(2 pi)), z = (x - loc) / scale."""
        z, scale, _ = _standardize(x, loc, scale)
        return _ew.sub(_ew.mul(-0.5, _ew.integer_pow(z, 2)), _ew.add(_ew.log(scale), _LOG_SQRT_2PI))

    @staticmethod
    def pdf(x, loc=0.0, scale=1.0):
        """density: exp(logpdf)."""
        return _ew.exp(_Norm.logpdf(x, loc, scale))

    @staticmethod
    def cdf(x, loc=0.0, scale=1.0):
        """CDF: erfc(-z / sqrt(2)) / 2 (accurate in both tails' relative sense on the left)."""
        z, _, _ = _standardize(x, loc, scale)
        return _ew.mul(0.5, _sp.erfc(_ew.mul(z, -1.0 / math.sqrt(2.0))))

    @staticmethod
    def logcdf(x, loc=0.0, scale=1.0):
        """log CDF through log_ndtr: finite and accurate far in the left tail (z = -40)."""
        z, _, _ = _standardize(x, loc, scale)
        return _sp.log_ndtr(z)

    @staticmethod
    def sf(x, loc=0.0, scale=1.0):
        """Survival function 1 - cdf, as cdf(-z)."""
        z, _, _ = _standardize(x, loc, scale)
        return _ew.mul(0.5, _sp.erfc(_ew.mul(z, 1.0 / math.sqrt(2.0))))

    @staticmethod
    def logsf(x, loc=0.0, scale=1.0):
        """log of the survival function, log_ndtr(-z)."""
        z, _, _ = _standardize(x, loc, scale)
        return _sp.log_ndtr(_ew.neg(z))


norm = _Norm()


class _MultivariateNormal:
    """``scipy.stats.multivariate_normal``'s logpdf and pdf, through a Cholesky factor."""

    @staticmethod
    def logpdf(x, mean=None, cov=1, allow_singular=False):
        """log density of N(mean, cov) at the rows of ``x`` (shape (d,) or (..., d)).

        ``cov`` is a matrix, a vector (the diagonal) or a scalar, as in SciPy. Differentiable
        in x, mean and cov (the derivative in cov treats it as symmetric).
        """
        if allow_singular:
            from ..errors import UnsupportedFunctionError

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

    @staticmethod
    def pdf(x, mean=None, cov=1, allow_singular=False):
        """density: exp(logpdf)."""
        return _ew.exp(_MultivariateNormal.logpdf(x, mean, cov, allow_singular))


multivariate_normal = _MultivariateNormal()
