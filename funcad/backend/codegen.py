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

import numpy as np

from ..core import short_dtype
from ..jaxpr import Jaxpr, Literal, Var
from ..lax.shapes import full_p, transpose_p
from . import loopir, lowering
from .fusion import MAX_KERNEL_EQNS, REDUCTIONS, Kernel, fuse, is_remap_eqn

# 2^19: Numba's parallel compilation (parfor passes and lowering) costs ~0.5-2 s on top of a
# program's compile, and a parallel launch costs milliseconds on a busy machine: the Newton
# step's 200,000-element kernel ran 8.8 ms per step parallel against 2.5 ms serial (2 loaded
# cores). The 1e6-element elementwise chain stays parallel.
PARALLEL_MIN_SIZE = 1 << 19

# Serial loop nests in the loop subset are compiled by nbrt.loops (backend/loopir.py) rather
# than by Numba's typing and lowering; FUNCAD_DIRECT_LOOPS=0 leaves every loop to Numba.
DIRECT_LOOPS = os.environ.get("FUNCAD_DIRECT_LOOPS", "1").strip().lower() not in ("0", "false", "no", "off")


class Program:
    """A generated program: its ``source``, the sizes ``S`` and whether it runs in parallel."""

    def __init__(self, source: str, sizes, parallel: bool, n_in: int, aliases=()):
        self.source = source
        self.S = np.asarray(sizes, dtype=np.int64)
        self.parallel = parallel
        self.n_in = n_in
        self.aliases = aliases  # per output: whether it may be (a view of) an input


class Gen:
    """The code generator's state: names, sizes, lines. Lowering rules write through it."""

    def __init__(self):
        self.lines: list[str] = []
        self.indent = 1
        self.sizes: list[int] = []
        self.names: dict[Var, str] = {}
        self.counts: dict[str, int] = {}
        self.may_alias_input: set[Var] = set()
        self.parallel = False
        self.consts: dict[Var, object] = {}  # outputs of ``full``: inlined as literals
        # Values known to be C- or F-contiguous (program inputs, fresh arrays, their 2-D
        # transposes): BLAS takes them as they are, so their matmuls need no copying fallback.
        self.contiguous: set[Var] = set()
        # Values of a row group that are one scalar per row and read only in the group: the
        # local (an elementwise result or a reduction's accumulator) holding the current row's
        # value. They are never stored in an array (see emit_row_group).
        self.row_scalars: dict[Var, str] = {}

    # -- helpers used by the lowering rules ---------------------------------------------

    def emit(self, line: str) -> None:
        self.lines.append("    " * self.indent + line)

    def fresh(self, prefix: str) -> str:
        n = self.counts.get(prefix, 0)
        self.counts[prefix] = n + 1
        return f"{prefix}{n}"

    def name(self, v: Var) -> str:
        nm = self.names.get(v)
        if nm is None:
            nm = self.names[v] = self.fresh("v")
        return nm

    def dim(self, n: int) -> str:
        """A size as source: ``1`` literally (a broadcast pattern), any other read from S."""
        if n == 1:
            return "1"
        self.sizes.append(int(n))
        return f"S[{len(self.sizes) - 1}]"

    def dims(self, shape) -> str:
        ds = [self.dim(n) for n in shape]
        return "(" + ", ".join(ds) + ("," if len(ds) == 1 else "") + ")"

    def arr(self, a, dtype=None) -> str:
        """An operand as an array expression (cast to ``dtype`` if given and different)."""
        if type(a) is Literal:
            dt = np.dtype(dtype or a.aval.dtype)
            return f"np.asarray({lowering.literal(a.val, dt)})"
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
            return lowering.literal(a.val, a.aval.dtype) if type(a) is Literal else self.name(a)

        # Sizes other than 1 are shown as "_": they are read from S at run time, and the
        # source (hence the compiled code) must be the same for every batch size.
        params = {k: v for k, v in eqn.params.items() if not _holds_jaxpr(v)}
        p = "[" + " ".join(f"{k}={_sym(v) if k in ('shape', 'new_shape') else _short(v)}"
                           for k, v in params.items()) + "]" if params else ""
        outs = " ".join(f"{self.name(v)}:{short_dtype(v.aval.dtype)}{_sym(v.aval.shape)}"
                        for v in eqn.outputs)
        self.emit(f"# {outs} = {eqn.prim.name}{p} {' '.join(map(atom, eqn.inputs))}".rstrip())


