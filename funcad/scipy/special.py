"""funcad.scipy.special: special functions with derivatives of every order.

Conventions where SciPy's definitions meet a singularity: ``xlogy(0, y) = 0`` and
``xlog1py(0, y) = 0`` (SciPy's values); their derivative in x at x = 0 is log(y) (resp.
log1p(y)) where that is finite and 0 where y = 0 (resp. y = -1); ``entr`` has an infinite
derivative at 0, where funcad returns 0.
"""

from __future__ import annotations

import numpy as _np

from .. import numpy as _fnp
from ..core import get_aval
from ..lax import elementwise as _ew
from ..lax import special as _sp
from ..numpy import _as_nd
from ..numpy import _promote_float as _promote_float_np

__all__ = ["logsumexp", "expit", "logit", "erf", "erfc", "gammaln", "digamma", "psi", "polygamma",
           "xlogy", "xlog1py", "entr", "log_ndtr", "ndtr", "softmax", "log_softmax",
           "gamma", "betaln", "beta", "gammasgn", "multigammaln", "ndtri", "erfinv", "erfcinv",
           "i0", "i0e", "i1", "i1e", "log_expit", "gammainc", "gammaincc", "betainc", "zeta",
           "factorial", "rel_entr", "kl_div", "poch", "loggamma"]


def _promote_float(*args, min_float=_np.float64):
    """Integers and booleans become float64, as in SciPy's ufuncs (float32 stays float32)."""
    return _promote_float_np(*args, min_float=min_float)


def _unary(prim_fn, name, doc):
    def f(x):
        (x,), _ = _promote_float(x)
        return prim_fn(_as_nd(x))

    f.__name__ = name
    f.__doc__ = doc
    return f


erf = _unary(_sp.erf, "erf", "The error function; erf' = 2/sqrt(pi) exp(-x^2).")
erfc = _unary(_sp.erfc, "erfc", "1 - erf(x), accurate for large x.")
gammaln = _unary(_sp.gammaln, "gammaln", "log|Gamma(x)|; its derivative is digamma.")
digamma = psi = _unary(_sp.digamma, "digamma",
                       "The logarithmic derivative of Gamma; digamma' = polygamma(1, x).")
log_ndtr = _unary(_sp.log_ndtr, "log_ndtr", "log of the standard normal CDF, accurate far in the left tail.")
expit = _unary(_ew.logistic, "expit", "The logistic sigmoid 1 / (1 + exp(-x)), stable.")


def polygamma(n, x):
    """``scipy.special.polygamma`` for concrete integer orders ``n`` >= 0 (an int, or an array
    of them broadcast against ``x``)."""
    (x,), _ = _promote_float(x)
    ns = _np.asarray(n)
    if ns.dtype.kind not in "iuf" or _np.any(ns != _np.round(ns)) or _np.any(ns < 0):
        raise ValueError(f"polygamma: n must be non-negative integers; got {n!r}")
    if ns.ndim == 0:
        return _sp.polygamma(int(ns), _as_nd(x))
    out = _np.zeros((), get_aval(_as_nd(x)).dtype)
    for k in _np.unique(ns):  # one polygamma per order present, selected where n == k
        out = _fnp.where(ns == k, _sp.polygamma(int(k), _as_nd(x)), out)
    return out


def gammasgn(x):
    """``scipy.special.gammasgn``: the sign of Gamma(x) (1 for x > 0; alternating below 0;
    NaN at the poles 0, -1, -2..., as SciPy). Piecewise constant: derivative 0."""
    (x,), dt = _promote_float(x)
    x = _as_nd(x)
    odd = _ew.eq(_sp.mod(_ew.floor(_ew.neg(x)), 2.0), 1.0)
    neg_sign = _where(odd, _np.ones((), dt), _np.full((), -1.0, dt))
    pole = _ew.logical_and(_ew.le(x, 0.0), _ew.eq(x, _ew.floor(x)))
    out = _where(_ew.gt(x, 0.0), _np.ones((), dt), neg_sign)
    return _where(pole, _np.full((), _np.nan, dt), out)


