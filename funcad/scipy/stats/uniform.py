"""``scipy.stats.uniform``: the uniform distribution on [loc, loc + scale]."""

from __future__ import annotations

from ... import numpy as fnp
from ._common import outside, promote, standardize

__all__ = ["logpdf", "pdf", "cdf", "ppf"]


def logpdf(x, loc=0.0, scale=1.0):
    """log density: -log(scale) on [loc, loc + scale], else -inf."""
    y, scale, _ = standardize(x, loc, scale)
    out = fnp.negative(fnp.log(fnp.add(scale, fnp.zeros_like(y))))
    return outside(fnp.logical_or(fnp.less(y, 0), fnp.greater(y, 1)), out, out)


def pdf(x, loc=0.0, scale=1.0):
    """density: exp(logpdf)."""
    return fnp.exp(logpdf(x, loc, scale))


def cdf(x, loc=0.0, scale=1.0):
    """CDF: (x - loc) / scale clipped to [0, 1]."""
    y, _, _ = standardize(x, loc, scale)
    return fnp.clip(y, 0.0, 1.0)


def ppf(q, loc=0.0, scale=1.0):
    """The quantile: loc + scale q (NaN outside [0, 1])."""
    (q, loc, scale), _ = promote(q, loc, scale)
    out = fnp.add(loc, fnp.multiply(scale, q))
    return fnp.where(fnp.logical_or(fnp.less(q, 0), fnp.greater(q, 1)), fnp.nan, out)
