"""Code generation: ONE Python source for the whole program, compiled with ``numba.njit``.

The program is ``program(args, S)``: ``args`` is a tuple of every input array (one argument
however many inputs: Numba's typing grows badly past ~30 arguments), ``S`` an int64 array
of the sizes the program uses. Sizes are never written into the source: a loop reads
``S[k]``, so a new batch size produces the same source and reuses the compiled code (only
sizes equal to 1 are written, as they are part of the broadcast pattern). Kernels (fusion.py)
become loop nests with the elementwise expressions inlined as scalar locals; reductions
accumulate in locals when they reduce trailing axes. Each equation is shown as a comment.

Kernels over at least :data:`PARALLEL_MIN_SIZE` elements run their outer loop with
``numba.prange`` (the program is then compiled with ``parallel=True``); smaller ones stay
serial, as a parallel launch costs more than it saves on them. Finally the runs of serial
loop code are handed to ``nbrt.loops`` (backend/loopir.py), which writes their LLVM IR
directly instead of through Numba's typing and lowering.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass

import numpy as np

from ..core import short_dtype
from ..jaxpr import ClosedJaxpr, Jaxpr, Literal, Var
from ..lax.linalg import matmul_p
from ..lax.shapes import full_p, transpose_p
from . import loopir as ir
from . import lowering
from .fusion import MAX_KERNEL_EQNS, REDUCTIONS, Kernel, fuse, is_remap_eqn

# 2^19: Numba's parallel compilation (parfor passes and lowering) costs ~0.5-2 s on top of a
# program's compile, and a parallel launch costs milliseconds on a busy machine: the Newton
# step's 200,000-element kernel ran 8.8 ms per step parallel against 2.5 ms serial (2 loaded
# cores). The 1e6-element elementwise chain stays parallel.
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

# Serial loop nests in the loop subset are compiled by nbrt.loops (backend/loopir.py) rather
# than by Numba's typing and lowering; FUNCAD_DIRECT_LOOPS=0 leaves every loop to Numba.
DIRECT_LOOPS = os.environ.get("FUNCAD_DIRECT_LOOPS", "1").strip().lower() not in ("0", "false", "no", "off")


@dataclass
class Program:
    """A generated program: its ``source``, the sizes ``S`` and, per output, whether it may be
    (a view of) an input."""
    source: str
    S: np.ndarray
    aliases: list
    contiguous: list  # per output: whether it is known C- or F-contiguous


class Gen:
    """The code generator's state: names, sizes, statements. Lowering rules write through it."""

    def __init__(self):
        self.body: list[tuple[int, object]] = []  # (indentation, loop IR statement)
        self.indent = 1
        self.sizes: list[int] = []
        self.slots: dict[tuple[Var, int], ir.Size] = {}  # (value, axis) -> its named size
        self.names: dict[Var, str] = {}
        self.counts: dict[str, int] = {}
        self.may_alias_input: set[Var] = set()
        self.parallel = False
        self.parallel_min_size = PARALLEL_MIN_SIZE  # see PARALLEL_MIN_SIZE_BESIDE_BLAS
        self.consts: dict[Var, object] = {}  # outputs of ``full``: inlined as literals
        # Values known to be C- or F-contiguous (program inputs, fresh arrays, their 2-D
        # transposes): BLAS takes them as they are, so their matmuls need no copying fallback.
        self.contiguous: set[Var] = set()
        # Values of a row group that are one scalar per row and read only in the group: the
        # local (an elementwise result or a reduction's accumulator) holding the current row's
        # value. They are never stored in an array (see emit_row_group).
        self.row_scalars: dict[Var, ir.Local] = {}
        # Arrays the program allocated itself (kernel results, matmul products), and how many
        # items (kernels, single equations; the outputs count as one) of the body being emitted
        # read each value: a kernel writes its result over an operand of its shape that it
        # reads last (see _in_place).
        self.owned: set[Var] = set()
        self.uses: Counter = Counter()
        # The equation that produced each value of the body being emitted (lowering rules that
        # recognise a pattern across equations: lowering._weighted_gram).
        self.producers: dict[Var, object] = {}

    # -- helpers used by the lowering rules ---------------------------------------------

    def emit(self, line: str) -> None:
        """A line of Python (a library call, a control-flow header) at the current indentation."""
        self.body.append((self.indent, ir.Line(line)))

    def add(self, stmt) -> None:
        """A loop IR statement at the current indentation."""
        self.body.append((self.indent, stmt))

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

    def size(self, n: int):
        """A size: ``1`` literally (a broadcast pattern), any other a named size ``n<k>``,
        read from slot k of ``S`` at run time (never written into the source)."""
        if n == 1:
            return ir.Const(1, ir.INT, bare=True)
        self.sizes.append(int(n))
        return ir.Size(len(self.sizes) - 1, f"n{len(self.sizes) - 1}")

    def dim(self, n: int) -> str:
        return self.size(n).py()

    def sizes_of(self, shape, keys) -> list:
        """The sizes of ``shape``, axis ``d`` sharing the named size of the ``(value, axis)``
        pairs in ``keys[d]``, equal to it by the operations' semantics (broadcasting,
        reductions), never by coincidence: the source stays the same for other sizes."""
        out = []
        for n, ks in zip(shape, keys):
            s = next((self.slots[k] for k in ks if k in self.slots), None) if n != 1 else None
            s = s or self.size(n)
            for k in ks if n != 1 else ():
                self.slots.setdefault(k, s)
            out.append(s)
        return out

    def shape_of(self, v: Var) -> list:
        """The shape of ``v`` in named sizes."""
        return self.sizes_of(v.aval.shape, [[(v, d)] for d in range(v.aval.ndim)])

    def dims_of(self, v: Var) -> str:
        """The shape of ``v`` as source, in named sizes."""
        ds = [s.py() for s in self.shape_of(v)]
        return "(" + ", ".join(ds) + ("," if len(ds) == 1 else "") + ")"

    def alloc(self, v: Var, fill=None, dtype=None, name=None) -> None:
        """``v = _nb.empty(<v's shape>, <dtype>)``, or ``_nb.full`` with ``fill`` (a Const):
        a fresh array (named ``name`` if given, of ``v``'s dtype unless ``dtype``)."""
        arr = ir.Arr(name or self.name(v), np.dtype(dtype or v.aval.dtype), v.aval.ndim)
        self.add(ir.Alloc(arr, tuple(self.shape_of(v)), fill))

    def dims(self, shape) -> str:
        ds = [self.dim(n) for n in shape]
        return "(" + ", ".join(ds) + ("," if len(ds) == 1 else "") + ")"

    def arr(self, a, dtype=None) -> str:
        """An operand as an array expression (cast to ``dtype`` if given and different)."""
        if type(a) is Literal:
            dt = np.dtype(dtype or a.aval.dtype)
            return f"np.asarray({ir.literal(a.val, dt)})"
        nm = self.name(a)
        if dtype is not None and np.dtype(dtype) != a.aval.dtype:
            return f"{nm}.astype(np.{np.dtype(dtype).name})"
        return nm

    def alias(self, out: Var, x) -> None:
        if type(x) is Var and x in self.may_alias_input:
            self.may_alias_input.add(out)

    # -- comments -------------------------------------------------------------------------

    def comment(self, eqn) -> None:
        def atom(a):
            return ir.literal(a.val, a.aval.dtype) if type(a) is Literal else self.name(a)

        # Sizes other than 1 are shown as "_": they are read from S at run time, and the
        # source (hence the compiled code) must be the same for every batch size.
        params = {k: v for k, v in eqn.params.items() if not _holds_jaxpr(v)}
        p = "[" + " ".join(f"{k}={_sym(v) if k in ('shape', 'new_shape') else _short(v)}"
                           for k, v in params.items()) + "]" if params else ""
        outs = " ".join(f"{self.name(v)}:{short_dtype(v.aval.dtype)}{_sym(v.aval.shape)}"
                        for v in eqn.outputs)
        self.add(ir.Comment(f"{outs} = {eqn.prim.name}{p} {' '.join(map(atom, eqn.inputs))}".rstrip()))


