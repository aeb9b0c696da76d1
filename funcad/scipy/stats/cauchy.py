"""``scipy.stats.cauchy``: the Cauchy distribution."""

from __future__ import annotations

import math

from ... import numpy as fnp
from ._common import LOG_PI, promote, standardize

__all__ = ["logpdf", "pdf", "cdf", "sf", "ppf", "isf"]


def logpdf(x, loc=0.0, scale=1.0):
    """log density: -log(pi) - log(scale) - log1p(z^2)."""
    z, scale, _ = standardize(x, loc, scale)
    return fnp.negative(fnp.add(fnp.add(fnp.log(scale), LOG_PI), fnp.log1p(fnp.square(z))))


def pdf(x, loc=0.0, scale=1.0):
    """density: exp(logpdf)."""
    return fnp.exp(logpdf(x, loc, scale))


def cdf(x, loc=0.0, scale=1.0):
    """CDF: 1/2 + arctan(z) / pi."""
    z, _, _ = standardize(x, loc, scale)
    return fnp.add(0.5, fnp.divide(fnp.arctan(z), math.pi))


def sf(x, loc=0.0, scale=1.0):
    """Survival function: 1/2 - arctan(z) / pi."""
    z, _, _ = standardize(x, loc, scale)
    return fnp.subtract(0.5, fnp.divide(fnp.arctan(z), math.pi))


def ppf(q, loc=0.0, scale=1.0):
    """The quantile: loc + scale tan(pi (q - 1/2))."""
    (q, loc, scale), _ = promote(q, loc, scale)
    return fnp.add(loc, fnp.multiply(scale, fnp.tan(fnp.multiply(math.pi, fnp.subtract(q, 0.5)))))


def isf(q, loc=0.0, scale=1.0):
    """The inverse survival function: loc - scale tan(pi (q - 1/2))."""
    (q, loc, scale), _ = promote(q, loc, scale)
    return fnp.subtract(loc, fnp.multiply(scale, fnp.tan(fnp.multiply(math.pi, fnp.subtract(q, 0.5)))))
