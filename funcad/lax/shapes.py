"""Shape primitives: full, broadcast_to, reshape, transpose, concatenate, indexing.

All are linear in their array operand; each one's transpose is another of them
(broadcast_to <-> sum, reshape <-> reshape, transpose <-> inverse transpose,
concatenate <-> slices, gather <-> scatter-add).
"""

from __future__ import annotations

import math

import numpy as np

from .. import ad, batching
from ..ad import is_undefined, transpose_rules, unbroadcast
from ..core import Primitive, ShapedArray, bind, get_aval
from ..errors import ShapeError

# --------------------------------------------------------------------------------------
# full: an array of one value (zeros of derivative programs, ones_like...)

full_p = Primitive("full")
full_p.def_impl(lambda *, shape, fill_value, dtype: np.full(shape, fill_value, dtype))
full_p.def_abstract_eval(lambda *, shape, fill_value, dtype: ShapedArray(shape, dtype))
ad.defjvp_zero(full_p)
batching.defnullary(full_p)


def full(shape, fill_value, dtype):
    return bind(full_p, shape=tuple(int(n) for n in shape), fill_value=fill_value, dtype=np.dtype(dtype))


# --------------------------------------------------------------------------------------
# broadcast_to

broadcast_to_p = Primitive("broadcast_to")
broadcast_to_p.def_impl(lambda x, *, shape: np.broadcast_to(x, shape))


def _broadcast_to_abstract_eval(x, *, shape):
    try:
        np.broadcast_shapes(x.shape, shape)
        ok = len(shape) >= len(x.shape) and np.broadcast_shapes(x.shape, shape) == tuple(shape)
    except ValueError:
        ok = False
    if not ok:
        raise ShapeError(f"broadcast_to: an array of shape {x.shape} cannot be broadcast to {tuple(shape)}.")
    return ShapedArray(shape, x.dtype)


broadcast_to_p.def_abstract_eval(_broadcast_to_abstract_eval)
ad.deflinear(broadcast_to_p, lambda ct, x, *, shape: [unbroadcast(ct, x.aval)])


def _broadcast_to_batch(axis_size, vals, dims, *, shape):
    # Pad leading size-1 axes (a view), then broadcast with the batch axis kept in place.
    (x,), (d,) = vals, dims
    x_shape = get_aval(x).shape
    pad = len(shape) + 1 - len(x_shape)
    x = reshape(x, (1,) * pad + x_shape)
    d += pad
    return broadcast_to(x, shape[:d] + (axis_size,) + shape[d:]), d


batching.primitive_batchers[broadcast_to_p] = _broadcast_to_batch
# Adding unit axes is a reshape; a real broadcast gives an example several nonzeros.
batching.structured_batchers[broadcast_to_p] = lambda n, vals, dims, *, shape: (
    NotImplemented if math.prod(shape) != vals[0].size else
    _onehot_reshape(n, vals, dims, new_shape=tuple(shape)))


def broadcast_to(x, shape):
    shape = tuple(int(n) for n in shape)
    if get_aval(x).shape == shape:
        return x
    return bind(broadcast_to_p, x, shape=shape)


# --------------------------------------------------------------------------------------
# reshape

reshape_p = Primitive("reshape")
reshape_p.def_impl(lambda x, *, new_shape: x.reshape(new_shape) if type(x) is np.ndarray
                   else np.reshape(x, new_shape))


def _reshape_abstract_eval(x, *, new_shape):
    if math.prod(new_shape) != x.size:
        raise ShapeError(f"reshape: cannot reshape an array of shape {x.shape} (size {x.size}) "
                         f"into shape {tuple(new_shape)}.")
    return ShapedArray(new_shape, x.dtype)


reshape_p.def_abstract_eval(_reshape_abstract_eval)
ad.deflinear(reshape_p, lambda ct, x, *, new_shape: [reshape(ct, x.aval.shape)])


