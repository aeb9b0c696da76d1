"""``scipy.stats.multinomial``: counts ``x`` (last axis) of ``n`` draws with probabilities ``p``."""

from __future__ import annotations

from ... import numpy as fnp
from .. import special as sp
from ._common import promote

__all__ = ["logpmf", "pmf"]


def logpmf(x, n, p):
    """log pmf: gammaln(n + 1) + sum(xlogy(x, p) - gammaln(x + 1)); -inf if sum(x) != n."""
    (x, n, p), _ = promote(x, n, p)
    out = fnp.add(sp.gammaln(fnp.add(n, 1.0)),
                  fnp.sum(fnp.subtract(sp.xlogy(x, p), sp.gammaln(fnp.add(x, 1.0))), axis=-1))
    return fnp.where(fnp.equal(fnp.sum(x, axis=-1), n), out, -fnp.inf)


def pmf(x, n, p):
    """pmf: exp(logpmf)."""
    return fnp.exp(logpmf(x, n, p))