def _holds_jaxpr(v) -> bool:
    from ..jaxpr import ClosedJaxpr

    if isinstance(v, tuple):
        return any(_holds_jaxpr(q) for q in v)
    return isinstance(v, Jaxpr | ClosedJaxpr)


def _sym(shape) -> str:
    return "[" + ",".join("1" if n == 1 else "_" for n in shape) + "]"


def _short(v) -> str:
    if isinstance(v, np.dtype | type):
        return short_dtype(v)
    r = repr(v).replace("\n", " ")
    return r if len(r) < 60 else r[:57] + "..."


# --------------------------------------------------------------------------------------
# Kernels


def _index(shape, rank: int, lv) -> str:
    off = rank - len(shape)
    parts = ["0" if n == 1 else lv[off + j] for j, n in enumerate(shape)]
    return "[" + ", ".join(parts) + "]" if parts else "[()]"


_INIT = {"sum": 0, "prod": 1}


def _reduction_init(kind, dtype) -> str:
    dtype = np.dtype(dtype)
    if kind in _INIT:
        return lowering.literal(_INIT[kind], dtype)
    if dtype.kind == "f":
        return "-np.inf" if kind == "max" else "np.inf"
    if dtype.kind == "c":  # below (above) every value in NumPy's lexicographic order
        return lowering.literal(complex(-np.inf, -np.inf) if kind == "max" else complex(np.inf, np.inf), dtype)
    if dtype.kind == "b":
        return "False" if kind == "max" else "True"
    info = np.iinfo(dtype)
    return lowering.literal(info.min if kind == "max" else info.max, dtype)


def _complex_only(dtype):
    """``dtype`` if complex (its max/min compare lexicographically), else None."""
    return dtype if np.dtype(dtype).kind == "c" else None


def _update(kind, acc, v, dtype=None) -> str:
    """The accumulation of ``v`` into ``acc``. A float sum or product into a local is
    reassociable (vecmath.radd/rmul): LLVM may then vectorize the loop that holds it."""
    vectorizable = dtype is not None and np.dtype(dtype) in (np.float32, np.float64)
    if kind == "sum":
        return f"{acc} = _vm.radd({acc}, {v})" if vectorizable else f"{acc} += {v}"
    if kind == "prod":
        return f"{acc} = _vm.rmul({acc}, {v})" if vectorizable else f"{acc} *= {v}"
    cmp = ">" if kind == "max" else "<"  # NaN wins, as in NumPy
    if dtype is not None and np.dtype(dtype).kind == "c":
        return f"{acc} = {v} if ({lowering.lex_compare(v, acc, cmp)} or {v} != {v}) else {acc}"
    return f"{acc} = {v} if ({v} {cmp} {acc} or {v} != {v}) else {acc}"