def _reshape_batch(axis_size, vals, dims, *, new_shape):
    (x,), (d,) = vals, dims
    shape = get_aval(x).shape
    # The batch axis can stay where it is (no copy) if it splits both shapes at the same
    # number of elements: C order then keeps every example's elements in place.
    before = math.prod(shape[:d])
    for j in range(len(new_shape) + 1):
        if math.prod(new_shape[:j]) == before:
            return reshape(x, new_shape[:j] + (axis_size,) + new_shape[j:]), j
    return reshape(batching.moveaxis(x, d, 0), (axis_size,) + new_shape), 0


batching.primitive_batchers[reshape_p] = _reshape_batch


def _onehot_reshape(axis_size, vals, dims, *, new_shape):
    # C order keeps each example's flat positions, so the nonzero stays where it is.
    x = vals[0]
    c = x.coef
    return x.like(c if c is None or not get_aval(c).shape else reshape(c, new_shape),
                  shape=new_shape), 0


batching.structured_batchers[reshape_p] = _onehot_reshape


def reshape(x, new_shape):
    new_shape = tuple(map(int, new_shape))
    if get_aval(x).shape == new_shape:
        return x
    return bind(reshape_p, x, new_shape=new_shape)


# --------------------------------------------------------------------------------------
# transpose

transpose_p = Primitive("transpose")
transpose_p.def_impl(lambda x, *, permutation: np.transpose(x, permutation))


def _transpose_abstract_eval(x, *, permutation):
    if sorted(permutation) != list(range(x.ndim)):
        raise ShapeError(f"transpose: axes {permutation} are not a permutation of the "
                         f"{x.ndim} axes of an array of shape {x.shape}.")
    return ShapedArray(tuple(x.shape[i] for i in permutation), x.dtype)


transpose_p.def_abstract_eval(_transpose_abstract_eval)
ad.deflinear(transpose_p,
             lambda ct, x, *, permutation: [transpose(ct, tuple(np.argsort(permutation)))])


def _transpose_batch(axis_size, vals, dims, *, permutation):
    # The batch axis keeps its position d; per-example axes at or after d shift by one.
    (x,), (d,) = vals, dims
    perm = [p + (p >= d) for p in permutation]
    perm.insert(d, d)
    return transpose(x, perm), d


batching.primitive_batchers[transpose_p] = _transpose_batch


def _onehot_transpose(axis_size, vals, dims, *, permutation):
    # Moving unit axes only is a reshape (C order unchanged); anything else is materialised.
    x = vals[0]
    moved = [p for p in permutation if x.shape[p] != 1]
    if moved != sorted(moved):
        return NotImplemented
    return _onehot_reshape(axis_size, vals, dims, new_shape=tuple(x.shape[p] for p in permutation))


batching.structured_batchers[transpose_p] = _onehot_transpose


def transpose(x, permutation):
    permutation = tuple(int(i) for i in permutation)
    if permutation == tuple(range(len(permutation))):
        return x
    return bind(transpose_p, x, permutation=permutation)


# --------------------------------------------------------------------------------------
# concatenate

concatenate_p = Primitive("concatenate")
concatenate_p.def_impl(lambda *xs, axis: np.concatenate(xs, axis))


def _concatenate_abstract_eval(*xs, axis):
    first = xs[0]
    for x in xs[1:]:
        if x.ndim != first.ndim or any(a != b for i, (a, b) in enumerate(zip(x.shape, first.shape)) if i != axis):
            raise ShapeError(
                f"concatenate: all arrays must have the same shape except along axis {axis}; "
                f"got shapes {[tuple(a.shape) for a in xs]}.")
    shape = list(first.shape)
    shape[axis] = sum(x.shape[axis] for x in xs)
    return ShapedArray(shape, np.result_type(*(x.dtype for x in xs)))


concatenate_p.def_abstract_eval(_concatenate_abstract_eval)


def concatenate(xs, axis: int):
    return bind(concatenate_p, *xs, axis=int(axis))


def _concatenate_jvp(primals, tangents, *, axis):
    ans = concatenate(primals, axis)
    if all(type(t) is ad.Zero for t in tangents):
        return ans, ad.Zero(get_aval(ans))
    return ans, concatenate([ad.instantiate(t, get_aval(p)) for p, t in zip(primals, tangents)], axis)


