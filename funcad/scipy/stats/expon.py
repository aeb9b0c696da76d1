"""``scipy.stats.expon``: the exponential distribution (rate 1 / scale)."""

from __future__ import annotations

from ... import numpy as fnp
from ._common import outside, promote, standardize

__all__ = ["logpdf", "pdf", "cdf", "logcdf", "sf", "logsf", "ppf"]


def logpdf(x, loc=0.0, scale=1.0):
    """log density: -y - log(scale) for y = (x - loc) / scale >= 0, else -inf."""
    y, scale, _ = standardize(x, loc, scale)
    out = fnp.subtract(fnp.negative(y), fnp.log(scale))
    return outside(fnp.less(y, 0), out, out)


def pdf(x, loc=0.0, scale=1.0):
    """density: exp(logpdf)."""
    return fnp.exp(logpdf(x, loc, scale))


def cdf(x, loc=0.0, scale=1.0):
    """CDF: -expm1(-y) for y >= 0."""
    y, _, _ = standardize(x, loc, scale)
    return fnp.negative(fnp.expm1(fnp.negative(fnp.maximum(y, 0.0))))


def logcdf(x, loc=0.0, scale=1.0):
    """log CDF."""
    return fnp.log(cdf(x, loc, scale))


def sf(x, loc=0.0, scale=1.0):
    """Survival function: exp(-y) for y >= 0."""
    return fnp.exp(logsf(x, loc, scale))


def logsf(x, loc=0.0, scale=1.0):
    """log survival function: -y for y >= 0."""
    y, _, _ = standardize(x, loc, scale)
    return fnp.negative(fnp.maximum(y, 0.0))


def ppf(q, loc=0.0, scale=1.0):
    """The quantile: loc - scale log1p(-q)."""
    (q, loc, scale), _ = promote(q, loc, scale)
    return fnp.subtract(loc, fnp.multiply(scale, fnp.log1p(fnp.negative(q))))
