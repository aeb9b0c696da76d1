"""Shape and selection functions of funcad.numpy, and JAX's immutable updates ``x.at[idx]``.

Every function here is a composition of gathers (``index``), scatters, concatenations,
reshapes and transposes, so each is linear in its array operand and differentiates (and
batches, and compiles) through those primitives' rules.
"""

from __future__ import annotations

import builtins
import operator

import numpy as _np

from .. import core
from ..core import Tracer, get_aval
from ..errors import UnsupportedFunctionError
from ..lax import elementwise as _ew
from ..lax import scatter as _scatter
from ..lax import shapes as _shapes
from ..lax import sorting as _sorting
from ..lax import special as _sp
from . import (_arr, _as_nd, _normalize_axes, _promote, astype, broadcast_arrays, broadcast_to,
               concatenate, moveaxis, multiply, ravel, reshape, stack,
               transpose, where)
from . import _getitem, _no_out, clip as _clip, logical_and as _logical_and, sum as _sum

__all__ = ["take", "take_along_axis", "diag", "diagonal", "trace", "tril", "triu", "flip",
           "fliplr", "flipud", "roll", "rot90", "tile", "repeat", "pad", "split", "array_split",
           "hsplit", "vsplit", "dsplit", "atleast_1d", "atleast_2d", "atleast_3d", "column_stack",
           "dstack", "kron", "cross", "meshgrid", "at", "put_along_axis"]


def _nd(x):
    return _as_nd(_arr(x))


def _axis(axis, nd):
    return _normalize_axes(axis, nd)[0]


def _index(x, idx, arrays=()):
    return _shapes.index(x, tuple(idx), list(arrays))


def _int_index_array(indices):
    idx = indices if isinstance(indices, Tracer) else _np.asarray(indices)
    if get_aval(idx).dtype.kind not in "iu":
        raise IndexError(f"indices must be integers, got dtype {get_aval(idx).dtype}")
    return idx


# --------------------------------------------------------------------------------------
# Selection


def take(a, indices, axis=None, out=None, mode=None):
    """``numpy.take``: elements along ``axis`` (None: of the flattened array).

    ``mode`` 'raise' (default), 'wrap' or 'clip' as in NumPy. Its transpose is a scatter-add,
    so repeated indices accumulate derivatives.
    """
    _no_out(out, "take")
    a = _nd(a)
    if axis is None:
        a, axis = ravel(a), 0
    nd = get_aval(a).ndim
    axis = _axis(axis, nd)
    idx = _int_index_array(indices)
    n = get_aval(a).shape[axis]
    if mode == "wrap":
        idx = _sp.mod(idx, _np.asarray(n, get_aval(idx).dtype))
    elif mode == "clip":
        idx = _ew.min(_ew.max(idx, _np.zeros((), get_aval(idx).dtype)),
                      _np.asarray(builtins.max(n - 1, 0), get_aval(idx).dtype))
    elif mode not in (None, "raise"):
        raise ValueError(f"take: mode must be 'raise', 'wrap' or 'clip', got {mode!r}")
    return _index(a, [slice(None)] * axis + [("array", 0)], [idx])


def take_along_axis(arr, indices, axis=-1):
    """``numpy.take_along_axis``: ``arr`` gathered with ``indices`` of the same rank along
    ``axis`` (e.g. the output of argsort); ``axis=None`` works on the flattened array."""
    arr = _nd(arr)
    idx = _int_index_array(indices)
    if axis is None:
        arr, axis = ravel(arr), 0
    nd = get_aval(arr).ndim
    if get_aval(idx).ndim != nd:
        raise ValueError("`indices` and `arr` must have the same number of dimensions")
    return _sorting.take_along_axis(arr, idx, _axis(axis, nd))


