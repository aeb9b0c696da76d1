"""vmap: vectorizing map, by a batching trace that carries a value with one batch axis.

A :class:`BatchTracer` holds ``val`` (the whole batch, as a value of the enclosing trace)
and ``bdim``, the axis of ``val`` that is the batch (None: the same for every example).
:class:`BatchTrace` applies each primitive's *batching rule*: ``rule(axis_size, vals,
dims, **params) -> (out, out_dim)`` computes the batched operation in one go (a
matrix-vector product batched over vectors becomes one matrix product), never a Python
loop over the examples. Rules run in the parent trace and are written with ``bind``, so
vmap composes with jvp, grad, linearize and with itself.

Rules sit beside each primitive in lax/*.py (``primitive_batchers[prim] = rule``); this
module holds the trace, :func:`vmap` and the helpers that keep those rules short:
:func:`defbroadcasting` for the whole elementwise family (implicit NumPy broadcasting),
:func:`defreducer` for reductions with an ``axes`` parameter, :func:`defvectorized` for
primitives that act on each element independently and ignore axes.

A batch may also be *structured*: a :class:`OneHot` (the identity basis of jacfwd, jacrev,
hessian and ``vmap`` over ``eye``, a diagonal, one leaf's block of a pytree basis) stays
symbolic through the primitives whose rule in ``structured_batchers`` keeps the structure (a
product with the identity is the other operand, with the batch along its contracted axis) and
is materialised, as the dense array it stands for, for every other primitive.
"""

from __future__ import annotations

import functools
import math
from typing import Any, Callable, Sequence

import numpy as np

from . import core
from ._args import _arg_names, _leaf_paths, _to_user
from .core import Primitive, ShapedArray, Trace, Tracer, get_aval
from .errors import BatchingError, ConcretizationError
from .tree_util import tree_flatten, tree_unflatten

primitive_batchers: dict[Primitive, Callable] = {}
# Rules for operands that include a OneHot: ``rule(axis_size, vals, dims, **params) ->
# (out, out_dim)`` or NotImplemented (then the OneHot is materialised for the dense rule).
structured_batchers: dict[Primitive, Callable] = {}
# Collectives over a named vmap axis (lax.psum, axis_index...): ``rule(trace, vals, dims,
# **params) -> (out, out_dim)``, used by the BatchTrace whose axis_name the params name.
collective_batchers: dict[Primitive, Callable] = {}

not_mapped = None


class BatchTracer(Tracer):
    __slots__ = ("val", "bdim", "_aval")

    def __init__(self, trace: BatchTrace, val, bdim: int | None):
        self._trace = trace
        self.val = val
        self.bdim = bdim
        self._aval = None

    @property
    def aval(self) -> ShapedArray:
        a = self._aval
        if a is None:
            va = self.val.aval if type(self.val) is OneHot else get_aval(self.val)
            if self.bdim is None:
                a = va
            else:
                a = core.shaped_array(va.shape[: self.bdim] + va.shape[self.bdim + 1:], va.dtype)
            self._aval = a
        return a


class BatchTrace(Trace):
    def __init__(self, parent: Trace, axis_size: int, axis_name=None):
        super().__init__(parent)
        self.axis_size = axis_size
        self.axis_name = axis_name

    def pure(self, x):
        return BatchTracer(self, x, None)

    def process_primitive(self, prim, args, params):
        vals, dims, batched, structured = [], [], False, False
        for x in args:
            if type(x) is BatchTracer and x._trace is self:
                v = x.val
                vals.append(v)
                dims.append(x.bdim)
                batched = batched or x.bdim is not None
                structured = structured or type(v) is OneHot
            else:
                if isinstance(x, Tracer) and not x._trace.alive:
                    raise core.escaped_tracer_error(x)
                vals.append(x)
                dims.append(None)
        if self.axis_name is not None and prim in collective_batchers \
                and params.get("axis_name") == self.axis_name:
            with core.set_current_trace(self.parent):
                out, out_dim = collective_batchers[prim](self, vals, dims, **params)
            return BatchTracer(self, out, out_dim)
        state = core._state  # set_current_trace, inlined: this is the hot path
        state.trace = self.parent
        try:
            if not batched:
                return core.bind(prim, *vals, **params)
            out = NotImplemented
            if structured:
                srule = structured_batchers.get(prim)
                if srule is not None:
                    out = srule(self.axis_size, vals, dims, **params)
                if out is NotImplemented:
                    vals = [materialize(v) if type(v) is OneHot else v for v in vals]
            if out is NotImplemented:
                rule = primitive_batchers.get(prim)
                if rule is None:
                    raise BatchingError(f"funcad has no batching rule (vmap) for the primitive {prim.name}.")
                out = rule(self.axis_size, vals, dims, **params)
            out, out_dim = out
        finally:
            state.trace = self
        if prim.multiple_results:
            return [BatchTracer(self, o, d) for o, d in zip(out, out_dim)]
        return BatchTracer(self, out, out_dim)

    def concrete_value(self, tracer, why, scalar=False):
        if tracer.bdim is None:
            v = tracer.val
            return v._concrete(why, scalar) if isinstance(v, Tracer) else v
        raise ConcretizationError(
            f"{why} inside vmap, where the value ({tracer.aval.str_short()} per example, "
            f"{self.axis_size} examples) differs from one example to the next, so Python cannot "
            "take one branch for all of them. Use funcad.numpy.where(cond, a, b) to select "
            "per example, or move the test outside the vmapped function.")


