"""``scipy.stats.geom``: the number of trials up to the first success (k >= 1)."""

from __future__ import annotations

from ... import numpy as fnp
from .. import special as sp
from ._common import not_integer, outside, promote

__all__ = ["logpmf", "pmf", "cdf"]


def logpmf(k, p, loc=0):
    """log pmf: xlog1py(k - 1, -p) + log(p) for integers k >= 1, else -inf."""
    (k, p, loc), _ = promote(k, p, loc)
    k = fnp.subtract(k, loc)
    out = fnp.add(sp.xlog1py(fnp.subtract(k, 1.0), fnp.negative(p)), fnp.log(p))
    return outside(fnp.logical_or(fnp.less(k, 1), not_integer(k)), out, out)


def pmf(k, p, loc=0):
    """pmf: exp(logpmf)."""
    return fnp.exp(logpmf(k, p, loc))


def cdf(k, p, loc=0):
    """CDF: 1 - (1 - p)^floor(k) for k >= 1."""
    (k, p, loc), _ = promote(k, p, loc)
    k = fnp.floor(fnp.subtract(k, loc))
    out = fnp.negative(fnp.expm1(fnp.multiply(fnp.maximum(k, 0.0), fnp.log1p(fnp.negative(p)))))
    return fnp.where(fnp.less(k, 1), fnp.zeros_like(out), out)
