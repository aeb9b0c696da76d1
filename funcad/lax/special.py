"""Special functions and remainders as elementwise primitives (SciPy/NumPy kernels).

Each derivative is written with other primitives: erf' = 2/sqrt(pi) exp(-x^2),
gammaln' = digamma = polygamma(0), polygamma(n)' = polygamma(n + 1), and
log_ndtr' = exp(-x^2/2 - log_ndtr(x)) / sqrt(2 pi) (stable far in the left tail),
ndtri' = sqrt(2 pi) exp(ndtri^2 / 2), erfinv' = sqrt(pi)/2 exp(erfinv^2), the scaled Bessel
functions i0e' = i1e - sign(x) i0e and i1e' = i0e - (sign(x) + 1/x) i1e (1/2 at 0), and the
regularised incomplete gamma and beta functions and zeta in their last argument. Their
derivatives in the shape parameters (a of gammainc, a and b of betainc, x of zeta) have no
closed form: asking for one raises UnsupportedFunctionError rather than returning zero.
fmod and mod have derivative 1 in x and -trunc(x/y) or -floor(x/y) in y (where defined:
they jump where x/y crosses an integer).
"""

from __future__ import annotations

import math

import numpy as np

from .. import batching
from .._lazy import LazyModule
from ..ad import defjvp, defjvp_zero
from ..core import bind, get_aval
from ..errors import UnsupportedFunctionError
from . import elementwise as ew
from .elementwise import _elementwise_prim

sc = LazyModule("scipy.special")


def _same_dtype(fn):
    """The impl of SciPy's ``fn`` (a name in scipy.special, or a function) in ``x``'s dtype."""
    def impl(x, **params):
        x = np.asarray(x)
        f = getattr(sc, fn) if type(fn) is str else fn
        return np.asarray(f(x, **params), dtype=x.dtype)

    return impl


erf_p = _elementwise_prim("erf", _same_dtype("erf"), 1)
erfc_p = _elementwise_prim("erfc", _same_dtype("erfc"), 1)
gammaln_p = _elementwise_prim("gammaln", _same_dtype("gammaln"), 1)
polygamma_p = _elementwise_prim("polygamma", _same_dtype(lambda x, *, n: sc.polygamma(n, x)), 1)
log_ndtr_p = _elementwise_prim("log_ndtr", _same_dtype("log_ndtr"), 1)
ndtri_p = _elementwise_prim("ndtri", _same_dtype("ndtri"), 1)
erfinv_p = _elementwise_prim("erfinv", _same_dtype("erfinv"), 1)
i0e_p = _elementwise_prim("i0e", _same_dtype("i0e"), 1)
i1e_p = _elementwise_prim("i1e", _same_dtype("i1e"), 1)


def _same_dtype_n(name):
    def impl(*args):
        args = [np.asarray(a) for a in args]
        return np.asarray(getattr(sc, name)(*args), dtype=np.result_type(*args))

    return impl


gammainc_p = _elementwise_prim("gammainc", _same_dtype_n("gammainc"), 2)
gammaincc_p = _elementwise_prim("gammaincc", _same_dtype_n("gammaincc"), 2)
betainc_p = _elementwise_prim("betainc", _same_dtype_n("betainc"), 3)
zeta_p = _elementwise_prim("zeta", _same_dtype_n("zeta"), 2)
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


def ndtri(p):
    return bind(ndtri_p, p)


def erfinv(x):
    return bind(erfinv_p, x)


def i0e(x):
    return bind(i0e_p, x)


def i1e(x):
    return bind(i1e_p, x)


def gammainc(a, x):
    return bind(gammainc_p, a, x)


def gammaincc(a, x):
    return bind(gammaincc_p, a, x)


def betainc(a, b, x):
    return bind(betainc_p, a, b, x)


def zeta(x, q):
    return bind(zeta_p, x, q)


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


SQRT_2PI = math.sqrt(2.0 * math.pi)
defjvp(ndtri_p, lambda g, ans, p: ew.mul(g, ew.mul(SQRT_2PI, ew.exp(ew.mul(0.5, ew.integer_pow(ans, 2))))))
defjvp(erfinv_p, lambda g, ans, x: ew.mul(g, ew.mul(0.5 * math.sqrt(math.pi),
                                                    ew.exp(ew.integer_pow(ans, 2)))))
defjvp(i0e_p, lambda g, ans, x: ew.mul(g, ew.sub(i1e(x), ew.mul(ew.sign(x), ans))))


def _i1e_jvp(g, ans, x):
    zero = ew.eq(x, 0.0)
    safe = ew.select(zero, np.ones((), get_aval(x).dtype), x)
    d = ew.sub(i0e(x), ew.mul(ans, ew.add(ew.sign(x), ew.div(1.0, safe))))
    return ew.mul(g, ew.select(zero, np.full((), 0.5, get_aval(x).dtype), d))


defjvp(i1e_p, _i1e_jvp)


def _no_derivative(fn_name, arg):
    def rule(g, ans, *args):
        raise UnsupportedFunctionError(
            f"funcad.scipy.special.{fn_name}: the derivative with respect to {arg} is not "
            f"implemented (it has no closed form). Hold {arg} constant (pass it as a non-"
            "differentiated argument, or wrap it in stop_gradient).")

    return rule


def _gammainc_dx(g, ans, a, x):  # x^(a-1) e^-x / Gamma(a), as exp of its log (no overflow)
    return ew.mul(g, ew.exp(ew.sub(ew.sub(ew.mul(ew.sub(a, 1.0), ew.log(x)), x), gammaln(a))))


defjvp(gammainc_p, _no_derivative("gammainc", "a"), _gammainc_dx)
defjvp(gammaincc_p, _no_derivative("gammaincc", "a"), lambda g, ans, a, x: ew.neg(_gammainc_dx(g, ans, a, x)))


def _betainc_dx(g, ans, a, b, x):  # x^(a-1) (1-x)^(b-1) / B(a, b)
    log_beta = ew.sub(ew.add(gammaln(a), gammaln(b)), gammaln(ew.add(a, b)))
    log_d = ew.add(ew.mul(ew.sub(a, 1.0), ew.log(x)), ew.mul(ew.sub(b, 1.0), ew.log1p(ew.neg(x))))
    return ew.mul(g, ew.exp(ew.sub(log_d, log_beta)))


defjvp(betainc_p, _no_derivative("betainc", "a"), _no_derivative("betainc", "b"), _betainc_dx)
defjvp(zeta_p, _no_derivative("zeta", "x"),
       lambda g, ans, x, q: ew.mul(g, ew.neg(ew.mul(x, zeta(ew.add(x, 1.0), q)))))


def _trunc(x):
    return ew.select(ew.lt(x, 0), ew.ceil(x), ew.floor(x))


defjvp(fmod_p, lambda g, ans, x, y: g, lambda g, ans, x, y: ew.neg(ew.mul(g, _trunc(ew.div(x, y)))))
defjvp(mod_p, lambda g, ans, x, y: g, lambda g, ans, x, y: ew.neg(ew.mul(g, ew.floor(ew.div(x, y)))))
defjvp_zero(floor_divide_p)  # piecewise constant, as floor


for _p in (erf_p, erfc_p, gammaln_p, polygamma_p, log_ndtr_p, fmod_p, mod_p, ndtri_p, erfinv_p,
           i0e_p, i1e_p, gammainc_p, gammaincc_p, betainc_p, zeta_p):
    batching.defbroadcasting(_p)
