"""jax.lax's public names that funcad's primitives compose: dynamic slices, dot_general,
associative_scan, top_k, custom_root, custom_linear_solve and the small elementwise ones.

Everything here is written with existing primitives (gather/scatter for the dynamic slices,
einsum for dot_general, sort for top_k...), so derivatives, vmap and jit come from their
rules. Operands are promoted as funcad.numpy does (JAX's lax is stricter about dtypes).
"""

from __future__ import annotations

import builtins
from collections.abc import Callable

import numpy as np

from .. import core
from ..core import Tracer, get_aval
from ..errors import ArgumentError, ConcretizationError, ShapeError
from ..tree_util import tree_flatten, tree_map, tree_unflatten

__all__ = [
    "dynamic_slice", "dynamic_update_slice", "dynamic_index_in_dim", "dynamic_slice_in_dim",
    "dynamic_update_index_in_dim", "dynamic_update_slice_in_dim", "slice", "slice_in_dim",
    "index_in_dim", "dot", "dot_general", "batch_matmul", "associative_scan", "cummax", "cummin",
    "cumlogsumexp", "top_k", "clamp", "rsqrt", "lgamma", "square", "select_n", "rem", "iota",
    "broadcast", "broadcast_in_dim", "expand_dims", "squeeze", "rev", "pad", "collapse",
    "full_like", "zeros_like_array", "sort_key_val", "is_finite", "erf_inv", "custom_root",
    "custom_linear_solve", "closure_convert", "reduce_and", "reduce_or", "bitwise_not",
    "acos", "acosh", "asin", "asinh", "atan", "atan2", "atanh", "bitwise_and", "bitwise_or",
    "bitwise_xor", "broadcasted_iota", "broadcast_to_rank", "conj", "real", "imag", "complex", "reciprocal",
    "nextafter", "index_take", "reduce", "reduce_xor", "split", "argmax", "argmin", "sort",
    "cumsum", "cumprod", "full", "optimization_barrier", "reduce_precision", "tan",
    "igamma", "igammac", "bessel_i0e", "bessel_i1e", "zeta", "betainc",
]


def _fnp():
    from .. import numpy as fnp  # funcad.numpy imports funcad.lax: import it when called

    return fnp


# --------------------------------------------------------------------------------------
# Dynamic slices: gathers (and scatters) with index arrays start + arange(size), the start
# clamped so that the slice stays inside the array (as XLA and JAX do).


def _starts(operand, start_indices, name):
    shape = get_aval(operand).shape
    if isinstance(start_indices, Tracer | np.ndarray) and get_aval(start_indices).ndim == 1:
        start_indices = [start_indices[i] for i in range(get_aval(start_indices).shape[0])]
    starts = list(start_indices)
    if len(starts) != len(shape):
        raise ShapeError(f"{name}: {len(starts)} start indices for an operand of shape {shape} "
                         f"(rank {len(shape)}); give one per axis.")
    return shape, starts


def _clamped(start, n, k):
    """``start`` clamped to ``[0, n - k]``: a Python int if concrete, else an int64 tracer."""
    c = core.maybe_concrete(start) if isinstance(start, Tracer) else start
    if c is not None and not isinstance(c, Tracer):
        c = int(np.asarray(c))
        c = c + n if c < 0 else c  # a negative start counts from the end (as NumPy)
        return builtins.min(builtins.max(c, 0), n - k)
    fnp = _fnp()
    s = fnp.asarray(start).astype(np.int64)
    s = fnp.where(s < 0, s + n, s)
    return fnp.clip(s, 0, n - k)


def _gather_index(shape, starts, sizes):
    """(template, arrays) picking the block: basic slices when every start is concrete, else
    one broadcast index array per axis (``start + arange(size)``: a gather). Slices and arrays
    are not mixed, since NumPy moves the axes of arrays separated by slices."""
    fnp = _fnp()
    clamped = [_clamped(s, n, k) for n, s, k in zip(shape, starts, sizes)]
    if all(isinstance(s, int) for s in clamped):
        return tuple(("slice", s, s + k, None) for s, k in zip(clamped, sizes)), []
    nd = len(shape)
    arrays = [fnp.reshape(s + np.arange(k, dtype=np.int64), (k,) + (1,) * (nd - 1 - axis))
              for axis, (s, k) in enumerate(zip(clamped, sizes))]
    return tuple(("array", i) for i in range(nd)), arrays


def _check_sizes(shape, sizes, name):
    sizes = [int(k) for k in sizes]
    if len(sizes) != len(shape) or builtins.any(not 0 <= k <= n for k, n in zip(sizes, shape)):
        raise ShapeError(f"{name}: slice_sizes {tuple(sizes)} do not fit the operand's shape "
                         f"{shape}: give one size per axis, each between 0 and that axis' length.")
    return sizes


def dynamic_slice(operand, start_indices, slice_sizes):
    """``operand[s0:s0 + k0, s1:s1 + k1, ...]`` with starts that may be traced (sizes static).

    As in JAX, a start is clamped so that the slice stays inside the array.

    >>> import funcad as fa, numpy as np
    >>> fa.lax.dynamic_slice(np.arange(10.0), (7,), (3,))
    array([7., 8., 9.])
    >>> fa.jit(lambda x, i: fa.lax.dynamic_slice(x, (i,), (2,)))(np.arange(5.0), 9)
    array([3., 4.])
    """
    from .shapes import index_p

    operand = _fnp().asarray(operand)
    shape, starts = _starts(operand, start_indices, "dynamic_slice")
    sizes = _check_sizes(shape, slice_sizes, "dynamic_slice")
    template, arrays = _gather_index(shape, starts, sizes)
    return core.bind(index_p, operand, *arrays, template=template)


