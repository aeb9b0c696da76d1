"""Helpers of funcad.scipy.stats: promotion to a common float dtype, standardisation, and
the constants every density uses."""

from __future__ import annotations

import math

import numpy as np

from ... import numpy as fnp
from ...core import get_aval
from ...numpy import _as_nd, _promote_float

LOG_2PI = math.log(2.0 * math.pi)
LOG_PI = math.log(math.pi)


def promote(*args):
    """The arguments as arrays of one float dtype (NumPy's promotion; Python scalars weak)."""
    args, dt = _promote_float(*args)
    return [_as_nd(a) for a in args], dt


def standardize(x, loc, scale):
    """(x - loc) / scale, and the promoted scale."""
    (x, loc, scale), dt = promote(x, loc, scale)
    return fnp.divide(fnp.subtract(x, loc), scale), scale, dt


def const(value, like):
    """A 0-d constant of ``like``'s dtype."""
    return np.asarray(value, get_aval(like).dtype)


def outside(cond, value, like):
    """``value`` where ``cond`` is False, ``-inf`` (log scale: zero probability) where True."""
    return fnp.where(cond, const(-np.inf, like), value)


def not_integer(k):
    return fnp.not_equal(k, fnp.floor(k))