def emit_kernel(g: Gen, k: Kernel, lead: str | None = None, per_row: frozenset = frozenset()):
    """Emit kernel ``k`` as a loop nest. With ``lead``, ``k`` is a member of a row group
    (:func:`emit_row_group`): its outer loop is the group's, with variable ``lead``; its
    allocations are emitted now (before the group's loop), and ``(outer-level
    initialisations, lines inside the group's loop, lines after it)`` are returned. The values in
    ``per_row`` (one per row, read only within the group) stay scalar locals."""
    L, r = k.shape, len(k.shape)
    for e in k.eqns:
        g.comment(e)
    # A unit axis has no loop (a range(1) loop costs Numba compile time for nothing): its
    # index is the literal 0.
    lv = ["0" if n == 1 else g.fresh("i") for n in L]
    if lead is not None:
        lv[0] = lead
    sizes = [g.dim(n) for n in L]
    pre: list[list[str]] = [[] for _ in range(r + 1)]
    post: list[list[str]] = [[] for _ in range(r + 1)]
    body: list[str] = []
    loads: dict[Var, str] = {}
    local: dict[Var, str] = {}
    total = int(np.prod(L, dtype=np.int64))
    parallel_ok = r > 0 and L[0] != 1 and total >= PARALLEL_MIN_SIZE
    whole: list = []  # (accumulator, kind, dtype) of the reductions over every axis

    def operand(a, dtype, eqn=None) -> str:
        if type(a) is Literal:
            return lowering.literal(a.val, dtype)
        if a in g.consts:
            return lowering.literal(g.consts[a], dtype)
        if a in g.row_scalars:
            return lowering.cast(g.row_scalars[a], a.aval.dtype, dtype)
        if a in local:
            expr = local[a]
        else:
            index = _remap_index(eqn, lv) if eqn is not None and is_remap_eqn(eqn) else \
                _index(a.aval.shape, r, lv)
            expr = loads.get((a, index))
            if expr is None:
                expr = loads[(a, index)] = g.fresh("x")
                body.append(f"{expr} = {g.name(a)}{index}")
        return lowering.cast(expr, a.aval.dtype, dtype)

    for v in sorted(k.materialized - per_row, key=lambda v: k.eqns.index(_producer(k, v))):
        g.emit(f"{g.name(v)} = _nb.empty({g.dims(v.aval.shape)}, np.{v.aval.dtype.name})")
        g.contiguous.add(v)
    for eqn in k.eqns:
        out = eqn.outputs[0]
        dt = out.aval.dtype
        kind = REDUCTIONS.get(eqn.prim)
        if kind is None:
            args = [operand(a, d, eqn) for a, d in zip(eqn.inputs, lowering.compute_dtypes(eqn))]
            expr = lowering.SCALAR[eqn.prim](args, eqn)
            s = local[out] = g.fresh("s")
            body.append(f"{s} = {_result(expr, eqn)}")
            if out in per_row:  # (the kernel is one row: this is the row level)
                g.row_scalars[out] = s
            elif out in k.materialized:
                body.append(f"{g.name(out)}{_index(L, r, lv)} = {s}")
            continue
        v = operand(eqn.inputs[0], dt)
        axes = eqn.params["axes"]
        kept = [j for j in range(r) if j not in axes]
        o = g.name(out)
        g.contiguous.add(out)
        depth = min(axes) if axes else r
        kept_idx = "[" + ", ".join(lv[j] for j in kept) + "]" if kept else "[()]"
        if tuple(axes) == tuple(range(depth, r)):  # trailing axes: a local accumulator
            acc = g.fresh("acc")
            pre[depth].append(f"{acc} = {_reduction_init(kind, dt)}")
            body.append(_update(kind, acc, v, dt))
            if depth == 0:
                whole.append((acc, kind, dt))
            if out in per_row:  # (a reduction of each row: depth 1) read from its accumulator
                g.row_scalars[out] = acc
            else:
                g.emit(f"{o} = _nb.empty({g.dims(out.aval.shape)}, np.{dt.name})")
                post[depth].append(f"{o}{kept_idx} = {acc}")
            if depth == 0 and kind in ("max", "min"):
                parallel_ok = False
        else:
            g.emit(f"{o} = _nb.full({g.dims(out.aval.shape)}, {_reduction_init(kind, dt)}, np.{dt.name})")
            body.append(_update(kind, f"{o}{kept_idx}", v, _complex_only(dt)))
            if 0 in axes:
                parallel_ok = False
    if lead is not None:  # a row group's member: never parallel (see _row_groups)
        saved, g.lines = g.lines, []
        g.indent += 1
        _emit_loops(g, L, lv, sizes, pre, body, post, 1, False)
        g.indent -= 1
        inner, g.lines = g.lines, saved
        return pre[0], inner, post[0]
    if parallel_ok:
        g.parallel = True
        if whole:
            _emit_chunked(g, L, lv, sizes, pre, body, post, whole)
            return None
    _emit_loops(g, L, lv, sizes, pre, body, post, 0, parallel_ok)
    return None


def _emit_loops(g, L, lv, sizes, pre, body, post, first: int, parallel_ok: bool) -> None:
    r = len(L)
    for d in range(first, r):
        for line in pre[d]:
            g.emit(line)
        if L[d] == 1:
            continue
        rng = "numba.prange" if (d == 0 and parallel_ok) else "range"
        g.emit(f"for {lv[d]} in {rng}({sizes[d]}):")
        g.indent += 1
    for line in pre[r] + body + post[r]:
        g.emit(line)
    for d in reversed(range(first, r)):
        if L[d] != 1:
            g.indent -= 1
        for line in post[d]:
            g.emit(line)