def jaxprs_in(v):
    """The jaxprs a parameter value holds (a cond's branches, a scan's body...)."""
    if isinstance(v, tuple | list):
        for q in v:
            yield from jaxprs_in(q)
    elif isinstance(v, Jaxpr | ClosedJaxpr):
        yield v.jaxpr if isinstance(v, ClosedJaxpr) else v


def _holds_jaxpr(v) -> bool:
    return next(jaxprs_in(v), None) is not None


def _sym(shape) -> str:
    return "[" + ",".join("1" if n == 1 else "_" for n in shape) + "]"


def _short(v) -> str:
    if isinstance(v, np.dtype | type):
        return short_dtype(v)
    r = repr(v).replace("\n", " ")
    return r if len(r) < 60 else r[:57] + "..."


# --------------------------------------------------------------------------------------
# Kernels


def _index(shape, rank: int, lv) -> tuple:
    off = rank - len(shape)
    return tuple(0 if n == 1 else lv[off + j] for j, n in enumerate(shape))


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
    better = ir.lex_compare(v, acc, cmp) if v.dtype.kind == "c" else ir.Cmp(cmp, v, acc)
    return ir.Select(ir.BoolOp("or", [better, ir.Cmp("!=", v, v)]), v, acc)


def emit_kernel(g: Gen, k: Kernel, lead=None, per_row: frozenset = frozenset(),
                shared: frozenset = frozenset()):
    """Emit kernel ``k`` as a loop nest. With ``lead`` (a loop variable), ``k`` is a member of
    a row group (:func:`emit_row_group`): its outer loop is the group's; its allocations are
    emitted now (before the group's loop), and ``(outer-level initialisations, statements
    inside the group's loop, statements after it)`` are returned. The values in ``per_row``
    (one per row, read only within the group) stay scalar locals; those in ``shared`` (read by
    the group's other members) are never written over."""
    L, r = k.shape, len(k.shape)
    in_place = _in_place(g, k, per_row, shared)
    for v, a in in_place.items():
        g.names[v] = g.name(a)  # one array: same pointer, same index, so LLVM vectorizes
    for e in k.eqns:
        g.comment(e)
    # A unit axis has no loop (a range(1) loop costs Numba compile time for nothing): its
    # index is 0.
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

    def operand(a, dtype, eqn=None):
        if type(a) is Literal:
            return ir.Const(a.val, dtype)
        if a in g.consts:
            return ir.Const(g.consts[a], dtype)
        if a in g.row_scalars:
            return ir.cast(g.row_scalars[a], dtype)
        if a in local:
            return ir.cast(local[a], dtype)
        index = _remap_index(eqn, lv) if eqn is not None and is_remap_eqn(eqn) else \
            _index(a.aval.shape, r, lv)
        key = (a, tuple(i.name if isinstance(i, ir.Local) else i for i in index))
        x = loads.get(key)
        if x is None:
            x = loads[key] = ir.Local(g.fresh("x"), a.aval.dtype)
            body.append(ir.Assign(x, ir.Load(g.array(a), index)))
        return ir.cast(x, dtype)

    for v in sorted(k.materialized - per_row, key=lambda v: k.eqns.index(_producer(k, v))):
        if v not in in_place:
            g.alloc(v)
        g.contiguous.add(v)
        g.owned.add(v)
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
        v = operand(eqn.inputs[0], dt)
        axes = eqn.params["axes"]
        kept = tuple(lv[j] for j in range(r) if j not in axes)
        o = g.array(out)
        g.contiguous.add(out)
        g.owned.add(out)
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
    if parallel_ok:
        g.parallel = True
        if whole:
            _emit_chunked(g, lv[0], sizes[0], pre[0], nest(1), post[0], whole)
            return None
    for stmt in nest(0):
        g.add(stmt)
    return None


