"""Fused kernels as loop IR (backend/loopir.py), for the table backend (backend/table.py).

A kernel (fusion.py) becomes a loop nest with its elementwise expressions inlined as scalar
locals (lowering.SCALAR's rules); reductions accumulate in locals when they reduce trailing
axes. Kernels over at least :data:`PARALLEL_MIN_SIZE` elements mark their outer loop
parallel (table_parallel.py runs it on threads); smaller ones stay serial, as a parallel
launch costs more than it saves on them. Consecutive kernels over the same rows share one
outer loop (:func:`_row_groups`).
"""

from __future__ import annotations

import numpy as np

from ..jaxpr import Jaxpr, Literal, Var, _subjaxprs
from ..lax import decompositions as dec
from ..lax.linalg import matmul_p, solve_p
from ..lax.shapes import transpose_p
from . import loopir as ir
from . import lowering
from .fusion import MAX_KERNEL_EQNS, REDUCTIONS, Kernel, is_remap_eqn

# 2^19: a parallel launch costs milliseconds on a busy machine: the Newton step's
# 200,000-element kernel ran 8.8 ms per step parallel against 2.5 ms serial (2 loaded cores,
# measured on the former Numba backend). The 1e6-element elementwise chain stays parallel.
PARALLEL_MIN_SIZE = 1 << 19

# ... and 2^22 in a program that also calls BLAS or LAPACK on a product big enough for OpenBLAS
# to use its own threads (THREADED_BLAS_MIN_WORK). Both thread pools are as large as the
# machine, and each spins a while after its work ends, so a parallel kernel between two BLAS
# calls waits for scheduler slices: on the 2-core machine, quiet, the jitted Jacobian of
# tanh(A x) * x at n = 1000 (a gemv, then one 1000 x 1000 parallel kernel) took 8.2 ms against
# hand NumPy's 0.86 ms, and the Newton step at d = 1000 58 ms against 43 ms. Serial, on the
# loaded machine with one BLAS thread, the Jacobian took 1.2-1.7 ms (hand NumPy 1.0 ms, parallel
# 18.6 ms): a memory-bound kernel of 1e6 elements gains far less than that from a second core.
# Per-example gradients' 25.7e6-element outer product stays parallel.
PARALLEL_MIN_SIZE_BESIDE_BLAS = 1 << 22
# OpenBLAS runs a product on one thread below m n k = 9216 (gemv's threshold: 2304 times
# GEMM_MULTITHREAD_THRESHOLD = 4; gemm's is 65536 x 4); the same bound for LAPACK's n^3.
THREADED_BLAS_MIN_WORK = 9216


class Gen:
    """The loop IR builder's state: names, sizes, statements."""

    def __init__(self):
        self.body: list = []  # loop IR statements
        self.sizes: list[int] = []
        self.slots: dict[tuple[Var, int], ir.Size] = {}  # (value, axis) -> its named size
        self.names: dict[Var, str] = {}
        self.counts: dict[str, int] = {}
        self.parallel_min_size = PARALLEL_MIN_SIZE  # see PARALLEL_MIN_SIZE_BESIDE_BLAS
        self.consts: dict[Var, object] = {}  # outputs of ``full``: inlined as literals
        # Values of a row group that are one scalar per row and read only in the group: the
        # local (an elementwise result or a reduction's accumulator) holding the current row's
        # value. They are never stored in an array (see emit_row_group).
        self.row_scalars: dict[Var, ir.Local] = {}

    def fresh(self, prefix: str) -> str:
        n = self.counts.get(prefix, 0)
        self.counts[prefix] = n + 1
        return f"{prefix}{n}"

    def name(self, v: Var) -> str:
        nm = self.names.get(v)
        if nm is None:
            nm = self.names[v] = self.fresh("v")
        return nm

    def array(self, v: Var) -> ir.Arr:
        return ir.Arr(self.name(v), v.aval.dtype, v.aval.ndim)

    def loop_var(self) -> ir.Local:
        return ir.Local(self.fresh("i"), ir.INT)

    def sizes_of(self, shape, keys) -> list:
        """The sizes of ``shape``: ``1`` literally (a broadcast pattern), any other a named size
        ``n<k>`` (slot k of the kernel's sizes), axis ``d`` sharing the named size of the
        ``(value, axis)`` pairs in ``keys[d]``, equal to it by the operations' semantics
        (broadcasting, reductions), never by coincidence: the loop IR's text is the same for
        other sizes (the table keys kernels by it and their sizes)."""
        out = []
        for n, ks in zip(shape, keys):
            if n == 1:
                out.append(ir.Const(1, ir.INT, bare=True))
                continue
            s = next((self.slots[k] for k in ks if k in self.slots), None)
            if s is None:
                self.sizes.append(int(n))
                s = ir.Size(len(self.sizes) - 1, f"n{len(self.sizes) - 1}")
            for k in ks:
                self.slots.setdefault(k, s)
            out.append(s)
        return out

    def alloc(self, v: Var, fill=None) -> None:
        """A fresh array for ``v`` (of named sizes), filled with ``fill`` (a Const) if given."""
        shape = self.sizes_of(v.aval.shape, [[(v, d)] for d in range(v.aval.ndim)])
        self.body.append(ir.Alloc(self.array(v), tuple(shape), fill))