def _concatenate_transpose(ct, *xs, axis):
    out, start = [], 0
    for x in xs:
        n = get_aval(x).shape[axis] if not is_undefined(x) else x.aval.shape[axis]
        if is_undefined(x):
            idx = [slice(None)] * get_aval(ct).ndim
            idx[axis] = slice(start, start + n)
            out.append(index(ct, tuple(idx)))
        else:
            out.append(None)
        start += n
    return out


def _concatenate_batch(axis_size, vals, dims, *, axis):
    xs = [batching.bdim_at_front(x, d, axis_size) for x, d in zip(vals, dims)]
    return concatenate(xs, axis + 1), 0


ad.jvp_rules[concatenate_p] = _concatenate_jvp
transpose_rules[concatenate_p] = _concatenate_transpose
batching.primitive_batchers[concatenate_p] = _concatenate_batch

# --------------------------------------------------------------------------------------
# Indexing: x[idx] (gather) and its transpose, scatter-add.
#
# The index is a static template (hashable, so it can key jit's cache): each entry is
# ("slice", start, stop, step), ("int", i), ("array", k) for the k-th array operand,
# None (a new axis) or Ellipsis.


def _build_index(template, arrays):
    out = []
    for t in template:
        if t is None or t is Ellipsis:
            out.append(t)
        elif t[0] == "slice":
            out.append(slice(t[1], t[2], t[3]))
        elif t[0] == "int":
            out.append(t[1])
        else:
            out.append(arrays[t[1]])
    return tuple(out)


def _index_shape(shape, template, array_avals):
    probe = np.lib.stride_tricks.as_strided(np.zeros(1, np.int8), shape, (0,) * len(shape), writeable=False)
    arrays = [np.zeros(a.shape, np.intp) if a.dtype != np.bool_ else np.ones(a.shape, bool)
              for a in array_avals]
    try:
        return probe[_build_index(template, arrays)].shape
    except IndexError as e:
        raise IndexError(f"index {_describe_template(template, array_avals)} is invalid for an "
                         f"array of shape {tuple(shape)}: {e}") from None


def _describe_template(template, array_avals) -> str:
    parts = []
    for t in template:
        if t is None:
            parts.append("None")
        elif t is Ellipsis:
            parts.append("...")
        elif t[0] == "slice":
            parts.append(":".join("" if v is None else str(v) for v in t[1:3]) + (f":{t[3]}" if t[3] is not None else ""))
        elif t[0] == "int":
            parts.append(str(t[1]))
        else:
            parts.append(f"<array {array_avals[t[1]].str_short()}>")
    return "[" + ", ".join(parts) + "]"


def _is_basic(template) -> bool:
    return all(t is None or t is Ellipsis or t[0] != "array" for t in template)


index_p = Primitive("index")
index_p.def_impl(lambda x, *arrays, template: np.asarray(x)[_build_index(template, arrays)])
index_p.def_abstract_eval(
    lambda x, *arrays, template: ShapedArray(_index_shape(x.shape, template, arrays), x.dtype))


def index(x, idx, arrays=()):
    """``x[idx]`` where ``idx`` is a tuple of slices/ints/None/Ellipsis and ("array", k)."""
    template = tuple(_to_template(t) for t in idx)
    return bind(index_p, x, *arrays, template=template)


def _to_template(t):
    if isinstance(t, slice):
        return ("slice", t.start, t.stop, t.step)
    if isinstance(t, int | np.integer) and not isinstance(t, bool):
        return ("int", int(t))
    return t


def _index_jvp(primals, tangents, *, template):
    x, *arrays = primals
    ans = bind(index_p, x, *arrays, template=template)
    if type(tangents[0]) is ad.Zero:
        return ans, ad.Zero(get_aval(ans))
    return ans, bind(index_p, tangents[0], *arrays, template=template)


def _index_transpose(ct, x, *arrays, template):
    zeros = ad.zeros_like_aval(x.aval)
    return [bind(index_add_p, zeros, ct, *arrays, template=template)] + [None] * len(arrays)