def _in_place(g: Gen, k: Kernel, per_row: frozenset, shared: frozenset = frozenset()) -> dict:
    """The elementwise results of kernel ``k`` that can be written over one of its operands:
    an array of the same shape (the kernel's) and dtype that the program allocated, that
    nothing else reads (no later item, no view, not an output), and that the kernel reads at
    the element's own index (no remapped read) no later than the equation computing the
    result, so each element is loaded before it is overwritten. The Hessian's regulariser
    added to the product of the Gauss-Newton term then takes no second d x d array (nor its
    page faults). Returns {result: operand}."""
    last: dict[Var, int] = {}
    remapped = set()
    produced = {e.outputs[0] for e in k.eqns}
    for n, e in enumerate(k.eqns):
        for a in e.inputs:
            if type(a) is Var and a not in produced:
                last[a] = n
                if is_remap_eqn(e):
                    remapped.add(a)
    free = [a for a in last if a in g.owned and a not in remapped and g.uses[a] == 1
            and a not in g.may_alias_input and a not in shared and a not in per_row
            and a.aval.shape == k.shape]
    out: dict = {}
    for n, e in enumerate(k.eqns):
        v = e.outputs[0]
        if v not in k.materialized or v in per_row or e.prim in REDUCTIONS:
            continue
        a = next((a for a in free if last[a] <= n and a.aval.dtype == v.aval.dtype
                  and v.aval.shape == a.aval.shape), None)
        if a is not None:
            free.remove(a)
            out[v] = a
    return out