# --------------------------------------------------------------------------------------
# Kernels


def _index(shape, rank: int, lv) -> tuple:
    off = rank - len(shape)
    return tuple(0 if n == 1 else lv[off + j] for j, n in enumerate(shape))


def _read_index(eqn, a, rank: int, lv) -> tuple:
    """Where ``eqn`` reads its operand ``a`` at loop indices ``lv``: at remapped indices for a
    transpose or unit-axis reshape (:func:`_remap_index`), else with NumPy's broadcasting."""
    return _remap_index(eqn, lv) if is_remap_eqn(eqn) else _index(a.aval.shape, rank, lv)


_INIT = {"sum": 0, "prod": 1}


def _reduction_init(kind, dtype) -> ir.Const:
    dtype = np.dtype(dtype)
    if kind in _INIT:
        return ir.Const(_INIT[kind], dtype)
    if dtype.kind == "f":
        return ir.Const(-np.inf if kind == "max" else np.inf, dtype, bare=True)
    if dtype.kind == "c":  # below (above) every value in NumPy's lexicographic order
        return ir.Const(complex(-np.inf, -np.inf) if kind == "max" else complex(np.inf, np.inf), dtype)
    if dtype.kind == "b":
        return ir.Const(kind != "max", dtype)
    info = np.iinfo(dtype)
    return ir.Const(info.min if kind == "max" else info.max, dtype)


def _update(kind, acc, v, vectorizable=False):
    """The new value of ``acc`` (a local or an array element) with ``v`` accumulated. A float
    sum or product into a local is reassociable (vecmath.radd/rmul): LLVM may then vectorize
    the loop that holds it."""
    if kind in _INIT:
        if vectorizable and acc.dtype in ir.FLOATS:
            return ir.Call(f"_vm.{'radd' if kind == 'sum' else 'rmul'}", [acc, v], acc.dtype)
        return ir.Bin("+" if kind == "sum" else "*", acc, v)
    cmp = ">" if kind == "max" else "<"  # NaN wins, as in NumPy; complex: lexicographic
    if v.dtype.kind != "c":
        return ir.Select(ir.BoolOp("or", [ir.Cmp(cmp, v, acc), ir.Cmp("!=", v, v)]), v, acc)
    # complex: lexicographic, and the first NaN stays (NaNs differ in their other part)
    take = ir.BoolOp("or", [ir.lex_compare(v, acc, cmp), ir.Cmp("!=", v, v)])
    return ir.Select(ir.BoolOp("and", [take, ir.Cmp("==", acc, acc)]), v, acc)


