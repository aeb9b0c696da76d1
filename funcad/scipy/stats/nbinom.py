"""``scipy.stats.nbinom``: failures before the n-th success, success probability p."""

from __future__ import annotations

from ... import numpy as fnp
from .. import special as sp
from ._common import not_integer, outside, promote

__all__ = ["logpmf", "pmf"]


def logpmf(k, n, p, loc=0):
    """log pmf: gammaln(n + k) - gammaln(k + 1) - gammaln(n) + n log(p) + xlog1py(k, -p)."""
    (k, n, p, loc), _ = promote(k, n, p, loc)
    k = fnp.subtract(k, loc)
    comb = fnp.subtract(sp.gammaln(fnp.add(n, k)), fnp.add(sp.gammaln(fnp.add(k, 1.0)), sp.gammaln(n)))
    out = fnp.add(comb, fnp.add(sp.xlogy(n, p), sp.xlog1py(k, fnp.negative(p))))
    return outside(fnp.logical_or(fnp.less(k, 0), not_integer(k)), out, out)


def pmf(k, n, p, loc=0):
    """pmf: exp(logpmf)."""
    return fnp.exp(logpmf(k, n, p, loc))
