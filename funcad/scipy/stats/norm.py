"""``scipy.stats.norm``: the normal distribution N(loc, scale^2).

>>> from funcad.scipy.stats import norm
>>> float(norm.cdf(0.0))
0.5
"""

from __future__ import annotations

import math

from ... import numpy as fnp
from ...lax import special as _sp
from ..special import ndtri as _ndtri
from ._common import LOG_2PI, standardize

__all__ = ["logpdf", "pdf", "cdf", "logcdf", "sf", "logsf", "ppf", "isf"]


def logpdf(x, loc=0.0, scale=1.0):
    """log density: -z^2/2 - log(scale) - log(2 pi)/2, z = (x - loc) / scale."""
    z, scale, _ = standardize(x, loc, scale)
    return fnp.subtract(fnp.multiply(-0.5, fnp.square(z)), fnp.add(fnp.log(scale), 0.5 * LOG_2PI))


def pdf(x, loc=0.0, scale=1.0):
    """density: exp(logpdf)."""
    return fnp.exp(logpdf(x, loc, scale))


def cdf(x, loc=0.0, scale=1.0):
    """CDF: erfc(-z / sqrt(2)) / 2 (accurate far in the left tail)."""
    z, _, _ = standardize(x, loc, scale)
    return fnp.multiply(0.5, _sp.erfc(fnp.multiply(z, -1.0 / math.sqrt(2.0))))


def logcdf(x, loc=0.0, scale=1.0):
    """log CDF through log_ndtr: finite and accurate far in the left tail (z = -40)."""
    z, _, _ = standardize(x, loc, scale)
    return _sp.log_ndtr(z)


def sf(x, loc=0.0, scale=1.0):
    """Survival function 1 - cdf, as cdf(-z)."""
    z, _, _ = standardize(x, loc, scale)
    return fnp.multiply(0.5, _sp.erfc(fnp.multiply(z, 1.0 / math.sqrt(2.0))))


def logsf(x, loc=0.0, scale=1.0):
    """log of the survival function, log_ndtr(-z)."""
    z, _, _ = standardize(x, loc, scale)
    return _sp.log_ndtr(fnp.negative(z))


def ppf(q, loc=0.0, scale=1.0):
    """The quantile function, loc + scale ndtri(q)."""
    return fnp.add(loc, fnp.multiply(scale, _ndtri(q)))


def isf(q, loc=0.0, scale=1.0):
    """The inverse survival function, loc - scale ndtri(q)."""
    return fnp.subtract(loc, fnp.multiply(scale, _ndtri(q)))