# --------------------------------------------------------------------------------------
# Structured batches


class OneHot:
    """A batch of ``axis_size`` examples of shape ``shape`` with at most one nonzero each, kept
    symbolic: example ``b`` is ``coef * e_p`` at flat (C-order) position ``p = b - start``
    when ``0 <= p < size(shape)``, else zero. ``coef`` is None (ones), or a scalar or a value
    of ``shape`` of the parent trace, of dtype ``dtype``; a scalar stands for every position.

    ``OneHot(n, (n,), f64)`` is the identity basis; with ``coef = v`` it is ``diag(v)``; a
    leaf of a pytree basis has ``start`` at its offset. A BatchTracer holding one has batch
    axis 0. It is never an operand of a dense rule (see :func:`materialize`).
    """

    __slots__ = ("axis_size", "shape", "dtype", "start", "coef", "aval")

    def __init__(self, axis_size: int, shape: tuple, dtype, start: int = 0, coef=None):
        self.axis_size, self.shape, self.dtype = axis_size, tuple(shape), np.dtype(dtype)
        self.start, self.coef = start, coef
        self.aval = core.shaped_array((axis_size,) + self.shape, self.dtype)

    size = property(lambda self: math.prod(self.shape))

    def full_block(self) -> bool:
        """Whether every example has its nonzero (the rows of a square identity)."""
        return self.start == 0 and self.size == self.axis_size

    def coef_or_one(self):
        return np.ones((), self.dtype) if self.coef is None else self.coef

    def full_coef(self):
        """The coefficients shaped like one example (ones for None)."""
        c = self.coef
        if c is None:
            return np.ones(self.shape, self.dtype)
        return c if get_aval(c).shape == self.shape else lax.broadcast_to(c, self.shape)

    def like(self, coef=None, shape=None, start=None, dtype=None) -> OneHot:
        """The same layout with other coefficients (converted to ``dtype``), shape or start."""
        dtype = self.dtype if dtype is None else np.dtype(dtype)
        shape = self.shape if shape is None else tuple(shape)
        if coef is not None:
            if not isinstance(coef, Tracer | np.ndarray):
                coef = np.asarray(coef, dtype)
            a = get_aval(coef)
            if a.dtype != dtype:
                coef = lax.convert_element_type(coef, dtype)
            if a.shape not in ((), shape):
                coef = lax.broadcast_to(coef, shape)
        return OneHot(self.axis_size, shape, dtype, self.start if start is None else start, coef)

    def same_layout(self, other) -> bool:
        return (type(other) is OneHot and self.shape == other.shape and self.start == other.start
                and self.axis_size == other.axis_size)

    def takes(self, u) -> bool:
        """Whether the unbatched ``u`` broadcasts into one example without enlarging it (so an
        elementwise product with it keeps one nonzero per example)."""
        s = get_aval(u).shape
        return len(s) <= len(self.shape) and all(
            a == 1 or a == b for a, b in zip(s[::-1], self.shape[::-1]))

    def __repr__(self):
        return (f"OneHot({self.axis_size}, {self.shape}, {self.dtype}, start={self.start}"
                f"{'' if self.coef is None else ', coef'})")


