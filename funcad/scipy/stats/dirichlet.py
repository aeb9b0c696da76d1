"""``scipy.stats.dirichlet``: the Dirichlet distribution on the simplex.

``x`` has the categories on its first axis (shape (k,) or (k, n)), as in SciPy and JAX.

>>> import numpy as np
>>> from funcad.scipy.stats import dirichlet
>>> round(float(dirichlet.pdf(np.array([0.2, 0.8]), np.array([1.0, 1.0]))), 6)
1.0
"""

from __future__ import annotations

from ... import numpy as fnp
from ...core import get_aval
from .. import special as sp
from ._common import promote

__all__ = ["logpdf", "pdf"]


def logpdf(x, alpha):
    """log density: sum((alpha - 1) log x) - sum(gammaln(alpha)) + gammaln(sum(alpha));
    -inf off the simplex. Differentiable in x and alpha."""
    (x, alpha), _ = promote(x, alpha)
    k = get_aval(alpha).shape[0] if get_aval(alpha).ndim else 1
    if get_aval(x).shape[:1] != (k,):
        raise ValueError(f"dirichlet.logpdf: x of shape {get_aval(x).shape} must have the {k} "
                         f"categories of alpha (shape {get_aval(alpha).shape}) on its first axis")
    a = fnp.reshape(alpha, (k,) + (1,) * (get_aval(x).ndim - 1))
    norm = fnp.subtract(sp.gammaln(fnp.sum(alpha)), fnp.sum(sp.gammaln(alpha)))
    out = fnp.add(fnp.sum(sp.xlogy(fnp.subtract(a, 1.0), x), axis=0), norm)
    ok = fnp.logical_and(fnp.all(fnp.greater_equal(x, 0), axis=0),
                         fnp.less(fnp.abs(fnp.subtract(fnp.sum(x, axis=0), 1.0)), 1e-6))
    return fnp.where(ok, out, -fnp.inf)


def pdf(x, alpha):
    """density: exp(logpdf)."""
    return fnp.exp(logpdf(x, alpha))