def put_along_axis(arr, indices, values, axis):
    """Functional ``numpy.put_along_axis``: returns a copy of ``arr`` with values set."""
    arr = _nd(arr)
    nd = get_aval(arr).ndim
    axis = _axis(axis, nd)
    idx = _int_index_array(indices)
    arrays = [idx if d == axis else _np.arange(n).reshape((1,) * d + (n,) + (1,) * (nd - d - 1))
              for d, n in enumerate(get_aval(arr).shape)]
    return _update(arr, tuple(("array", k) for k in range(nd)), arrays, values, "set")


def _diag_indices(n1, n2, offset):
    length = builtins.max(0, builtins.min(n1, n2 - offset) if offset >= 0 else builtins.min(n1 + offset, n2))
    i = _np.arange(length)
    return (i, i + offset) if offset >= 0 else (i - offset, i)


def diagonal(a, offset=0, axis1=0, axis2=1):
    """``numpy.diagonal``: the diagonal of the (axis1, axis2) planes, as the last axis."""
    a = _nd(a)
    nd = get_aval(a).ndim
    if nd < 2:
        raise ValueError("diag requires an array of at least two dimensions")
    a1, a2 = _axis(axis1, nd), _axis(axis2, nd)
    if a1 == a2:
        raise ValueError("axis1 and axis2 cannot be the same")
    a = moveaxis(a, (a1, a2), (nd - 2, nd - 1))
    n1, n2 = get_aval(a).shape[-2:]
    rows, cols = _diag_indices(n1, n2, int(offset))
    return _index(a, [Ellipsis, ("array", 0), ("array", 1)], [rows, cols])


def diag(v, k=0):
    """``numpy.diag``: the k-th diagonal of a matrix, or a matrix with ``v`` on it."""
    v = _nd(v)
    shape = get_aval(v).shape
    if len(shape) == 2:
        return diagonal(v, k)
    if len(shape) != 1:
        raise ValueError("Input must be 1- or 2-d.")
    n = shape[0] + builtins.abs(int(k))
    rows, cols = _diag_indices(n, n, int(k))
    zeros = _shapes.full((n, n), 0, get_aval(v).dtype)
    return _shapes.index_add_p.bind(zeros, v, rows, cols, template=(("array", 0), ("array", 1)))


def trace(a, offset=0, axis1=0, axis2=1, dtype=None):
    """``numpy.trace``: the sum along a diagonal."""
    return _sum(diagonal(a, offset, axis1, axis2), axis=-1, dtype=dtype)


def _tri_mask(x, k, lower):
    shape = get_aval(x).shape
    n1, n2 = (shape[-2], shape[-1]) if len(shape) >= 2 else (shape[-1], shape[-1])
    m = _np.tri(n1, n2, k, dtype=bool)
    return m if lower else ~_np.tri(n1, n2, k - 1, dtype=bool)


def tril(m, k=0):
    """``numpy.tril``: zero above the k-th diagonal (of the last two axes)."""
    m = _nd(m)
    return where(_tri_mask(m, k, True), m, _np.zeros((), get_aval(m).dtype))


def triu(m, k=0):
    """``numpy.triu``: zero below the k-th diagonal (of the last two axes)."""
    m = _nd(m)
    return where(_tri_mask(m, k, False), m, _np.zeros((), get_aval(m).dtype))


# --------------------------------------------------------------------------------------
# Rearranging


def flip(m, axis=None):
    """``numpy.flip``: reverse the order along ``axis`` (None: every axis)."""
    m = _nd(m)
    nd = get_aval(m).ndim
    axes = _normalize_axes(axis, nd) if nd else ()
    if not axes:
        return m
    return _index(m, [slice(None, None, -1) if i in axes else slice(None) for i in range(nd)])


def fliplr(m):
    """``numpy.fliplr``: reverse the columns (axis 1)."""
    m = _nd(m)
    if get_aval(m).ndim < 2:
        raise ValueError("Input must be >= 2-d.")
    return flip(m, 1)


