"""Advanced indexing on the table: ``x[idx]`` (gather), ``index_add`` (scatter-add, a
gather's transpose) and ``index_set`` (``x.at[idx].set``) at index arrays, as loop kernels
(codegen's loop IR); ``index_set`` at a basic index too (a copy into a view).

A gather is a loop nest over its result's axes: the index arrays are read once per element
of their broadcast shape (loops placed where NumPy puts those axes: in place of adjacent
advanced indices, else first), each value wrapped if negative and checked against its axis,
then the inner loops copy from ``x`` at those positions (its slices and integers a view of
``x``: no arithmetic). ``index_add`` is the same nest adding the (broadcast) updates into a
copy of ``x``, in the result's order: repeated indices accumulate, as ``np.add.at``;
``index_set`` stores them (the last of repeated indices wins, as NumPy's assignment).

An out-of-bounds index raises NumPy's IndexError, as eagerly: a status word per index array
keeps its first bad value (in the array's order; the first array with one raises) and the
kernel then sets the program's stop word; the read or write itself is clamped to 0, never
outside ``x``. Host steps (rare): boolean index arrays (a concrete mask is made integer
arrays before it gets here), dtypes loopir has no loops for, an advanced axis of size 0 with
indices to check, updates of another dtype than ``x``, ``index_add`` of booleans.
"""

from __future__ import annotations

import math

import numpy as np

from ..jaxpr import Var
from ..lax.scatter import index_set_p
from ..lax.shapes import _build_index, _expand_ellipsis, _index_shape, _is_basic, index_add_p, index_p
from . import loopir as ir
from . import table
from .table import Loops, Region, Unsupported

INT = ir.INT
_view_index, _view_index_add = table.SINGLE[index_p], table.SINGLE[index_add_p]


# --------------------------------------------------------------------------------------
# Loop kernels' calls (also einsum's and table_linalg.py's)


class Checked(Loops):
    """A loop kernel whose last ``n_status`` arrays are status words (a gather's first bad
    index, a small solve's failure: table_linalg.py): the kernel sets the program's stop
    word if one of them is nonzero, so that nothing after it runs."""

    def __init__(self, body, arrays, strides, sizes, n_status):
        super().__init__(body, arrays, strides, sizes)
        self.n_status = n_status

    def emit(self, b, mod, ptrs) -> None:
        from llvmlite import ir as L

        super().emit(b, mod, ptrs)
        i64 = L.IntType(64)
        bad = L.Constant(i64, 0)
        for p in ptrs[len(ptrs) - self.n_status:]:
            bad = b.or_(bad, b.load(b.bitcast(p, i64.as_pointer())))
        with b.if_then(b.icmp_unsigned("!=", bad, L.Constant(i64, 0))):
            stop(b)


def stop(b) -> None:
    """Set the program's stop word (table_runtime.py): the interpreter stops after this kernel."""
    from llvmlite import ir as L

    word = b.gep(b.function.args[0], [L.Constant(L.IntType(64), -1)])
    b.store(b.inttoptr(L.Constant(L.IntType(64), 1), word.type.pointee), word)


def call_loops(plan, tag, loops: Loops, regions) -> None:
    """A call of the loop kernel ``loops`` on ``regions`` (one region per array), the kernel
    shared by every call of its text, arrays, strides and sizes (``tag`` names its kind)."""
    if not all(table.supported(s) for s in loops.body):
        raise Unsupported(f"{', '.join(sorted({a.dtype.name for a in loops.arrays}))} loops")
    text = "\n".join(ln for s in loops.body for ln in ir.lines(s))
    arrays = tuple((a.name, a.dtype.name, a.ndim) for a in loops.arrays)
    key = (tag, text, arrays, tuple(map(tuple, loops.strides)), tuple(loops.sizes))
    plan.call(key, lambda: loops, regions)


# --------------------------------------------------------------------------------------
# Gathers and scatters


def _out_of_bounds(axis: int, size: int):
    def error(info):  # info: the bad index, plus one if nonnegative (so never 0)
        raise IndexError(f"index {info - 1 if info > 0 else info} is out of bounds for axis {axis} "
                         f"with size {size}")  # (NumPy's words)
    return error