#: A parallel kernel reducing over every axis runs as at most this many chunks of its rows.
CHUNKS = 64


def _emit_chunked(g, L, lv, sizes, pre, body, post, whole) -> None:
    """A parallel kernel whose reductions run over every axis: ``prange`` over at most
    :data:`CHUNKS` chunks of the outer axis, each accumulating into its own locals, then the
    chunks' partial results combined in order. Numba's own prange reductions would not do:
    they need ``acc += v``, which keeps the loop from vectorizing (see vecmath.radd). The
    chunking depends on the size alone, never on the thread count, so results repeat."""
    n, nc, c = sizes[0], g.fresh("nc"), g.fresh("c")
    g.emit(f"{nc} = min({n}, {CHUNKS})")
    parts = {acc: g.fresh("part") for acc, _, _ in whole}
    for acc, _, dt in whole:
        g.emit(f"{parts[acc]} = _nb.empty(({nc},), np.{np.dtype(dt).name})")
    g.emit(f"for {c} in numba.prange({nc}):")
    g.indent += 1
    for line in pre[0]:
        g.emit(line)
    g.emit(f"for {lv[0]} in range({c} * {n} // {nc}, ({c} + 1) * {n} // {nc}):")
    g.indent += 1
    _emit_loops(g, L, lv, sizes, pre, body, post, 1, False)
    g.indent -= 1
    for acc, _, _ in whole:
        g.emit(f"{parts[acc]}[{c}] = {acc}")
    g.indent -= 1
    for acc, kind, dt in whole:
        g.emit(f"{acc} = {_reduction_init(kind, dt)}")
    g.emit(f"for {c} in range({nc}):")
    g.indent += 1
    for acc, kind, dt in whole:
        g.emit(_update(kind, acc, f"{parts[acc]}[{c}]", _complex_only(dt)))
    g.indent -= 1
    for line in post[0]:
        g.emit(line)


# --------------------------------------------------------------------------------------
# Row groups: consecutive kernels sharing their outer loop


def _row_groups(items: list) -> list:
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
        if isinstance(item, Kernel) and _groupable(item):
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


def _groupable(k: Kernel) -> bool:
    return len(k.shape) > 0 and k.shape[0] != 1 and int(np.prod(k.shape, dtype=np.int64)) < PARALLEL_MIN_SIZE


def _row_local(k: Kernel, produced: set, row_reduced: set) -> bool:
    """Whether every value ``k`` reads from the group is read at the current row."""
    lv = ["I"] + [f"j{d}" for d in range(1, len(k.shape))]
    lv = ["0" if n == 1 else v for n, v in zip(k.shape, lv)]
    for e in k.eqns:
        for a in e.inputs:
            if type(a) is not Var or a not in produced:
                continue
            if a in row_reduced:
                return False
            reduction = e.prim in REDUCTIONS
            index = _remap_index(e, lv) if not reduction and is_remap_eqn(e) else \
                _index(a.aval.shape, len(k.shape), lv)
            if not (index.startswith("[I,") or index == "[I]"):
                return False
    return True


def _remap_index(eqn, lv) -> str:
    """The operand index of a transpose or unit-axis reshape at loop indices ``lv``."""
    x = eqn.inputs[0].aval.shape
    if eqn.prim is transpose_p:
        perm = eqn.params["permutation"]
        parts = ["0" if x[m] == 1 else lv[perm.index(m)] for m in range(len(x))]
    else:
        out_axes = [j for j, n in enumerate(eqn.outputs[0].aval.shape) if n != 1]
        it = iter(out_axes)
        parts = ["0" if n == 1 else lv[next(it)] for n in x]
    return "[" + ", ".join(parts) + "]" if parts else "[()]"


def _producer(k: Kernel, v: Var):
    for e in k.eqns:
        if v in e.outputs:
            return e
    raise KeyError(v)