def dynamic_update_slice(operand, update, start_indices):
    """``operand`` with the block at ``start_indices`` replaced by ``update`` (starts may be
    traced; clamped so that the block fits, as JAX).

    >>> import funcad as fa, numpy as np
    >>> fa.lax.dynamic_update_slice(np.zeros(5), np.ones(2), (1,))
    array([0., 1., 1., 0., 0.])
    """
    from . import scatter
    from .elementwise import convert_element_type

    fnp = _fnp()
    operand = fnp.asarray(operand)
    update = fnp.asarray(update)
    shape, starts = _starts(operand, start_indices, "dynamic_update_slice")
    u_shape = get_aval(update).shape
    if len(u_shape) != len(shape):
        raise ShapeError(f"dynamic_update_slice: the update has shape {u_shape} (rank "
                         f"{len(u_shape)}) but the operand has shape {shape}; the ranks must match.")
    sizes = _check_sizes(shape, u_shape, "dynamic_update_slice")
    template, arrays = _gather_index(shape, starts, sizes)
    update = convert_element_type(update, get_aval(operand).dtype)
    return scatter.index_set(operand, update, arrays, template)


def _in_dim(operand, index, axis, name):
    shape = get_aval(operand).shape
    axis = int(axis)
    if not -len(shape) <= axis < len(shape):
        raise ShapeError(f"{name}: axis {axis} is out of range for an operand of shape {shape}.")
    return shape, axis % len(shape)


def dynamic_slice_in_dim(operand, start_index, slice_size: int, axis: int = 0):
    """:func:`dynamic_slice` along one axis: ``operand[..., s:s + slice_size, ...]``."""
    operand = _fnp().asarray(operand)
    shape, axis = _in_dim(operand, start_index, axis, "dynamic_slice_in_dim")
    starts = [0] * len(shape)
    starts[axis] = start_index
    sizes = list(shape)
    sizes[axis] = slice_size
    return dynamic_slice(operand, starts, sizes)


def dynamic_index_in_dim(operand, index, axis: int = 0, keepdims: bool = True):
    """``operand`` at a (traced) ``index`` along ``axis``; the axis kept with size 1 unless
    ``keepdims=False``."""
    out = dynamic_slice_in_dim(operand, index, 1, axis)
    return out if keepdims else _fnp().squeeze(out, axis)


def dynamic_update_slice_in_dim(operand, update, start_index, axis: int):
    """:func:`dynamic_update_slice` along one axis."""
    operand = _fnp().asarray(operand)
    shape, axis = _in_dim(operand, start_index, axis, "dynamic_update_slice_in_dim")
    starts = [0] * len(shape)
    starts[axis] = start_index
    return dynamic_update_slice(operand, update, starts)


def dynamic_update_index_in_dim(operand, update, index, axis: int):
    """Replace ``operand``'s slice at ``index`` along ``axis`` by ``update`` (of rank one
    less, or the same rank with size 1 there)."""
    fnp = _fnp()
    operand = fnp.asarray(operand)
    shape, axis = _in_dim(operand, index, axis, "dynamic_update_index_in_dim")
    update = fnp.asarray(update)
    if get_aval(update).ndim == len(shape) - 1:
        update = fnp.expand_dims(update, axis)
    return dynamic_update_slice_in_dim(operand, update, index, axis)


def slice(operand, start_indices, limit_indices, strides=None):
    """``operand[start:limit:stride, ...]`` with static bounds (JAX's ``lax.slice``)."""
    strides = strides or (1,) * len(start_indices)
    idx = tuple(builtins.slice(int(s), int(e), int(k))
                for s, e, k in zip(start_indices, limit_indices, strides))
    return _fnp().asarray(operand)[idx]


def slice_in_dim(operand, start_index, limit_index, stride: int = 1, axis: int = 0):
    """:func:`slice` along one axis (``None`` bounds mean the ends)."""
    operand = _fnp().asarray(operand)
    shape, axis = _in_dim(operand, 0, axis, "slice_in_dim")
    idx = [builtins.slice(None)] * len(shape)
    idx[axis] = builtins.slice(start_index, limit_index, stride)
    return operand[tuple(idx)]


def index_in_dim(operand, index: int, axis: int = 0, keepdims: bool = True):
    """``operand`` at a static ``index`` along ``axis``."""
    operand = _fnp().asarray(operand)
    shape, axis = _in_dim(operand, index, axis, "index_in_dim")
    out = slice_in_dim(operand, index, index + 1 if index != -1 else None, 1, axis)
    return out if keepdims else _fnp().squeeze(out, axis)


# --------------------------------------------------------------------------------------
# Products


def dot(lhs, rhs, precision=None, preferred_element_type=None):
    """Vector/matrix product of rank-1 or rank-2 operands (``jax.lax.dot``)."""
    out = _fnp().dot(lhs, rhs)
    return out if preferred_element_type is None else out.astype(preferred_element_type)


