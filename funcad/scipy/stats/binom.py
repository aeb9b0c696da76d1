"""``scipy.stats.binom``: the number of successes in ``n`` trials of probability ``p``."""

from __future__ import annotations

from ... import numpy as fnp
from .. import special as sp
from ._common import not_integer, outside, promote

__all__ = ["logpmf", "pmf"]


def logpmf(k, n, p, loc=0):
    """log pmf: log C(n, k) + xlogy(k, p) + xlog1py(n - k, -p); -inf off {0, ..., n}.
    Differentiable in p (and in n through gammaln)."""
    (k, n, p, loc), _ = promote(k, n, p, loc)
    k = fnp.subtract(k, loc)
    comb = fnp.subtract(sp.gammaln(fnp.add(n, 1.0)),
                        fnp.add(sp.gammaln(fnp.add(k, 1.0)), sp.gammaln(fnp.add(fnp.subtract(n, k), 1.0))))
    out = fnp.add(comb, fnp.add(sp.xlogy(k, p), sp.xlog1py(fnp.subtract(n, k), fnp.negative(p))))
    bad = fnp.logical_or(fnp.logical_or(fnp.less(k, 0), fnp.greater(k, n)), not_integer(k))
    return outside(bad, out, out)


def pmf(k, n, p, loc=0):
    """pmf: exp(logpmf)."""
    return fnp.exp(logpmf(k, n, p, loc))