def _nest(plan, tag, template, idx_vars, x: Region, region_shape, leaf, extra) -> None:
    """A call of the loop nest kernel over ``region_shape`` (the region of ``x`` at
    ``template``, index arrays ``idx_vars``) whose innermost statement is ``leaf(out_index,
    x_arr, x_index)``; its arrays: ``extra``'s (pairs of an array and its region), x's view,
    the index arrays, their status words."""
    idx = [plan.region(a) for a in idx_vars]
    if any(r.dtype.kind not in "iu" for r in idx):
        raise Unsupported("a boolean index array")
    tmpl = _expand_ellipsis(template, len(x.shape))
    used = sum(1 for t in tmpl if t is not None)
    tmpl = list(tmpl) + [("slice", None, None, None)] * (len(x.shape) - used)
    adv = [i for i, t in enumerate(tmpl) if t is not None and t[0] in ("array", "int")]
    bshape = np.broadcast_shapes(*(r.shape for r in idx))
    nd = len(bshape)
    # x's view: slices applied, an integer as an axis of size 1 at its index (in bounds: checked
    # when traced), arrays' axes kept whole (read at their values)
    axes = [t for t in tmpl if t is not None]
    view = table._view(x, tuple(slice(*t[1:]) if t[0] == "slice" else slice(t[1] % n, t[1] % n + 1)
                                if t[0] == "int" else slice(None) for t, n in zip(axes, x.shape)))
    basic, x_axis, axis_of = [], 0, {}  # result axes from slices and None; x axis of each entry
    for i, t in enumerate(tmpl):
        if t is None:
            basic.append(("new", None))
            continue
        axis_of[i] = x_axis
        if t[0] == "slice":
            basic.append(("slice", x_axis))
        x_axis += 1
    # NumPy's layout: the broadcast axes in place of adjacent advanced indices, else first (an
    # Ellipsis between them separates them, even one of no axes)
    given = [i for i, t in enumerate(template) if t is not None and t is not Ellipsis and t[0] != "slice"]
    p = adv[0] if given[-1] - given[0] + 1 == len(given) else 0  # (before adv[0]: slices and None)
    roles = basic[:p] + [("bcast", d) for d in range(nd)] + basic[p:]
    sizes = [1 if kind == "new" else view.shape[d] if kind == "slice" else bshape[d] for kind, d in roles]
    if tuple(sizes) != tuple(region_shape):
        raise Unsupported("an index layout not understood")  # (a safety net)
    if math.prod(bshape) and any(view.shape[axis_of[i]] == 0 for i in adv):
        raise Unsupported("indices into an empty axis")  # (always an IndexError)
    loop_var = [ir.Local(f"i{a}", INT) if n != 1 else 0 for a, n in enumerate(region_shape)]
    x_arr = ir.Arr("x", x.dtype, len(view.shape))
    idx_arrs = [ir.Arr(f"a{k}", r.dtype, len(r.shape)) for k, r in enumerate(idx)]
    status = [plan.status(_out_of_bounds(axis_of[i], view.shape[axis_of[i]]))
              for i in adv if tmpl[i][0] == "array"]
    st_arrs = [ir.Arr(f"st{k}", INT, 1) for k in range(len(status))]
    x_index, checks, inits, ends = [None] * len(view.shape), [], [], []
    k = 0
    for i in adv:
        d, n = axis_of[i], view.shape[axis_of[i]]
        t = tmpl[i]
        if t[0] == "int":  # (its axis of the view: size 1)
            x_index[d] = 0
            continue
        r, a = idx[t[1]], idx_arrs[t[1]]
        load = ir.cast(ir.Load(a, tuple(0 if m == 1 else loop_var[p + nd - len(r.shape) + q]
                                        for q, m in enumerate(r.shape))), INT)
        j, s = ir.Local(f"j{k}", INT), ir.Local(f"s{k}", INT)
        zero, size, one = ir.Const(0, INT), ir.Const(n, INT), ir.Const(1, INT)
        negative = ir.Cmp("<", j, zero)
        bad = ir.BoolOp("or", [ir.Cmp("<", j, ir.Const(-n, INT)), ir.Cmp(">=", j, size)])
        first = ir.BoolOp("and", [ir.Cmp("==", s, zero), bad])
        checks += [ir.Assign(j, load),  # (the status: the first bad index, plus one if >= 0)
                   ir.Assign(s, ir.Select(first, ir.Select(negative, j, ir.Bin("+", j, one)), s)),
                   ir.Assign(j, ir.Select(bad, zero, ir.Select(negative, ir.Bin("+", j, size), j)))]
        inits.append(ir.Assign(s, zero))
        ends.append(ir.Store(st_arrs[k], (0,), s))
        x_index[d] = j
        k += 1
    for a, role in enumerate(roles):
        if role[0] == "slice":
            x_index[role[1]] = loop_var[a]
    # (an empty region: no reads or writes, but the indices are checked, as NumPy does)
    empty = 0 in region_shape
    body = [] if empty else [leaf(tuple(loop_var), x_arr, tuple(x_index))]
    for a in reversed(range(len(region_shape) + 1)):  # (the checks: in the last broadcast loop)
        if a < len(region_shape) and region_shape[a] != 1 and (not empty or p <= a < p + nd):
            body = [ir.Loop(loop_var[a], ir.Size(a, f"n{a}"), body)]
        if a == p + nd:
            body = checks + body
    arrays = [a for a, _ in extra] + [x_arr, *idx_arrs, *st_arrs]
    regions = [r for _, r in extra] + [view, *idx, *status]
    strides, sizes = [r.strides for r in regions], list(region_shape)
    call_loops(plan, tag, Checked(inits + body + ends, arrays, strides, sizes, len(status)), regions)


