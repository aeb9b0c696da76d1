"""Sorting and arg-reductions: sort, argsort, argmax, argmin, and take_along_axis.

``sort`` is differentiable: its JVP gathers the tangent with the (stable) sorting
permutation, so at ties each sorted position takes the tangent of the element that a
stable sort puts there (the earlier one in the input first). The index-valued primitives
have zero tangents.
"""

from __future__ import annotations

import functools

import numpy as np

from .. import ad, batching
from ..core import Primitive, ShapedArray, bind, get_aval
from ..errors import ShapeError
from .shapes import index

INDEX_DTYPE = np.dtype(np.int64)


def _check_axis(x, axis, name):
    if x.ndim == 0 or not 0 <= axis < x.ndim:
        raise ShapeError(f"{name}: axis {axis} is out of range for an array of shape {x.shape}")


def take_along_axis(x, idx, axis: int):
    """``numpy.take_along_axis`` as one gather (``index``) with broadcast ``arange`` indices."""
    shape = get_aval(x).shape
    arrays = []
    for d, n in enumerate(shape):
        if d == axis:
            arrays.append(idx)
        else:
            arrays.append(np.arange(n).reshape((1,) * d + (n,) + (1,) * (len(shape) - d - 1)))
    return index(x, tuple(("array", k) for k in range(len(shape))), arrays)


# --------------------------------------------------------------------------------------
# sort and argsort (stable)

sort_p = Primitive("sort")
sort_p.def_impl(lambda x, *, axis: np.sort(x, axis=axis, kind="stable"))


def _sort_abstract_eval(x, *, axis):
    _check_axis(x, axis, "sort")
    return ShapedArray(x.shape, x.dtype)


sort_p.def_abstract_eval(_sort_abstract_eval)

argsort_p = Primitive("argsort")
argsort_p.def_impl(lambda x, *, axis: np.argsort(x, axis=axis, kind="stable").astype(INDEX_DTYPE))


def _argsort_abstract_eval(x, *, axis):
    _check_axis(x, axis, "argsort")
    return ShapedArray(x.shape, INDEX_DTYPE)


argsort_p.def_abstract_eval(_argsort_abstract_eval)
ad.defjvp_zero(argsort_p)


def sort(x, axis: int):
    return bind(sort_p, x, axis=int(axis))


def argsort(x, axis: int):
    return bind(argsort_p, x, axis=int(axis))


def _sort_jvp(primals, tangents, *, axis):
    (x,), (x_dot,) = primals, tangents
    ans = sort(x, axis)
    if type(x_dot) is ad.Zero:
        return ans, ad.Zero(get_aval(ans))
    return ans, take_along_axis(x_dot, argsort(x, axis), axis)


ad.jvp_rules[sort_p] = _sort_jvp

# --------------------------------------------------------------------------------------
# argmax and argmin along one axis (the first occurrence; NaN counts as the extreme)


def _arg_reduction(name, np_fn):
    prim = Primitive(name)
    prim.def_impl(lambda x, *, axis: np.asarray(np_fn(x, axis=axis), INDEX_DTYPE))

    def abstract_eval(x, *, axis):
        _check_axis(x, axis, name)
        if x.shape[axis] == 0:
            raise ValueError(f"attempt to get {name} of an empty sequence (shape {x.shape}, axis {axis})")
        return ShapedArray(x.shape[:axis] + x.shape[axis + 1:], INDEX_DTYPE)

    prim.def_abstract_eval(abstract_eval)
    ad.defjvp_zero(prim)
    return prim


argmax_p = _arg_reduction("argmax", np.argmax)
argmin_p = _arg_reduction("argmin", np.argmin)


def arg_reduction_body(x, *, axis, prim):
    """argmax/argmin of ``x`` written with reductions, compares and selects (what the
    compiled backend runs in loops instead of a host step): the first position equal to the
    max (min), or the first NaN if there is one, as NumPy."""
    from . import elementwise as ew
    from .reductions import reduce_max, reduce_min
    from .shapes import broadcast_to, reshape

    aval = get_aval(x)
    kept = aval.shape[:axis] + (1,) + aval.shape[axis + 1:]

    def back(r):  # a reduction over axis, broadcast back to x's shape
        return broadcast_to(reshape(r, kept), aval.shape)

    if aval.dtype == np.bool_:
        x = ew.convert_element_type(x, np.dtype(np.int8))
    extreme = back((reduce_max if prim is argmax_p else reduce_min)(x, (axis,)))
    hit = ew.eq(x, extreme)
    if np.issubdtype(aval.dtype, np.inexact):  # max/min propagate NaN: then the first NaN
        isnan = functools.partial(bind, ew.isnan_p)
        hit = ew.logical_or(hit, ew.logical_and(isnan(x), isnan(extreme)))
    n = aval.shape[axis]
    pos = np.arange(n, dtype=INDEX_DTYPE).reshape((1,) * axis + (n,) + (1,) * (aval.ndim - axis - 1))
    first = ew.select(hit, broadcast_to(pos, aval.shape), np.full(aval.shape, n, INDEX_DTYPE))
    return reduce_min(first, (axis,))


def argmax(x, axis: int):
    return bind(argmax_p, x, axis=int(axis))


def argmin(x, axis: int):
    return bind(argmin_p, x, axis=int(axis))


# --------------------------------------------------------------------------------------
# vmap: the batch axis goes first and the sorted/reduced axis shifts past it.


def _axis_batch(prim, axis_size, vals, dims, *, axis):
    (x,), (d,) = vals, dims
    return bind(prim, batching.moveaxis(x, d, 0), axis=axis + 1), 0


for _p in (sort_p, argsort_p, argmax_p, argmin_p):
    batching.primitive_batchers[_p] = functools.partial(_axis_batch, _p)
