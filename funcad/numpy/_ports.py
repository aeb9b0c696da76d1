"""NaN-aware quantiles and JAX's functional versions of NumPy's in-place updates.

``put``, ``fill_diagonal`` and ``place`` take JAX's signatures, whose ``inplace=False``
returns the updated array. With ``inplace=True`` (the default, as in JAX) they do what
NumPy does where it is safe: update a concrete array in place and return None, as
``y[i] = v`` does (also under jit for an array the function made without its arguments);
on a traced array they raise the error that asks for ``inplace=False`` (JAX always raises).
"""

from __future__ import annotations

import numpy as _np

from .. import core
from ..core import Tracer, get_aval
from ..errors import ConcretizationError
from ..lax import elementwise as _ew
from . import (
    _arr,
    _as_nd,
    _no_out,
    astype,
    concatenate,
    divide,
    full,
    isnan,
    moveaxis,
    multiply,
    reshape,
    subtract,
    where,
)
from . import sum as _sum
from ._array import tracer_setitem
from ._elementwise_extra import mod
from ._shape_ops import _IndexUpdateHelper, take_along_axis
from ._stats import (
    _QUANTILE_METHODS,
    _between,
    _method_position,
    _quantile_dtype,
    _sorted_along_last,
)

__all__ = ["nanmedian", "nanquantile", "nanpercentile", "put", "fill_diagonal", "place"]


# --------------------------------------------------------------------------------------
# NaN-aware quantiles


def nanquantile(a, q, axis=None, out=None, overwrite_input=False, method="linear",
                keepdims=False, *, interpolation=None):
    """``numpy.nanquantile``: the quantile of the non-NaN entries of each slice (NaN for an
    all-NaN slice); methods as :func:`quantile`. Differentiable in ``a`` (NaN entries get a
    zero derivative) and, for 'linear', in ``q``.

    >>> import funcad.numpy as fnp
    >>> fnp.nanquantile(fnp.array([[1.0, fnp.nan, 3.0], [4.0, 5.0, 6.0]]), 0.5, axis=1)
    array([2., 5.])
    """
    if interpolation is not None:
        method = interpolation
    if method not in _QUANTILE_METHODS:
        raise ValueError(f"nanquantile: method {method!r} is not supported; use one of "
                         f"{_QUANTILE_METHODS}")
    return _nanquantile(a, q, axis, method, keepdims)


def _nanquantile(a, q, axis, method, keepdims):
    """nanquantile's work; ``method="median"`` is nanmedian's: the middle entry or the mean of
    the two middle ones (NumPy's: [1, inf] gives inf, where the linear method gives NaN)."""
    a = _as_nd(_arr(a))
    dt = _quantile_dtype(a, q)
    q = _as_nd(_arr(q))
    a, q = astype(a, dt), astype(q, dt)
    qc = core.maybe_concrete(q)
    if qc is not None and not _np.all((_np.asarray(qc) >= 0) & (_np.asarray(qc) <= 1)):
        raise ValueError("Quantiles must be in the range [0, 1]")
    s, n, rest, kept = _sorted_along_last(a, axis)  # NaNs sort last
    q_shape, k = get_aval(q).shape, get_aval(q).size
    if n == 0:
        s, n = full(rest + (1,), _np.nan, dt), 1
    # m, the number of non-NaN entries of each slice, takes the place of quantile's n
    m = astype(_sum(_ew.logical_not(isnan(s)), -1, keepdims=True), dt)
    v = _method_position(multiply(reshape(q, (1,) * len(rest) + (k,)), subtract(m, 1.0)), method)
    lo_f = _ew.floor(v)
    top = _ew.max(subtract(m, 1.0), _np.zeros((), dt))
    lo = astype(_ew.min(_ew.max(lo_f, _np.zeros((), dt)), top), _np.int64)
    hi = astype(_ew.min(_ew.max(_ew.add(lo_f, 1.0), _np.zeros((), dt)), top), _np.int64)
    gamma = subtract(v, lo_f)
    below, above = take_along_axis(s, lo, -1), take_along_axis(s, hi, -1)
    res = _between(below, above, gamma, method)
    res = where(_ew.eq(m, 0.0), _np.asarray(_np.nan, dt), res)
    res = reshape(res, rest + q_shape)
    nq = len(q_shape)
    if keepdims:
        res = moveaxis(res, tuple(range(len(rest), len(rest) + nq)), tuple(range(nq)))
        return reshape(res, q_shape + kept)
    return moveaxis(res, tuple(range(len(rest), len(rest) + nq)), tuple(range(nq))) if nq else res