def gamma(x):
    """``scipy.special.gamma``: sign(Gamma) exp(gammaln(x)), for negative x too; its
    derivative is Gamma(x) digamma(x).

    >>> round(float(gamma(-0.5)), 6)
    -3.544908
    """
    (x,), dt = _promote_float(x)
    x = _as_nd(x)
    out = _ew.mul(gammasgn(x), _ew.exp(_sp.gammaln(x)))
    return _where(_ew.eq(x, 0.0), _fnp.copysign(_np.asarray(_np.inf, dt), x), out)  # +-0: +-inf


def loggamma(x):
    """``scipy.special.loggamma`` of real ``x``: log Gamma(x) for x >= 0, NaN below (SciPy's
    real branch; gammaln is log|Gamma| everywhere)."""
    (x,), dt = _promote_float(x)
    x = _as_nd(x)
    return _where(_ew.lt(x, 0.0), _np.asarray(_np.nan, dt), _sp.gammaln(x))


def betaln(a, b):
    """``scipy.special.betaln``: log|B(a, b)| = gammaln(a) + gammaln(b) - gammaln(a + b)."""
    return gammaln(a) + gammaln(b) - gammaln(_fnp.add(a, b))


def beta(a, b):
    """``scipy.special.beta``: Gamma(a) Gamma(b) / Gamma(a + b), through betaln (no overflow
    for large a, b), with its sign for negative arguments."""
    sign = _ew.mul(_ew.mul(gammasgn(a), gammasgn(b)), gammasgn(_fnp.add(a, b)))
    return _ew.mul(sign, _fnp.exp(betaln(a, b)))


def poch(z, m):
    """``scipy.special.poch``: the rising factorial Gamma(z + m) / Gamma(z) (positive z, z + m)."""
    return _fnp.exp(_fnp.subtract(gammaln(_fnp.add(z, m)), gammaln(z)))


def factorial(n, exact=False):
    """``scipy.special.factorial``: Gamma(n + 1) (0 for negative n), as floats; ``exact=True``
    on concrete integers is SciPy's."""
    if exact:
        import scipy.special as _sc

        return _sc.factorial(n, exact=True)
    (n,), dt = _promote_float(n, min_float=_np.float64)
    n = _as_nd(n)
    return _where(_ew.lt(n, 0.0), _np.zeros((), dt), gamma(_ew.add(n, 1.0)))


def multigammaln(a, d):
    """``scipy.special.multigammaln``: log of the multivariate gamma function of dimension d,
    ``d (d - 1) / 4 log(pi) + sum_j gammaln(a - j / 2)``."""
    d = int(d)
    (a,), dt = _promote_float(a)
    a = _as_nd(a)
    out = _np.asarray(d * (d - 1) / 4.0 * _np.log(_np.pi), dt)
    for j in range(d):
        out = _ew.add(out, _sp.gammaln(_ew.sub(a, j / 2.0)))
    return out


ndtri = _unary(_sp.ndtri, "ndtri", "The inverse of ndtr (the standard normal quantile); "
               "ndtri' = sqrt(2 pi) exp(ndtri^2 / 2).")
erfinv = _unary(_sp.erfinv, "erfinv", "The inverse of erf; erfinv' = sqrt(pi) / 2 exp(erfinv^2).")
i0e = _unary(_sp.i0e, "i0e", "The exponentially scaled modified Bessel function exp(-|x|) I0(x).")
i1e = _unary(_sp.i1e, "i1e", "The exponentially scaled modified Bessel function exp(-|x|) I1(x).")


def erfcinv(y):
    """``scipy.special.erfcinv``: the inverse of erfc, -ndtri(y / 2) / sqrt(2)."""
    (y,), _ = _promote_float(y)
    return _ew.mul(_sp.ndtri(_ew.mul(_as_nd(y), 0.5)), -1.0 / _np.sqrt(2.0))


