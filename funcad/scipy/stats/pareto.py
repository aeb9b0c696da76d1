"""``scipy.stats.pareto``: the Pareto distribution with shape ``b`` (support y >= 1)."""

from __future__ import annotations

from ... import numpy as fnp
from ._common import outside, promote, standardize

__all__ = ["logpdf", "pdf"]


def logpdf(x, b, loc=0.0, scale=1.0):
    """log density: log(b) - (b + 1) log(y) - log(scale) for y >= 1, else -inf."""
    y, scale, _ = standardize(x, loc, scale)
    (b,), _ = promote(b)
    safe = fnp.maximum(y, 1.0)
    out = fnp.subtract(fnp.subtract(fnp.log(b), fnp.multiply(fnp.add(b, 1.0), fnp.log(safe))), fnp.log(scale))
    return outside(fnp.less(y, 1), out, out)


def pdf(x, b, loc=0.0, scale=1.0):
    """density: exp(logpdf)."""
    return fnp.exp(logpdf(x, b, loc, scale))
