"""Cumulative primitives: cumsum, cumprod, and the linear recurrence their derivatives use.

``cumsum`` is linear (its transpose is the reversed cumsum). ``cumprod``'s JVP is the linear
recurrence ``t_k = x_k t_{k-1} + x_dot_k y_{k-1}``, which :data:`linear_recurrence_p`
computes without dividing by ``x`` (so it is exact at zeros); the recurrence's JVP is again
a recurrence and its transpose is the reversed recurrence, so every order differentiates.
"""

from __future__ import annotations

import functools

import numpy as np

from .. import ad, batching
from ..ad import is_undefined, transpose_rules
from ..core import Primitive, ShapedArray, bind, get_aval, result_dtype
from ..errors import ShapeError
from . import elementwise as ew
from .shapes import concatenate, full, index


def _check_axis(x, axis, name):
    if not 0 <= axis < max(x.ndim, 1) or x.ndim == 0:
        raise ShapeError(f"{name}: axis {axis} is out of range for an array of shape {x.shape}")


def _cumulative(name, np_fn):
    prim = Primitive(name)

    def impl(x, *, axis, reverse):
        # dtype kept, as abstract_eval says (NumPy's own cumsum of int32 is int64)
        if reverse:
            return np.flip(np_fn(np.flip(x, axis), axis=axis, dtype=x.dtype), axis)
        return np_fn(x, axis=axis, dtype=x.dtype)

    def abstract_eval(x, *, axis, reverse):
        _check_axis(x, axis, name)
        return ShapedArray(x.shape, x.dtype)

    prim.def_impl(impl)
    prim.def_abstract_eval(abstract_eval)
    return prim


cumsum_p = _cumulative("cumsum", np.cumsum)
cumprod_p = _cumulative("cumprod", np.cumprod)


def cumsum(x, axis: int, reverse: bool = False):
    """Inclusive cumulative sum along ``axis`` (from the end if ``reverse``)."""
    return bind(cumsum_p, x, axis=int(axis), reverse=bool(reverse))


def cumprod(x, axis: int, reverse: bool = False):
    """Inclusive cumulative product along ``axis`` (from the end if ``reverse``)."""
    return bind(cumprod_p, x, axis=int(axis), reverse=bool(reverse))


def shift(x, axis: int, toward_end: bool, fill):
    """Shift ``x`` by one along ``axis``: ``s_k = x_{k-1}`` (toward_end) or ``x_{k+1}``,
    filling the vacated end with ``fill``. Exclusive scans are shifted inclusive ones."""
    aval = get_aval(x)
    n = aval.shape[axis]
    if n == 0:
        return x
    pad = full(aval.shape[:axis] + (1,) + aval.shape[axis + 1:], fill, aval.dtype)
    idx = [slice(None)] * aval.ndim
    idx[axis] = slice(0, n - 1) if toward_end else slice(1, n)
    body = index(x, tuple(idx))
    return concatenate([pad, body] if toward_end else [body, pad], axis)


ad.deflinear(cumsum_p, lambda ct, x, *, axis, reverse: [cumsum(ct, axis, not reverse)])

# --------------------------------------------------------------------------------------
# The linear recurrence t_k = a_k t_{k-1} + b_k (t_{-1} = 0), or from the end if reverse.

linear_recurrence_p = Primitive("linear_recurrence")


def _linrec_impl(a, b, *, axis, reverse):
    a, b = np.moveaxis(np.asarray(a), axis, 0), np.moveaxis(np.asarray(b), axis, 0)
    out = np.empty(b.shape, np.result_type(a, b))
    prev = np.zeros(b.shape[1:], out.dtype)
    for k in (range(b.shape[0] - 1, -1, -1) if reverse else range(b.shape[0])):
        prev = a[k] * prev + b[k]
        out[k] = prev
    return np.moveaxis(out, 0, axis)


def _linrec_abstract_eval(a, b, *, axis, reverse):
    if a.shape != b.shape:
        raise ShapeError(f"linear_recurrence: coefficient shape {a.shape} != input shape {b.shape}")
    _check_axis(b, axis, "linear_recurrence")
    return ShapedArray(b.shape, result_dtype(a, b))


linear_recurrence_p.def_impl(_linrec_impl)
linear_recurrence_p.def_abstract_eval(_linrec_abstract_eval)


def linear_recurrence(a, b, axis: int, reverse: bool = False):
    """``t_k = a_k t_{k-1} + b_k`` along ``axis`` (``t_k = a_k t_{k+1} + b_k`` if reverse)."""
    return bind(linear_recurrence_p, a, b, axis=int(axis), reverse=bool(reverse))


def _linrec_jvp(primals, tangents, *, axis, reverse):
    a, b = primals
    a_dot, b_dot = tangents
    t = linear_recurrence(a, b, axis, reverse)
    rhs = ad.Zero(get_aval(t)) if type(b_dot) is ad.Zero else b_dot
    if type(a_dot) is not ad.Zero:
        rhs = ad.add_tangents(rhs, ew.mul(a_dot, shift(t, axis, not reverse, 0)))
    if type(rhs) is ad.Zero:
        return t, rhs
    return t, linear_recurrence(a, rhs, axis, reverse)


def _linrec_transpose(ct, a, b, *, axis, reverse):
    if is_undefined(a):
        raise ValueError("linear_recurrence is not linear in its coefficients")
    return [None, linear_recurrence(shift(a, axis, reverse, 0), ct, axis, not reverse)]


ad.jvp_rules[linear_recurrence_p] = _linrec_jvp
transpose_rules[linear_recurrence_p] = _linrec_transpose


def _cumprod_jvp(g, ans, x, *, axis, reverse):
    # d y_k = x_k d y_{k-1} + x_dot_k y_{k-1}: exact at zeros (no division by x).
    return linear_recurrence(x, ew.mul(g, shift(ans, axis, not reverse, 1)), axis, reverse)


ad.defjvp(cumprod_p, _cumprod_jvp)

# --------------------------------------------------------------------------------------
# vmap: the batch axis goes first and the scan axis shifts past it.


def _scan_batch(prim, axis_size, vals, dims, *, axis, reverse):
    xs = [batching.bdim_at_front(x, d, axis_size) for x, d in zip(vals, dims)]
    return bind(prim, *xs, axis=axis + 1, reverse=reverse), 0


for _p in (cumsum_p, cumprod_p, linear_recurrence_p):
    batching.primitive_batchers[_p] = functools.partial(_scan_batch, _p)
