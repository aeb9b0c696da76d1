"""``scipy.stats.poisson``: the Poisson distribution with mean ``mu``.

>>> from funcad.scipy.stats import poisson
>>> round(float(poisson.pmf(2, 3.0)), 6)
0.224042
"""

from __future__ import annotations

from ... import numpy as fnp
from .. import special as sp
from ._common import not_integer, outside, promote

__all__ = ["logpmf", "pmf", "cdf", "sf", "entropy"]


def logpmf(k, mu, loc=0):
    """log pmf: xlogy(k, mu) - gammaln(k + 1) - mu; -inf for non-integer or negative k.
    Differentiable in mu."""
    (k, mu, loc), _ = promote(k, mu, loc)
    k = fnp.subtract(k, loc)
    out = fnp.subtract(fnp.subtract(sp.xlogy(k, mu), sp.gammaln(fnp.add(k, 1.0))), mu)
    return outside(fnp.logical_or(fnp.less(k, 0), not_integer(k)), out, out)


def pmf(k, mu, loc=0):
    """pmf: exp(logpmf)."""
    return fnp.exp(logpmf(k, mu, loc))


def cdf(k, mu, loc=0):
    """CDF, gammaincc(floor(k) + 1, mu) (0 for k < 0); differentiable in mu."""
    (k, mu, loc), _ = promote(k, mu, loc)
    k = fnp.floor(fnp.subtract(k, loc))
    out = sp.gammaincc(fnp.add(fnp.maximum(k, 0.0), 1.0), mu)
    return fnp.where(fnp.less(k, 0), fnp.zeros_like(out), out)


def sf(k, mu, loc=0):
    """Survival function 1 - cdf, as gammainc(floor(k) + 1, mu)."""
    (k, mu, loc), _ = promote(k, mu, loc)
    k = fnp.floor(fnp.subtract(k, loc))
    out = sp.gammainc(fnp.add(fnp.maximum(k, 0.0), 1.0), mu)
    return fnp.where(fnp.less(k, 0), fnp.ones_like(out), out)


def entropy(mu, loc=0):
    """The entropy, by summing -pmf log pmf over k up to mu + 20 sqrt(mu) + 20 (concrete mu)."""
    import numpy as np

    from ...core import maybe_concrete

    m = maybe_concrete(fnp.asarray(mu))
    if m is None:
        raise ValueError("poisson.entropy needs a concrete mu (the number of terms depends on it)")
    n = int(np.max(m) + 20 * np.sqrt(np.max(m)) + 20)
    ks = fnp.reshape(fnp.arange(n + 1.0), (-1,) + (1,) * np.ndim(m))
    lp = logpmf(ks, mu)
    return fnp.negative(fnp.sum(fnp.multiply(fnp.exp(lp), lp), axis=0))