_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def dot_general(lhs, rhs, dimension_numbers, precision=None, preferred_element_type=None):
    """The general tensor contraction, as ``jax.lax.dot_general``: ``dimension_numbers`` is
    ``((lhs_contracting, rhs_contracting), (lhs_batch, rhs_batch))``. The result's axes are
    the batch axes, then lhs's free axes, then rhs's free axes (one einsum).

    >>> import funcad as fa, numpy as np
    >>> a, b = np.ones((5, 2, 3)), np.ones((5, 3, 4))
    >>> fa.lax.dot_general(a, b, (((2,), (1,)), ((0,), (0,)))).shape
    (5, 2, 4)
    """
    fnp = _fnp()
    lhs, rhs = fnp.asarray(lhs), fnp.asarray(rhs)
    (lc, rc), (lb, rb) = dimension_numbers
    lc, rc, lb, rb = ([int(a) for a in axes] for axes in (lc, rc, lb, rb))
    ls, rs = get_aval(lhs).shape, get_aval(rhs).shape
    if len(lc) != len(rc) or len(lb) != len(rb) or \
            builtins.any(ls[i] != rs[j] for i, j in zip(lc + lb, rc + rb)):
        raise ShapeError(f"dot_general: lhs shape {ls} and rhs shape {rs} do not agree on the "
                         f"contracting dimensions {(tuple(lc), tuple(rc))} and batch dimensions "
                         f"{(tuple(lb), tuple(rb))}.")
    letters = iter(_LETTERS)
    l_sub = [None] * len(ls)
    r_sub = [None] * len(rs)
    for i, j in zip(lb + lc, rb + rc):
        l_sub[i] = r_sub[j] = next(letters)
    for sub in (l_sub, r_sub):
        for i, s in enumerate(sub):
            if s is None:
                sub[i] = next(letters)
    out = ([l_sub[i] for i in lb] + [s for i, s in enumerate(l_sub) if i not in lb + lc]
           + [s for j, s in enumerate(r_sub) if j not in rb + rc])
    res = fnp.einsum(f"{''.join(l_sub)},{''.join(r_sub)}->{''.join(out)}", lhs, rhs)
    return res if preferred_element_type is None else res.astype(preferred_element_type)


def batch_matmul(lhs, rhs, precision=None):
    """Batched matrix product over leading axes (``lhs @ rhs``)."""
    return _fnp().matmul(lhs, rhs)


# --------------------------------------------------------------------------------------
# associative_scan (the odd/even recursion of Blelloch, written with slices)


def associative_scan(fn: Callable, elems, reverse: bool = False, axis: int = 0):
    """All prefix combinations ``fn(...fn(fn(e0, e1), e2)..., ek)`` along ``axis`` for an
    associative ``fn`` of pytrees of arrays, in O(log n) vectorised steps (as JAX).

    >>> import funcad as fa, funcad.numpy as fnp
    >>> fa.lax.associative_scan(fnp.add, fnp.arange(5.0))
    array([ 0.,  1.,  3.,  6., 10.])
    """
    fnp = _fnp()
    leaves, tree = tree_flatten(elems)
    leaves = [fnp.asarray(x) for x in leaves]
    if not leaves:
        return elems
    ndim = get_aval(leaves[0]).ndim
    axis = int(axis) % builtins.max(ndim, 1)
    lengths = {get_aval(x).shape[axis] for x in leaves}
    if len(lengths) != 1:
        raise ShapeError(f"associative_scan: every leaf must have the same length along axis "
                         f"{axis}, got {sorted(lengths)}.")
    if reverse:
        leaves = [fnp.flip(x, axis) for x in leaves]

    def combine(a, b):
        out = fn(tree_unflatten(tree, a), tree_unflatten(tree, b))
        return [fnp.asarray(o) for o in tree_flatten(out)[0]]

    def sl(x, start, stop=None, step=None):
        idx = [builtins.slice(None)] * get_aval(x).ndim
        idx[axis] = builtins.slice(start, stop, step)
        return x[tuple(idx)]

    def interleave(a, b):  # a at even positions, b at odd; len(a) - len(b) in {0, 1}
        na, nb = get_aval(a).shape[axis], get_aval(b).shape[axis]
        pad_b = b if na == nb else fnp.concatenate([b, sl(a, 0, 1)], axis)
        st = fnp.stack([a, pad_b], axis + 1)
        shape = list(get_aval(a).shape)
        shape[axis] = 2 * na
        return sl(fnp.reshape(st, shape), 0, na + nb)

    def scan(xs):
        n = get_aval(xs[0]).shape[axis]
        if n < 2:
            return xs
        reduced = combine([sl(x, 0, -1, 2) for x in xs], [sl(x, 1, None, 2) for x in xs])
        odd = scan(reduced)
        if n % 2 == 0:
            even = combine([sl(x, 0, -1) for x in odd], [sl(x, 2, None, 2) for x in xs])
        else:
            even = combine(odd, [sl(x, 2, None, 2) for x in xs])
        even = [fnp.concatenate([sl(x, 0, 1), e], axis) for x, e in zip(xs, even)]
        return [interleave(e, o) for e, o in zip(even, odd)]

    out = scan(leaves)
    if reverse:
        out = [fnp.flip(x, axis) for x in out]
    return tree_unflatten(tree, out)


def cummax(operand, axis: int = 0, reverse: bool = False):
    """Running maximum along ``axis``."""
    return associative_scan(_fnp().maximum, operand, reverse, axis)


def cummin(operand, axis: int = 0, reverse: bool = False):
    """Running minimum along ``axis``."""
    return associative_scan(_fnp().minimum, operand, reverse, axis)


def cumlogsumexp(operand, axis: int = 0, reverse: bool = False):
    """Running ``log(sum(exp(x)))`` along ``axis`` (stable)."""
    return associative_scan(_fnp().logaddexp, operand, reverse, axis)


# --------------------------------------------------------------------------------------
# Sorting