def nanpercentile(a, q, axis=None, out=None, overwrite_input=False, method="linear",
                  keepdims=False, *, interpolation=None):
    """``numpy.nanpercentile``: ``nanquantile(a, q / 100)``.

    >>> import funcad.numpy as fnp
    >>> fnp.nanpercentile(fnp.array([1.0, fnp.nan, 3.0]), 50.0)
    array(2.)
    """
    qc = core.maybe_concrete(_as_nd(_arr(q)))
    if qc is not None and not _np.all((_np.asarray(qc) >= 0) & (_np.asarray(qc) <= 100)):
        raise ValueError("Percentiles must be in the range [0, 100]")
    q = q / 100 if type(q) in (int, float) else divide(_as_nd(_arr(q)), 100)  # a Python q stays weak
    return nanquantile(a, q, axis, method=method, keepdims=keepdims,
                       interpolation=interpolation)


def nanmedian(a, axis=None, out=None, overwrite_input=False, keepdims=False):
    """``numpy.nanmedian``: the median of the non-NaN entries (NaN for an all-NaN slice).

    >>> import funcad as fa, funcad.numpy as fnp
    >>> fa.grad(fnp.nanmedian)(fnp.array([1.0, fnp.nan, 3.0, 4.0]))
    array([0., 0., 1., 0.])
    """
    _no_out(out, "nanmedian")
    return _nanquantile(a, 0.5, axis, "median", keepdims)


# --------------------------------------------------------------------------------------
# Functional updates with JAX's signatures


def _mark(a):
    """Where the trace of a staged ``a`` stands before a function reads it (see _in_place)."""
    trace = getattr(a, "_trace", None)
    return len(trace.eqns) if hasattr(trace, "eqns") else None


def _in_place(name, a, new, mark=None):
    """``inplace=True``: write ``new`` into ``a`` as NumPy would, or explain. ``mark``: the
    function's own reads of ``a`` (from :func:`_mark` on) are not views the user holds."""
    if not isinstance(a, _np.ndarray | Tracer):
        raise TypeError(f"{name}: with inplace=True the first argument must be an array to "
                        f"update, not a {type(a).__name__}; pass inplace=False for a new array")
    if isinstance(a, _np.ndarray) and not isinstance(new, Tracer):
        _np.copyto(a, _np.asarray(new), casting="unsafe")
        return None
    if isinstance(a, Tracer):
        try:
            tracer_setitem(a, Ellipsis, new, mark)  # y[...] = new: a constant of a jitted program
            return None
        except ConcretizationError:
            pass
    raise ConcretizationError(
        f"{name}(a, ..., inplace=True) on {'a traced array' if isinstance(a, Tracer) else 'a '}"
        f"{'' if isinstance(a, Tracer) else 'NumPy array, with traced values'} "
        f"({get_aval(a).str_short()}): an update in place would lose the derivative, or is "
        f"impossible under jit. Pass inplace=False, as JAX requires: a = fnp.{name}(a, ..., "
        "inplace=False) returns the updated array.")