def i0(x):
    """``scipy.special.i0``: the modified Bessel function of order 0, exp(|x|) i0e(x)."""
    (x,), _ = _promote_float(x)
    x = _as_nd(x)
    return _ew.mul(_ew.exp(_ew.abs(x)), _sp.i0e(x))


def i1(x):
    """``scipy.special.i1``: the modified Bessel function of order 1, exp(|x|) i1e(x)."""
    (x,), _ = _promote_float(x)
    x = _as_nd(x)
    return _ew.mul(_ew.exp(_ew.abs(x)), _sp.i1e(x))


def log_expit(x):
    """``scipy.special.log_expit``: log(expit(x)) = -logaddexp(0, -x), finite everywhere."""
    (x,), _ = _promote_float(x)
    return _ew.neg(_ew.logaddexp(0.0, _ew.neg(_as_nd(x))))


def _n_ary(prim_fn, name, doc):
    def f(*args):
        args, _ = _promote_float(*args)
        args = [_as_nd(a) for a in args]
        return prim_fn(*args)

    f.__name__ = name
    f.__doc__ = doc
    return f


gammainc = _n_ary(_sp.gammainc, "gammainc", "``scipy.special.gammainc(a, x)``: the regularised "
                  "lower incomplete gamma function P(a, x); differentiable in x (not in a).")
gammaincc = _n_ary(_sp.gammaincc, "gammaincc", "``scipy.special.gammaincc(a, x)``: 1 - P(a, x), "
                   "accurate in the upper tail; differentiable in x (not in a).")
betainc = _n_ary(_sp.betainc, "betainc", "``scipy.special.betainc(a, b, x)``: the regularised "
                 "incomplete beta function I_x(a, b); differentiable in x (not in a, b).")
zeta = _n_ary(_sp.zeta, "zeta", "``scipy.special.zeta(x, q)``: the Hurwitz zeta function "
              "sum_k (k + q)^-x; differentiable in q (not in x).")


def rel_entr(x, y):
    """``scipy.special.rel_entr``: x log(x / y) for x, y > 0; 0 at x = 0, y >= 0; inf otherwise."""
    (x, y), dt = _promote_float(x, y)
    x, y = _as_nd(x), _as_nd(y)
    both = _ew.logical_and(_ew.gt(x, 0.0), _ew.gt(y, 0.0))
    one = _np.ones((), dt)
    val = _ew.mul(x, _ew.log(_ew.div(_where(both, x, one), _where(both, y, one))))
    zero_ok = _ew.logical_and(_ew.eq(x, 0.0), _ew.ge(y, 0.0))
    return _where(both, val, _where(zero_ok, _np.zeros((), dt), _np.full((), _np.inf, dt)))


def kl_div(x, y):
    """``scipy.special.kl_div``: x log(x / y) - x + y (the same domain as rel_entr)."""
    (x, y), dt = _promote_float(x, y)
    r = rel_entr(x, y)
    return _where(_ew.isfinite_p.bind(r), _ew.add(_ew.sub(r, _as_nd(x)), y), r)


def ndtr(x):
    """The standard normal CDF, 0.5 erfc(-x / sqrt(2))."""
    (x,), _ = _promote_float(x)
    return _ew.mul(0.5, _sp.erfc(_ew.mul(_as_nd(x), -1.0 / _np.sqrt(2.0))))


def logit(x):
    """``scipy.special.logit``: log(x / (1 - x)), the inverse of expit."""
    (x,), _ = _promote_float(x)
    x = _as_nd(x)
    return _ew.log(_ew.div(x, _ew.sub(1.0, x)))


def _where(c, a, b):
    return _ew.select(c, a, b)


def xlogy(x, y):
    """``scipy.special.xlogy``: x log(y), 0 where x == 0 (unless y is NaN).

    >>> float(xlogy(0.0, 0.0))
    0.0
    """
    (x, y), dt = _promote_float(x, y)
    x, y = _as_nd(x), _as_nd(y)
    # Where x == 0 and log(y) is not finite the value is 0; elsewhere x log(y), so the
    # derivative in x at x == 0 is log(y) whenever that is finite.
    special = _ew.logical_and(_ew.eq(x, 0.0), _ew.logical_or(_ew.le(y, 0.0), _ew.eq(y, _np.inf)))
    safe_y = _where(special, _np.ones((), dt), y)
    return _where(special, _np.zeros((), dt), _ew.mul(x, _ew.log(safe_y)))


