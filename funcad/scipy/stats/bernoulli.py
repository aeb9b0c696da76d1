"""``scipy.stats.bernoulli``: one trial with success probability ``p``.

>>> from funcad.scipy.stats import bernoulli
>>> float(bernoulli.pmf(1, 0.25))
0.25
"""

from __future__ import annotations

from ... import numpy as fnp
from .. import special as sp
from ._common import outside, promote

__all__ = ["logpmf", "pmf", "cdf", "ppf"]


def logpmf(k, p, loc=0):
    """log pmf: xlogy(k, p) + xlog1py(1 - k, -p) for k in {0, 1}, else -inf; differentiable in p."""
    (k, p, loc), _ = promote(k, p, loc)
    k = fnp.subtract(k, loc)
    out = fnp.add(sp.xlogy(k, p), sp.xlog1py(fnp.subtract(1.0, k), fnp.negative(p)))
    return outside(fnp.logical_and(fnp.not_equal(k, 0), fnp.not_equal(k, 1)), out, out)


def pmf(k, p, loc=0):
    """pmf: exp(logpmf)."""
    return fnp.exp(logpmf(k, p, loc))


def cdf(k, p, loc=0):
    """CDF: 0 below 0, 1 - p on [0, 1), 1 from 1."""
    (k, p, loc), _ = promote(k, p, loc)
    k = fnp.subtract(k, loc)
    one_minus = fnp.subtract(1.0, p)
    return fnp.where(fnp.less(k, 0), fnp.zeros_like(one_minus),
                     fnp.where(fnp.less(k, 1), one_minus, fnp.ones_like(one_minus)))


def ppf(q, p, loc=0):
    """The quantile: 0 for q <= 1 - p, else 1 (NaN outside [0, 1])."""
    (q, p, loc), _ = promote(q, p, loc)
    out = fnp.add(fnp.where(fnp.greater(q, fnp.subtract(1.0, p)), 1.0, 0.0), loc)
    return fnp.where(fnp.logical_or(fnp.less(q, 0), fnp.greater(q, 1)), fnp.nan, out)
