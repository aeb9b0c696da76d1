"""Statistics, scans, sorting and searching of funcad.numpy.

Derivative conventions where the function is not differentiable:

* ``max``/``amax``/``min``/``amin``/``ptp``: ties share the derivative equally;
* ``sort``, ``median``, ``quantile``: at ties each sorted position takes the derivative of
  the element a stable sort puts there (the earlier one in the input first);
* ``std`` of a constant slice: derivative 0 (a subgradient; the derivative is infinite
  from every direction but the constant one);
* ``argmax``/``argmin``/``argsort``/``any``/``all``: integer or boolean, no derivative.
"""

from __future__ import annotations

import builtins

import numpy as _np

from .. import core
from ..core import get_aval
from ..lax import cumulative as _cum
from ..lax import elementwise as _ew
from ..lax import sorting as _sorting
from ..lax.shapes import index as _index
from . import (_arr, _as_nd, add, _normalize_axes, _sum_dtype, astype, broadcast_to, concatenate,
               divide, full, isnan, moveaxis, multiply, ravel, reshape, sqrt, subtract, where)
from . import _no_out
from . import max as _max
from . import mean as _mean
from . import min as _min
from . import sum as _sum

__all__ = ["var", "std", "average", "cumsum", "cumprod", "cumulative_sum", "cumulative_prod",
           "diff", "nansum", "nanmean", "nanmax", "nanmin", "nanprod", "nanvar", "nanstd", "ptp",
           "any", "all", "argmax", "argmin", "sort", "argsort", "median", "quantile",
           "percentile", "count_nonzero"]


def _float_dtype(dt):
    return dt if dt.kind in "fc" else _np.dtype(_np.float64)


def _axes_and_count(aval, axis):
    axes = _normalize_axes(axis, aval.ndim) if aval.ndim else ()
    return axes, int(_np.prod([aval.shape[i] for i in axes], dtype=_np.int64))


def var(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=None, correction=None):
    """``numpy.var``: the mean squared deviation, divided by ``n - ddof``.

    >>> import funcad.numpy as fnp
    >>> float(fnp.var(fnp.array([1.0, 2.0, 3.0, 4.0]), ddof=1))
    1.6666666666666667
    """
    _no_out(out, "var")
    if correction is not None:
        ddof = correction
    a = _as_nd(_arr(a))
    aval = get_aval(a)
    dt = _np.dtype(dtype) if dtype is not None else _float_dtype(aval.dtype)
    a = astype(a, dt)
    _, n = _axes_and_count(aval, axis)
    if where is not None and where is not True:  # n: the selected entries of each slice
        where = broadcast_to(where, aval.shape)
        n = _sum(astype(where, _ew.real_dtype(dt)), axis, keepdims=keepdims)
    d = subtract(a, _mean(a, axis, keepdims=True, where=where))
    if dt.kind == "c":  # the mean of |d| ** 2: real, as in NumPy
        dt = _ew.real_dtype(dt)
        sq = add(multiply(_ew.real(d), _ew.real(d)), multiply(_ew.imag(d), _ew.imag(d)))
    else:
        sq = multiply(d, d)
    dof = _np.asarray(builtins.max(n - ddof, 0), dt) if isinstance(n, int) else _ew.max(
        subtract(n, _np.asarray(ddof, dt)), _np.zeros((), dt))
    with _np.errstate(divide="ignore", invalid="ignore"):
        return divide(_sum(sq, axis, keepdims=keepdims, where=where), dof)


def std(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=None, correction=None):
    """``numpy.std``: sqrt(var). At a constant slice the derivative is taken as 0."""
    _no_out(out, "std")
    return _safe_sqrt(var(a, axis, dtype, None, ddof, keepdims, where=where, correction=correction))


def _safe_sqrt(v):
    zero = _ew.eq(v, 0.0)
    safe = where(zero, _np.ones((), get_aval(v).dtype), v)
    return where(zero, _np.zeros((), get_aval(v).dtype), sqrt(safe))