def materialize(x):
    """The dense batch (batch axis 0) a :class:`OneHot` stands for; other values pass through.
    Zeros stay zeros whatever the coefficients (a select, not ``eye * coef``: inf * 0). The
    mask is computed from two ranges (not an n x n constant), so that a compiled program can
    transpose it with a reshape and fuse it into the loop that uses it; the basis itself (no
    coefficients) is the constant ``eye``."""
    if type(x) is not OneHot:
        return x
    m = x.size
    if x.coef is None:  # a constant (the basis itself, when a rule cannot keep it)
        return np.eye(x.axis_size, m, -x.start, dtype=x.dtype).reshape(x.aval.shape)
    rows = np.arange(-x.start, x.axis_size - x.start).reshape(x.axis_size, 1)
    mask = lax.eq(rows, np.arange(m).reshape(1, m))
    coef = x.coef if not get_aval(x.coef).shape else lax.reshape(x.coef, (1, m))
    out = lax.select(mask, coef, np.zeros((), x.dtype))
    if get_aval(out).shape != (x.axis_size, m):
        out = lax.broadcast_to(out, (x.axis_size, m))
    return lax.reshape(out, x.aval.shape)


def is_identity(x) -> bool:
    """Whether ``x`` is a concrete float identity matrix (three entries are checked before the
    whole, so other matrices cost next to nothing)."""
    if type(x) is not np.ndarray or x.ndim != 2 or x.shape[0] != x.shape[1] or x.shape[0] < 2:
        return False
    return (x.dtype.kind == "f" and x[0, 0] == 1 and x[0, 1] == 0 and x[1, 1] == 1
            and np.array_equal(x, np.eye(x.shape[0], dtype=x.dtype)))


def onehot_and_other(vals, dims):
    """``(onehot, other, onehot_first)`` for a binary rule whose operands are a OneHot and an
    unbatched value, else None."""
    (x, y), (dx, dy) = vals, dims
    if type(x) is OneHot and dy is None:
        return x, y, True
    if type(y) is OneHot and dx is None:
        return y, x, False
    return None


# --------------------------------------------------------------------------------------
# Helpers for rules (they run in the parent trace and use lax operations)


def _ndim(x) -> int:
    return len(get_aval(x).shape)  # (getattr(x, "ndim", None) raises inside on Python floats)


# funcad.lax builds on this module (its primitives register their rules here), and the
# helpers here build on a few of its operations (broadcast_to, convert_element_type, reshape, select, transpose):
# funcad/lax/__init__.py hands itself over as ``lax`` when it is imported, so that neither
# module imports the other.
lax = None


def moveaxis(x, src: int, dst: int):
    """``x`` with axis ``src`` moved to position ``dst`` (a transpose; a view in NumPy)."""
    if src == dst:
        return x
    perm = [i for i in range(_ndim(x)) if i != src]
    perm.insert(dst, src)
    return lax.transpose(x, perm)


def bdim_at_front(x, bdim: int | None, size: int):
    """``x`` with its batch axis first; an unbatched ``x`` is broadcast to ``size`` examples."""
    if bdim is None:
        shape = get_aval(x).shape
        return lax.broadcast_to(x, (size,) + shape)
    return moveaxis(x, bdim, 0)


def front_padded(x, bdim: int, rank: int):
    """Batched ``x`` with the batch axis first and size-1 axes after it so that it has
    ``rank`` per-example axes: NumPy's right-aligned broadcasting stays per example."""
    x = moveaxis(x, bdim, 0)
    shape = get_aval(x).shape
    return lax.reshape(x, shape[:1] + (1,) * (rank - len(shape) + 1) + shape[1:])


def matchaxis(x, src: int | None, dst: int, size: int):
    """``x`` (batched at ``src``, or unbatched) with a batch axis of ``size`` at ``dst``."""
    if src is None:
        shape = get_aval(x).shape
        x = lax.reshape(x, shape[:dst] + (1,) + shape[dst:])
        return lax.broadcast_to(x, shape[:dst] + (size,) + shape[dst:])
    return moveaxis(x, src, dst)


def axis_size_of(vals, dims) -> int:
    return next(get_aval(v).shape[d] for v, d in zip(vals, dims) if d is not None)


# --------------------------------------------------------------------------------------
# Rule helpers