def top_k(operand, k: int):
    """The ``k`` largest entries along the last axis, in descending order, and their indices
    (``(values, indices)``, as ``jax.lax.top_k``; ties keep the lower index first).

    >>> import funcad as fa, numpy as np
    >>> fa.lax.top_k(np.array([1.0, 5.0, 3.0, 5.0]), 2)
    (array([5., 5.]), array([1, 3], dtype=int32))
    """
    fnp = _fnp()
    operand = fnp.asarray(operand)
    n = get_aval(operand).shape[-1] if get_aval(operand).ndim else 0
    k = int(k)
    if not 0 <= k <= n:
        raise ShapeError(f"top_k: k={k} is out of range for an operand of shape "
                         f"{get_aval(operand).shape}; 0 <= k <= {n} (the last axis).")
    idx = fnp.argsort(-operand, axis=-1, stable=True)[..., :k] if get_aval(operand).dtype.kind != "b" \
        else fnp.argsort(~operand, axis=-1, stable=True)[..., :k]
    return fnp.take_along_axis(operand, idx, axis=-1), idx.astype(np.int32)


def sort_key_val(keys, values, dimension: int = -1, is_stable: bool = True):
    """``keys`` sorted along ``dimension`` and ``values`` reordered alike."""
    fnp = _fnp()
    order = fnp.argsort(keys, axis=dimension, stable=True)
    return (fnp.take_along_axis(fnp.asarray(keys), order, axis=dimension),
            fnp.take_along_axis(fnp.asarray(values), order, axis=dimension))


# --------------------------------------------------------------------------------------
# Elementwise and shapes


def clamp(min, x, max):
    """``x`` clipped to ``[min, max]`` (JAX's argument order: the bounds around ``x``)."""
    fnp = _fnp()
    return fnp.minimum(fnp.maximum(x, min), max)


def rsqrt(x):
    """``1 / sqrt(x)``."""
    fnp = _fnp()
    return 1.0 / fnp.sqrt(x)


def lgamma(x):
    """``log|Gamma(x)|`` (= scipy.special.gammaln)."""
    from ..scipy.special import gammaln

    return gammaln(x)


def erf_inv(x):
    """The inverse error function (JAX's name for funcad.lax.special's ``erfinv``).

    >>> import funcad as fa
    >>> round(float(fa.lax.erf_inv(0.5)), 12)
    0.476936276204
    """
    from .special import erfinv

    return erfinv(_fnp().asarray(x))


def square(x):
    """``x * x``."""
    return _fnp().square(x)


def is_finite(x):
    """Elementwise ``isfinite``."""
    return _fnp().isfinite(x)


def rem(x, y):
    """The remainder with the sign of ``x`` (C's ``fmod``; JAX's ``lax.rem``)."""
    return _fnp().fmod(x, y)


def select_n(which, *cases):
    """``cases[which]`` elementwise: a boolean ``which`` picks ``cases[1]`` where True."""
    fnp = _fnp()
    if not cases:
        raise ArgumentError("select_n: give at least one case.")
    which = fnp.asarray(which)
    if get_aval(which).dtype == np.bool_:
        if len(cases) != 2:
            raise ArgumentError(f"select_n: a boolean selector takes 2 cases, got {len(cases)}.")
        return fnp.where(which, cases[1], cases[0])
    out = cases[-1]
    for i in range(len(cases) - 2, -1, -1):
        out = fnp.where(which == i, cases[i], out)
    return out


def iota(dtype, size: int):
    """``arange(size)`` of ``dtype``."""
    return np.arange(int(size), dtype=dtype)


def broadcast(operand, sizes):
    """``operand`` with new leading axes of ``sizes``."""
    fnp = _fnp()
    operand = fnp.asarray(operand)
    return fnp.broadcast_to(operand, tuple(sizes) + get_aval(operand).shape)


def broadcast_in_dim(operand, shape, broadcast_dimensions):
    """``operand``'s axis ``i`` becomes axis ``broadcast_dimensions[i]`` of ``shape``."""
    fnp = _fnp()
    operand = fnp.asarray(operand)
    src = get_aval(operand).shape
    expanded = [1] * len(shape)
    for i, d in enumerate(broadcast_dimensions):
        expanded[d] = src[i]
    return fnp.broadcast_to(fnp.reshape(operand, tuple(expanded)), tuple(shape))


def expand_dims(array, dimensions):
    """``array`` with size-1 axes inserted at ``dimensions``."""
    return _fnp().expand_dims(array, tuple(dimensions))


def squeeze(array, dimensions):
    """``array`` without its size-1 axes ``dimensions``."""
    return _fnp().squeeze(array, tuple(dimensions))


def rev(operand, dimensions):
    """``operand`` reversed along ``dimensions``."""
    return _fnp().flip(operand, tuple(dimensions))


def collapse(operand, start_dimension: int, stop_dimension: int | None = None):
    """Merge axes ``start_dimension:stop_dimension`` into one."""
    fnp = _fnp()
    operand = fnp.asarray(operand)
    shape = get_aval(operand).shape
    stop = len(shape) if stop_dimension is None else stop_dimension
    merged = int(np.prod(shape[start_dimension:stop], dtype=np.int64))
    return fnp.reshape(operand, shape[:start_dimension] + (merged,) + shape[stop:])