def average(a, axis=None, weights=None, returned=False, *, keepdims=False):
    """``numpy.average``: the (weighted) mean; 1-D weights apply along a single ``axis``."""
    a = _as_nd(_arr(a))
    aval = get_aval(a)
    if weights is None:
        avg = _mean(a, axis, keepdims=keepdims)
        if not returned:
            return avg
        _, n = _axes_and_count(aval, axis)
        return avg, _np.broadcast_to(_np.asarray(n, get_aval(avg).dtype), get_aval(avg).shape).copy()
    w = _as_nd(_arr(weights))
    w_aval = get_aval(w)
    dt = _np.result_type(aval.dtype, w_aval.dtype, *(["f8"] if aval.dtype.kind in "iub" else []))
    if w_aval.shape != aval.shape:
        if axis is None:
            raise TypeError("Axis must be specified when shapes of a and weights differ.")
        if w_aval.ndim != 1:
            raise TypeError("1D weights expected when shapes of a and weights differ.")
        axes = _normalize_axes(axis, aval.ndim)
        if len(axes) != 1 or w_aval.shape[0] != aval.shape[axes[0]]:
            raise ValueError("Shape of weights must be consistent with shape of a along specified axis.")
        w = reshape(w, tuple(n if i == axes[0] else 1 for i, n in enumerate(aval.shape)))
    a, w = astype(a, dt), astype(w, dt)
    scl = _sum(broadcast_to(w, aval.shape) if get_aval(w).shape != aval.shape else w,
               axis, keepdims=keepdims)
    concrete = core.maybe_concrete(scl)
    if concrete is not None and _np.any(_np.asarray(concrete) == 0.0):
        raise ZeroDivisionError("Weights sum to zero, can't be normalized")
    avg = divide(_sum(multiply(a, w), axis, keepdims=keepdims), scl)
    return (avg, scl) if returned else avg


# --------------------------------------------------------------------------------------
# Scans


def _scan(fn, a, axis, dtype):
    a = _as_nd(_arr(a))
    if axis is None:
        a, axis = ravel(a), 0
    aval = get_aval(a)
    dt = _np.dtype(dtype) if dtype is not None else _sum_dtype(aval.dtype)
    a = astype(a, dt)
    if aval.ndim == 0:
        raise _np.exceptions.AxisError(f"axis {axis} is out of bounds for array of dimension 0")
    return fn(a, _normalize_axes(axis, aval.ndim)[0])


def cumsum(a, axis=None, dtype=None):
    """``numpy.cumsum`` (``axis=None`` flattens). Linear; its transpose is a reversed cumsum."""
    return _scan(_cum.cumsum, a, axis, dtype)


def cumprod(a, axis=None, dtype=None):
    """``numpy.cumprod`` (``axis=None`` flattens); its derivative is exact at zeros."""
    return _scan(_cum.cumprod, a, axis, dtype)


def cumulative_sum(x, /, *, axis=None, dtype=None, include_initial=False):
    """``numpy.cumulative_sum`` (array API): like cumsum, optionally starting with 0."""
    return _cumulative(cumsum, 0, x, axis, dtype, include_initial)


def cumulative_prod(x, /, *, axis=None, dtype=None, include_initial=False):
    """``numpy.cumulative_prod`` (array API): like cumprod, optionally starting with 1."""
    return _cumulative(cumprod, 1, x, axis, dtype, include_initial)


def _cumulative(fn, init, x, axis, dtype, include_initial):
    x = _as_nd(_arr(x))
    if axis is None:
        if get_aval(x).ndim > 1:
            raise ValueError("axis must be specified for arrays of more than one dimension")
        axis = 0
    out = fn(x, axis, dtype)
    if not include_initial:
        return out
    shp = list(get_aval(out).shape)
    ax = _normalize_axes(axis, len(shp))[0]
    shp[ax] = 1
    return concatenate([full(shp, init, get_aval(out).dtype), out], ax)