def flipud(m):
    """``numpy.flipud``: reverse the rows (axis 0)."""
    m = _nd(m)
    if get_aval(m).ndim < 1:
        raise ValueError("Input must be >= 1-d.")
    return flip(m, 0)


def roll(a, shift, axis=None):
    """``numpy.roll``: shift elements cyclically along ``axis`` (None: the flattened array)."""
    a = _nd(a)
    if axis is None:
        return reshape(roll(ravel(a), shift, 0), get_aval(a).shape)
    nd = get_aval(a).ndim
    axes = (axis,) if isinstance(axis, int | _np.integer) else tuple(axis)
    shifts = (shift,) if isinstance(shift, int | _np.integer) else tuple(shift)
    axes, shifts = _np.broadcast_arrays(_np.asarray(axes), _np.asarray(shifts))
    total = {}
    for ax, s in zip(axes.ravel(), shifts.ravel()):
        ax = _axis(int(ax), nd)
        total[ax] = total.get(ax, 0) + int(s)
    for ax, s in total.items():
        n = get_aval(a).shape[ax]
        if n == 0 or s % n == 0:
            continue
        s %= n
        head = [slice(None)] * ax + [slice(n - s, None)]
        tail = [slice(None)] * ax + [slice(0, n - s)]
        a = concatenate([_index(a, head), _index(a, tail)], ax)
    return a


def rot90(m, k=1, axes=(0, 1)):
    """``numpy.rot90``: rotate by 90 degrees k times in the plane of ``axes``."""
    m = _nd(m)
    nd = get_aval(m).ndim
    axes = tuple(axes)
    if len(axes) != 2:
        raise ValueError("len(axes) must be 2.")
    if axes[0] == axes[1] or builtins.abs(axes[0] - axes[1]) == nd:
        raise ValueError("Axes must be different.")
    if nd < 2:
        raise ValueError("Axes must be different.")
    a0, a1 = _axis(axes[0], nd), _axis(axes[1], nd)
    k %= 4
    if k == 0:
        return m
    if k == 2:
        return flip(flip(m, a0), a1)
    perm = list(range(nd))
    perm[a0], perm[a1] = perm[a1], perm[a0]
    if k == 1:
        return transpose(flip(m, a1), perm)
    return flip(transpose(m, perm), a1)


def tile(A, reps):
    """``numpy.tile``: repeat the whole array ``reps`` times along each axis."""
    A = _nd(A)
    reps = (int(reps),) if isinstance(reps, int | _np.integer) else tuple(int(r) for r in reps)
    shape = get_aval(A).shape
    d = builtins.max(len(shape), len(reps))
    shape = (1,) * (d - len(shape)) + shape
    reps = (1,) * (d - len(reps)) + reps
    inter = tuple(v for n in shape for v in (1, n))
    target = tuple(v for r, n in zip(reps, shape) for v in (r, n))
    out = broadcast_to(reshape(A, inter), target)
    return reshape(out, tuple(r * n for r, n in zip(reps, shape)))


def repeat(a, repeats, axis=None):
    """``numpy.repeat``: repeat each element (``repeats`` an int or one count per element;
    the counts must be concrete, as the output shape depends on them)."""
    a = _nd(a)
    if axis is None:
        a, axis = ravel(a), 0
    nd = get_aval(a).ndim
    axis = _axis(axis, nd) if nd else 0
    if nd == 0:
        a, nd = reshape(a, (1,)), 1
    counts = core.maybe_concrete(repeats) if isinstance(repeats, Tracer) else repeats
    if counts is None:
        raise core.ConcretizationError("repeat: the counts must be concrete (the output's shape "
                                       "depends on them).")
    idx = _np.repeat(_np.arange(get_aval(a).shape[axis]), _np.asarray(counts))
    return _index(a, [slice(None)] * axis + [("array", 0)], [idx])


