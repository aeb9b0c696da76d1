"""Evenly spaced values: arange, linspace, logspace, geomspace.

With concrete endpoints they are NumPy's (constants). With traced endpoints (a function
differentiated in its endpoints) they are computed from funcad operations, so they have
derivatives, as in JAX: ``linspace(a, b, n)[i] = a + i (b - a) / (n - 1)``. The number of
points is a shape and must be concrete; ``arange``'s length depends on its arguments' values,
so it needs them concrete too (available under eager grad and vmap, not under jit).
"""

from __future__ import annotations

import operator

import numpy as _np

from .. import core
from ..core import Tracer
from . import abs as _abs
from . import asarray, astype, concatenate, exp, log, moveaxis, reshape, sign

__all__ = ["arange", "linspace", "logspace", "geomspace"]


def _traced(*xs) -> bool:
    return any(isinstance(x, Tracer) for x in xs)


def arange(start, stop=None, step=None, dtype=None):
    """``numpy.arange``; traced endpoints or step (concrete under eager transformations) give
    ``start + step * i`` with its derivative.

    >>> import funcad as fa, funcad.numpy as fnp
    >>> fa.jacfwd(lambda a: fnp.arange(a, 3.0))(0.5)
    array([1., 1., 1.])
    """
    if not _traced(start, stop, step):
        if stop is None:
            return _np.arange(start, dtype=dtype)
        return _np.arange(start, stop, step, dtype=dtype)
    if stop is None:
        start, stop = 0, start
    step = 1 if step is None else step
    values = [core.maybe_concrete(v) for v in (start, stop, step)]
    if any(v is None for v in values):
        raise core.ConcretizationError(
            "arange with a traced start, stop or step inside jit: the number of values depends "
            "on them, and jit needs every shape before it runs. Use linspace(start, stop, num) "
            "with a fixed num, or make the endpoints static (jit(f, static_argnums=...)).")
    ref = _np.arange(*values, dtype=dtype)
    out = asarray(start) + asarray(step) * _np.arange(ref.size, dtype=ref.dtype)
    return astype(out, ref.dtype)


def linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0):
    """``numpy.linspace``; differentiable in ``start`` and ``stop`` (which may be arrays).

    >>> import funcad as fa, funcad.numpy as fnp
    >>> fa.jacobian(lambda a: fnp.linspace(a, 3.0, 3))(1.0)
    array([1. , 0.5, 0. ])
    """
    num = operator.index(num)
    if not _traced(start, stop):
        return _np.linspace(start, stop, num, endpoint=endpoint, retstep=retstep, dtype=dtype, axis=axis)
    if num < 0:
        raise ValueError(f"Number of samples, {num}, must be non-negative.")
    ref_dtype = _np.result_type(core.get_aval(start).dtype, core.get_aval(stop).dtype, float)
    start, stop = astype(asarray(start), ref_dtype), astype(asarray(stop), ref_dtype)
    div = num - 1 if endpoint else num
    delta = stop - start
    step = delta / div if div > 0 else delta * _np.nan
    shape = _np.broadcast_shapes(start.shape, stop.shape)
    iota = _np.arange(num, dtype=ref_dtype).reshape((num,) + (1,) * len(shape))
    y = start + iota * step if div > 0 else start + iota * delta
    if endpoint and num > 1:  # the last value is exactly ``stop``, as in NumPy
        y = concatenate([y[:-1], reshape(stop + 0 * start, (1,) + shape)])
    y = moveaxis(y, 0, axis) if shape else y
    y = y if dtype is None else astype(y, dtype)
    return (y, step) if retstep else y


def logspace(start, stop, num=50, endpoint=True, base=10.0, dtype=None, axis=0):
    """``numpy.logspace``: ``base ** linspace(start, stop, num)``; differentiable in
    ``start``, ``stop`` and ``base``."""
    if not _traced(start, stop, base):
        return _np.logspace(start, stop, num, endpoint=endpoint, base=base, dtype=dtype, axis=axis)
    y = asarray(base) ** linspace(start, stop, num, endpoint=endpoint, axis=axis)
    return y if dtype is None else astype(y, dtype)


def geomspace(start, stop, num=50, endpoint=True, dtype=None, axis=0):
    """``numpy.geomspace`` for real endpoints of one sign; differentiable in both.
    The first and last values are exactly ``start`` and ``stop`` (as in NumPy)."""
    if not _traced(start, stop):
        return _np.geomspace(start, stop, num, endpoint=endpoint, dtype=dtype, axis=axis)
    num = operator.index(num)
    start, stop = asarray(start), asarray(stop)
    s = sign(start)
    y = s * exp(linspace(log(_abs(start)), log(_abs(stop)), num, endpoint=endpoint))
    if num > 0:
        inner = y[1:-1] if endpoint and num > 1 else y[1:]
        ends = [reshape(start + 0 * stop, (1,) + y.shape[1:]), inner]
        if endpoint and num > 1:
            ends.append(reshape(stop + 0 * start, (1,) + y.shape[1:]))
        y = concatenate(ends)
    y = moveaxis(y, 0, axis) if y.ndim > 1 else y
    return y if dtype is None else astype(y, dtype)
