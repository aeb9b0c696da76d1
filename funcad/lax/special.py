"""Special functions and remainders as elementwise primitives (SciPy/NumPy kernels).

Each derivative is written with other primitives: erf' = 2/sqrt(pi) exp(-x^2),
gammaln' = digamma = polygamma(0), polygamma(n)' = polygamma(n + 1), and
log_ndtr' = exp(-x^2/2 - log_ndtr(x)) / sqrt(2 pi) (stable far in the left tail).
fmod and mod have derivative 1 in x and -trunc(x/y) or -floor(x/y) in y (where defined:
they jump where x/y crosses an integer).
"""

from __future__ import annotations

import math

import numpy as np
import scipy.special as sc

from .. import batching
from ..ad import defjvp, defjvp_zero
from ..core import bind
from . import elementwise as ew
from .elementwise import _elementwise_prim


def _same_dtype(fn):
    def impl(x, **params):
        x = np.asarray(x)
        return np.asarray(fn(x, **params), dtype=x.dtype)

    return impl


erf_p = _elementwise_prim("erf", _same_dtype(sc.erf), 1)
erfc_p = _elementwise_prim("erfc", _same_dtype(sc.erfc), 1)
gammaln_p = _elementwise_prim("gammaln", _same_dtype(sc.gammaln), 1)
polygamma_p = _elementwise_prim("polygamma", _same_dtype(lambda x, *, n: sc.polygamma(n, x)), 1)
log_ndtr_p = _elementwise_prim("log_ndtr", _same_dtype(sc.log_ndtr), 1)
fmod_p = _elementwise_prim("fmod", np.fmod, 2)
mod_p = _elementwise_prim("mod", np.mod, 2)
floor_divide_p = _elementwise_prim("floor_divide", np.floor_divide, 2)


def erf(x):
    return bind(erf_p, x)


def erfc(x):
    return bind(erfc_p, x)


def gammaln(x):
    return bind(gammaln_p, x)


def polygamma(n: int, x):
    """The n-th derivative of digamma (n = 0: digamma itself)."""
    return bind(polygamma_p, x, n=int(n))


def digamma(x):
    return polygamma(0, x)


def log_ndtr(x):
    return bind(log_ndtr_p, x)


def fmod(x, y):
    return bind(fmod_p, x, y)


def mod(x, y):
    return bind(mod_p, x, y)


def floor_divide(x, y):
    return bind(floor_divide_p, x, y)


TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)

defjvp(erf_p, lambda g, ans, x: ew.mul(g, ew.mul(TWO_OVER_SQRT_PI, ew.exp(ew.neg(ew.integer_pow(x, 2))))))
defjvp(erfc_p, lambda g, ans, x: ew.mul(g, ew.mul(-TWO_OVER_SQRT_PI, ew.exp(ew.neg(ew.integer_pow(x, 2))))))
defjvp(gammaln_p, lambda g, ans, x: ew.mul(g, polygamma(0, x)))
defjvp(polygamma_p, lambda g, ans, x, *, n: ew.mul(g, polygamma(n + 1, x)))
defjvp(log_ndtr_p, lambda g, ans, x: ew.mul(g, ew.exp(
    ew.sub(ew.mul(-0.5, ew.integer_pow(x, 2)), ew.add(ans, LOG_SQRT_2PI)))))


def _trunc(x):
    return ew.select(ew.lt(x, 0), ew.ceil(x), ew.floor(x))


defjvp(fmod_p, lambda g, ans, x, y: g, lambda g, ans, x, y: ew.neg(ew.mul(g, _trunc(ew.div(x, y)))))
defjvp(mod_p, lambda g, ans, x, y: g, lambda g, ans, x, y: ew.neg(ew.mul(g, ew.floor(ew.div(x, y)))))
defjvp_zero(floor_divide_p)  # piecewise constant, as floor


for _p in (erf_p, erfc_p, gammaln_p, polygamma_p, log_ndtr_p, fmod_p, mod_p):
    batching.defbroadcasting(_p)