def xlog1py(x, y):
    """``scipy.special.xlog1py``: x log1p(y), 0 where x == 0 (unless y is NaN)."""
    (x, y), dt = _promote_float(x, y)
    x, y = _as_nd(x), _as_nd(y)
    special = _ew.logical_and(_ew.eq(x, 0.0), _ew.logical_or(_ew.le(y, -1.0), _ew.eq(y, _np.inf)))
    safe_y = _where(special, _np.zeros((), dt), y)
    return _where(special, _np.zeros((), dt), _ew.mul(x, _ew.log1p(safe_y)))


def entr(x):
    """``scipy.special.entr``: -x log(x) for x > 0, 0 at 0, -inf for x < 0.

    Its derivative -log(x) - 1 is infinite at 0; funcad returns 0 there.
    """
    (x,), dt = _promote_float(x)
    x = _as_nd(x)
    pos = _ew.gt(x, 0.0)
    safe = _where(pos, x, _np.ones((), dt))
    inner = _where(pos, _ew.neg(_ew.mul(safe, _ew.log(safe))),
                   _where(_ew.eq(x, 0.0), _np.zeros((), dt), _np.asarray(-_np.inf, dt)))
    return _where(_ew.isnan_p.bind(x), x, inner)


def logsumexp(a, axis=None, b=None, keepdims=False, return_sign=False):
    """``scipy.special.logsumexp``: log(sum(b * exp(a))) along ``axis``, shifted by the max.

    With ``return_sign=True`` returns (log|sum|, sign) and allows negative ``b``.

    >>> float(logsumexp(_np.array([1000.0, 1000.0])))  # doctest: +ELLIPSIS
    1000.693...
    """
    (a,), dt = _promote_float(a)
    a = _as_nd(a)
    if b is not None:
        (a, b), dt = _promote_float(a, b)
        a, b = _as_nd(a), _as_nd(b)
        a, b = _fnp.broadcast_arrays(a, b)
        # entries with b == 0 do not count (also when a is -inf or nan there, as SciPy)
        a = _where(_ew.eq(b, 0.0), _np.asarray(-_np.inf, dt), a)
    if get_aval(a).size == 0:
        out = _fnp.log(_fnp.sum(_fnp.exp(a), axis=axis, keepdims=keepdims))
        return (out, _fnp.sign(_fnp.exp(out))) if return_sign else out
    m = _ew.stop_gradient(_fnp.max(a, axis=axis, keepdims=True))
    m = _where(_ew.isfinite_p.bind(m), m, _np.zeros((), dt))
    e = _ew.exp(_ew.sub(a, m))
    if b is not None:
        e = _ew.mul(e, b)
    s = _fnp.sum(e, axis=axis, keepdims=True)
    if return_sign:
        sign = _ew.sign(s)
        s = _ew.abs(s)
    out = _ew.add(_ew.log(s), m)
    if not keepdims:
        out = _fnp.squeeze(out, axis=axis) if axis is not None else _fnp.reshape(out, ())
        if return_sign:
            sign = _fnp.squeeze(sign, axis=axis) if axis is not None else _fnp.reshape(sign, ())
    return (out, sign) if return_sign else out


def softmax(x, axis=None):
    """``scipy.special.softmax``: exp(x - logsumexp(x)) along ``axis`` (None: all)."""
    return _fnp.exp(_ew.sub(_as_nd(_promote_float(x)[0][0]), logsumexp(x, axis=axis, keepdims=True)))


def log_softmax(x, axis=None):
    """``scipy.special.log_softmax``: x - logsumexp(x) along ``axis`` (None: all)."""
    return _ew.sub(_as_nd(_promote_float(x)[0][0]), logsumexp(x, axis=axis, keepdims=True))