def pad(operand, padding_value, padding_config):
    """``jax.lax.pad``: per axis ``(low, high, interior)``; negative low/high crop.

    >>> import funcad as fa, numpy as np
    >>> fa.lax.pad(np.array([1.0, 2.0]), 0.0, [(1, 2, 1)])
    array([0., 1., 0., 2., 0., 0.])
    """
    fnp = _fnp()
    operand = fnp.asarray(operand)
    shape = get_aval(operand).shape
    if len(padding_config) != len(shape):
        raise ShapeError(f"pad: padding_config has {len(padding_config)} entries for an operand "
                         f"of shape {shape}; give (low, high, interior) per axis.")
    grown, place, crop = [], [], []
    for n, (lo, hi, inner) in zip(shape, padding_config):
        if inner < 0:
            raise ShapeError(f"pad: interior padding must be >= 0, got {inner}.")
        core_len = n + builtins.max(n - 1, 0) * inner
        pl, ph = builtins.max(lo, 0), builtins.max(hi, 0)
        grown.append(pl + core_len + ph)
        place.append(builtins.slice(pl, pl + core_len, inner + 1))
        crop.append(builtins.slice(-lo if lo < 0 else 0, grown[-1] + hi if hi < 0 else None))
    dt = get_aval(operand).dtype
    out = fnp.full(tuple(grown), padding_value, dtype=dt) if not isinstance(padding_value, Tracer) \
        else fnp.broadcast_to(fnp.asarray(padding_value).astype(dt), tuple(grown))
    from . import scatter
    from .elementwise import convert_element_type

    template = tuple(("slice", p.start, p.stop, p.step) for p in place)
    out = scatter.index_set(out, convert_element_type(operand, dt), [], template)
    return fnp.asarray(out)[tuple(crop)]


def full_like(x, fill_value, dtype=None, shape=None):
    """An array shaped (and typed) like ``x`` filled with ``fill_value``."""
    aval = get_aval(x)
    return _fnp().full(aval.shape if shape is None else shape, fill_value,
                       dtype=aval.dtype if dtype is None else dtype)


def zeros_like_array(x):
    """Zeros shaped and typed like ``x``."""
    return full_like(x, 0)


def reduce_and(operand, axes):
    """Logical AND over ``axes``."""
    return _fnp().all(operand, axis=tuple(axes))


def reduce_or(operand, axes):
    """Logical OR over ``axes``."""
    return _fnp().any(operand, axis=tuple(axes))


def bitwise_not(x):
    """Logical/bitwise NOT (``~x``)."""
    return _fnp().invert(x)


# --------------------------------------------------------------------------------------
# Implicit differentiation: custom_root and custom_linear_solve


def closure_convert(fun: Callable, *example_args):
    """``(converted, consts)``: ``converted(*args, *consts)`` computes ``fun(*args)`` with the
    traced values ``fun`` closes over made explicit arguments (``jax.closure_convert``), so a
    custom rule can differentiate with respect to them."""
    from .control import _eval, _trace_user

    leaves, tree = tree_flatten(example_args)
    avals = [core.ShapedArray(get_aval(x).shape, get_aval(x).dtype) for x in leaves]
    cj, consts, out_tree = _trace_user(fun, tree, avals, "closure_convert")
    n_args = len(leaves)

    def converted(*args_and_consts):
        args, cs = args_and_consts[:len(example_args)], args_and_consts[len(example_args):]
        flat = tree_flatten(tuple(args))[0]
        assert len(flat) == n_args
        return tree_unflatten(out_tree, _eval(cj, *cs, *flat))

    return converted, list(consts)


def _split_float(consts):
    """Indices of the floating-point constants (the ones with derivatives)."""
    return [i for i, c in enumerate(consts) if get_aval(c).dtype.kind == "f"]


def _convert_with_solver(fun, solve, example):
    """What custom_root and custom_linear_solve share: ``fun`` with its closed-over values made
    explicit (``fun_conv(x, *consts)``), the positions ``fl`` of the float ones (those get
    derivatives), ``with_float(float_consts)`` putting new float values back among the
    constants, and ``solve`` converted the same way (its own closed-over values get none)."""
    fun_conv, consts = closure_convert(fun, example)
    fl = _split_float(consts)

    def with_float(float_consts):
        cs = list(consts)
        for i, c in zip(fl, float_consts):
            cs[i] = c
        return cs

    solve_conv, s_consts = closure_convert(lambda x, *cs: solve(lambda y: fun_conv(y, *cs), x),
                                           example, *consts)
    return fun_conv, consts, fl, with_float, solve_conv, s_consts


def custom_root(f: Callable, initial_guess, solve: Callable, tangent_solve: Callable,
                has_aux: bool = False):
    """A root of ``f`` found by ``solve(f, initial_guess)``, differentiated implicitly:
    ``dx = -tangent_solve(g, df)`` with ``g = v -> J_x f(x) v`` at the root, so the solver's
    iterations are never differentiated (``jax.lax.custom_root``). ``f`` may close over
    traced values; their derivatives flow through the root. With ``has_aux``, ``solve``
    returns ``(root, aux)`` and ``aux`` gets no derivative.

    >>> import funcad as fa
    >>> def sqrt_newton(a):
    ...     def solve(f, x):
    ...         for _ in range(30):
    ...             x = x - f(x) / (2 * x)
    ...         return x
    ...     return fa.lax.custom_root(lambda x: x * x - a, 1.0, solve, lambda g, y: y / g(1.0))
    >>> round(float(fa.grad(sqrt_newton)(4.0)), 6)   # 1 / (2 sqrt(4))
    0.25
    """
    from .. import api
    from ..custom_derivatives import custom_jvp
    from .elementwise import stop_gradient

    guess = tree_map(lambda x: _fnp().asarray(x), initial_guess)
    f_conv, consts, fl, with_float, solve_conv, s_consts = _convert_with_solver(f, solve, guess)

    @custom_jvp
    def root(float_consts, s_consts, x0):
        return solve_conv(x0, *with_float(float_consts), *s_consts)

    @root.defjvp
    def root_jvp(primals, tangents):
        float_consts, s_consts, x0 = primals
        d_consts = tangents[0]
        out = root(float_consts, s_consts, x0)
        x = out[0] if has_aux else out
        cs = with_float(float_consts)
        _, df = api.jvp(lambda fc: f_conv(x, *with_float(fc)), (list(float_consts),), (list(d_consts),))
        g = lambda v: api.jvp(lambda y: f_conv(y, *cs), (x,), (v,))[1]  # noqa: E731
        dx = tree_map(lambda t: -t, tangent_solve(g, df))
        if has_aux:
            return out, (dx, tree_map(lambda a: _fnp().zeros_like(a), out[1]))
        return out, dx

    return root([consts[i] for i in fl], s_consts, tree_map(stop_gradient, guess))