def put(a, ind, v, mode=None, *, inplace=True):
    """``numpy.put``: ``a.flat[ind] = v`` (``v`` repeated to the length of ``ind``).

    ``mode``: None or 'raise' (out-of-range indices raise IndexError when known, and are
    clipped when traced, as in JAX), 'wrap', 'clip'. ``inplace=False`` returns a new array
    (JAX's); ``inplace=True`` updates a concrete ``a`` as NumPy does (see the module doc).

    >>> import funcad.numpy as fnp
    >>> fnp.put(fnp.zeros(5), fnp.array([0, 7]), fnp.array([1.0, 2.0]), mode="wrap", inplace=False)
    array([1., 0., 2., 0., 0.])
    """
    mark = _mark(a)
    if mode not in (None, "raise", "wrap", "clip"):
        raise ValueError(f"put: mode must be None, 'raise', 'wrap' or 'clip', not {mode!r}")
    arr = _as_nd(_arr(a))
    aval = get_aval(arr)
    ind = reshape(_as_nd(_arr(ind)), (-1,))
    vals = reshape(astype(_as_nd(_arr(v)), aval.dtype), (-1,))
    ni, nv, size = get_aval(ind).size, get_aval(vals).size, aval.size
    if ni == 0:
        return None if inplace and not isinstance(a, Tracer) else arr
    if nv == 0:
        raise ValueError("put: cannot replace from an empty array of values")
    if nv != ni:  # NumPy repeats the values
        reps = -(-ni // nv)
        vals = concatenate([vals] * reps)[:ni] if reps > 1 else vals[:ni]
    ic = core.maybe_concrete(ind)
    if mode == "wrap":
        ind = mod(ind, size)  # NumPy's mod: the sign of the divisor
    elif mode in (None, "raise") and ic is not None:
        ic = _np.asarray(ic)
        if ((ic < -size) | (ic >= size)).any():
            bad = ic[(ic < -size) | (ic >= size)][0]
            raise IndexError(f"put: index {bad} is out of bounds for size {size}")
    else:  # clip, or a traced index without mode: clipped, as in JAX
        ind = _ew.min(_ew.max(ind, -size if mode is None else 0), size - 1)
    new = reshape(_IndexUpdateHelper(reshape(arr, (-1,)))[ind].set(vals), aval.shape)
    return _in_place("put", a, new, mark) if inplace else new


def fill_diagonal(a, val, wrap=False, *, inplace=True):
    """``numpy.fill_diagonal``: ``a`` with its main diagonal set to ``val`` (a scalar, or
    values repeated along the diagonal); for ndim > 2 every axis must have the same length.
    ``wrap`` (tall matrices: the diagonal restarts every ncols + 1 rows) as in NumPy.

    >>> import funcad.numpy as fnp
    >>> fnp.fill_diagonal(fnp.zeros((2, 3)), 5.0, inplace=False)
    array([[5., 0., 0.],
           [0., 5., 0.]])
    """
    mark = _mark(a)
    arr = _as_nd(_arr(a))
    shape = get_aval(arr).shape
    if len(shape) < 2:
        raise ValueError("fill_diagonal: array must be at least 2-d")
    if len(shape) > 2 and len(set(shape)) != 1:
        raise ValueError("fill_diagonal: all dimensions of input must be of equal length")
    size = get_aval(arr).size
    step = 1 + int(_np.cumprod(shape[:-1]).sum()) if len(shape) > 2 else shape[1] + 1
    end = size if wrap or len(shape) > 2 else shape[1] * shape[1]
    ind = _np.arange(0, min(end, size), step)
    vals = _as_nd(_arr(val))
    new = put(arr, ind, vals, inplace=False)
    return _in_place("fill_diagonal", a, new, mark) if inplace else new


def place(arr, mask, vals, *, inplace=True):
    """``numpy.place``: the entries of ``arr`` where ``mask`` is true, in order, take the
    values ``vals`` (repeated if there are fewer). Works with a traced mask: each selected
    position takes ``vals[(number of true entries before it) % len(vals)]``.

    >>> import funcad.numpy as fnp
    >>> fnp.place(fnp.zeros(5), fnp.arange(5) > 2, fnp.array([1.0, 2.0]), inplace=False)
    array([0., 0., 0., 1., 2.])
    """
    mark = _mark(arr)
    from ._stats import cumsum

    a = _as_nd(_arr(arr))
    aval = get_aval(a)
    m = reshape(astype(_as_nd(_arr(mask)), bool), (-1,))
    if get_aval(m).size != aval.size:
        raise ValueError(f"place: mask and data must be the same size, got {get_aval(m).size} "
                         f"and {aval.size}")
    v = reshape(astype(_as_nd(_arr(vals)), aval.dtype), (-1,))
    nv = get_aval(v).size
    if nv == 0:
        mc = core.maybe_concrete(m)
        if mc is not None and _np.asarray(mc).any():
            raise ValueError("place: cannot insert from an empty array of values")
        return _in_place("place", arr, a, mark) if inplace else a
    pos = mod(subtract(cumsum(m, dtype=_np.int64), 1), nv)
    pos = _ew.max(pos, _np.zeros((), _np.int64))
    picked = take_along_axis(v, pos, 0)
    new = reshape(where(m, picked, reshape(a, (-1,))), aval.shape)
    return _in_place("place", arr, new, mark) if inplace else new