ad.jvp_rules[index_p] = _index_jvp


def _onehot_index(axis_size, vals, dims, *, template):
    # A slice x[lo:hi] or an element x[i] of one-hot vectors is one-hot: the positions shift
    # by lo (or i), so the start does. (A pytree leaf cut from a flat basis vector.)
    x = vals[0]
    if len(vals) > 1 or len(x.shape) != 1 or len(template) != 1 or template[0] is None:
        return NotImplemented
    t, n, c = template[0], x.shape[0], x.coef
    if t is not Ellipsis and t[0] == "slice":
        lo, hi, step = slice(*t[1:]).indices(n)
        if step != 1 or hi <= lo:
            return NotImplemented
        c = c if c is None or not get_aval(c).shape else index(c, (slice(lo, hi),))
        return x.like(c, shape=(hi - lo,), start=x.start + lo), 0
    if t is not Ellipsis and t[0] == "int" and -n <= t[1] < n:
        i = t[1] % n
        c = c if c is None or not get_aval(c).shape else index(c, (i,))
        return x.like(c, shape=(), start=x.start + i), 0
    return NotImplemented


batching.structured_batchers[index_p] = _onehot_index
transpose_rules[index_p] = _index_transpose


def _index_add_impl(x, updates, *arrays, template):
    out = np.array(x, copy=True)
    idx = _build_index(template, arrays)
    if _is_basic(template):
        out[idx] += updates
    else:
        np.add.at(out, idx, updates)
    return out


def _index_add_abstract_eval(x, updates, *arrays, template):
    target = _index_shape(x.shape, template, arrays)
    try:
        ok = np.broadcast_shapes(updates.shape, target) == tuple(target)
    except ValueError:
        ok = False
    if not ok:
        raise ShapeError(f"index update: values of shape {updates.shape} do not fit the indexed "
                         f"region of shape {tuple(target)}.")
    return ShapedArray(x.shape, x.dtype)


index_add_p = Primitive("index_add")
index_add_p.def_impl(_index_add_impl)
index_add_p.def_abstract_eval(_index_add_abstract_eval)


def _index_add_jvp(primals, tangents, *, template):
    x, updates, *arrays = primals
    ans = bind(index_add_p, x, updates, *arrays, template=template)
    x_dot, u_dot = tangents[0], tangents[1]
    if type(x_dot) is ad.Zero and type(u_dot) is ad.Zero:
        return ans, ad.Zero(get_aval(ans))
    x_dot = ad.instantiate(x_dot, get_aval(x))
    u_dot = ad.instantiate(u_dot, get_aval(updates))
    return ans, bind(index_add_p, x_dot, u_dot, *arrays, template=template)


def _index_add_transpose(ct, x, updates, *arrays, template):
    ct_x = ct if is_undefined(x) else None
    ct_u = None
    if is_undefined(updates):
        ct_u = unbroadcast(bind(index_p, ct, *arrays, template=template), updates.aval)
    return [ct_x, ct_u] + [None] * len(arrays)


ad.jvp_rules[index_add_p] = _index_add_jvp
transpose_rules[index_add_p] = _index_add_transpose


# Batching gather and scatter-add. With only ``x`` batched, a leading full slice maps every
# example at once. With batched index arrays, an extra leading index ``arange(B)`` (shaped
# to broadcast with them) picks each example's own row; NumPy then puts the broadcast index
# axes first, (B, *bcast, *rest), and one transpose restores the per-example layout.


def _expand_ellipsis(template, rank):
    used = sum(1 for t in template if t is not None and t is not Ellipsis)
    out = []
    for t in template:
        out.extend([("slice", None, None, None)] * (rank - used) if t is Ellipsis else [t])
    return out


def _advanced_layout(template, array_avals):
    """(advanced positions, adjacent?, result axes before them, broadcast rank of the arrays)."""
    if all(t is None or t[0] != "array" for t in template):
        return [], True, 0, 0
    adv = [i for i, t in enumerate(template) if t is not None and t[0] in ("array", "int")]
    adjacent = adv[-1] - adv[0] + 1 == len(adv)
    nd = len(np.broadcast_shapes(*(a.shape for a in array_avals)))
    return adv, adjacent, adv[0], nd