def _broadcasting_batcher(prim, axis_size, vals, dims, **params):
    """Batch an elementwise primitive whose operands broadcast implicitly, as in NumPy.

    The output keeps the batch axis ``d`` of the first batched operand of full rank;
    other batched operands are moved to ``d`` (with size-1 axes padded in so their
    per-example axes stay right-aligned), and an unbatched operand whose aligned axes
    would cover ``d`` gets a size-1 axis there. In the common case (all batched at the
    same axis, full rank) nothing moves.
    """
    ranks = [_ndim(v) - (d is not None) for v, d in zip(vals, dims)]
    out_rank = max(ranks)
    d = next((b for b, r in zip(dims, ranks) if b is not None and r == out_rank), 0)
    for b, r in zip(dims, ranks):  # (a loop: this runs for every batched elementwise operation)
        if (r > out_rank - d) if b is None else (b != d or r != out_rank):
            break
    else:
        return core.bind(prim, *vals, **params), d
    new = []
    for v, b, r in zip(vals, dims, ranks):
        if b is None:
            if r > out_rank - d:
                shape = get_aval(v).shape
                at = d - (out_rank - r)
                v = lax.reshape(v, shape[:at] + (1,) + shape[at:])
        elif not (b == d and r == out_rank):
            v = moveaxis(front_padded(v, b, out_rank), 0, d)
        new.append(v)
    return core.bind(prim, *new, **params), d


def defbroadcasting(prim: Primitive) -> None:
    """Register the batching rule of an elementwise primitive (operands broadcast)."""
    primitive_batchers[prim] = functools.partial(_broadcasting_batcher, prim)


def _reducer_batcher(prim, axis_size, vals, dims, *, axes, **params):
    (x,), (d,) = vals, dims
    full_axes = tuple(a + (a >= d) for a in axes)
    out_d = d - sum(a < d for a in axes)
    return core.bind(prim, x, axes=full_axes, **params), out_d


def defreducer(prim: Primitive) -> None:
    """Register the batching rule of a one-operand primitive reducing over ``axes``
    (per-example axes, sorted): the axes shift past the batch axis, which stays put."""
    primitive_batchers[prim] = functools.partial(_reducer_batcher, prim)


def _vectorized_batcher(prim, axis_size, vals, dims, **params):
    (x,), (d,) = vals, dims
    return core.bind(prim, x, **params), d


def defvectorized(prim: Primitive) -> None:
    """Register the batching rule of a one-operand primitive that acts elementwise and
    has no axis parameters (the batch axis passes through)."""
    primitive_batchers[prim] = functools.partial(_vectorized_batcher, prim)


def defnullary(prim: Primitive) -> None:
    """A primitive without operands (``full``) is never batched: its result is the same
    for every example, which the trace represents as unbatched."""

    def rule(axis_size, vals, dims, **params):
        return core.bind(prim, *vals, **params), None

    primitive_batchers[prim] = rule


# --------------------------------------------------------------------------------------
# vmap


def vmap_flat(fun: Callable, in_dims: Sequence, args: Sequence, out_dims, axis_size: int,
              out_names: Callable[[int], str] | None = None, axis_name=None) -> list:
    """Batch ``fun(*flat_args) -> flat list``; ``out_dims`` is a list or a callable giving
    one per output (called with the number of outputs, after ``fun`` has run)."""
    with core.new_trace(BatchTrace, axis_size, axis_name) as trace:
        ins = [x if d is None else BatchTracer(trace, x, d) for x, d in zip(args, in_dims)]
        outs = fun(*ins)
        pairs = [(o.val, o.bdim) if type(o) is BatchTracer and o._trace is trace else (o, None)
                 for o in outs]
    pairs = [(materialize(v), d) for v, d in pairs]
    dsts = out_dims(len(pairs)) if callable(out_dims) else out_dims
    results = []
    for i, ((val, src), dst) in enumerate(zip(pairs, dsts)):
        if dst is None:
            if src is not None:
                what = out_names(i) if out_names else f"output {i}"
                raise BatchingError(
                    f"vmap: out_axes is None for {what}, but it varies along the mapped axis "
                    f"(it depends on a mapped input; shape {get_aval(val).shape} with the batch "
                    f"at axis {src}). Give it an integer out_axes (e.g. 0), or return a value "
                    "that does not depend on the mapped inputs.")
            results.append(val)
        else:
            results.append(matchaxis(val, src, dst, axis_size))
    return results


def _is_axis_spec(a) -> bool:
    return a is None or (isinstance(a, int | np.integer) and not isinstance(a, bool))