def _result(expr: str, eqn) -> str:
    """Wrap ``expr`` in a conversion to the output dtype unless Numba's scalar rules give it
    already (float64 operands to a float64 result; comparisons and logic give bools)."""
    out = eqn.outputs[0].aval.dtype
    if out.kind == "b" or not eqn.inputs:
        return expr
    if out == np.float64 and all(np.dtype(d) == out for d in lowering.compute_dtypes(eqn)):
        return expr
    return f"np.{out.name}({expr})"


# --------------------------------------------------------------------------------------
# The program


def emit_body(g: Gen, jaxpr: Jaxpr) -> None:
    """Emit the equations of ``jaxpr``, its inputs already named in ``g``. Control-flow
    lowerings (lax/control.py) call it for their branches and loop bodies, inline."""
    items = _row_groups(fuse(jaxpr))
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
    lead = g.fresh("i")
    size = g.dim(kernels[0].shape[0])
    parts = [emit_kernel(g, k, lead, per_row) for k in kernels]
    # The members' initialisations after all their allocations, next to the loop: the loop
    # code is then one run for nbrt.loops (loopir.plan).
    for before, _, _ in parts:
        for line in before:
            g.emit(line)
    g.emit(f"for {lead} in range({size}):")
    for _, inner, _ in parts:
        g.lines.extend(inner)
    for _, _, after in parts:
        for line in after:
            g.emit(line)


def generate(jaxpr: Jaxpr, name: str = "program", kernel: bool = False) -> Program:
    """Generate the source of ``jaxpr`` (already simplified). A ``kernel`` is one step of a
    driven program (backend/driver.py): its inputs may be any strided view, and its outputs
    may be views of its inputs (the driver copies the program's outputs that are).

    >>> import funcad as fa, funcad.numpy as fnp
    >>> j = fa.make_jaxpr(lambda x: fnp.sum(fnp.sin(x)))(fnp.ones(3)).jaxpr
    >>> print(generate(j).source)  # doctest: +ELLIPSIS
    # funcad program...
    """
    g = Gen()
    n_in = len(jaxpr.constvars) + len(jaxpr.invars)
    ins = jaxpr.constvars + jaxpr.invars
    g.may_alias_input.update(ins)
    if not kernel:
        g.contiguous.update(ins)  # dispatch passes C- or F-contiguous arrays
    g.consts.update((e.outputs[0], e.params["fill_value"]) for e in jaxpr.eqns if e.prim is full_p)
    names = [g.name(v) for v in ins]
    if names:
        g.emit(f"{', '.join(names)}{',' if len(names) == 1 else ''} = args")
    emit_body(g, jaxpr)
    outs, seen = [], set()
    for a in jaxpr.outvars:
        if type(a) is Literal:
            o = g.fresh("out")
            g.emit(f"{o} = _nb.empty((), np.{a.aval.dtype.name})")
            g.emit(f"{o}[()] = {lowering.literal(a.val, a.aval.dtype)}")
            outs.append(o)
        elif (a in g.may_alias_input and not kernel) or a in seen:
            outs.append(f"{g.name(a)}.copy()")
        else:
            outs.append(g.name(a))
            seen.add(a)
    g.emit(f"return ({', '.join(outs)}{',' if len(outs) == 1 else ''})")
    if DIRECT_LOOPS:
        arrays = {name: (v.aval.dtype.name, len(v.aval.shape)) for v, name in g.names.items()}
        g.lines = loopir.plan(g.lines, arrays)
    nogil = not any("objmode" in line for line in g.lines)  # object mode holds the GIL
    flags = ("error_model='numpy'" + (", nogil=True" if nogil else "")
             + (", parallel=True" if g.parallel else ""))
    header = [
        f"# funcad program {name}: generated by funcad.backend.codegen; do not edit.",
        "import math",
        "import numpy as np",
        "import numba",
        "from funcad.backend import runtime as _rt",
        "from funcad.backend import nbrt as _nb",
        "from funcad.backend import vecmath as _vm",
        "",
        "",
        f"@numba.njit({flags})",
        "def program(args, S):",
    ]
    # Its disk cache (nbrt.fast_load): funcad's directory only, files checked before loading.
    source = "\n".join(header + g.lines) + "\n\n\n_nb.fast_load(program)\n"
    aliases = [type(a) is Var and a in g.may_alias_input for a in jaxpr.outvars]
    return Program(source, g.sizes, g.parallel, n_in, aliases)