def custom_linear_solve(matvec: Callable, b, solve: Callable, transpose_solve: Callable | None = None,
                        symmetric: bool = False, has_aux: bool = False):
    """``x`` with ``matvec(x) == b``, found by ``solve(matvec, b)`` and differentiated
    implicitly (``jax.lax.custom_linear_solve``): ``dx = solve(matvec, db - dA x)``, where
    ``dA`` is the derivative of the values ``matvec`` closes over. The solver's iterations
    are never differentiated; reverse mode transposes ``solve`` applied to the tangent, so
    ``solve`` must be written with funcad operations (any funcad solver is).
    ``transpose_solve`` and ``symmetric`` are accepted for JAX compatibility.

    >>> import funcad as fa, funcad.numpy as fnp, numpy as np
    >>> a = np.array([[2.0, 1.0], [1.0, 3.0]])
    >>> x = fa.lax.custom_linear_solve(lambda v: a @ v, np.array([1.0, 2.0]),
    ...                                lambda mv, b: fnp.linalg.solve(a, b))
    >>> np.allclose(a @ x, [1.0, 2.0])
    True
    """
    from .. import api
    from ..custom_derivatives import custom_jvp

    b = tree_map(lambda x: _fnp().asarray(x), b)
    mv_conv, consts, fl, with_float, solve_conv, s_consts = _convert_with_solver(matvec, solve, b)

    @custom_jvp
    def lsolve(float_consts, s_consts, b):
        return solve_conv(b, *with_float(float_consts), *s_consts)

    @lsolve.defjvp
    def lsolve_jvp(primals, tangents):
        float_consts, s_consts, b = primals
        d_consts, _, db = tangents
        out = lsolve(float_consts, s_consts, b)
        x = out[0] if has_aux else out
        cs = with_float(float_consts)
        _, dax = api.jvp(lambda fc: mv_conv(x, *with_float(fc)), (list(float_consts),),
                         (list(d_consts),))
        rhs = tree_map(lambda p, q: p - q, db, dax)
        dx = solve_conv(rhs, *cs, *s_consts)
        dx = dx[0] if has_aux else dx
        if has_aux:
            return out, (dx, tree_map(lambda a: _fnp().zeros_like(a), out[1]))
        return out, dx

    return lsolve([consts[i] for i in fl], s_consts, b)


def _static_difference(stop, start):
    """``stop - start`` as a Python int when it is the same for every value of the traced
    inputs (``i + k`` minus ``i``), else None. Concrete values are read; staged ones are
    followed back through add/sub/mul-by-constant/neg/convert equations (a linear form)."""
    from ..batching import BatchTracer

    fnp = _fnp()
    d = fnp.asarray(stop) - fnp.asarray(start)
    while isinstance(d, Tracer):  # a concrete value, or one batched (vmap) but uniform
        c = core.maybe_concrete(d)
        if c is not None:
            d = c
        elif isinstance(d, BatchTracer):
            d = d.val
        elif hasattr(d, "primal"):
            d = d.primal
        else:
            break
    if not isinstance(d, Tracer):
        d = np.asarray(d)
        return int(d.flat[0]) if d.size and (d == d.flat[0]).all() else None
    forms = [_linear_form(v) for v in (stop, start)]
    if builtins.any(f is None for f in forms):
        return None
    diff = dict(forms[0])
    for k, v in forms[1].items():
        diff[k] = diff.get(k, 0) - v
    if builtins.any(v != 0 for k, v in diff.items() if k is not None):
        return None
    return int(diff.get(None, 0))


def _linear_form(x):
    """``{atom: coefficient, None: constant}`` for an integer value, or None."""
    from ..batching import BatchTracer
    from ..jaxpr import Literal, StagingTracer

    if not isinstance(x, Tracer):
        return {None: int(np.asarray(x))}
    while isinstance(x, BatchTracer) or hasattr(x, "primal"):
        x = x.val if isinstance(x, BatchTracer) else x.primal
        if not isinstance(x, Tracer):
            return {None: int(np.asarray(x))} if np.ndim(x) == 0 else None
    if not isinstance(x, StagingTracer):
        return None
    producers = {}
    for eqn in x._trace.eqns:
        for o in eqn.outputs:
            producers[o] = eqn

    def form(atom, depth=0):
        if type(atom) is Literal:
            return {None: int(np.asarray(atom.val))}
        eqn = producers.get(atom)
        if eqn is None or depth > 50:
            return {atom: 1}
        name, ins = eqn.prim.name, eqn.inputs
        if name in ("add", "sub"):
            a, b = form(ins[0], depth + 1), form(ins[1], depth + 1)
            sign = 1 if name == "add" else -1
            out = dict(a)
            for k, v in b.items():
                out[k] = out.get(k, 0) + sign * v
            return out
        if name == "neg":
            return {k: -v for k, v in form(ins[0], depth + 1).items()}
        if name == "convert_element_type" and eqn.outputs[0].aval.dtype.kind in "iu" \
                and getattr(ins[0], "aval", None) is not None and ins[0].aval.dtype.kind in "iu":
            return form(ins[0], depth + 1)
        if name == "mul":
            a, b = form(ins[0], depth + 1), form(ins[1], depth + 1)
            for p, q in ((a, b), (b, a)):
                if list(q) == [None]:
                    return {k: v * q[None] for k, v in p.items()}
        return {atom: 1}

    return form(x._var if hasattr(x, "_var") else x.var)