def emit_kernel(g: Gen, k: Kernel, lead=None, per_row: frozenset = frozenset()):
    """Emit kernel ``k`` as a loop nest. With ``lead`` (a loop variable), ``k`` is a member of
    a row group (:func:`emit_row_group`): its outer loop is the group's; its allocations are
    emitted now (before the group's loop), and ``(outer-level initialisations, statements
    inside the group's loop, statements after it)`` are returned. The values in ``per_row``
    (one per row, read only within the group) stay scalar locals."""
    L, r = k.shape, len(k.shape)
    # A unit axis has no loop: its index is 0.
    lv = [0 if n == 1 else g.loop_var() for n in L]
    if lead is not None:
        lv[0] = lead
    sizes = g.sizes_of(L, _axis_keys(k))
    pre: list[list] = [[] for _ in range(r + 1)]
    post: list[list] = [[] for _ in range(r + 1)]
    body: list = []
    loads: dict = {}
    local: dict[Var, ir.Local] = {}
    total = int(np.prod(L, dtype=np.int64))
    parallel_ok = r > 0 and L[0] != 1 and total >= g.parallel_min_size
    whole: list = []  # (accumulator, kind) of the reductions over every axis

    def operand(a, dtype, eqn):
        if type(a) is Literal:
            return ir.Const(a.val, dtype)
        if a in g.consts:
            return ir.Const(g.consts[a], dtype)
        if a in g.row_scalars:
            return ir.cast(g.row_scalars[a], dtype)
        if a in local:
            return ir.cast(local[a], dtype)
        index = _read_index(eqn, a, r, lv)
        key = (a, tuple(i.name if isinstance(i, ir.Local) else i for i in index))
        x = loads.get(key)
        if x is None:
            x = loads[key] = ir.Local(g.fresh("x"), a.aval.dtype)
            body.append(ir.Assign(x, ir.Load(g.array(a), index)))
        return ir.cast(x, dtype)

    for e in k.eqns:  # (in program order)
        if e.outputs[0] in k.materialized - per_row:
            g.alloc(e.outputs[0])
    for eqn in k.eqns:
        out = eqn.outputs[0]
        dt = out.aval.dtype
        kind = REDUCTIONS.get(eqn.prim)
        if kind is None:
            args = [operand(a, d, eqn) for a, d in zip(eqn.inputs, lowering.compute_dtypes(eqn))]
            s = local[out] = ir.Local(g.fresh("s"), dt)
            body.append(ir.Assign(s, _result(lowering.SCALAR[eqn.prim](args, eqn), eqn)))
            if out in per_row:  # (the kernel is one row: this is the row level)
                g.row_scalars[out] = s
            elif out in k.materialized:
                body.append(ir.Store(g.array(out), _index(L, r, lv), s))
            continue
        v = operand(eqn.inputs[0], dt, eqn)
        axes = eqn.params["axes"]
        kept = tuple(lv[j] for j in range(r) if j not in axes)
        o = g.array(out)
        depth = min(axes) if axes else r
        if tuple(axes) == tuple(range(depth, r)):  # trailing axes: a local accumulator
            acc = ir.Local(g.fresh("acc"), dt)
            pre[depth].append(ir.Assign(acc, _reduction_init(kind, dt)))
            body.append(ir.Assign(acc, _update(kind, acc, v, vectorizable=True)))
            if depth == 0:
                whole.append((acc, kind))
            if out in per_row:  # (a reduction of each row: depth 1) read from its accumulator
                g.row_scalars[out] = acc
            else:
                g.alloc(out)
                post[depth].append(ir.Store(o, kept, acc))
            if depth == 0 and kind in ("max", "min"):
                parallel_ok = False
        else:
            g.alloc(out, _reduction_init(kind, dt))
            if kind in _INIT:
                body.append(ir.Store(o, kept, v, aug="+" if kind == "sum" else "*"))
            else:
                body.append(ir.Store(o, kept, _update(kind, ir.Load(o, kept), v)))
            if 0 in axes:
                parallel_ok = False

    def nest(d: int) -> list:
        """The statements at loop depth ``d`` (an axis of size 1 has no loop)."""
        if d == r:
            return pre[r] + body + post[r]
        inner = nest(d + 1)
        if L[d] != 1:
            inner = [ir.Loop(lv[d], sizes[d], inner, parallel=d == 0 and parallel_ok)]
        return pre[d] + inner + post[d]

    if lead is not None:  # a row group's member: never parallel (see _row_groups)
        return pre[0], nest(1), post[0]
    if parallel_ok and whole:
        return _emit_chunked(g, lv[0], sizes[0], pre[0], nest(1), post[0], whole)
    g.body += nest(0)
    return None


#: A parallel kernel reducing over every axis runs as at most this many chunks of its rows.
CHUNKS = 64