def index(plan, e) -> None:
    """``x[idx]`` at index arrays: a gather loop nest into a fresh array."""
    if _is_basic(e.params["template"]):
        return _view_index(plan, e)
    x, out = plan.region(e.inputs[0]), e.outputs[0]
    if not ir.native(x.dtype):
        raise Unsupported(f"{x.dtype} loops")
    r = plan.regions[out] = plan.fresh(out)
    o = ir.Arr("out", x.dtype, len(r.shape))

    def leaf(out_index, x_arr, x_index):
        return ir.Store(o, out_index, ir.Load(x_arr, x_index))

    _nest(plan, "gather", e.params["template"], e.inputs[1:], x, r.shape, leaf, [(o, r)])


def index_add(plan, e) -> None:
    """``x`` with ``updates`` added at index arrays (repeated ones accumulate): a copy of ``x``
    (a fill if it is a constant), then a scatter-add loop nest."""
    if _is_basic(e.params["template"]):
        return _view_index_add(plan, e)
    if e.outputs[0].aval.dtype.kind == "b":
        raise Unsupported("index_add of booleans")
    _scatter(plan, e, "+")


def index_set(plan, e) -> None:
    """``x`` with ``x[idx] = updates``: a copy of ``x``, then the updates copied into its view
    (a basic index) or stored by a scatter loop nest (where indices repeat, the last wins, as
    in NumPy's assignment)."""
    if not _is_basic(e.params["template"]):
        return _scatter(plan, e, "")
    x, u = (plan.region(a) for a in e.inputs[:2])
    if u.dtype != x.dtype:
        raise Unsupported(f"index_set of {u.dtype} into {x.dtype}")
    r = plan.regions[e.outputs[0]] = plan.fresh(e.outputs[0])
    plan.copy(r, x)
    plan.copy(table._view(r, _build_index(e.params["template"], ())), u)


def _scatter(plan, e, aug) -> None:
    xv, uv, out = e.inputs[0], e.inputs[1], e.outputs[0]
    dt = out.aval.dtype
    if not ir.native(dt) or uv.aval.dtype != dt:
        raise Unsupported(f"a scatter of {uv.aval.dtype} into {dt}")
    const = type(uv) is Var and uv in plan.consts and uv not in plan.regions  # (a `full`: inlined)
    u = Region(0, 0, (), (), dt) if const else plan.region(uv)
    r = plan.regions[out] = plan.fresh(out)
    if type(xv) is Var and xv in plan.consts and xv not in plan.regions:
        plan.fill(r, plan.consts[xv])
    else:
        plan.copy(r, plan.region(xv))
    ua = ir.Arr("u", dt, len(u.shape))
    region_shape = tuple(_index_shape(out.aval.shape, e.params["template"], [a.aval for a in e.inputs[2:]]))
    lead = len(region_shape) - len(u.shape)

    def leaf(out_index, x_arr, x_index):
        u_index = tuple(0 if m == 1 else out_index[lead + q] for q, m in enumerate(u.shape))
        value = ir.Const(plan.consts[uv], dt) if const else ir.Load(ua, u_index)
        return ir.Store(x_arr, x_index, value, aug=aug)

    extra = [] if const else [(ua, u)]
    _nest(plan, f"scatter{aug}", e.params["template"], e.inputs[2:], r, region_shape, leaf, extra)


table.register_single(index_p, index)
table.register_single(index_add_p, index_add)
table.register_single(index_set_p, index_set)