#: A parallel kernel reducing over every axis runs as at most this many chunks of its rows.
CHUNKS = 64


def _emit_chunked(g, i, n, pre, inner, post, whole) -> None:
    """A parallel kernel whose reductions run over every axis: ``prange`` over at most
    :data:`CHUNKS` chunks of the outer axis ``i`` (of size ``n``), each accumulating into its
    own locals, then the chunks' partial results combined in order. Numba's own prange
    reductions would not do: they need ``acc += v``, which keeps the loop from vectorizing
    (see vecmath.radd). The chunking depends on the size alone, never on the thread count,
    so results repeat."""
    nc, c = ir.Local(g.fresh("nc"), ir.INT), ir.Local(g.fresh("c"), ir.INT)
    g.add(ir.Assign(nc, ir.Call("min", [n, ir.Const(CHUNKS, ir.INT, bare=True)], ir.INT)))
    parts = {acc.name: ir.Arr(g.fresh("part"), acc.dtype, 1) for acc, _ in whole}
    for acc, _ in whole:
        g.add(ir.Alloc(parts[acc.name], (nc,)))

    def bound(k):  # k * n // nc
        return ir.Bin("//", ir.Bin("*", k, n), nc)

    rows = ir.Loop(i, bound(ir.Bin("+", c, ir.Const(1, ir.INT, bare=True))), inner, start=bound(c))
    g.add(ir.Loop(c, nc, pre + [rows] + [ir.Store(parts[acc.name], (c,), acc) for acc, _ in whole],
                  parallel=True))
    for acc, kind in whole:
        g.add(ir.Assign(acc, _reduction_init(kind, acc.dtype)))
    g.add(ir.Loop(c, nc, [ir.Assign(acc, _update(kind, acc, ir.Load(parts[acc.name], (c,))))
                          for acc, kind in whole]))
    for stmt in post:
        g.add(stmt)


# --------------------------------------------------------------------------------------
# Row groups: consecutive kernels sharing their outer loop