def pad(array, pad_width, mode="constant", **kwargs):
    """``numpy.pad`` with modes 'constant' (``constant_values``, scalars or per-axis pairs),
    'edge', 'reflect', 'symmetric' and 'wrap'. Linear in ``array`` (and in the constants).
    """
    x = _nd(array)
    nd = get_aval(x).ndim
    widths = _np.broadcast_to(_np.asarray(pad_width, dtype=_np.int64), (nd, 2)) if nd else _np.zeros((0, 2), int)
    if _np.any(widths < 0):
        raise ValueError("index can't contain negative values")
    if mode == "constant":
        cv = kwargs.pop("constant_values", 0)
        if kwargs:
            raise TypeError(f"pad: unsupported keyword arguments {sorted(kwargs)} for mode 'constant'")
        if isinstance(cv, Tracer) and get_aval(cv).ndim == 0:
            pairs = [[cv, cv]] * nd
        else:
            pairs = _np.broadcast_to(_np.asarray(cv), (nd, 2)).tolist() if nd else []
        for ax in range(nd):
            before, after = (int(w) for w in widths[ax])
            if not before and not after:
                continue
            shp = list(get_aval(x).shape)
            parts = []
            for w, c in ((before, pairs[ax][0]), (after, pairs[ax][1])):
                shp[ax] = w
                parts.append(astype(broadcast_to(c, tuple(shp)), get_aval(x).dtype) if w else None)
            x = concatenate([p for p in (parts[0], x, parts[1]) if p is not None], ax)
        return x
    if mode in ("edge", "reflect", "symmetric", "wrap"):
        if kwargs.get("reflect_type", "even") != "even":
            raise UnsupportedFunctionError("pad: reflect_type='odd' is not supported")
        for ax in range(nd):
            before, after = (int(w) for w in widths[ax])
            if before or after:
                idx = _np.pad(_np.arange(get_aval(x).shape[ax]), (before, after), mode=mode)
                x = _index(x, [slice(None)] * ax + [("array", 0)], [idx])
        return x
    raise UnsupportedFunctionError(
        f"pad: mode {mode!r} is not supported by funcad (supported: 'constant', 'edge', "
        "'reflect', 'symmetric', 'wrap').")


# --------------------------------------------------------------------------------------
# Splitting and joining


def array_split(ary, indices_or_sections, axis=0):
    """``numpy.array_split``: split into sections (sizes may differ by one) or at indices."""
    a = _nd(ary)
    nd = get_aval(a).ndim
    axis = _axis(axis, nd)
    n = get_aval(a).shape[axis]
    if isinstance(indices_or_sections, int | _np.integer):
        sections = int(indices_or_sections)
        if sections <= 0:
            raise ValueError("number sections must be larger than 0.")
        each, extras = divmod(n, sections)
        sizes = [0] + extras * [each + 1] + (sections - extras) * [each]
        points = _np.cumsum(sizes).tolist()
    else:
        points = [0] + [int(i) for i in indices_or_sections] + [n]
    out = []
    for start, stop in zip(points[:-1], points[1:]):
        out.append(_index(a, [slice(None)] * axis + [slice(start, stop)]))
    return out


def split(ary, indices_or_sections, axis=0):
    """``numpy.split``: like array_split, but sections must divide the axis equally."""
    if isinstance(indices_or_sections, int | _np.integer):
        n = get_aval(_nd(ary)).shape[_axis(axis, get_aval(_nd(ary)).ndim)]
        if n % int(indices_or_sections):
            raise ValueError("array split does not result in an equal division")
    return array_split(ary, indices_or_sections, axis)


def hsplit(ary, indices_or_sections):
    """``numpy.hsplit``: split along axis 1 (axis 0 for 1-D arrays)."""
    a = _nd(ary)
    if get_aval(a).ndim == 0:
        raise ValueError("hsplit only works on arrays of 1 or more dimensions")
    return split(a, indices_or_sections, 1 if get_aval(a).ndim > 1 else 0)


