"""``scipy.stats.laplace``: the Laplace (double exponential) distribution."""

from __future__ import annotations

import math

from ... import numpy as fnp
from ._common import standardize

__all__ = ["logpdf", "pdf", "cdf"]


def logpdf(x, loc=0.0, scale=1.0):
    """log density: -|z| - log(2 scale); at z = 0 the derivative in x is 0 (sign(0))."""
    z, scale, _ = standardize(x, loc, scale)
    return fnp.subtract(fnp.negative(fnp.abs(z)), fnp.add(fnp.log(scale), math.log(2.0)))


def pdf(x, loc=0.0, scale=1.0):
    """density: exp(logpdf)."""
    return fnp.exp(logpdf(x, loc, scale))


def cdf(x, loc=0.0, scale=1.0):
    """CDF: exp(z)/2 below loc, 1 - exp(-z)/2 above."""
    z, _, _ = standardize(x, loc, scale)
    half = fnp.multiply(0.5, fnp.exp(fnp.negative(fnp.abs(z))))
    return fnp.where(fnp.less(z, 0), half, fnp.subtract(1.0, half))
