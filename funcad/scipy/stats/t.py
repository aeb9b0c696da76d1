"""``scipy.stats.t``: Student's t distribution with ``df`` degrees of freedom.

>>> from funcad.scipy.stats import t
>>> round(float(t.logpdf(0.0, 3.0)), 6)
-1.000889
"""

from __future__ import annotations

from ... import numpy as fnp
from .. import special as sp
from ._common import LOG_PI, promote, standardize

__all__ = ["logpdf", "pdf", "cdf", "sf"]


def logpdf(x, df, loc=0.0, scale=1.0):
    """log density: gammaln((df+1)/2) - gammaln(df/2) - log(df pi)/2 - log(scale)
    - (df+1)/2 log1p(z^2/df). Differentiable in x, df, loc and scale."""
    z, scale, _ = standardize(x, loc, scale)
    (df,), _ = promote(df)
    half = fnp.multiply(0.5, fnp.add(df, 1.0))
    norm = fnp.subtract(sp.gammaln(half), sp.gammaln(fnp.multiply(0.5, df)))
    norm = fnp.subtract(norm, fnp.multiply(0.5, fnp.add(fnp.log(df), LOG_PI)))
    return fnp.subtract(fnp.subtract(norm, fnp.log(scale)),
                        fnp.multiply(half, fnp.log1p(fnp.divide(fnp.square(z), df))))


def pdf(x, df, loc=0.0, scale=1.0):
    """density: exp(logpdf)."""
    return fnp.exp(logpdf(x, df, loc, scale))


def cdf(x, df, loc=0.0, scale=1.0):
    """CDF through the incomplete beta function; differentiable in x, loc, scale (not df)."""
    z, _, _ = standardize(x, loc, scale)
    (df,), _ = promote(df)
    w = fnp.divide(df, fnp.add(df, fnp.square(z)))
    tail = fnp.multiply(0.5, sp.betainc(fnp.multiply(0.5, df), 0.5, w))
    return fnp.where(fnp.greater(z, 0), fnp.subtract(1.0, tail), tail)


def sf(x, df, loc=0.0, scale=1.0):
    """Survival function, cdf(-x) by symmetry."""
    z, _, _ = standardize(x, loc, scale)
    return cdf(fnp.negative(z), df)