def vsplit(ary, indices_or_sections):
    """``numpy.vsplit``: split along axis 0 (arrays of 2 or more dimensions)."""
    a = _nd(ary)
    if get_aval(a).ndim < 2:
        raise ValueError("vsplit only works on arrays of 2 or more dimensions")
    return split(a, indices_or_sections, 0)


def dsplit(ary, indices_or_sections):
    """``numpy.dsplit``: split along axis 2 (arrays of 3 or more dimensions)."""
    a = _nd(ary)
    if get_aval(a).ndim < 3:
        raise ValueError("dsplit only works on arrays of 3 or more dimensions")
    return split(a, indices_or_sections, 2)


def _atleast(arys, fn):
    res = tuple(fn(_nd(a)) for a in arys)
    return res[0] if len(res) == 1 else res


def atleast_1d(*arys):
    """``numpy.atleast_1d``: scalars become shape (1,)."""
    return _atleast(arys, lambda a: reshape(a, (1,)) if get_aval(a).ndim == 0 else a)


def atleast_2d(*arys):
    """``numpy.atleast_2d``: (n,) becomes (1, n), a scalar (1, 1)."""
    def f(a):
        nd = get_aval(a).ndim
        return reshape(a, (1, 1)) if nd == 0 else reshape(a, (1,) + get_aval(a).shape) if nd == 1 else a
    return _atleast(arys, f)


def atleast_3d(*arys):
    """``numpy.atleast_3d``: (n,) becomes (1, n, 1), (m, n) becomes (m, n, 1)."""
    def f(a):
        shape = get_aval(a).shape
        if len(shape) == 0:
            return reshape(a, (1, 1, 1))
        if len(shape) == 1:
            return reshape(a, (1,) + shape + (1,))
        if len(shape) == 2:
            return reshape(a, shape + (1,))
        return a
    return _atleast(arys, f)


def column_stack(tup):
    """``numpy.column_stack``: 1-D arrays become columns; 2-D arrays are joined along axis 1."""
    arrays = [_nd(a) for a in tup]
    arrays = [reshape(a, (get_aval(a).size, 1)) if get_aval(a).ndim < 2 else a for a in arrays]
    return concatenate(arrays, 1)


def dstack(tup):
    """``numpy.dstack``: join along the third axis (after atleast_3d)."""
    arrays = [atleast_3d(a) for a in tup]
    return concatenate(arrays, 2)


def kron(a, b):
    """``numpy.kron``: the Kronecker product (block matrix a_ij * b)."""
    (a, b), _ = _promote(a, b)
    a, b = _as_nd(a), _as_nd(b)
    sa, sb = get_aval(a).shape, get_aval(b).shape
    if not sa or not sb:
        return multiply(a, b)
    nd = builtins.max(len(sa), len(sb))
    sa, sb = (1,) * (nd - len(sa)) + sa, (1,) * (nd - len(sb)) + sb
    a2 = reshape(a, tuple(v for n in sa for v in (n, 1)))
    b2 = reshape(b, tuple(v for n in sb for v in (1, n)))
    return reshape(multiply(a2, b2), tuple(m * n for m, n in zip(sa, sb)))