def traced_slice_size(stop, start, axis_len: int) -> int:
    """The static size of ``x[start:stop]`` with a traced bound; the clear error otherwise."""
    if stop is None or start is None:
        raise ConcretizationError(
            "x[i:] or x[:i] with a traced i under a transformation: the slice's size would depend "
            "on i's value. Give both bounds with a static difference, as x[i:i + k] (a dynamic "
            "slice of static size k), or use funcad.lax.dynamic_slice_in_dim(x, i, k).")
    k = _static_difference(stop, start)
    if k is None:
        raise ConcretizationError(
            "x[start:stop] with traced bounds whose difference is not static: the slice's size "
            "must be known when tracing (it is the result's shape). Write it as x[i:i + k] with "
            "a Python int k, or use funcad.lax.dynamic_slice_in_dim(x, i, k).")
    if not 0 <= k <= axis_len:
        raise ShapeError(f"x[i:i + {k}]: a dynamic slice of size {k} does not fit an axis of "
                         f"length {axis_len}.")
    return k


# --------------------------------------------------------------------------------------
# JAX's spellings and signatures of names funcad.lax has in its own form


def _unary(name):
    def f(x):
        return getattr(_fnp(), name)(x)

    f.__name__ = f.__qualname__ = name
    f.__doc__ = f"Elementwise ``{name}`` (jax.lax's name for funcad.numpy.{name})."
    return f


acos, acosh, asin, asinh = _unary("arccos"), _unary("arccosh"), _unary("arcsin"), _unary("arcsinh")
atan, atanh = _unary("arctan"), _unary("arctanh")
reciprocal, tan = _unary("reciprocal"), _unary("tan")


def real(x):
    """The real part (``jax.lax.real``)."""
    return _fnp().real(x)


def imag(x):
    """The imaginary part (``jax.lax.imag``)."""
    return _fnp().imag(x)


def conj(x):
    """The complex conjugate (``jax.lax.conj``): complex for a real input, as JAX."""
    fnp = _fnp()
    x = fnp.asarray(x)
    if get_aval(x).dtype.kind != "c":
        x = fnp.astype(x, np.result_type(get_aval(x).dtype, np.complex64))
    return fnp.conj(x)


def complex(x, y):
    """``x + 1j * y`` (``jax.lax.complex``), for real ``x`` and ``y`` of one dtype.

    >>> import funcad.lax as lax
    >>> lax.complex(1.0, 2.0)
    (1+2j)
    """
    from .elementwise import make_complex

    fnp = _fnp()
    (x, y), _ = fnp._promote_float(x, y)
    return make_complex(x, y)


def atan2(x, y):
    """``arctan2(x, y)``."""
    return _fnp().arctan2(x, y)


def _bitwise(name):
    def f(x, y):
        return getattr(_fnp(), name)(x, y)  # (funcad.numpy's: logical on booleans)

    f.__name__ = f.__qualname__ = name
    f.__doc__ = f"``{name}`` of integers; the logical operation on booleans."
    return f


bitwise_and = _bitwise("bitwise_and")
bitwise_or = _bitwise("bitwise_or")
bitwise_xor = _bitwise("bitwise_xor")


def nextafter(x1, x2):
    """The next representable float after ``x1`` towards ``x2``."""
    return _fnp().nextafter(x1, x2)


def broadcasted_iota(dtype, shape, dimension: int):
    """An array of ``shape`` whose values count along axis ``dimension``."""
    shape = tuple(int(n) for n in shape)
    ids = np.arange(shape[dimension], dtype=dtype).reshape(
        [n if i == dimension else 1 for i, n in enumerate(shape)])
    return np.broadcast_to(ids, shape).copy()


def broadcast_to_rank(x, rank: int):
    """``x`` with leading size-1 axes up to ``rank`` axes."""
    fnp = _fnp()
    x = fnp.asarray(x)
    shape = get_aval(x).shape
    return fnp.reshape(x, (1,) * builtins.max(rank - len(shape), 0) + shape)


def index_take(src, idxs, axes):
    """``src[idxs[0], idxs[1], ...]`` along ``axes`` (the other axes kept)."""
    fnp = _fnp()
    src = fnp.asarray(src)
    index = [builtins.slice(None)] * get_aval(src).ndim
    for i, a in zip(idxs, axes):
        index[a] = i
    return src[tuple(index)]


def reduce_xor(operand, axes):
    """Logical XOR over ``axes`` (odd number of True values)."""
    fnp = _fnp()
    return fnp.sum(fnp.asarray(operand).astype(np.int64), axis=tuple(axes)) % 2 == 1


_MONOIDS = {"add": "sum", "mul": "prod", "max": "max", "min": "min", "maximum": "max",
            "minimum": "min", "multiply": "prod", "logical_and": "all", "logical_or": "any",
            "bitwise_and": "all", "bitwise_or": "any"}