def _one_level(x):
    """(node description, children) of one level of a pytree."""
    leaves, td = tree_flatten(x, is_leaf=lambda y: y is not x)
    return (td.nodetype, td.aux, len(td.children)), leaves


def _describe(x) -> str:
    if isinstance(x, dict):
        return f"a dict with keys {sorted(x)}"
    if isinstance(x, tuple | list):
        return f"a {type(x).__name__} of length {len(x)}"
    if x is None:
        return "None"
    aval = None
    try:
        aval = get_aval(x)
    except Exception:  # noqa: BLE001 - any non-array value: describe by its type
        pass
    return f"an array of shape {aval.shape}" if aval is not None else f"a {type(x).__name__}"


def broadcast_prefix(prefix, tree, what: str, where: str) -> list:
    """One axis spec per leaf of ``tree``: ``prefix`` is a pytree prefix of ``tree`` whose
    leaves are ints or None, each applying to the whole subtree it stands over."""
    out: list = []

    def walk(p, t, path):
        if _is_axis_spec(p):
            out.extend([None if p is None else int(p)] * tree_flatten(t)[1].num_leaves)
            return
        p_node, p_kids = _one_level(p)
        t_node, t_kids = _one_level(t)
        if p_node[0] is None or p_node != t_node:
            raise BatchingError(
                f"vmap: {what}{path} is {_describe(p)}, but the matching {where}{path} is "
                f"{_describe(t)}. {what} must be an int, None, or a pytree prefix of the "
                f"{where} (a container of the same structure whose entries are ints or None).")
        keys = p_node[1] if p_node[0] in (dict,) else range(p_node[2])
        for k, pc, tc in zip(keys, p_kids, t_kids):
            walk(pc, tc, f"{path}[{k!r}]")

    walk(prefix, tree, "")
    return out


def _check_axes_arg(axes, name: str):
    leaves, _ = tree_flatten(axes, is_leaf=lambda y: y is None)
    for a in leaves:
        if not _is_axis_spec(a):
            raise BatchingError(f"vmap: {name} must be built of ints and None (in tuples, lists and "
                                f"dicts), got {a!r} in {name}={axes!r}.")


