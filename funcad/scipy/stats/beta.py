"""``scipy.stats.beta``: the beta distribution on [loc, loc + scale].

>>> from funcad.scipy.stats import beta
>>> round(float(beta.pdf(0.5, 2.0, 2.0)), 6)
1.5
"""

from __future__ import annotations

from ... import numpy as fnp
from .. import special as sp
from ._common import outside, promote, standardize

__all__ = ["logpdf", "pdf", "cdf", "logcdf", "sf", "logsf"]


def logpdf(x, a, b, loc=0.0, scale=1.0):
    """log density: xlogy(a - 1, y) + xlog1py(b - 1, -y) - betaln(a, b) - log(scale);
    -inf outside [0, 1]. Differentiable in x, a, b, loc and scale."""
    y, scale, _ = standardize(x, loc, scale)
    (a, b), _ = promote(a, b)
    out = fnp.add(sp.xlogy(fnp.subtract(a, 1.0), y), sp.xlog1py(fnp.subtract(b, 1.0), fnp.negative(y)))
    out = fnp.subtract(out, fnp.add(sp.betaln(a, b), fnp.log(scale)))
    return outside(fnp.logical_or(fnp.less(y, 0), fnp.greater(y, 1)), out, out)


def pdf(x, a, b, loc=0.0, scale=1.0):
    """density: exp(logpdf)."""
    return fnp.exp(logpdf(x, a, b, loc, scale))


def cdf(x, a, b, loc=0.0, scale=1.0):
    """CDF, betainc(a, b, y) with y clipped to [0, 1]; differentiable in x, loc, scale."""
    y, _, _ = standardize(x, loc, scale)
    return sp.betainc(a, b, fnp.clip(y, 0.0, 1.0))


def logcdf(x, a, b, loc=0.0, scale=1.0):
    """log of the CDF."""
    return fnp.log(cdf(x, a, b, loc, scale))


def sf(x, a, b, loc=0.0, scale=1.0):
    """Survival function, betainc(b, a, 1 - y)."""
    y, _, _ = standardize(x, loc, scale)
    return sp.betainc(b, a, fnp.subtract(1.0, fnp.clip(y, 0.0, 1.0)))


def logsf(x, a, b, loc=0.0, scale=1.0):
    """log of the survival function."""
    return fnp.log(sf(x, a, b, loc, scale))
