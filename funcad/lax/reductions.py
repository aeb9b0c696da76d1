"""Reductions over axes: sum, max, min, prod."""

from __future__ import annotations

import math

import numpy as np

from .. import ad, batching
from ..core import Primitive, ShapedArray, bind, get_aval
from . import elementwise as ew
from .cumulative import cumprod, shift
from .shapes import broadcast_to, reshape, transpose


def _reduced_shape(shape, axes):
    return tuple(n for i, n in enumerate(shape) if i not in axes)


def _kept_shape(shape, axes):
    """The shape with the reduced axes kept as size 1 (to broadcast a result back)."""
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def _reduction(name, impl, dtype_rule=None):
    prim = Primitive(name)
    prim.def_impl(lambda x, *, axes: impl(x, axis=axes))

    def abstract_eval(x, *, axes):
        if name in ("reduce_max", "reduce_min") and any(x.shape[a] == 0 for a in axes):
            raise ValueError(f"{name}: zero-size array to reduction operation "
                             f"{name[7:]}imum which has no identity (shape {x.shape}, axes {axes})")
        return ShapedArray(_reduced_shape(x.shape, axes), dtype_rule(x.dtype) if dtype_rule else x.dtype)

    prim.def_abstract_eval(abstract_eval)
    return prim


# the operand's dtype kept, as the abstract rule says (NumPy's own sum of int32 is int64)
reduce_sum_p = _reduction("reduce_sum", lambda x, axis: np.sum(x, axis, dtype=x.dtype))
reduce_max_p = _reduction("reduce_max", np.max)
reduce_min_p = _reduction("reduce_min", np.min)
reduce_prod_p = _reduction("reduce_prod", lambda x, axis: np.prod(x, axis, dtype=x.dtype))
for _p in (reduce_sum_p, reduce_max_p, reduce_min_p, reduce_prod_p):
    batching.defreducer(_p)


def _onehot_sum(axis_size, vals, dims, *, axes):
    # Summing a whole example gives its one coefficient: the batch of sums is the
    # coefficients laid along the batch axis, zero outside the block.
    x = vals[0]
    if not axes:
        return x, 0
    if len(axes) != len(x.shape):
        return NotImplemented
    pad = [np.zeros(x.start, x.dtype)] if x.start else []
    pad_after = axis_size - x.start - x.size
    if x.coef is None:
        return np.concatenate(pad + [np.ones(x.size, x.dtype), np.zeros(pad_after, x.dtype)]), 0
    from .shapes import concatenate

    parts = pad + [reshape(x.full_coef(), (x.size,))] + (
        [np.zeros(pad_after, x.dtype)] if pad_after else [])
    return (concatenate(parts, 0) if len(parts) > 1 else parts[0]), 0


batching.structured_batchers[reduce_sum_p] = _onehot_sum


def reduce_sum(x, axes):
    return bind(reduce_sum_p, x, axes=tuple(sorted(axes)))


def reduce_max(x, axes):
    return bind(reduce_max_p, x, axes=tuple(sorted(axes)))


def reduce_min(x, axes):
    return bind(reduce_min_p, x, axes=tuple(sorted(axes)))


def reduce_prod(x, axes):
    return bind(reduce_prod_p, x, axes=tuple(sorted(axes)))


def _expand_back(y, x_aval, axes):
    """Broadcast a reduced result back to the operand's shape."""
    return broadcast_to(reshape(y, _kept_shape(x_aval.shape, axes)), x_aval.shape)


ad.deflinear(reduce_sum_p, lambda ct, x, *, axes: [_expand_back(ct, x.aval, axes)])


def _minmax_jvp(g, ans, x, *, axes):
    # Ties share the tangent equally (the mean of the tied entries' tangents).
    x_aval = get_aval(x)
    mask = ew.convert_element_type(ew.eq(x, _expand_back(ans, x_aval, axes)), x_aval.dtype)
    count = reduce_sum(mask, axes)
    return ew.div(reduce_sum(ew.mul(g, mask), axes), count)


ad.defjvp(reduce_max_p, _minmax_jvp)
ad.defjvp(reduce_min_p, _minmax_jvp)


def _prod_jvp(g, ans, x, *, axes):
    # d prod / d x_i = prod_{j != i} x_j = (prod_{j < i} x_j) (prod_{j > i} x_j): exclusive
    # cumulative products from both ends, O(n) memory and exact at zeros (no division).
    x_aval = get_aval(x)
    to_end = [i for i in range(x_aval.ndim) if i not in axes] + list(axes)  # reduced axes last
    moved = transpose(x, to_end)
    lead = get_aval(moved).shape[: x_aval.ndim - len(axes)]
    n = math.prod([x_aval.shape[a] for a in axes])
    flat = reshape(moved, lead + (n,))
    ax = len(lead)
    others = ew.mul(shift(cumprod(flat, ax), ax, True, 1), shift(cumprod(flat, ax, reverse=True), ax, False, 1))
    g_flat = reshape(transpose(g, to_end), lead + (n,))
    return reduce_sum(ew.mul(g_flat, others), (len(lead),))


ad.defjvp(reduce_prod_p, _prod_jvp)