def diff(a, n=1, axis=-1, prepend=None, append=None):
    """``numpy.diff``: the n-th discrete difference along ``axis``."""
    a = _as_nd(_arr(a))
    nd = get_aval(a).ndim
    if n == 0:
        return a
    if n < 0:
        raise ValueError(f"order must be non-negative but got {n!r}")
    if nd == 0:
        raise ValueError("diff requires input that is at least one dimensional")
    axis = _normalize_axes(axis, nd)[0]
    parts = [_edge(prepend, a, axis)] if prepend is not None else []
    parts.append(a)
    if append is not None:
        parts.append(_edge(append, a, axis))
    if len(parts) > 1:
        a = concatenate(parts, axis)
    for _ in range(n):
        length = get_aval(a).shape[axis]
        hi = [slice(None)] * nd
        lo = [slice(None)] * nd
        hi[axis] = slice(1, None)
        lo[axis] = slice(None, builtins.max(length - 1, 0))
        x1, x0 = _index(a, tuple(hi)), _index(a, tuple(lo))
        a = _ew.ne(x1, x0) if get_aval(a).dtype == _np.bool_ else subtract(x1, x0)
    return a


def _edge(extra, a, axis):
    e = _as_nd(_arr(extra))
    if get_aval(e).ndim == 0:
        shp = list(get_aval(a).shape)
        shp[axis] = 1
        e = broadcast_to(e, shp)
    return e


# --------------------------------------------------------------------------------------
# NaN-aware reductions


def _nan_fill(a, value):
    a = _as_nd(_arr(a))
    if get_aval(a).dtype.kind not in "fc":
        return a
    return where(isnan(a), _np.asarray(value, get_aval(a).dtype), a)


def nansum(a, axis=None, dtype=None, out=None, keepdims=False):
    """``numpy.nansum``: the sum with NaNs treated as zero (their derivative is zero)."""
    _no_out(out, "nansum")
    return _sum(_nan_fill(a, 0), axis, dtype=dtype, keepdims=keepdims)


def nanprod(a, axis=None, dtype=None, out=None, keepdims=False):
    """``numpy.nanprod``: the product with NaNs treated as one."""
    _no_out(out, "nanprod")
    from . import prod

    return prod(_nan_fill(a, 1), axis, dtype=dtype, keepdims=keepdims)


def _count(a, axis, keepdims):
    a = _as_nd(_arr(a))
    if get_aval(a).dtype.kind not in "fc":
        from . import ones_like

        return _sum(ones_like(a, dtype=_np.int64), axis, keepdims=keepdims)
    return _sum(_ew.logical_not(isnan(a)), axis, keepdims=keepdims)


def nanmean(a, axis=None, dtype=None, out=None, keepdims=False):
    """``numpy.nanmean``: the mean of the non-NaN entries (NaN for an all-NaN slice)."""
    _no_out(out, "nanmean")
    a = _as_nd(_arr(a))
    dt = _np.dtype(dtype) if dtype is not None else _float_dtype(get_aval(a).dtype)
    with _np.errstate(invalid="ignore", divide="ignore"):
        return divide(nansum(astype(a, dt), axis, keepdims=keepdims),
                      astype(_count(a, axis, keepdims), dt))