def _emit_chunked(g, i, n, pre, inner, post, whole) -> None:
    """A parallel kernel whose reductions run over every axis: a parallel loop over at most
    :data:`CHUNKS` chunks of the outer axis ``i`` (of size ``n``), each accumulating into its
    own locals, then the chunks' partial results combined in order (``acc += v`` across
    threads would keep the loop from vectorizing: see vecmath.radd). The chunking depends on
    the size alone, never on the thread count, so results repeat."""
    nc, c = ir.Local(g.fresh("nc"), ir.INT), ir.Local(g.fresh("c"), ir.INT)
    g.body.append(ir.Assign(nc, ir.Call("min", [n, ir.Const(CHUNKS, ir.INT, bare=True)], ir.INT)))
    parts = {acc.name: ir.Arr(g.fresh("part"), acc.dtype, 1) for acc, _ in whole}
    g.body += [ir.Alloc(part, (nc,)) for part in parts.values()]

    def bound(k):  # k * n // nc
        return ir.Bin("//", ir.Bin("*", k, n), nc)

    rows = ir.Loop(i, bound(ir.Bin("+", c, ir.Const(1, ir.INT, bare=True))), inner, start=bound(c))
    g.body.append(ir.Loop(c, nc, pre + [rows] + [ir.Store(parts[acc.name], (c,), acc) for acc, _ in whole],
                          parallel=True))
    g.body += [ir.Assign(acc, _reduction_init(kind, acc.dtype)) for acc, kind in whole]
    g.body.append(ir.Loop(c, nc, [ir.Assign(acc, _update(kind, acc, ir.Load(parts[acc.name], (c,))))
                                  for acc, kind in whole]))
    g.body += post


# --------------------------------------------------------------------------------------
# Row groups: consecutive kernels sharing their outer loop


def _row_groups(items: list, parallel_min_size: int = PARALLEL_MIN_SIZE) -> list:
    """Group consecutive kernels over the same leading size (the rows of a softmax, a
    per-example loss...) into ONE outer loop, each keeping its inner loops: row i of every
    member is computed before row i of the next, so a member may read what an earlier one
    wrote to row i (its elementwise values, and reductions over other axes) but nothing a
    reduction over the rows produced.
    An item that cannot join (a single equation, a kernel of another shape) is emitted
    before the group if it reads nothing the group computes, else after it, as long as no
    later member reads what it computes. Returns the items, row groups as lists."""
    out: list = []
    group: list[Kernel] = []
    produced: set = set()
    row_reduced: set = set()
    deferred: list = []     # items that wait for the group to end
    deferred_out: set = set()

    def flush():
        if len(group) > 1:
            out.append(list(group))
        elif group:
            out.append(group[0])
        out.extend(deferred)
        for c in (group, produced, row_reduced, deferred, deferred_out):
            c.clear()

    def add(k: Kernel):
        group.append(k)
        produced.update(k.materialized, k.reduced)
        for e in k.eqns:
            if e.prim in REDUCTIONS and 0 in e.params["axes"]:
                row_reduced.add(e.outputs[0])

    for item in items:
        reads = {a for e in item.eqns for a in e.inputs if type(a) is Var}
        if isinstance(item, Kernel) and _groupable(item, parallel_min_size):
            if not (group and item.shape[0] == group[0].shape[0] and not reads & deferred_out
                    and sum(len(k.eqns) for k in group) + len(item.eqns) <= MAX_KERNEL_EQNS
                    and _row_local(item, produced, row_reduced)):
                flush()
            add(item)
        elif group and not reads & (produced | deferred_out):
            out.append(item)  # emitted before the open group
        elif group:
            deferred.append(item)
            deferred_out.update(v for e in item.eqns for v in e.outputs)
        else:
            out.append(item)
    flush()
    return out


def _groupable(k: Kernel, parallel_min_size: int = PARALLEL_MIN_SIZE) -> bool:
    """A kernel that would run serial anyway (see emit_kernel) may join a row group."""
    return len(k.shape) > 0 and k.shape[0] != 1 and int(np.prod(k.shape, dtype=np.int64)) < parallel_min_size


def _axis_keys(k: Kernel) -> list:
    """Per axis of ``k``'s loop shape, the ``(value, axis)`` pairs of its operands and results
    along it: NumPy's broadcasting makes an operand's axis either 1 or the loop's size."""
    r = len(k.shape)
    keys: list[list] = [[] for _ in range(r)]
    for e in k.eqns:
        out = e.outputs[0]
        if e.prim in REDUCTIONS:
            kept = [d for d in range(r) if d not in e.params["axes"]]
            for j, d in enumerate(kept):
                keys[d].append((out, j))
        else:
            for d in range(r):
                keys[d].append((out, d))
        if is_remap_eqn(e):
            continue
        for a in e.inputs:
            if type(a) is Var:
                off = r - a.aval.ndim
                for j, n in enumerate(a.aval.shape):
                    if n != 1 and off + j >= 0:
                        keys[off + j].append((a, j))
    return keys


