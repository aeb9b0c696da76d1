"""``scipy.stats.gamma``: the gamma distribution with shape ``a``.

>>> from funcad.scipy.stats import gamma
>>> round(float(gamma.logpdf(1.0, 2.0)), 6)
-1.0
"""

from __future__ import annotations

from ... import numpy as fnp
from .. import special as sp
from ._common import outside, promote, standardize

__all__ = ["logpdf", "pdf", "cdf", "logcdf", "sf", "logsf"]


def logpdf(x, a, loc=0.0, scale=1.0):
    """log density: xlogy(a - 1, y) - y - gammaln(a) - log(scale), y = (x - loc) / scale;
    -inf for y < 0. Differentiable in x, a, loc and scale."""
    y, scale, _ = standardize(x, loc, scale)
    (a,), _ = promote(a)
    out = fnp.subtract(fnp.subtract(sp.xlogy(fnp.subtract(a, 1.0), y), y),
                       fnp.add(sp.gammaln(a), fnp.log(scale)))
    return outside(fnp.less(y, 0), out, out)


def pdf(x, a, loc=0.0, scale=1.0):
    """density: exp(logpdf)."""
    return fnp.exp(logpdf(x, a, loc, scale))


def cdf(x, a, loc=0.0, scale=1.0):
    """CDF, gammainc(a, y) (0 below the support); differentiable in x, loc, scale (not a)."""
    y, _, _ = standardize(x, loc, scale)
    return sp.gammainc(a, fnp.maximum(y, 0.0))


def logcdf(x, a, loc=0.0, scale=1.0):
    """log of the CDF."""
    return fnp.log(cdf(x, a, loc, scale))


def sf(x, a, loc=0.0, scale=1.0):
    """Survival function, gammaincc(a, y) (accurate in the upper tail)."""
    y, _, _ = standardize(x, loc, scale)
    return sp.gammaincc(a, fnp.maximum(y, 0.0))


def logsf(x, a, loc=0.0, scale=1.0):
    """log of the survival function."""
    return fnp.log(sf(x, a, loc, scale))