def _batched_index_args(axis_size, x, dx, arrays, darrs, template):
    """The batched (x, arrays, template) and the permutation taking the batched result
    to (B, *per-example result), or None if it is that already."""
    rank = get_aval(x).ndim - (dx is not None)
    tmpl = _expand_ellipsis(template, rank)
    adv, adjacent, p, nd = _advanced_layout(tmpl, [_unbatched_aval(a, d) for a, d in zip(arrays, darrs)])
    # (an Ellipsis between advanced indices separates them for NumPy, even one of no axes)
    given = [i for i, t in enumerate(template) if t is not None and t is not Ellipsis and t[0] != "slice"]
    adjacent = adjacent and (not given or given[-1] - given[0] + 1 == len(given))
    full = ("slice", None, None, None)
    if all(d is None for d in darrs):
        x = batching.moveaxis(x, dx, 0)
        tmpl = [full] + list(template)  # (its Ellipsis kept: the same layout per example)
        # Non-adjacent advanced indices put their axes first: (*bcast, B, *rest).
        perm = None
        if not adjacent:
            n_rest = _rest_rank(x, tmpl, arrays, nd + 1)
            perm = [nd] + list(range(nd)) + list(range(nd + 1, nd + 1 + n_rest))
        return x, list(arrays), tuple(tmpl), perm
    x = batching.bdim_at_front(x, dx, axis_size)
    arrays = [a if d is None else batching.front_padded(a, d, nd) for a, d in zip(arrays, darrs)]
    b_idx = np.arange(axis_size).reshape((axis_size,) + (1,) * nd)
    tmpl = [("array", 0)] + [t if t is None or t[0] != "array" else ("array", t[1] + 1) for t in tmpl]
    n_rest = _rest_rank(x, tmpl, [b_idx] + arrays, nd + 1)
    perm = None
    if adjacent and p:
        rest = list(range(1 + nd, 1 + nd + n_rest))
        perm = [0] + rest[:p] + list(range(1, 1 + nd)) + rest[p:]
    return x, [b_idx] + arrays, tuple(tmpl), perm


def _unbatched_aval(a, d):
    aval = get_aval(a)
    return aval if d is None else ShapedArray(aval.shape[:d] + aval.shape[d + 1:], aval.dtype)


def _rest_rank(x, tmpl, arrays, nd):
    """How many result axes come from slices and None (not from the advanced indices)."""
    shape = _index_shape(get_aval(x).shape, tuple(tmpl), [get_aval(a) for a in arrays])
    return len(shape) - nd


def _index_batch(axis_size, vals, dims, *, template):
    x, *arrays = vals
    dx, *darrs = dims
    x, arrays, tmpl, perm = _batched_index_args(axis_size, x, dx, arrays, darrs, template)
    out = bind(index_p, x, *arrays, template=tmpl)
    return (out, 0) if perm is None else (transpose(out, perm), 0)


def _index_add_batch(axis_size, vals, dims, *, template):
    x, u, *arrays = vals
    dx, du, *darrs = dims
    x = batching.bdim_at_front(x, dx, axis_size)
    per_example = _index_shape(get_aval(x).shape[1:], template,
                               [_unbatched_aval(a, d) for a, d in zip(arrays, darrs)])
    x, arrays, tmpl, perm = _batched_index_args(axis_size, x, 0, arrays, darrs, template)
    if du is None:
        u = broadcast_to(u, (axis_size,) + per_example)
    else:
        u = broadcast_to(batching.front_padded(u, du, len(per_example)), (axis_size,) + per_example)
    if perm is not None:
        u = transpose(u, np.argsort(perm))
    return bind(index_add_p, x, u, *arrays, template=tmpl), 0


batching.primitive_batchers[index_p] = _index_batch
batching.primitive_batchers[index_add_p] = _index_add_batch