def vmap(fun: Callable, in_axes: Any = 0, out_axes: Any = 0, axis_name: Any = None,
         axis_size: int | None = None, spmd_axis_name: Any = None) -> Callable:
    """Vectorize ``fun`` over a mapped axis of its arguments: one batched computation, as if
    ``fun`` were applied to each slice and the results stacked along ``out_axes``.

    ``in_axes`` is an int (every argument mapped along that axis), None (not mapped), or a
    tuple with one entry per positional argument, each itself an int, None or a pytree
    prefix of that argument; negative axes count from the end. Keyword arguments are
    mapped along axis 0. ``out_axes`` is the same for the output (None: the output does not
    depend on the mapped inputs and is returned once). ``axis_size`` gives the size of the
    mapped axis, needed when no argument is mapped (the output is then broadcast to it).
    ``axis_name`` names the mapped axis for the collectives of funcad.lax (``psum``, ``pmean``,
    ``pmax``, ``pmin``, ``all_gather``, ``axis_index``), as in JAX; ``spmd_axis_name`` is
    accepted and ignored.

    >>> import funcad as fa, funcad.numpy as fnp
    >>> fa.vmap(fnp.dot, in_axes=(0, None))(fnp.ones((3, 2)), fnp.array([1.0, 2.0]))
    array([3., 3., 3.])
    >>> fa.vmap(fa.grad(lambda w, x: fnp.sum(w * x) ** 2), in_axes=(None, 0))(
    ...     fnp.ones(2), fnp.array([[1.0, 0.0], [1.0, 1.0]]))   # per-example gradients
    array([[2., 0.],
           [4., 4.]])
    """
    if isinstance(in_axes, list):
        in_axes = tuple(in_axes)
    _check_axes_arg(in_axes, "in_axes")
    _check_axes_arg(out_axes, "out_axes")
    given_size = axis_size

    @functools.wraps(fun)
    def vmap_f(*args, **kwargs):
        fname = getattr(fun, "__name__", type(fun).__name__)
        if isinstance(in_axes, tuple) and len(in_axes) != len(args):
            raise BatchingError(
                f"vmap: in_axes is a tuple of length {len(in_axes)}, but {fname} was called with "
                f"{len(args)} positional argument(s); give one entry per positional argument "
                "(None for an unmapped one), or a single int for all.")
        names = _arg_names(fun, len(args)) + sorted(kwargs)
        tree_args = tuple(args) + tuple(kwargs[k] for k in sorted(kwargs))
        leaves, in_tree = tree_flatten(tree_args)
        paths = _leaf_paths(tree_args, names)
        axes_prefix = (in_axes if isinstance(in_axes, tuple) else (in_axes,) * len(args))
        dims = broadcast_prefix(axes_prefix + (0,) * len(kwargs), tree_args, "in_axes", "arguments")
        in_dims, sizes = [], []
        for x, d, p in zip(leaves, dims, paths):
            core.check_array_type(x, f"vmap: {p}")
            if d is None:
                in_dims.append(None)
                continue
            try:
                shape = get_aval(x).shape
            except Exception as e:  # noqa: BLE001 - re-raised with the argument's name
                from .tree_util import unregistered_hint

                raise BatchingError(f"vmap: {p} is mapped (in_axes={d}) but is {_describe(x)}, "
                                    "not an array." + unregistered_hint(x)) from e
            if get_aval(x).dtype.kind not in "biufc":
                from .errors import DTypeError

                raise DTypeError(f"vmap: {p} has dtype {get_aval(x).dtype}, which funcad cannot map "
                                 "over; pass numeric (float, integer, boolean or complex) arrays.")
            if not -len(shape) <= d < len(shape):
                raise BatchingError(
                    f"vmap: in_axes={d} is out of range for {p} of shape {shape} (rank {len(shape)}): "
                    f"the mapped axis must be in [{-len(shape)}, {len(shape)})"
                    + (" and a scalar has no axis to map over; give it in_axes None." if not shape else "."))
            d %= len(shape)
            in_dims.append(d)
            sizes.append((p, d, shape[d]))
        if given_size is not None:
            sizes.append(("axis_size", None, int(given_size)))
        if not sizes:
            raise BatchingError(f"vmap: no argument of {fname} is mapped (in_axes={in_axes!r} maps "
                                "nothing); map at least one argument along an axis, or give the "
                                "size of the mapped axis with axis_size=.")
        if len({s for _, _, s in sizes}) > 1:
            listed = ", ".join(f"{p} has size {s} along axis {d}" if d is not None else f"axis_size={s}"
                               for p, d, s in sizes)
            raise BatchingError(f"vmap got inconsistent sizes for the mapped axis: {listed}. "
                                "Every mapped argument must have the same size along its mapped axis.")
        axis_size = sizes[0][2]
        # A concrete identity (vmap over eye(n): a Jacobian written by hand) is mapped as the
        # symbolic basis, so products with it cost nothing (and no inf * 0 appears).
        leaves = [OneHot(axis_size, (axis_size,), x.dtype) if d is not None and is_identity(x) else x
                  for x, d in zip(leaves, in_dims)]
        in_dims = [0 if type(x) is OneHot else d for x, d in zip(leaves, in_dims)]
        store: dict = {}

        def flat(*xs):
            all_args = tree_unflatten(in_tree, xs)
            out = fun(*all_args[: len(args)], **dict(zip(sorted(kwargs), all_args[len(args):])))
            out_leaves, store["out_tree"] = tree_flatten(out)
            store["out"] = out
            return out_leaves

        def out_dims(n):
            specs = broadcast_prefix(out_axes, store["out"], "out_axes", "output")
            out_leaves = tree_flatten(store["out"])[0]
            store["out_paths"] = _leaf_paths((store["out"],), ["output"])
            return [None if a is None else _norm_out_axis(a, o, p)
                    for a, o, p in zip(specs, out_leaves, store["out_paths"])]

        outs = vmap_flat(flat, in_dims, leaves, out_dims, axis_size,
                         out_names=lambda i: store["out_paths"][i], axis_name=axis_name)
        store.pop("out", None)
        return tree_unflatten(store["out_tree"], [_to_user(o) for o in outs])

    return vmap_f


def _norm_out_axis(a: int, out, path: str) -> int:
    rank = get_aval(out).ndim  # per example (``out`` is a tracer of the batch trace or a constant)
    if not -(rank + 1) <= a <= rank:
        raise BatchingError(f"vmap: out_axes={a} is out of range for {path}, which has shape "
                            f"{get_aval(out).shape} per example: the batched result has rank "
                            f"{rank + 1}, so the axis must be in [{-(rank + 1)}, {rank}].")
    return a % (rank + 1)