def cross(a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    """``numpy.cross`` of 3-vectors (2-vectors count as having z = 0; two 2-vectors give the
    z component, as NumPy), broadcasting over the other axes. Bilinear."""
    if axis is not None:
        axisa = axisb = axisc = axis
    (a, b), _ = _promote(a, b)
    a, b = _as_nd(a), _as_nd(b)
    a = moveaxis(a, _axis(axisa, get_aval(a).ndim), -1)
    b = moveaxis(b, _axis(axisb, get_aval(b).ndim), -1)
    na, nb = get_aval(a).shape[-1], get_aval(b).shape[-1]
    if na not in (2, 3) or nb not in (2, 3):
        raise ValueError("incompatible dimensions for cross product\n(dimension must be 2 or 3)")
    comp = lambda x, i: _index(x, [Ellipsis, i])  # noqa: E731
    a0, a1, b0, b1 = comp(a, 0), comp(a, 1), comp(b, 0), comp(b, 1)
    z = _ew.sub(multiply(a0, b1), multiply(a1, b0))
    if na == 2 and nb == 2:
        return z
    a2 = comp(a, 2) if na == 3 else None
    b2 = comp(b, 2) if nb == 3 else None
    x = _ew.neg(multiply(a2, b1)) if b2 is None else (
        multiply(a1, b2) if a2 is None else _ew.sub(multiply(a1, b2), multiply(a2, b1)))
    y = multiply(a2, b0) if b2 is None else (
        _ew.neg(multiply(a0, b2)) if a2 is None else _ew.sub(multiply(a2, b0), multiply(a0, b2)))
    out = stack(broadcast_arrays(x, y, z), axis=-1)
    return moveaxis(out, -1, _axis(axisc, get_aval(out).ndim))


def meshgrid(*xi, copy=True, sparse=False, indexing="xy"):
    """``numpy.meshgrid``: coordinate arrays ('xy' Cartesian or 'ij' matrix indexing)."""
    if indexing not in ("xy", "ij"):
        raise ValueError("Valid values for `indexing` are 'xy' and 'ij'.")
    n = len(xi)
    s0 = (1,) * n
    out = [reshape(_nd(x), s0[:i] + (get_aval(_nd(x)).size,) + s0[i + 1:]) for i, x in enumerate(xi)]
    if indexing == "xy" and n > 1:
        out[0] = reshape(out[0], (1, get_aval(out[0]).size) + s0[2:])
        out[1] = reshape(out[1], (get_aval(out[1]).size, 1) + s0[2:])
    if not sparse:
        out = broadcast_arrays(*out)
    return tuple(out)


# --------------------------------------------------------------------------------------
# Immutable updates: x.at[idx].set(v), .add, .multiply, .divide, .min, .max, .get


def _parse_index(x, idx):
    """(template, arrays) of ``x[idx]``, as funcad.numpy's indexing builds them."""
    if not isinstance(idx, tuple):
        idx = (idx,)
    template, arrays = [], []
    for t in idx:
        if t is None or t is Ellipsis:
            template.append(t)
        elif isinstance(t, slice):
            t = slice(*(operator.index(v) if v is not None else None for v in (t.start, t.stop, t.step)))
            template.append(_shapes._to_template(t))
        elif isinstance(t, int | _np.integer) and not isinstance(t, bool):
            template.append(("int", int(t)))
        else:
            arr = t if isinstance(t, Tracer) else _np.asarray(t)
            aval = get_aval(arr)
            if aval.dtype == _np.bool_:
                concrete = core.maybe_concrete(arr)
                if concrete is None:
                    raise core.ConcretizationError(
                        "x.at[mask]: a boolean mask must be concrete (the indexed region's size "
                        "depends on it). Use funcad.numpy.where(mask, new, x) instead.")
                template.extend(("array", len(arrays) + j) for j in range(aval.ndim))
                arrays.extend(_np.nonzero(_np.asarray(concrete)))
                continue
            if aval.dtype.kind not in "iu":
                raise IndexError(f"arrays used as indices must be of integer (or boolean) type, got {aval.dtype}")
            template.append(("array", len(arrays)))
            arrays.append(arr)
    return tuple(template), arrays


def _region_shape(x, template, arrays):
    return tuple(_shapes._index_shape(get_aval(x).shape, template, [get_aval(a) for a in arrays]))


_COMBINE = {"multiply": lambda old, u: _ew.mul(old, u), "divide": lambda old, u: _ew.div(old, u),
            "min": lambda old, u: _ew.min(old, u), "max": lambda old, u: _ew.max(old, u),
            "power": lambda old, u: _ew.pow(old, u)}

_MODES = (None, "promise_in_bounds", "clip", "drop", "fill")


def _with_mode(x, idx, mode, fill_value=None):
    """JAX's out-of-bounds ``mode`` for x.at[idx]: ``(x, idx, axes)``. "clip" clamps each
    integer index into its axis; "drop" (updates) and "fill" (get) send an out-of-bounds index
    to an extra slot appended to its axis (filled with ``fill_value`` for get), and the caller
    drops that slot from the ``axes`` it returns. Slices and masks are as in NumPy."""
    if mode not in _MODES:
        raise ValueError(f"x.at[...]: mode must be one of {_MODES[1:]}, got {mode!r}")
    if mode in (None, "promise_in_bounds"):
        return x, idx, ()
    x = _nd(x)
    shape = get_aval(x).shape
    idx = idx if isinstance(idx, tuple) else (idx,)
    n_used = builtins.sum(1 for t in idx if t is not None and t is not Ellipsis)
    axis, entries, padded = 0, [], []
    for t in idx:
        if t is Ellipsis:
            axis += len(shape) - n_used
        elif t is not None and not isinstance(t, slice) and get_aval(_arr(t)).dtype.kind in "iu":
            n = shape[axis]
            i = _arr(t)
            inside = _logical_and(_ew.ge(i, -n), _ew.lt(i, n))
            i = where(_ew.lt(i, 0), _ew.add(i, n), i)
            t = _clip(i, 0, n - 1) if mode == "clip" else where(inside, i, n)
            if mode != "clip":
                padded.append(axis)
        entries.append(t)
        axis += t is not None and t is not Ellipsis
    if padded:
        pad_width = [(0, 1 if d in padded else 0) for d in range(len(shape))]
        fill = _np.nan if fill_value is None and get_aval(x).dtype.kind == "f" else (fill_value or 0)
        x = pad(x, pad_width, constant_values=fill)
    return x, tuple(entries), tuple(padded)


def _unpad(x, axes):
    if not axes:
        return x
    return _nd(x)[tuple(slice(0, -1) if d in axes else slice(None) for d in range(get_aval(x).ndim))]


def _update(x, template, arrays, values, op):
    x = _nd(x)
    dt = get_aval(x).dtype
    region = _region_shape(x, template, arrays)
    u = broadcast_to(astype(values, dt), region)
    if op == "set":
        return _scatter.index_set(x, u, arrays, template)
    if op == "add":
        return _shapes.index_add_p.bind(x, u, *arrays, template=template)
    combine = _COMBINE[op]
    if _shapes._is_basic(template):
        old = _shapes.index_p.bind(x, *arrays, template=template)
        return _scatter.index_set(x, combine(old, u), arrays, template)
    # Advanced indices may repeat a position: NumPy's ufunc.at applies the updates one after
    # another, so apply them in rounds, each touching every position at most once.
    concrete = [core.maybe_concrete(a) for a in arrays]
    if builtins.any(c is None for c in concrete):
        raise core.ConcretizationError(
            f"x.at[idx].{op}(...) with index arrays whose values are abstract (under jit): funcad "
            "needs them concrete to order repeated indices. Pass the indices as static "
            "arguments, or use .set/.add, which take abstract indices.")
    shape = get_aval(x).shape
    flat_ids = _np.arange(int(_np.prod(shape, dtype=_np.int64))).reshape(shape)
    ids = _np.asarray(flat_ids[_shapes._build_index(template, [_np.asarray(c) for c in concrete])]).ravel()
    order = _np.argsort(ids, kind="stable")
    rounds = _np.empty_like(ids)
    sorted_ids = ids[order]
    starts = _np.r_[True, sorted_ids[1:] != sorted_ids[:-1]] if ids.size else _np.zeros(0, bool)
    group_start = _np.maximum.accumulate(_np.where(starts, _np.arange(ids.size), 0)) if ids.size else ids
    rounds[order] = _np.arange(ids.size) - group_start
    xf, uf = ravel(x), ravel(u)
    for r in range(int(rounds.max()) + 1 if ids.size else 0):
        sel = _np.nonzero(rounds == r)[0]
        pos = ids[sel]
        old = _shapes.index_p.bind(xf, pos, template=(("array", 0),))
        new = combine(old, _shapes.index_p.bind(uf, sel, template=(("array", 0),)))
        xf = _scatter.index_set(xf, new, [pos], (("array", 0),))
    return reshape(xf, shape)


class _IndexUpdateRef:
    """``x.at[idx]``: pure versions of ``x[idx] = v``, ``x[idx] += v``, ... (JAX's API)."""

    __slots__ = ("x", "idx", "wrap")

    def __init__(self, x, idx, wrap=None):
        self.x, self.idx, self.wrap = x, idx, wrap

    # Every method takes JAX's keywords: ``mode`` ("promise_in_bounds", the default: NumPy's
    # behaviour; "clip"; "drop" for updates, "fill" for get, with ``fill_value``, NaN for floats
    # by default); ``indices_are_sorted`` and ``unique_indices`` are accepted hints.

    def _apply(self, op, values, mode=None, indices_are_sorted=False, unique_indices=False):
        x, idx, padded = _with_mode(self.x, self.idx, "drop" if mode == "fill" else mode)
        template, arrays = _parse_index(x, idx)
        out = _unpad(_update(x, template, arrays, values, op), padded)
        return out if self.wrap is None else self.wrap(out)

    def get(self, mode=None, fill_value=None, indices_are_sorted=False, unique_indices=False):
        """``x[idx]``."""
        x, idx, _ = _with_mode(self.x, self.idx, "fill" if mode == "drop" else mode, fill_value)
        return _getitem(x, idx)

    def set(self, values, **kw):
        """A copy of x with ``x[idx] = values`` (repeated indices: the last update wins)."""
        return self._apply("set", values, **kw)

    def add(self, values, **kw):
        """A copy of x with ``values`` added at ``idx`` (repeated indices accumulate)."""
        return self._apply("add", values, **kw)

    def subtract(self, values, **kw):
        """A copy of x with ``values`` subtracted at ``idx``."""
        return self._apply("add", _ew.neg(astype(values, get_aval(_nd(self.x)).dtype)), **kw)

    def multiply(self, values, **kw):
        """A copy of x multiplied by ``values`` at ``idx`` (repeated indices accumulate)."""
        return self._apply("multiply", values, **kw)

    mul = multiply

    def divide(self, values, **kw):
        """A copy of x divided by ``values`` at ``idx``."""
        return self._apply("divide", values, **kw)

    def power(self, values, **kw):
        """A copy of x with ``x[idx] ** values`` at ``idx``."""
        return self._apply("power", values, **kw)

    def min(self, values, **kw):
        """A copy of x with ``minimum(x[idx], values)`` at ``idx``; at ties between the old
        and the new value the derivative is split half and half (as ``minimum``)."""
        return self._apply("min", values, **kw)

    def max(self, values, **kw):
        """A copy of x with ``maximum(x[idx], values)`` at ``idx``; ties as ``maximum``."""
        return self._apply("max", values, **kw)


class _IndexUpdateHelper:
    __slots__ = ("x", "wrap")

    def __init__(self, x, wrap=None):
        self.x, self.wrap = x, wrap  # wrap: applied to the updated array (fnp.Array's .at keeps .at)

    def __getitem__(self, idx):
        return _IndexUpdateRef(self.x, idx, self.wrap)


def at(x):
    """JAX's immutable-update helper for any array: ``at(x)[idx].set(v)`` equals
    ``x.at[idx].set(v)`` (traced values have the ``.at`` property; NumPy arrays do not).

    >>> import funcad.numpy as fnp
    >>> fnp.at(fnp.zeros(3))[1].add(2.0)
    array([0., 2., 0.])
    """
    return _IndexUpdateHelper(x)


Tracer.at = property(lambda self: _IndexUpdateHelper(self))

