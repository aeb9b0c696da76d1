"""funcad.scipy.special: special functions with derivatives of every order.

Conventions where SciPy's definitions meet a singularity: ``xlogy(0, y) = 0`` and
``xlog1py(0, y) = 0`` (SciPy's values); their derivative in x at x = 0 is log(y) (resp.
log1p(y)) where that is finite and 0 where y = 0 (resp. y = -1); ``entr`` has an infinite
derivative at 0, where funcad returns 0.
"""

from __future__ import annotations

import numpy as _np

from ..core import get_aval
from ..lax import elementwise as _ew
from ..lax import special as _sp
from .. import numpy as _fnp
from ..numpy import _as_nd, _promote_float

__all__ = ["logsumexp", "expit", "logit", "erf", "erfc", "gammaln", "digamma", "psi", "polygamma",
           "xlogy", "xlog1py", "entr", "log_ndtr", "ndtr", "softmax", "log_softmax",
           "gamma", "betaln"]


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
digamma = psi = _unary(_sp.digamma, "digamma", "The logarithmic derivative of Gamma; digamma' = polygamma(1, x).")
log_ndtr = _unary(_sp.log_ndtr, "log_ndtr", "log of the standard normal CDF, accurate far in the left tail.")
expit = _unary(_ew.logistic, "expit", "The logistic sigmoid 1 / (1 + exp(-x)), stable.")


def polygamma(n, x):
    """``scipy.special.polygamma`` for a Python int order ``n`` >= 0."""
    (x,), _ = _promote_float(x)
    if int(n) != n or n < 0:
        raise ValueError("polygamma: n must be a non-negative integer")
    return _sp.polygamma(int(n), _as_nd(x))


def gamma(x):
    """``scipy.special.gamma`` for positive x, as exp(gammaln(x))."""
    return _fnp.exp(gammaln(x))


def betaln(a, b):
    """``scipy.special.betaln``: log|B(a, b)| = gammaln(a) + gammaln(b) - gammaln(a + b)."""
    return gammaln(a) + gammaln(b) - gammaln(_fnp.add(a, b))


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
