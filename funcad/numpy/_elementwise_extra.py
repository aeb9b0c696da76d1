"""Elementwise extras of funcad.numpy: rounding, remainders, sinc, angle conversions,
logaddexp2, heaviside, nan_to_num, fabs.

Rounding functions are piecewise constant: their derivative is zero (also at the jumps,
where it is not defined). fmod and mod/remainder have derivative 1 in x and -trunc(x/y)
(fmod) or -floor(x/y) (mod) in y, away from their jumps.
"""

from __future__ import annotations

import math

import numpy as _np

from .. import core
from ..core import get_aval
from ..lax import elementwise as _ew
from ..lax import special as _sp
from . import _arr, _as_nd, _integer_operands, _promote, _promote_float, _real_floats, _unary, astype

__all__ = ["trunc", "fix", "rint", "around", "round", "fmod", "mod", "remainder", "floor_divide", "sinc",
           "deg2rad", "rad2deg", "degrees", "radians", "fabs", "logaddexp2", "heaviside",
           "nan_to_num"]


def _trunc(x):
    return _ew.select(_ew.lt(x, 0), _ew.ceil(x), _ew.floor(x))


trunc = _unary(_trunc, float_only=False, name="trunc")
fix = trunc
rint = _unary(_ew.round, float_only=True, name="rint")


def round(a, decimals=0):
    """``numpy.round``: half to even, to ``decimals`` places (NumPy's scaling algorithm).

    Piecewise constant, so its derivative is zero.
    """
    (x,), dt = _promote(a)
    x = _as_nd(x)
    if dt.kind in "iub":
        if decimals >= 0:
            return x
        f = 10 ** (-decimals)
        return _ew.mul(_ew.convert_element_type(_ew.round(_ew.div(
            _ew.convert_element_type(x, _np.float64), float(f))), dt), f)
    if decimals == 0:
        return _ew.round(x)
    if decimals > 0:
        f = float(10.0 ** decimals)
        return _ew.div(_ew.round(_ew.mul(x, f)), f)
    f = float(10.0 ** -decimals)
    return _ew.mul(_ew.round(_ew.div(x, f)), f)


around = round


def _int_or_float_binary(prim_fn, name):
    def f(x1, x2):
        (x, y), dt = _promote(x1, x2)
        if type(x) in (bool, int, float) and type(y) in (bool, int, float):
            x = _np.asarray(x)
        if dt.kind in "iub":  # NumPy's rules: bools as int8, a Python int that fits
            x, y = _integer_operands(name, dt, x, y)
        return prim_fn(x, y)

    f.__name__ = name
    return f


fmod = _int_or_float_binary(_sp.fmod, "fmod")
fmod.__doc__ = """``numpy.fmod``: the C remainder (sign of x); d/dx = 1, d/dy = -trunc(x/y)."""
mod = remainder = _int_or_float_binary(_sp.mod, "mod")
mod.__doc__ = """``numpy.mod``: the remainder with the sign of y; d/dx = 1, d/dy = -floor(x/y)."""
floor_divide = _int_or_float_binary(_sp.floor_divide, "floor_divide")
floor_divide.__doc__ = """``numpy.floor_divide`` (``x // y``): piecewise constant, derivative zero.

>>> import funcad.numpy as fnp, numpy as np
>>> fnp.floor_divide(np.array([7, -7]), 2)
array([ 3, -4])
"""


def sinc(x):
    """``numpy.sinc``: sin(pi x) / (pi x), 1 at 0.

    Near 0 it is evaluated by its Taylor series, so derivatives of every order up to 5 are
    exact there (sinc'(0) = 0, sinc''(0) = -pi^2 / 3).
    """
    (x,), dt = _promote_float(x, min_float=_np.float64)  # not a ufunc: ints -> float64
    x = astype(x, dt)
    y = _ew.mul(x, math.pi)
    small = _ew.lt(_ew.abs(y), 1e-3)
    safe = _ew.select(small, _np.ones((), get_aval(y).dtype), y)
    y2 = _ew.integer_pow(y, 2)
    taylor = _ew.add(1.0, _ew.mul(y2, _ew.add(-1.0 / 6.0, _ew.mul(y2, 1.0 / 120.0))))
    return _ew.select(small, taylor, _ew.div(_ew.sin(safe), safe))


def deg2rad(x):
    """``numpy.deg2rad``: x * pi / 180."""
    (x,), _ = _real_floats("deg2rad", x)
    return _ew.mul(x, math.pi / 180.0)


def rad2deg(x):
    """``numpy.rad2deg``: x * 180 / pi."""
    (x,), _ = _real_floats("rad2deg", x)
    return _ew.mul(x, 180.0 / math.pi)


radians, degrees = deg2rad, rad2deg


def fabs(x):
    """``numpy.fabs``: |x| as a float; at 0 the derivative is sign(0) = 0."""
    (x,), _ = _real_floats("fabs", x)
    return _ew.abs(x)


def logaddexp2(x1, x2):
    """``numpy.logaddexp2``: log2(2**x1 + 2**x2) without overflow."""
    (x, y), _ = _real_floats("logaddexp2", x1, x2)
    return _ew.div(_ew.logaddexp(_ew.mul(x, math.log(2.0)), _ew.mul(y, math.log(2.0))), math.log(2.0))


def heaviside(x1, x2):
    """``numpy.heaviside``: 0 for x1 < 0, x2 at x1 == 0, 1 for x1 > 0 (nan stays nan).

    Zero derivative in x1; the derivative in x2 is 1 where x1 == 0.
    """
    (x, h0), dt = _real_floats("heaviside", x1, x2)
    zero, one = _np.zeros((), dt), _np.ones((), dt)
    step = _ew.select(_ew.lt(x, 0), zero, _ew.select(_ew.gt(x, 0), one, _ew.add(zero, h0)))
    return _ew.select(_ew.isnan_p.bind(x), x, step)


def nan_to_num(x, copy=True, nan=0.0, posinf=None, neginf=None):
    """``numpy.nan_to_num``: replace nan and +-inf by finite numbers.

    The derivative is 1 at finite entries and 0 at replaced ones.
    """
    x = _as_nd(_arr(x))
    dt = get_aval(x).dtype
    if dt.kind not in "fc":
        return x
    info = _np.finfo(dt)
    posinf = info.max if posinf is None else posinf
    neginf = info.min if neginf is None else neginf
    c = lambda v: _np.asarray(v, dt)  # noqa: E731
    out = _ew.select(_ew.isnan_p.bind(x), c(nan), x)
    out = _ew.select(_ew.eq(x, _np.inf), c(posinf), out)
    return _ew.select(_ew.eq(x, -_np.inf), c(neginf), out)
