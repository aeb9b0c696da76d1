"""``scipy.stats.logistic``: the logistic distribution.

>>> from funcad.scipy.stats import logistic
>>> float(logistic.cdf(0.0))
0.5
"""

from __future__ import annotations

from ... import numpy as fnp
from .. import special as sp
from ._common import promote, standardize

__all__ = ["logpdf", "pdf", "cdf", "logcdf", "sf", "logsf", "ppf", "isf"]


def logpdf(x, loc=0.0, scale=1.0):
    """log density: -|z| - 2 log1p(exp(-|z|)) - log(scale) (no overflow at any z)."""
    z, scale, _ = standardize(x, loc, scale)
    a = fnp.abs(z)
    return fnp.subtract(fnp.subtract(fnp.negative(a), fnp.multiply(2.0, fnp.log1p(fnp.exp(fnp.negative(a))))),
                        fnp.log(scale))


def pdf(x, loc=0.0, scale=1.0):
    """density: exp(logpdf)."""
    return fnp.exp(logpdf(x, loc, scale))


def cdf(x, loc=0.0, scale=1.0):
    """CDF: expit(z)."""
    z, _, _ = standardize(x, loc, scale)
    return sp.expit(z)


def logcdf(x, loc=0.0, scale=1.0):
    """log CDF: log_expit(z)."""
    z, _, _ = standardize(x, loc, scale)
    return sp.log_expit(z)


def sf(x, loc=0.0, scale=1.0):
    """Survival function: expit(-z)."""
    z, _, _ = standardize(x, loc, scale)
    return sp.expit(fnp.negative(z))


def logsf(x, loc=0.0, scale=1.0):
    """log survival function: log_expit(-z)."""
    z, _, _ = standardize(x, loc, scale)
    return sp.log_expit(fnp.negative(z))


def ppf(q, loc=0.0, scale=1.0):
    """The quantile: loc + scale logit(q)."""
    (q, loc, scale), _ = promote(q, loc, scale)
    return fnp.add(loc, fnp.multiply(scale, sp.logit(q)))


def isf(q, loc=0.0, scale=1.0):
    """The inverse survival function: loc - scale logit(q)."""
    (q, loc, scale), _ = promote(q, loc, scale)
    return fnp.subtract(loc, fnp.multiply(scale, sp.logit(q)))