def _row_local(k: Kernel, produced: set, row_reduced: set) -> bool:
    """Whether every value ``k`` reads from the group is read at the current row."""
    lead = ir.Local("I", ir.INT)
    lv = [0 if n == 1 else ir.Local(f"j{d}", ir.INT) for d, n in enumerate(k.shape)]
    lv[0] = lead
    for e in k.eqns:
        for a in e.inputs:
            if type(a) is not Var or a not in produced:
                continue
            if a in row_reduced:
                return False
            index = _read_index(e, a, len(k.shape), lv)
            if not index or index[0] is not lead:
                return False
    return True


def _remap_index(eqn, lv) -> tuple:
    """The operand index of a transpose or unit-axis reshape at loop indices ``lv``."""
    x = eqn.inputs[0].aval.shape
    if eqn.prim is transpose_p:
        perm = eqn.params["permutation"]
        return tuple(0 if x[m] == 1 else lv[perm.index(m)] for m in range(len(x)))
    out_axes = [j for j, n in enumerate(eqn.outputs[0].aval.shape) if n != 1]
    it = iter(out_axes)
    return tuple(0 if n == 1 else lv[next(it)] for n in x)


def _result(expr, eqn):
    """``expr`` converted to the output dtype unless it has it already (float64 operands to
    a float64 result; comparisons and logic give bools)."""
    out = eqn.outputs[0].aval.dtype
    if out.kind == "b" or not eqn.inputs:
        return expr
    if out == np.float64 and all(np.dtype(d) == out for d in lowering.compute_dtypes(eqn)):
        return expr
    return ir.Cast(expr, out)


def _per_row(kernels: list, read_later: set) -> frozenset:
    """The values a row group computes as one scalar per row and nothing after it reads:
    elementwise results of a kernel over (rows, 1, ...) and reductions of each row over the
    trailing axes. They stay locals of the group's loop (no array, no store, no load)."""
    rows = kernels[0].shape[0]
    out = set()
    for k in kernels:
        one_per_row = k.shape[1:] == (1,) * (len(k.shape) - 1)
        for e in k.eqns:
            v = e.outputs[0]
            if v in read_later or v.aval.shape[:1] != (rows,) or any(n != 1 for n in v.aval.shape[1:]):
                continue
            if e.prim in REDUCTIONS:
                axes = tuple(e.params["axes"])
                if axes and axes == tuple(range(1, len(k.shape))):
                    out.add(v)
            elif one_per_row and v in k.materialized:
                out.add(v)
    return frozenset(out)


def emit_row_group(g: Gen, kernels: list, per_row: frozenset = frozenset()) -> None:
    """Kernels sharing one outer loop (see :func:`_row_groups`); the values in ``per_row``
    (see :func:`_per_row`) stay scalar locals."""
    lead = g.loop_var()
    size = g.sizes_of(kernels[0].shape[:1], _axis_keys(kernels[0])[:1])[0]
    parts = [emit_kernel(g, k, lead, per_row) for k in kernels]
    # (the members' initialisations after all their allocations, next to the loop)
    g.body += [s for before, _, _ in parts for s in before]
    g.body.append(ir.Loop(lead, size, [s for _, inner, _ in parts for s in inner]))
    g.body += [s for _, _, after in parts for s in after]


def calls_threaded_blas(jaxpr: Jaxpr) -> bool:
    """Whether ``jaxpr`` (its nested jaxprs too) calls BLAS or LAPACK on a product large
    enough for OpenBLAS to run it on several threads (see PARALLEL_MIN_SIZE_BESIDE_BLAS)."""
    for e in jaxpr.eqns:
        if e.prim in _BLAS_PRIMS:
            # One call's work (a batch makes one call per matrix): m n k, or n^3.
            a = e.inputs[0].aval.shape
            m_n = e.outputs[0].aval.shape[-2:] if e.prim is matmul_p else a[-2:]
            if int(np.prod(m_n, dtype=np.int64)) * (a[-1] if a else 1) >= THREADED_BLAS_MIN_WORK:
                return True
        elif any(calls_threaded_blas(j) for j in _subjaxprs(e.params)):
            return True
    return False


# The primitives that call BLAS or LAPACK (matmul through ?gemm, solve through ?gesv, the
# decompositions through NumPy); einsum is loops.
_BLAS_PRIMS = frozenset({matmul_p, solve_p, dec.triangular_solve_p, dec.cholesky_p, dec.eigh_p, dec.qr_p,
                         dec.svd_p, dec.det_p, dec.slogdet_p, dec.pinv_p, dec.lu_p})