def nanvar(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
    """``numpy.nanvar``: the variance of the non-NaN entries."""
    _no_out(out, "nanvar")
    a = _as_nd(_arr(a))
    dt = _np.dtype(dtype) if dtype is not None else _float_dtype(get_aval(a).dtype)
    a = astype(a, dt)
    # only the NaN entries drop out (an inf among the rest makes inf - inf: NaN, as in NumPy)
    d = where(isnan(a), _np.zeros((), dt), subtract(a, nanmean(a, axis, keepdims=True)))
    if dt.kind == "c":  # |d| ** 2: real, as in NumPy
        dt = _ew.real_dtype(dt)
        sq = add(multiply(_ew.real(d), _ew.real(d)), multiply(_ew.imag(d), _ew.imag(d)))
    else:
        sq = multiply(d, d)
    with _np.errstate(invalid="ignore", divide="ignore"):
        dof = subtract(astype(_count(a, axis, keepdims), dt), _np.asarray(ddof, dt))
        dof = where(_ew.gt(dof, 0), dof, _np.asarray(_np.nan, dt))  # NaN when ddof >= count, as NumPy
        return divide(_sum(sq, axis, keepdims=keepdims), dof)


def nanstd(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
    """``numpy.nanstd``: sqrt(nanvar)."""
    _no_out(out, "nanstd")
    return _safe_sqrt(nanvar(a, axis, dtype, None, ddof, keepdims))


def nanmax(a, axis=None, out=None, keepdims=False):
    """``numpy.nanmax``: the max ignoring NaNs (NaN for an all-NaN slice)."""
    _no_out(out, "nanmax")
    a = _as_nd(_arr(a))
    out = _max(_nan_fill(a, -_np.inf), axis, keepdims=keepdims)
    return _all_nan_to_nan(a, out, axis, keepdims)


def nanmin(a, axis=None, out=None, keepdims=False):
    """``numpy.nanmin``: the min ignoring NaNs (NaN for an all-NaN slice)."""
    _no_out(out, "nanmin")
    a = _as_nd(_arr(a))
    out = _min(_nan_fill(a, _np.inf), axis, keepdims=keepdims)
    return _all_nan_to_nan(a, out, axis, keepdims)


def _all_nan_to_nan(a, out, axis, keepdims):
    if get_aval(a).dtype.kind not in "fc":
        return out
    return where(all(isnan(a), axis, keepdims=keepdims), _np.asarray(_np.nan, get_aval(out).dtype), out)


def ptp(a, axis=None, out=None, keepdims=False):
    """``numpy.ptp``: max - min (ties share the derivative equally, as in max and min)."""
    _no_out(out, "ptp")
    return subtract(_max(a, axis, keepdims=keepdims), _min(a, axis, keepdims=keepdims))


def any(a, axis=None, out=None, keepdims=False):
    """``numpy.any`` (False for an empty slice)."""
    _no_out(out, "any")
    a = _as_nd(_arr(a))
    return _ew.gt(_sum(_ew.ne(a, 0), axis, keepdims=keepdims), 0)


def all(a, axis=None, out=None, keepdims=False):
    """``numpy.all`` (True for an empty slice)."""
    _no_out(out, "all")
    a = _as_nd(_arr(a))
    return _ew.eq(_sum(_ew.eq(a, 0), axis, keepdims=keepdims), 0)


def count_nonzero(a, axis=None, keepdims=False):
    """``numpy.count_nonzero``."""
    return _sum(_ew.ne(_as_nd(_arr(a)), 0), axis, keepdims=keepdims)


# --------------------------------------------------------------------------------------
# Sorting and searching


def _arg_reduce(prim_fn, a, axis, keepdims, name):
    a = _as_nd(_arr(a))
    aval = get_aval(a)
    if axis is None:
        out = prim_fn(ravel(a), 0)
        return reshape(out, (1,) * aval.ndim) if keepdims else out
    ax = _normalize_axes(axis, aval.ndim)[0] if aval.ndim else _normalize_axes(axis, 1)[0]
    if aval.ndim == 0:
        return prim_fn(reshape(a, (1,)), 0)
    out = prim_fn(a, ax)
    if keepdims:
        out = reshape(out, tuple(1 if i == ax else n for i, n in enumerate(aval.shape)))
    return out


def argmax(a, axis=None, out=None, keepdims=False):
    """``numpy.argmax``: index of the first maximum (the first NaN if there is one)."""
    _no_out(out, "argmax")
    return _arg_reduce(_sorting.argmax, a, axis, keepdims, "argmax")


def argmin(a, axis=None, out=None, keepdims=False):
    """``numpy.argmin``: index of the first minimum (the first NaN if there is one)."""
    _no_out(out, "argmin")
    return _arg_reduce(_sorting.argmin, a, axis, keepdims, "argmin")


def _sort_like(prim_fn, a, axis):
    a = _as_nd(_arr(a))
    if axis is None:
        a, axis = ravel(a), 0
    nd = get_aval(a).ndim
    if nd == 0:
        raise _np.exceptions.AxisError(f"axis {axis} is out of bounds for array of dimension 0")
    return prim_fn(a, _normalize_axes(axis, nd)[0])


def sort(a, axis=-1, kind=None, order=None, *, stable=None):
    """``numpy.sort`` (stable; NaNs last), differentiable.

    The derivative permutes the input's derivative like the values; at ties each sorted
    position takes the derivative of the element a stable sort puts there.

    >>> import funcad as fa, funcad.numpy as fnp
    >>> fa.grad(lambda x: fnp.sort(x)[0])(fnp.array([3.0, 1.0, 2.0]))
    array([0., 1., 0.])
    """
    if order is not None:
        raise ValueError("sort: 'order' (structured arrays) is not supported")
    return _sort_like(_sorting.sort, a, axis)


def argsort(a, axis=-1, kind=None, order=None, *, stable=None):
    """``numpy.argsort`` (always stable)."""
    if order is not None:
        raise ValueError("argsort: 'order' (structured arrays) is not supported")
    return _sort_like(_sorting.argsort, a, axis)


def _sorted_along_last(a, axis):
    """Sort ``a`` along ``axis`` (None: all axes; a tuple: those axes together), moved last."""
    a = _as_nd(_arr(a))
    aval = get_aval(a)
    axes = _normalize_axes(axis, aval.ndim) if aval.ndim else ()
    moved = moveaxis(a, axes, tuple(range(aval.ndim - len(axes), aval.ndim))) if axes else a
    rest = get_aval(moved).shape[: aval.ndim - len(axes)]
    n = int(_np.prod([aval.shape[i] for i in axes], dtype=_np.int64))
    flat = reshape(moved, rest + (n,))
    kept = tuple(1 if i in axes else m for i, m in enumerate(aval.shape))
    return (_sorting.sort(flat, len(rest)) if n else flat), n, rest, kept


def _take_last(x, idx):
    return _index(x, (Ellipsis, ("array", 0)), [idx])


def median(a, axis=None, out=None, overwrite_input=False, keepdims=False):
    """``numpy.median``: the middle value, or the mean of the two middle values; NaN if the
    slice holds a NaN. Differentiable (through sort; ties as in ``sort``)."""
    a = _as_nd(_arr(a))
    a = astype(a, _float_dtype(get_aval(a).dtype))
    s, n, rest, kept = _sorted_along_last(a, axis)
    dt = get_aval(a).dtype
    if n == 0:
        res = full(rest, _np.nan, dt)
    else:
        lo, hi = _take_last(s, _np.asarray((n - 1) // 2)), _take_last(s, _np.asarray(n // 2))
        res = lo if n % 2 else divide(_ew.add(lo, hi), 2.0)
        res = where(isnan(_take_last(s, _np.asarray(n - 1))), _np.asarray(_np.nan, dt), res)
    return reshape(res, kept) if keepdims else res


_QUANTILE_METHODS = ("linear", "lower", "higher", "nearest", "midpoint")



def _method_position(v, method):
    """The (fractional) sorted position a quantile ``method`` reads, from the linear one ``v``."""
    if method == "lower":
        return _ew.floor(v)
    if method == "higher":
        return _ew.ceil(v)
    if method == "nearest":
        return _ew.round(v)
    if method == "midpoint":
        return multiply(_ew.add(_ew.floor(v), _ew.ceil(v)), 0.5)
    return v

def _quantile_dtype(a, q):
    """The result's dtype: ``a``'s float dtype, promoted with ``q`` unless it is a Python number
    (weak, as in NumPy: a float32 ``a`` with ``q=0.3`` stays float32)."""
    dt = _float_dtype(get_aval(a).dtype)
    return dt if type(q) in (int, float) else _np.result_type(dt, get_aval(_as_nd(_arr(q))).dtype)


def _between(below, above, gamma, method):
    """The quantile between the sorted neighbours ``below`` and ``above``, ``gamma`` of the way."""
    if method in ("lower", "higher", "nearest"):  # an entry itself: no inf * 0 from the lerp
        return below
    if method == "median":
        return where(_ew.eq(gamma, 0.0), below, multiply(_ew.add(below, above), 0.5))
    d = subtract(above, below)
    return where(_ew.ge(gamma, 0.5), subtract(above, multiply(d, subtract(1.0, gamma))),
                 _ew.add(below, multiply(d, gamma)))


def quantile(a, q, axis=None, out=None, overwrite_input=False, method="linear", keepdims=False,
             *, interpolation=None):
    """``numpy.quantile`` with methods linear (default), lower, higher, nearest, midpoint.

    Differentiable in ``a`` (through sort; ties as in ``sort``) and, for 'linear', in ``q``.
    The q axes come first in the result, as in NumPy.
    """
    if interpolation is not None:
        method = interpolation
    if method not in _QUANTILE_METHODS:
        raise ValueError(f"quantile: method {method!r} is not supported; use one of {_QUANTILE_METHODS}")
    a = _as_nd(_arr(a))
    dt = _quantile_dtype(a, q)
    q = _as_nd(_arr(q))
    a, q = astype(a, dt), astype(q, dt)
    qc = core.maybe_concrete(q)
    if qc is not None and not _np.all((_np.asarray(qc) >= 0) & (_np.asarray(qc) <= 1)):
        raise ValueError("Quantiles must be in the range [0, 1]")
    s, n, rest, kept = _sorted_along_last(a, axis)
    q_shape = get_aval(q).shape
    if n == 0:
        raise IndexError("quantile of an empty slice: index -1 is out of bounds (as NumPy)")
    v = _method_position(multiply(q, float(n - 1)), method)
    lo_f = _ew.floor(v)
    lo = astype(_ew.min(_ew.max(lo_f, _np.zeros((), dt)), _np.asarray(n - 1, dt)), _np.int64)
    hi = astype(_ew.min(_ew.add(lo_f, 1.0), _np.asarray(n - 1, dt)), _np.int64)
    gamma = subtract(v, lo_f)
    below, above = _take_last(s, lo), _take_last(s, hi)
    res = _between(below, above, gamma, method)
    has_nan = reshape(isnan(_take_last(s, _np.asarray(n - 1))), rest + (1,) * len(q_shape))
    res = where(has_nan, _np.asarray(_np.nan, dt), res)
    nq = len(q_shape)
    if keepdims:
        res = reshape(res, rest + q_shape)
        res = reshape(moveaxis(res, tuple(range(len(rest), len(rest) + nq)), tuple(range(nq))), q_shape + kept)
        return res
    return moveaxis(res, tuple(range(len(rest), len(rest) + nq)), tuple(range(nq))) if nq else res


def percentile(a, q, axis=None, out=None, overwrite_input=False, method="linear", keepdims=False,
               *, interpolation=None):
    """``numpy.percentile``: ``quantile(a, q / 100)``."""
    qc = core.maybe_concrete(_as_nd(_arr(q)))
    if qc is not None and not _np.all((_np.asarray(qc) >= 0) & (_np.asarray(qc) <= 100)):
        raise ValueError("Percentiles must be in the range [0, 100]")
    q = q / 100 if type(q) in (int, float) else divide(_as_nd(_arr(q)), 100)  # a Python q stays weak
    return quantile(a, q, axis, method=method, keepdims=keepdims,
                    interpolation=interpolation)