def _row_groups(items: list, parallel_min_size: int = PARALLEL_MIN_SIZE) -> list:
    """Group consecutive kernels over the same leading size (the rows of a softmax, a
    per-example loss...) into ONE outer loop, each keeping its inner loops: row i of every
    member is computed before row i of the next, so a member may read what an earlier one
    wrote to row i (its elementwise values, and reductions over other axes) but nothing a
    reduction over the rows produced. Each outer loop costs Numba ~0.02-0.04 s of compile.
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
        eqns = _eqns_of(item)
        reads = {a for e in eqns for a in e.inputs if type(a) is Var}
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
            deferred_out.update(v for e in eqns for v in e.outputs)
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
            reduction = e.prim in REDUCTIONS
            index = _remap_index(e, lv) if not reduction and is_remap_eqn(e) else \
                _index(a.aval.shape, len(k.shape), lv)
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


def _producer(k: Kernel, v: Var):
    for e in k.eqns:
        if v in e.outputs:
            return e
    raise KeyError(v)


def _result(expr, eqn):
    """``expr`` converted to the output dtype unless Numba's scalar rules give it already
    (float64 operands to a float64 result; comparisons and logic give bools)."""
    out = eqn.outputs[0].aval.dtype
    if out.kind == "b" or not eqn.inputs:
        return expr
    if out == np.float64 and all(np.dtype(d) == out for d in lowering.compute_dtypes(eqn)):
        return expr
    return ir.Cast(expr, out)


# --------------------------------------------------------------------------------------
# The program


def emit_body(g: Gen, jaxpr: Jaxpr, fused: list | None = None) -> None:
    """Emit the equations of ``jaxpr`` (``fused``: ``fuse(jaxpr)`` if done already), its
    inputs already named in ``g``. Control-flow lowerings (lax/control.py) call it for their
    branches and loop bodies, inline."""
    # (Serial kernels group whatever their size, so a larger size gives the same source.)
    items = _row_groups(fuse(jaxpr) if fused is None else fused, g.parallel_min_size)
    uses = Counter(a for item in items for a in {a for k in (item if isinstance(item, list) else [item])
                                                 for e in _eqns_of(k) for a in e.inputs if type(a) is Var})
    uses.update(a for a in set(jaxpr.outvars) if type(a) is Var)
    g.producers.update((v, e) for e in jaxpr.eqns for v in e.outputs)
    outer, g.uses = g.uses, uses
    try:
        _emit_items(g, jaxpr, items)
    finally:
        g.uses = outer


def _emit_items(g: Gen, jaxpr: Jaxpr, items: list) -> None:
    # What each row group's successors read (the program's outputs included), in one
    # backward pass over the items.
    read_later, later = {}, set(jaxpr.outvars)
    for n in reversed(range(len(items))):
        if isinstance(items[n], list):
            read_later[n] = set(later)
        for k in items[n] if isinstance(items[n], list) else [items[n]]:
            for e in _eqns_of(k):
                later.update(e.inputs)
    for n, item in enumerate(items):
        if isinstance(item, list):
            emit_row_group(g, item, _per_row(item, read_later[n]))
        elif isinstance(item, Kernel):
            emit_kernel(g, item)
        else:
            eqn = item.eqn
            g.comment(eqn)
            rule = lowering.LOWERINGS.get(eqn.prim, lowering.lower_via_numpy)
            rule(g, eqn)


def _eqns_of(item) -> list:
    """The equations of a kernel or a single equation."""
    return item.eqns if isinstance(item, Kernel) else [item.eqn]


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
    # A member may write over an operand no other member reads (value_grad_hessian's d x d
    # Hessian, whose row loop also computes the gradient): row by row, it alone touches it.
    reads = [frozenset(a for e in k.eqns for a in e.inputs if type(a) is Var) for k in kernels]
    parts = [emit_kernel(g, k, lead, per_row, frozenset().union(*reads[:m], *reads[m + 1:]))
             for m, k in enumerate(kernels)]
    # The members' initialisations after all their allocations, next to the loop: the loop
    # code is then one run for nbrt.loops (see _runs).
    for before, _, _ in parts:
        for stmt in before:
            g.add(stmt)
    g.add(ir.Loop(lead, size, [s for _, inner, _ in parts for s in inner]))
    for _, _, after in parts:
        for stmt in after:
            g.add(stmt)


def calls_threaded_blas(jaxpr: Jaxpr) -> bool:
    """Whether ``jaxpr`` (its nested jaxprs too) calls BLAS or LAPACK on a product large
    enough for OpenBLAS to run it on several threads (see PARALLEL_MIN_SIZE_BESIDE_BLAS)."""
    for e in jaxpr.eqns:
        if e.prim.name in _BLAS_PRIMS:
            # One call's work (a batch makes one call per matrix): m n k, or n^3.
            a = e.inputs[0].aval.shape
            m_n = e.outputs[0].aval.shape[-2:] if e.prim is matmul_p else a[-2:]
            if int(np.prod(m_n, dtype=np.int64)) * (a[-1] if a else 1) >= THREADED_BLAS_MIN_WORK:
                return True
        elif any(calls_threaded_blas(j) for v in e.params.values() for j in jaxprs_in(v)):
            return True
    return False


# The primitives whose lowerings call BLAS or LAPACK (matmul through nbrt.gemm, solve through
# ?gesv, the decompositions through NumPy); einsum is loops.
_BLAS_PRIMS = frozenset({"matmul", "solve", "triangular_solve", "cholesky", "eigh", "qr", "svd",
                         "det", "slogdet", "pinv", "lu"})


def generate(jaxpr: Jaxpr, name: str = "program", kernel: bool = False,
             contiguous=(), beside_blas: bool | None = None, fused: list | None = None) -> Program:
    """Generate the source of ``jaxpr`` (already simplified). A ``kernel`` is one step of a
    driven program (backend/driver.py): its inputs may be any strided view, except those
    flagged in ``contiguous`` (C- or F-contiguous), and its outputs may be views of its
    inputs (the driver copies the program's outputs that are). ``Program.contiguous`` flags
    the outputs known to be contiguous. ``beside_blas`` (default: whether ``jaxpr`` calls a
    threaded BLAS, :func:`calls_threaded_blas`) raises the size of parallel kernels to
    :data:`PARALLEL_MIN_SIZE_BESIDE_BLAS`; the driver passes it for the whole program.
    ``fused`` is ``fuse(jaxpr)`` where the caller has it (dispatch, to choose the driver).

    >>> import funcad as fa, funcad.numpy as fnp
    >>> j = fa.make_jaxpr(lambda x: fnp.sum(fnp.sin(x)))(fnp.ones(3)).jaxpr
    >>> print(generate(j).source)  # doctest: +ELLIPSIS
    # funcad program...
    """
    g = Gen()
    if calls_threaded_blas(jaxpr) if beside_blas is None else beside_blas:
        g.parallel_min_size = PARALLEL_MIN_SIZE_BESIDE_BLAS
    ins = jaxpr.constvars + jaxpr.invars
    g.may_alias_input.update(ins)
    if not kernel:
        g.contiguous.update(ins)  # dispatch passes C- or F-contiguous arrays
    g.contiguous.update(v for v, c in zip(ins, contiguous) if c)
    g.consts.update((e.outputs[0], e.params["fill_value"]) for e in jaxpr.eqns if e.prim is full_p)
    names = [g.name(v) for v in ins]
    if names:
        g.emit(f"{', '.join(names)}{',' if len(names) == 1 else ''} = args")
    emit_body(g, jaxpr, fused)
    outs, seen = [], set()
    for a in jaxpr.outvars:
        if type(a) is Literal:
            o = g.fresh("out")
            g.add(ir.Alloc(ir.Arr(o, a.aval.dtype, 0), ()))
            g.emit(f"{o}[()] = {ir.literal(a.val, a.aval.dtype)}")
            outs.append(o)
        elif (a in g.may_alias_input and not kernel) or a in seen:
            outs.append(f"{g.name(a)}.copy()")
        else:
            outs.append(g.name(a))
            seen.add(a)
    g.emit(f"return ({', '.join(outs)}{',' if len(outs) == 1 else ''})")
    body = _runs(g.body) if DIRECT_LOOPS else g.body
    lines = ["    " * indent + line for indent, s in body for line in ir.lines(s)]
    names = [f"n{k}" for k in range(len(g.sizes))]
    for k in range(0, len(names), 8):  # the named sizes, from S
        part = names[k:k + 8]
        lines.insert(k // 8 + bool(ins), f"    {', '.join(part)} = {', '.join(f'S[{n[1:]}]' for n in part)}")
    nogil = not any("objmode" in line for line in lines)  # object mode holds the GIL
    # no_cfunc_wrapper: Numba also compiles a C-ABI twin of every function, for calls through
    # first-class function types, which nothing makes of a program (~8% of its LLVM IR).
    flags = ("error_model='numpy'" + (", nogil=True" if nogil else "") + ", no_cfunc_wrapper=True"
             + (", parallel=True" if g.parallel else ""))
    text = "\n".join(lines)
    more = "".join(f", {module} as {alias}" for module, alias in _ON_USE if f"{alias}." in text)
    # Its disk cache (nbcache.fast_load): funcad's directory only, files checked before loading.
    source = _HEADER.format(name=name, more=more, flags=flags) + text + "\n\n\nfast_load(program)\n"
    aliases = [type(a) is Var and a in g.may_alias_input for a in jaxpr.outvars]
    contiguous = [type(a) is not Var or a in g.contiguous for a in jaxpr.outvars]
    return Program(source, np.asarray(g.sizes, dtype=np.int64), aliases, contiguous)


# (``program`` stays on line 10: Numba's cache file names hold the line it starts on)
_HEADER = """# funcad program {name}: generated by funcad.backend.codegen; do not edit.
import math
import numpy as np
import numba
from funcad.backend import runtime as _rt
from funcad.backend import nbrt as _nb, vecmath as _vm{more}
from funcad.backend.nbcache import fast_load


@numba.njit({flags})
def program(args, S):
"""
# Imported only by programs that call them: nbrandom's kernels and pocketfft's loops took
# ~15 ms of a first call that used neither.
_ON_USE = (("nbrandom", "_rnd"), ("pocketfft", "_fft"))


def _runs(body: list) -> list:
    """``body`` with each maximal run of consecutive statements of one indentation in the
    float-only subset (loopir.direct), holding a loop, as one :class:`loopir.Run` (an
    ``nbrt.loops`` call), unless a local it assigns is read outside it. Comments inside a run
    move ahead of the call; Numba compiles the rest."""
    reads = Counter(n.name for _, s in body if type(s) is not ir.Line
                    for n in ir.walk(s) if type(n) is ir.Local)
    out, n = [], 0
    while n < len(body):
        indent = body[n][0]
        m = n
        while m < len(body) and body[m][0] == indent and (
                type(body[m][1]) is ir.Comment or ir.direct(body[m][1])):
            m += 1
        code = [s for _, s in body[n:m] if type(s) is not ir.Comment]
        if not any(type(s) is ir.Loop for s in code):
            out.extend(body[n:m] or body[n:n + 1])
            n = max(m, n + 1)
            continue
        last = max(j for j in range(n, m) if type(body[j][1]) is not ir.Comment)
        nodes = [x for s in code for x in ir.walk(s)]
        defs = {x.target.name if type(x) is ir.Assign else x.var.name
                for x in nodes if type(x) in (ir.Assign, ir.Loop)}
        inside = Counter(x.name for x in nodes if type(x) is ir.Local)
        if set(inside) <= defs and all(reads[d] == inside[d] for d in defs):
            arrays = {x.arr.name: x.arr for x in nodes if type(x) in (ir.Load, ir.Store)}
            run = ir.Run(sorted(arrays.values(), key=lambda a: int(a.name[1:])), code)
            out.extend(e for e in body[n:last] if type(e[1]) is ir.Comment)
            out.append((indent, run))
            out.extend(body[last + 1:m])
        else:
            out.extend(body[n:m])
        n = m
    return out