def reduce(operands, init_values, computation: Callable, dimensions):
    """``jax.lax.reduce`` for the common monoids (``lax.add``, ``lax.mul``, ``lax.max``,
    ``lax.min``, ``fnp.logical_and``/``or`` and their NumPy spellings): the reduction of
    ``operands`` over ``dimensions`` combined with ``init_values``."""
    fnp = _fnp()
    name = getattr(computation, "__name__", "")
    if not name and getattr(computation, "args", None):  # funcad.lax.add is partial(bind, add_p)
        name = getattr(computation.args[0], "name", "")
    kind = _MONOIDS.get(name)
    if kind is None:
        raise ArgumentError(
            f"lax.reduce: the computation {name or computation!r} is not one funcad recognises "
            f"({', '.join(sorted(_MONOIDS))}); write the reduction with funcad.numpy (fnp.sum, "
            "fnp.max...) or funcad.lax.associative_scan.")
    single = not isinstance(operands, (tuple, list))
    ops = [operands] if single else list(operands)
    inits = [init_values] if single else list(init_values)
    outs = []
    for x, init in zip(ops, inits):
        r = getattr(fnp, kind)(x, axis=tuple(dimensions))
        outs.append(computation(r, init) if kind not in ("all", "any") else
                    (fnp.logical_and if kind == "all" else fnp.logical_or)(r, init))
    return outs[0] if single else tuple(outs)


def split(operand, sizes, axis: int = 0):
    """``operand`` split along ``axis`` into pieces of ``sizes``."""
    fnp = _fnp()
    bounds = np.cumsum([0] + [int(n) for n in sizes])
    return [slice_in_dim(fnp.asarray(operand), int(a), int(b), 1, axis)
            for a, b in zip(bounds[:-1], bounds[1:])]


def argmax(operand, axis: int, index_dtype=np.int64):
    """The index of the largest value along ``axis`` (JAX's signature)."""
    from .sorting import argmax as _argmax

    out = _argmax(operand, axis)
    return out if np.dtype(index_dtype) == get_aval(out).dtype else _fnp().asarray(out).astype(index_dtype)


def argmin(operand, axis: int, index_dtype=np.int64):
    """The index of the smallest value along ``axis`` (JAX's signature)."""
    from .sorting import argmin as _argmin

    out = _argmin(operand, axis)
    return out if np.dtype(index_dtype) == get_aval(out).dtype else _fnp().asarray(out).astype(index_dtype)


def sort(operand, dimension: int = -1, is_stable: bool = True, num_keys: int = 1):
    """Sort along ``dimension`` (JAX's signature). A sequence of operands is sorted by its
    first ``num_keys`` (lexicographically) and the others reordered alike."""
    from .sorting import sort as _sort

    if not isinstance(operand, (tuple, list)):
        return _sort(operand, dimension)
    fnp = _fnp()
    ops = [fnp.asarray(o) for o in operand]
    order = None
    for key in reversed(ops[:num_keys]):  # lexicographic: stable sorts from the last key
        k = key if order is None else fnp.take_along_axis(key, order, axis=dimension)
        o = fnp.argsort(k, axis=dimension, stable=True)
        order = o if order is None else fnp.take_along_axis(order, o, axis=dimension)
    return tuple(fnp.take_along_axis(o, order, axis=dimension) for o in ops)


def cumsum(operand, axis: int = 0, reverse: bool = False):
    """Running sum along ``axis`` (JAX's defaults)."""
    from .cumulative import cumsum as _cumsum

    return _cumsum(operand, axis, reverse)


def cumprod(operand, axis: int = 0, reverse: bool = False):
    """Running product along ``axis`` (JAX's defaults)."""
    from .cumulative import cumprod as _cumprod

    return _cumprod(operand, axis, reverse)


def full(shape, fill_value, dtype=None, *, sharding=None):
    """An array of ``shape`` filled with ``fill_value`` (dtype inferred when not given)."""
    from .shapes import full as _full

    dt = np.result_type(fill_value) if dtype is None and not isinstance(fill_value, Tracer) else dtype
    if isinstance(fill_value, Tracer):
        fnp = _fnp()
        return fnp.broadcast_to(fnp.asarray(fill_value).astype(dtype or get_aval(fill_value).dtype),
                                tuple(shape))
    return _full(shape, fill_value, dt)


def optimization_barrier(operand):
    """Return ``operand`` (funcad's simplifier does not move code across calls anyway)."""
    return operand


def reduce_precision(operand, exponent_bits: int, mantissa_bits: int):
    """Round ``operand`` to a float format with the given bits: float32 or float16 when the
    bits are theirs, otherwise an error."""
    formats = {(8, 23): np.float32, (5, 10): np.float16, (11, 52): np.float64}
    dt = formats.get((int(exponent_bits), int(mantissa_bits)))
    if dt is None:
        raise ArgumentError(f"lax.reduce_precision: ({exponent_bits}, {mantissa_bits}) bits are "
                            "not a format funcad has (float16, float32, float64).")
    fnp = _fnp()
    x = fnp.asarray(operand)
    return x.astype(dt).astype(get_aval(x).dtype)


# jax.lax's names of the special functions funcad.lax.special has (operands promoted)


def _special(name, doc):
    def f(*args):
        from . import special

        fnp = _fnp()
        args = fnp.broadcast_arrays(*[fnp.asarray(a, dtype=float) for a in args])
        return getattr(special, name)(*args)

    f.__doc__ = doc
    return f


igamma = _special("gammainc", "The regularized lower incomplete gamma function P(a, x).")
igammac = _special("gammaincc", "The regularized upper incomplete gamma function Q(a, x).")
betainc = _special("betainc", "The regularized incomplete beta function I_x(a, b).")
zeta = _special("zeta", "The Hurwitz zeta function zeta(x, q).")
bessel_i0e = _special("i0e", "The exponentially scaled modified Bessel function of order 0.")
bessel_i1e = _special("i1e", "The exponentially scaled modified Bessel function of order 1.")
for _f, _n in ((igamma, "igamma"), (igammac, "igammac"), (betainc, "betainc"), (zeta, "zeta"),
               (bessel_i0e, "bessel_i0e"), (bessel_i1e, "bessel_i1e")):
    _f.__name__ = _f.__qualname__ = _n
