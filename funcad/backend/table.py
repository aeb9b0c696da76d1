"""The table backend (jit's only one): a program as ONE call into object code.

It compiles every program (a fusion item it has no native code for runs as host steps, below):

* every value gets a **region**: a buffer (a program input, a program output, or a piece of
  the arena, shared by buffers not live at once: table_arena.py) with a byte offset, a
  shape and byte strides, all known when the program is built (jit specialises on shapes).
  Views (basic indexes, reshapes of contiguous values, transposes) are regions of their
  operand's buffer: no code, no copy;
* every fusion item becomes a **kernel** of ONE calling convention, ``void k(i8** buffers,
  i64* slots)``: ``slots`` holds (buffer, byte offset) for each array the kernel touches.
  Fused loops are codegen's loop IR, written as LLVM IR by :class:`loopir.LLVM` with sizes
  and strides as constants; matrix products call BLAS ``?gemm`` with constant flags and leading dimensions;
  ``index_add`` at a basic index, reshapes of strided views and ``full`` values that are
  read as arrays are copy, add and fill loops built as loop IR here;
* kernels are deduplicated by their printed loop IR, sizes and strides (the steps of an
  unrolled loop share one), and all of a program's distinct kernels are ONE llvmlite module:
  one optimisation, one machine-code emission;
* a fixed interpreter, ``run(buffers, n, fns, offsets, slots)`` (one module for every
  program, compiled once per machine: backend/table_runtime.py), calls the kernels in program
  order from a table of (kernel address, its slots). Python allocates the outputs (the arena
  is kept between calls), fills the buffer table and makes ONE ctypes call. Control flow
  (cond, while, scan) is jumps in that table (:class:`Control`, backend/table_control.py);
* the object code goes to ``$FUNCAD_CACHE_DIR/table/<sha256>.o``, keyed by the kernels'
  description (not the IR: a warm load builds no IR), llvmlite's version, the host CPU and
  the text of the modules that write the IR (backend/table_engine.py: the engine, the
  module's compilation, the disk cache).

Native: the loops :func:`loopir.printable` accepts (every dtype but float16 and long
doubles, NumPy's semantics; an integer power of a negative exponent raises NumPy's ValueError
through a status word), parallel loops (past ``codegen.PARALLEL_MIN_SIZE`` elements: on
threads, table_parallel.py), ``matmul`` and ``einsum`` (backend/table_einsum.py), basic
``index``, ``reshape``, ``transpose``, ``concatenate``, ``full``, ``index_add`` at a basic
index, gathers and scatter-adds at index arrays (backend/table_index.py), LAPACK's
``solve``/``cholesky``/``triangular_solve``/``det``/``slogdet`` and ``symmetrize``
(backend/table_linalg.py), ``fft`` (pocketfft's loops: backend/table_fft.py), random draws
(backend/table_random.py); cond, while and scan (backend/table_control.py).
Anything else, a single equation without a rule or one its rule raises :class:`Unsupported`
for, or a fused kernel with loops loopir does not print, runs as **host steps**
(backend/table_host.py): each equation's NumPy implementation called back from the table (a
cond, while or scan: its body eagerly), logged with the reason under
``FUNCAD_LOG_COMPILES=1``. Literal operands and
constvars are constant buffers passed with every call; custom_jvp/vjp, checkpoint and
custom_lin calls are inlined.

State (measured in benchmarks/COMPILE.md and RESULTS.md): the MLP step, the Newton step, the
RNN/LSTM gradients, the GP, the convnet step and the 45,000-operation simulation run on it
and matched the former Numba path to 1e-15 (tests/test_table*.py). Object files are read
through cache.read_checked (a tampered or planted file is refused and rebuilt). A program's
code is freed with the last program running it (an engine per program: table_engine._Code).
Neither a cold compile nor a warm load imports Numba (tests/test_table_cold.py checks); random
draws are native kernels (backend/table_random.py).
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import math
import os
import threading
import weakref
from dataclasses import dataclass

import numpy as np

from ..jaxpr import Jaxpr, Literal, Var
from ..lax.elementwise import mul_p
from ..lax.shapes import (
    _build_index,
    _is_basic,
    concatenate_p,
    full_p,
    index_add_p,
    index_p,
    reshape_p,
    transpose_p,
)
from . import blas, codegen, table_arena, table_engine, table_parallel
from . import loopir as ir
from .fusion import Kernel, fuse
from .simplify import _atom_key, _params_key
from .table_runtime import BRANCH, GOTO, STEP


def backend() -> str:
    """jit's backend: ``$FUNCAD_JIT_BACKEND``, unset or ``table`` (the only one)."""
    name = os.environ.get("FUNCAD_JIT_BACKEND", "").strip().lower() or "table"
    if name != "table":
        from ..errors import UnknownBackendError

        raise UnknownBackendError(
            f"FUNCAD_JIT_BACKEND={os.environ['FUNCAD_JIT_BACKEND']!r} names no jit backend: "
            "'table' is the only one (the default; 'numba', the former second one, was removed): "
            "unset it or set it to 'table'.")
    return name


class Unsupported(Exception):
    """What a rule does not compile natively: its item runs as host steps."""


#: A loop kernel's output this large (bytes) is written over an operand that dies there
#: (Plan._overwrites): a large intermediate and the result it becomes share their bytes. Below
#: it the arena's reuse by liveness leaves little to gain (and the check scans the regions).
INPLACE_MIN_BYTES = 1 << 16


@dataclass(frozen=True)
class Region:
    """Where a value lives: ``buffer`` (an index into the program's buffers), a byte offset,
    its shape, byte strides and dtype."""
    buffer: int
    offset: int
    shape: tuple
    strides: tuple
    dtype: np.dtype

    @property
    def c_contiguous(self) -> bool:
        return self.strides == _c_strides(self.shape, self.dtype)


# The table's control entries (table_control.py plans them; table_runtime.py interprets them).


@dataclass
class Control:
    """A table entry that is not a kernel call. Its slots: ``op``, ``target`` (a call index),
    each region's (buffer, offset), then ``ints``. GOTO: jump. BRANCH (one region, ints
    ``(width, k, sense)``): jump if ``(value > k) == sense``, the value a bool or integer
    scalar of ``width`` bytes. STEP (ints ``(n,)``, then a counter and the offset slots that
    ``plan.steps`` advances in ``loop``, with their strides, added by TableProgram): count an
    iteration; below ``n``, advance those slots and jump, else rewind them and fall through."""
    op: int
    target: int = -1
    ints: tuple = ()
    loop: int = -1

    def describe(self, *at) -> str:
        if self.op == BRANCH:
            return f"if {'' if self.ints[2] else 'not '}{at[0]} > {self.ints[1]}: goto {self.target}"
        return f"goto {self.target}" if self.op == GOTO else \
            f"step: loop {self.loop}, {self.ints[0]} iterations, back to {self.target}"


def _c_strides(shape, dtype) -> tuple:
    out, step = [], np.dtype(dtype).itemsize
    for n in reversed(shape):
        out.append(step)
        step *= max(n, 1)
    return tuple(reversed(out))


# --------------------------------------------------------------------------------------
# Kernels: loops, BLAS products (one calling convention: table_engine.build_module)


@dataclass
class Loops:
    """A kernel of loop IR statements over ``arrays`` (loopir.Arr, one region each), with
    the loop sizes ``sizes`` (Size.slot -> value) written as constants."""
    body: list
    arrays: list
    strides: list
    sizes: list

    @property
    def n_arrays(self) -> int:
        return len(self.arrays)

    def emit(self, b, mod, ptrs) -> None:
        """The kernel's body (``ptrs``: each array's first element, from its slots)."""
        if table_parallel.parallel_loop(self.body) is not None:  # its outer loop over threads
            return table_parallel.emit(b, self.arrays, self.strides, self.sizes, self.body, ptrs)
        arrays = {a.name: (p, st) for a, p, st in zip(self.arrays, ptrs, self.strides)}
        ir.LLVM(b, arrays, self.sizes).run(self.body)


@dataclass
class Gemm:
    """``C = A @ B`` through BLAS: ``?gemm(transa, transb, n, m, k, 1, B, ldb, A, lda, 0, C, n)``
    (C^T = B^T A^T in column-major terms), ``?gemv`` if m or n is 1; with
    ``batch``, ((size, byte stride of A, of B, of C), ...), one call per matrix in nested loops."""
    dtype: np.dtype
    m: int
    n: int
    k: int
    trans_b: bool
    ldb: int
    trans_a: bool
    lda: int
    batch: tuple = ()

    def key(self):
        return ("gemm", self.dtype.name, self.m, self.n, self.k, self.trans_b, self.ldb,
                self.trans_a, self.lda) + ((self.batch,) if self.batch else ())

    def describe(self) -> str:
        batch = "".join(f"{n} x " for n, *_ in self.batch) + "(" * bool(self.batch)
        return (f"C = A @ B, {batch}{self.m} x {self.k} @ {self.k} x {self.n}{')' * bool(self.batch)} "
                f"(?gemm{' per matrix' * bool(self.batch)}, {self.dtype.name}"
                f"{', as ?gemv' * (1 in (self.m, self.n))})")

    n_arrays = 3

    def emit(self, b, mod, ptrs) -> None:
        if not self.batch:
            return _gemm_call(b, mod, self, ptrs)
        with batch_loop(b, self.batch, ptrs) as matrices:
            _gemm_call(b, mod, self, matrices)


@contextlib.contextmanager
def batch_loop(b, batch, ptrs):
    """A loop at builder ``b`` over every index of a stack (``batch``: per axis, its size and
    the byte stride of each of ``ptrs``; row-major): the ``with`` block writes its body for
    the pointers it is given, ``ptrs`` advanced to the current index. The builder is left
    after the loop."""
    from llvmlite import ir as L

    i64 = L.IntType(64)
    count = math.prod(n for n, *_ in batch)
    loop, body, done = (b.append_basic_block(f"batch.{x}") for x in ("loop", "body", "done"))
    start = b.block
    b.branch(loop)
    b.position_at_end(loop)
    m = b.phi(i64)
    m.add_incoming(L.Constant(i64, 0), start)
    b.cbranch(b.icmp_signed("<", m, L.Constant(i64, count)), body, done)
    b.position_at_end(body)
    offsets, inner = [L.Constant(i64, 0)] * len(ptrs), count
    for size, *strides in batch:  # this index's offsets: sum of (its index * stride)
        inner //= size
        if size > 1:
            idx = b.urem(b.udiv(m, L.Constant(i64, inner)), L.Constant(i64, size))
            offsets = [b.add(o, b.mul(idx, L.Constant(i64, s))) if s else o for o, s in zip(offsets, strides)]
    yield [b.gep(p, [o]) for p, o in zip(ptrs, offsets)]
    m.add_incoming(b.add(m, L.Constant(i64, 1)), b.block)
    b.branch(loop)
    b.position_at_end(done)


def _gemm_call(b, mod, k: Gemm, ptrs) -> None:
    from llvmlite import ir as L

    bi, i8 = L.IntType(table_engine._BLAS_INT_BITS), L.IntType(8)
    fty = L.DoubleType() if k.dtype == np.float64 else L.FloatType()

    def const(ty, v):  # by reference, in the entry block: not a stack allocation per matrix of a batch
        with b.goto_entry_block():
            p = b.alloca(ty)
            b.store(L.Constant(ty, v), p)
        return p

    def call(routine, *args):  # funcad_table_?<routine>(args), declared by the arguments' types
        sym = f"funcad_table_{'d' if k.dtype == np.float64 else 's'}{routine}"
        return b.call(ir.declare(mod, sym, L.VoidType(), [x.type for x in args]), args)

    a, bb, c = (b.bitcast(p, fty.as_pointer()) for p in ptrs)
    if k.n == 1 or k.m == 1:  # a matrix times a vector: ?gemv, as NumPy's matmul (~2x less CPU)
        if k.n == 1:  # c = A b: row-major A is k x m column-major (m x k if stored transposed)
            trans, rows, cols = ("N", k.m, k.k) if k.trans_a else ("T", k.k, k.m)
            mat, ld, vec, inc = a, k.lda, bb, 1 if k.trans_b else k.ldb
        else:  # c = a B = B^T a
            trans, rows, cols = ("T", k.k, k.n) if k.trans_b else ("N", k.n, k.k)
            mat, ld, vec, inc = bb, k.ldb, a, k.lda if k.trans_a else 1
        return call("gemv", const(i8, ord(trans)), const(bi, rows), const(bi, cols), const(fty, 1.0), mat,
                    const(bi, max(ld, 1)), vec, const(bi, max(inc, 1)), const(fty, 0.0), c, const(bi, 1))
    args = [const(i8, ord("T" if k.trans_b else "N")), const(i8, ord("T" if k.trans_a else "N")),
            const(bi, k.n), const(bi, k.m), const(bi, k.k), const(fty, 1.0), bb, const(bi, k.ldb),
            a, const(bi, k.lda), const(fty, 0.0), c, const(bi, max(k.n, 1))]
    if not (table_engine._THREAD_CONTROL and blas.tall_product(k.m, k.n, k.k)):
        return call("gemm", *args)
    # a reduction-shaped product on one OpenBLAS thread (blas.TALL_K)
    i32 = L.IntType(32)
    get = ir.declare(mod, "funcad_table_blas_get_threads", i32, [])
    set_ = ir.declare(mod, "funcad_table_blas_set_threads", L.VoidType(), [i32])
    before = b.call(get, [])
    limit = b.icmp_signed(">", before, L.Constant(i32, 1))
    with b.if_then(limit):
        b.call(set_, [L.Constant(i32, 1)])
    call("gemm", *args)
    with b.if_then(limit):
        b.call(set_, [before])


# --------------------------------------------------------------------------------------
# The plan


class Plan:
    """The program as buffers, regions and kernel calls (``self.calls``: (kernel index, or
    a host step (table_host.HostStep), regions)). Built from the simplified jaxpr, Python only."""

    def __init__(self, jaxpr: Jaxpr, consts: dict | None = None):
        self.n_in = len(jaxpr.invars)
        # per buffer: (nbytes, shape, dtype) for fresh ones, None for inputs, an ndarray for a
        # constant (a literal operand, a closed-over array: passed with every call, never written)
        self.buffers: list = []
        self.regions: dict[Var, Region] = {}
        self._constants: dict = {}  # (dtype, shape, bytes) -> the constant's Region
        self.kernels: list = []   # distinct Loops/Gemm
        self.index: dict = {}     # kernel key -> its index, in kernel order (the disk cache's description)
        self.calls: list = []     # (kernel index, [Region...])
        self.marks: list = []     # (first call, item) per fusion item, (first call, "{" or "}",
        #                           jaxpr) around a jaxpr's items: the source's comments
        self.past: list = []      # (var, region) of branch and loop bodies' values (regions forgets them)
        self.consts: dict = {}
        self.producers = {v: e for e in jaxpr.eqns for v in e.outputs}
        self.spans: list = []     # (first call, last call) of each loop, nested loops' too
        self.loops = 0            # counted loops (scans) so far: Control.loop numbers them
        self.steps: dict = {}     # (call, region position) -> [(loop, byte stride)]: advanced per iteration
        self.aliases: list = []   # a scan's slices while it is planned (table_control.Alias)
        self._generated: dict = {}  # an item's structure -> its loop IR (the steps of a loop: once)
        # (int64 status region, raise_fn(value)): a kernel that fails writes nonzero there;
        # TableProgram checks after the call (a buffer of its own, zeroed per call)
        self.checks: list = []
        for v in jaxpr.invars:
            self.buffers.append(None)
            self.regions[v] = Region(len(self.buffers) - 1, 0, v.aval.shape,
                                     _c_strides(v.aval.shape, v.aval.dtype), v.aval.dtype)
        for v, value in (consts or {}).items():  # constvars: closed-over arrays
            self.regions[v] = self.constant(value)
        # Kernels past this size run their outer loop on threads (table_parallel).
        self.parallel_min_size = codegen.PARALLEL_MIN_SIZE_BESIDE_BLAS if \
            codegen.calls_threaded_blas(jaxpr) else codegen.PARALLEL_MIN_SIZE
        self.equations(jaxpr)
        self.outvars = list(jaxpr.outvars)
        for a in self.outvars:
            if type(a) is Var and a in self.consts and a not in self.regions:
                self.region(a)

    def equations(self, jaxpr: Jaxpr) -> None:
        """Plan ``jaxpr``'s equations, its inputs having regions: the program's, or a branch's
        or loop body's (table_control.py)."""
        self.consts.update((e.outputs[0], e.params["fill_value"]) for e in jaxpr.eqns if e.prim is full_p)
        items = codegen._row_groups(fuse(jaxpr), self.parallel_min_size)
        # the last item reading each value (the outputs: after every item)
        last_read = {a: n for n, item in enumerate(items) for e in _eqns(item)
                     for a in e.inputs if type(a) is Var}
        last_read.update((a, len(items)) for a in jaxpr.outvars if type(a) is Var)
        defined = {v for e in jaxpr.eqns for v in e.outputs}
        order = {id(e): j for j, e in enumerate(jaxpr.eqns)}  # (host steps run in the program's order)
        self.marks.append((len(self.calls), "{", jaxpr))
        for n, item in enumerate(items):
            self.marks.append((len(self.calls), item))
            # (rules that write over an operand: this jaxpr's values, read by no later item)
            self.defined, self.last_read, self.item = defined, last_read, n
            if not isinstance(item, (Kernel, list)):
                self.single(item.eqn)
                continue
            eqns = sorted(_eqns(item), key=lambda e: order.get(id(e), -1))
            read_later = {v for e in eqns for v in e.outputs if last_read.get(v, -1) > n}
            self.native_or_host(eqns, self.loop_item, item, read_later)  # (loops it does not print)
        self.marks.append((len(self.calls), "}", jaxpr))

    # -- buffers and kernels --------------------------------------------------------------

    def fresh(self, v_or_shape, dtype=None) -> Region:
        """A buffer of the program's own: the value ``v``'s (its region, recorded) or a
        temporary of a shape and ``dtype``."""
        v = v_or_shape if dtype is None else None
        shape, dtype = (v.aval.shape, v.aval.dtype) if v is not None else (tuple(v_or_shape), np.dtype(dtype))
        self.buffers.append((math.prod(shape) * dtype.itemsize, shape, dtype))
        r = Region(len(self.buffers) - 1, 0, shape, _c_strides(shape, dtype), dtype)
        if v is not None:
            self.regions[v] = r
        return r

    def constant(self, value) -> Region:
        """The region of a constant array (deduplicated by value)."""
        value = np.array(value, order="C")  # (a copy; ascontiguousarray would make 0-d 1-d)
        key = (value.dtype.str, value.shape, value.tobytes())
        r = self._constants.get(key)
        if r is None:
            value.flags.writeable = False
            self.buffers.append(value)
            r = Region(len(self.buffers) - 1, 0, value.shape, value.strides, value.dtype)
            self._constants[key] = r
        return r

    def call(self, key, make, regions) -> None:
        """A call of the kernel ``key`` (``make()`` builds it, the first time) on ``regions``."""
        k = self.index.get(key)
        if k is None:
            k = self.index[key] = len(self.kernels)
            self.kernels.append(make())
        self.calls.append((k, list(regions)))

    def region(self, a) -> Region:
        if type(a) is Literal:
            return self.constant(np.asarray(a.val, a.aval.dtype))
        r = self.regions.get(a)
        if r is None and a in self.consts:  # a `full` read as an array: filled once
            r = self.fresh(a)
            self.fill(r, self.consts[a])
        if r is None:
            raise Unsupported(f"no region for {a}")
        return r

    # -- loops built here: fill, copy, add ----------------------------------------------

    def elementwise(self, dst: Region, kind, srcs=()) -> None:
        """``dst[i] = src[i]`` (kind "copy", cast to dst's dtype), ``dst[i] += src[i]`` ("add")
        or ``dst[i] = value`` (``("fill", value)``) over dst's shape, as a loop kernel."""
        if not ir.native(dst.dtype) or kind == "add" and dst.dtype.kind == "b":
            raise Unsupported(f"{dst.dtype} loops")
        regions = [dst, *srcs]
        key = ("elementwise", kind, tuple((r.dtype, r.shape, r.strides) for r in regions))
        self.call(key, lambda: _elementwise(dst, kind, srcs), regions)

    def fill(self, dst: Region, value) -> None:
        """``dst = value`` (any dtype: :func:`_words`)."""
        words = _words(dst)
        for w, v in zip(words, np.array(value, dst.dtype).reshape(1).view(words[0].dtype)):
            self.elementwise(w, ("fill", v))

    def copy(self, dst: Region, src: Region) -> None:
        """``dst = src`` (any dtype: :func:`_words`)."""
        if dst.dtype != src.dtype:  # (a cast)
            return self.elementwise(dst, "copy", [src])
        for d, s in zip(_words(dst), _words(src)):
            self.elementwise(d, "copy", [s])

    def status(self, error) -> Region:
        """A status word a kernel sets nonzero on failure: after the call, ``error(value)`` raises."""
        r = self.fresh((1,), np.int64)
        self.checks.append((r, error))
        return r

    def contiguous(self, r: Region) -> Region:
        if r.c_contiguous:
            return r
        out = self.fresh(r.shape, r.dtype)
        self.copy(out, r)
        return out

    # -- fusion items ---------------------------------------------------------------------

    def loop_item(self, item, read_later) -> None:
        """A kernel or row group: codegen's loop IR for it (generated once per structure),
        its arrays given regions (fresh ones for what it computes)."""
        eqns = _eqns(item)
        ins = _inputs_of(eqns)
        order = ins + [v for e in eqns for v in e.outputs]
        key = (_structure(eqns, ins, [v for v in order[len(ins):] if v in read_later]),
               tuple(self.consts.get(a) for a in ins))
        if key not in self._generated:
            self._generated[key] = self._generate(item, eqns, ins, order, read_later)
        text, stmts, arrays, arrays_key, positions, fills, sizes = self._generated[key]
        over = self._overwrites(order, len(ins), stmts, arrays, positions, fills)
        if over:  # outputs written over dying operands: their stores go to the operand's array
            drop = {qo for qo, _ in over}
            stmts = table_arena.stores_to(stmts, {arrays[qo]: arrays[qa] for qo, qa in over})
            arrays, positions = ([x[q] for q in range(len(x)) if q not in drop] for x in (arrays, positions))
            arrays_key = (arrays_key, over)
        for pos in positions:
            if type(pos) is int and pos >= len(ins) and order[pos] not in self.regions:
                r = self.fresh(order[pos])
                if pos in fills:
                    self.fill(r, fills[pos])
        regions = [self.region(order[pos]) if type(pos) is int else self.status(_negative_power)
                   if pos == "status" else self.fresh(*pos) for pos in positions]
        strides = [r.strides for r in regions]
        key = ("loops", text, arrays_key, tuple(strides), tuple(sizes))
        self.call(key, lambda: Loops(stmts, arrays, strides, sizes), regions)

    def _overwrites(self, order, n_in, stmts, arrays, positions, fills) -> tuple:
        """``((output's array, operand's array), ...)`` of a loop item: its fresh outputs that
        take the region of an operand of their shape and dtype (at least INPLACE_MIN_BYTES)
        that dies here (:meth:`writable`), where the kernel reads each element of the operand
        before writing the same element of the output (table_arena.overwritable)."""
        over, taken = [], set()
        # (an operand another array of the kernel also reads, a view of it, is never written over)
        seen = [self.regions[order[p]].buffer for p in positions
                if type(p) is int and order[p] in self.regions]
        for qo, po in enumerate(positions):
            if type(po) is not int or po < n_in or po in fills or order[po] in self.regions or \
                    math.prod(order[po].aval.shape) * order[po].aval.dtype.itemsize < INPLACE_MIN_BYTES:
                continue
            v = order[po]
            for qa, pa in enumerate(positions):
                a = order[pa] if type(pa) is int and pa < n_in and qa not in taken else None
                r = self.regions.get(a)
                if r is not None and (r.shape, r.dtype) == (v.aval.shape, v.aval.dtype) and \
                        seen.count(r.buffer) == 1 and \
                        self.writable(r) and table_arena.overwritable(stmts, arrays[qa], arrays[qo]):
                    self.regions[v] = r
                    over.append((qo, qa))
                    taken.add(qa)
                    break
        return tuple(over)

    def writable(self, r: Region) -> bool:
        """Whether region ``r`` (an operand's) is a whole buffer of the program's own that nothing
        reads after this item: every value in that buffer computed by the jaxpr being planned
        (not an input, nor a value from outside a loop body or branch, which a next iteration
        reads) and read by no later item of it (an output: after every item)."""
        return self.whole(r) and all(x in self.defined and self.last_read.get(x, -1) <= self.item
                                     for x, q in self.regions.items() if q.buffer == r.buffer)

    def whole(self, r: Region) -> bool:
        """Whether region ``r`` is all of a fresh buffer (not an input, a constant, a scan's
        slice (table_control.ALIAS) or a part of a buffer)."""
        b = self.buffers[r.buffer] if self.n_in <= r.buffer < len(self.buffers) else None
        return type(b) is tuple and not r.offset and r.c_contiguous and \
            b[0] == math.prod(r.shape) * r.dtype.itemsize

    def _generate(self, item, eqns, ins, order, read_later):
        """``(text, statements, arrays, their key, their positions in order, fills, sizes)`` of
        an item."""
        g = codegen.Gen()
        g.parallel_min_size = self.parallel_min_size
        g.consts.update(self.consts)
        for a in ins:
            if a not in self.consts:
                g.name(a)
        if isinstance(item, list):
            codegen.emit_row_group(g, item, codegen._per_row(item, read_later))
        else:
            codegen.emit_kernel(g, item)
        position = {g.names[v]: pos for pos, v in enumerate(order) if v in g.names}
        fills, stmts = {}, []
        for s in g.body:
            if type(s) is ir.Alloc:  # a fresh array (its region: loop_item), filled if given
                if s.fill is not None:
                    fills[position[s.arr.name]] = s.fill.value
                continue
            if not supported(s):
                dtypes = sorted({v.aval.dtype.name for e in eqns for v in e.inputs + e.outputs})
                raise Unsupported(f"the loops of {', '.join(dict.fromkeys(e.prim.name for e in eqns))} "
                                  f"on {', '.join(dtypes)}")
            stmts.append(s)
        if not table_parallel.well_formed(stmts):
            raise Unsupported("a parallel loop not at a kernel's top")
        arrays = {n.arr.name: n.arr for s in stmts for n in ir.walk(s) if type(n) in (ir.Load, ir.Store)}
        # (a parallel reduction's partial results: a scratch array, after the values)
        scratch = table_parallel.scratch_shapes(stmts, g.sizes, set(arrays) - set(position))
        arrs = sorted((a for a in arrays.values() if a.name not in scratch), key=lambda a: int(a.name[1:])) \
            + [arrays[name] for name in sorted(scratch)]
        text = "\n".join(ln for s in stmts for ln in ir.lines(s))
        arrays_key = tuple((a.name, a.dtype.name, a.ndim) for a in arrs)
        positions = [(scratch[a.name], a.dtype) if a.name in scratch else position[a.name] for a in arrs]
        if any(type(n) is ir.Call and n.fn == "ipow" for s in stmts for n in ir.walk(s)):
            arrs.append(ir.Arr("status", ir.INT, 0))  # (its region: a status word, loop_item)
            positions.append("status")
        return text, stmts, arrs, arrays_key, positions, fills, list(g.sizes)

    def single(self, e) -> None:
        """An equation that is its own fusion item, by its primitive's rule in :data:`SINGLE`."""
        if e.prim is full_p:
            return  # a constant: inlined where loops read it, filled where read as an array
        rule = SINGLE.get(e.prim)
        if rule is None:
            return HOST.degraded(self, [e], "no native rule")
        self.native_or_host([e], rule, self, e)

    def native_or_host(self, eqns, rule, *args) -> None:
        """``rule(*args)``, which plans ``eqns`` natively; where it raises :class:`Unsupported`
        (or meets a value without a region), what it had added is forgotten and ``eqns`` become
        host steps."""
        before = [len(x) for x in (self.buffers, self.calls, self.kernels, self.regions, self.checks,
                                   self.spans, self.aliases)]
        try:
            rule(*args)
        except (Unsupported, KeyError) as why:
            buffers, calls, kernels, regions, checks, spans, aliases = before
            del self.checks[checks:], self.spans[spans:], self.aliases[aliases:]
            while len(self.regions) > regions:
                self.regions.popitem()  # (the last added first)
            while len(self.index) > kernels:
                self.index.popitem()
            self._constants = {k: r for k, r in self._constants.items() if r.buffer < buffers}
            # (a loop's slices in calls no longer there: their slots must not advance)
            self.steps = {k: v for k, v in self.steps.items() if k[0] < calls}
            del self.buffers[buffers:], self.calls[calls:], self.kernels[kernels:]
            HOST.degraded(self, eqns, why)

    def view_index(self, e) -> None:
        if not (len(e.inputs) == 1 and _is_basic(e.params["template"])):
            raise Unsupported("an advanced index")
        self.regions[e.outputs[0]] = _view(self.region(e.inputs[0]), _build_index(e.params["template"], ()))

    def reshape(self, e) -> None:
        out = e.outputs[0]
        if e.inputs[0].aval.dtype != out.aval.dtype:
            raise Unsupported("a reshape that changes the dtype")
        r = self.contiguous(self.region(e.inputs[0]))
        shape = tuple(e.params["new_shape"])
        self.regions[out] = Region(r.buffer, r.offset, shape, _c_strides(shape, r.dtype), r.dtype)

    def transpose(self, e) -> None:
        r, perm = self.region(e.inputs[0]), e.params["permutation"]
        self.regions[e.outputs[0]] = Region(r.buffer, r.offset, tuple(r.shape[p] for p in perm),
                                            tuple(r.strides[p] for p in perm), r.dtype)

    def index_add(self, e) -> None:
        if not (len(e.inputs) == 2 and _is_basic(e.params["template"])):
            raise Unsupported("index_add at an advanced index")
        x, u = (self.region(a) for a in e.inputs)
        r = self.fresh(e.outputs[0])
        self.copy(r, x)
        part = _view(r, _build_index(e.params["template"], ()))
        if part.shape != u.shape:
            raise Unsupported("index_add of a broadcast update")
        self.elementwise(part, "add", [u])

    def concatenate(self, e) -> None:
        out = e.outputs[0]
        if not all(a.aval.dtype == out.aval.dtype for a in e.inputs):
            raise Unsupported("concatenate of mixed dtypes")
        r = self.fresh(out)
        axis, start = e.params["axis"], 0
        for a in e.inputs:  # each operand copied into its part of the result
            n = a.aval.shape[axis]
            self.copy(_view(r, (slice(None),) * axis + (slice(start, start + n),)), self.region(a))
            start += n

    def matmul(self, e) -> None:
        """A product of two matrices of one float dtype (table_einsum.matmul's other cases:
        stacks, mixed dtypes), by BLAS."""
        a, b = (self.region(x) for x in e.inputs)
        c = self.fresh(e.outputs[0])
        (m, k), n, size = a.shape, b.shape[1], a.dtype.itemsize
        if max(m, n, k, *(abs(s) // size for s in a.strides + b.strides)) >= 2 ** 31:
            raise Unsupported("a matrix size past 32-bit BLAS integers")
        if m == 0 or n == 0:
            return
        if k == 0:
            return self.fill(c, 0.0)
        # (an operand whose strides BLAS cannot take is copied first)
        a, b = (x if _blas_layout(x, size) else self.contiguous(x) for x in (a, b))
        (ta, lda), (tb, ldb) = (_blas_layout(x, size) for x in (a, b))
        gemm = Gemm(a.dtype, m, n, k, tb, ldb, ta, lda)
        self.call(gemm.key(), lambda: gemm, [a, b, c])
        if _weighted_gram(self.producers, *e.inputs):  # B.T @ (B * v): exactly symmetric
            self.call(("mirror", c.dtype.name, c.shape, c.strides), lambda: _mirror(c), [c])


#: How an equation that is its own fusion item becomes regions and kernel calls:
#: ``rule(plan, eqn)`` (raises :class:`Unsupported` for what it does not cover). One entry
#: per primitive; other modules add theirs with :func:`register_single`.
SINGLE: dict = {
    index_p: Plan.view_index,
    reshape_p: Plan.reshape,
    transpose_p: Plan.transpose,
    index_add_p: Plan.index_add,
    concatenate_p: Plan.concatenate,
}


def register_single(prim, rule) -> None:
    """Compile equations of ``prim`` that stand alone with ``rule(plan, eqn)``."""
    SINGLE[prim] = rule


#: backend/table_host.py, once imported (dispatch imports it): ``HOST.degraded(plan, eqns,
#: why)`` makes equations no rule covers host steps calling their primitives'
#: implementations; ``HOST.run`` calls a program with host steps; ``HOST.inline_calls``
#: inlines custom_jvp/vjp, checkpoint and custom_lin calls.
HOST = None


# --------------------------------------------------------------------------------------
# The plan's helpers: fill, copy and add loops, views, BLAS layouts


def _words(r: Region) -> list:
    """``r`` itself where loopir has its dtype, else as unsigned integers of its size (float16)
    or 8-byte words (a long double)."""
    n = r.dtype.itemsize
    if ir.native(r.dtype) or n not in (1, 2, 4, 8) and n % 8:
        return [r]
    if n in (1, 2, 4, 8):
        return [Region(r.buffer, r.offset, r.shape, r.strides, np.dtype(f"u{n}"))]
    return [Region(r.buffer, r.offset + 8 * j, r.shape, r.strides, np.dtype("u8")) for j in range(n // 8)]


def _negative_power(_):
    raise ValueError("Integers to negative integer powers are not allowed.")  # (NumPy's words)


def _elementwise(dst: Region, kind, srcs) -> Loops:
    """The loop kernel of :meth:`Plan.elementwise`: a loop per axis of ``dst`` (none for a
    unit axis), the sources read with broadcasting."""
    axes = [d for d, n in enumerate(dst.shape) if n != 1]
    idx = [ir.Local(f"i{d}", ir.INT) if d in axes else 0 for d in range(len(dst.shape))]
    arrs = [ir.Arr(f"v{j}", r.dtype, len(r.shape)) for j, r in enumerate([dst, *srcs])]
    if kind[0] == "fill":
        value = ir.Const(kind[1], dst.dtype)
    else:  # (the source's unit axes read at 0)
        at = tuple(i if n != 1 else 0 for i, n in zip(idx, srcs[0].shape))
        value = ir.cast(ir.Load(arrs[1], at), dst.dtype)
    stmt = ir.Store(arrs[0], tuple(idx), value, aug="+" if kind == "add" else "")
    for slot, d in reversed(list(enumerate(axes))):
        stmt = ir.Loop(idx[d], ir.Size(slot, f"n{slot}"), [stmt])
    return Loops([stmt], arrs, [r.strides for r in [dst, *srcs]], [dst.shape[d] for d in axes])


def _weighted_gram(producers, x, y) -> bool:
    """Whether ``x @ y`` is ``B.T @ (B * v)``, ``v`` a column or a scalar (the Hessian of a loss
    summed over the rows of ``B``), made exactly symmetric: ?gemm's upper triangle is mirrored
    (:func:`_mirror`)."""
    tx, my = producers.get(x), producers.get(y)
    if tx is None or my is None or tx.prim is not transpose_p or my.prim is not mul_p or \
            tuple(tx.params["permutation"]) != (1, 0):
        return False
    B, (u, v) = tx.inputs[0], my.inputs
    w = v if u is B else u if v is B else None
    return w is not None and w.aval.shape in ((), (1,), (1, 1), (B.aval.shape[0], 1))


def _mirror(c: Region) -> Loops:
    """``c[r, q] = c[q, r]`` for ``q < r``: the lower triangle from the upper one."""
    r, q = ir.Local("i0", ir.INT), ir.Local("i1", ir.INT)
    arr = ir.Arr("v0", c.dtype, 2)
    stmt = ir.Loop(r, ir.Size(0, "n0"), [ir.Loop(q, r, [ir.Store(arr, (r, q), ir.Load(arr, (q, r)))])])
    return Loops([stmt], [arr], [c.strides], [c.shape[0]])


def _inputs_of(eqns) -> list:
    """The values ``eqns`` read that none of them defines, in order of first use."""
    defined, ins = {v for e in eqns for v in e.outputs}, []
    for e in eqns:
        ins.extend(a for a in e.inputs if type(a) is Var and a not in defined and a not in ins)
    return ins


def _structure(eqns, ins, outs):
    """A key equal for two items exactly when codegen builds the same loops for them (the
    same equations up to renaming, the same shapes and literals), so that the repeated steps
    of an unrolled loop are generated once. A new object, equal to no other, if a parameter
    is unhashable."""
    index = {v: k for k, v in enumerate(ins)}
    key = [tuple((v.aval.shape, v.aval.dtype) for v in ins)]
    try:
        for e in eqns:
            atoms = tuple(index[a] if type(a) is Var else _atom_key(a) for a in e.inputs)
            for v in e.outputs:
                index[v] = len(index)
            key.append((e.prim, atoms, _params_key(e.params),
                        tuple((v.aval.shape, v.aval.dtype) for v in e.outputs)))
        key.append(tuple(index[v] for v in outs))
        key = tuple(key)
        hash(key)
        return key
    except TypeError:
        return object()


def _eqns(item) -> list:
    if isinstance(item, list):
        return [e for k in item for e in k.eqns]
    return item.eqns if isinstance(item, Kernel) else [item.eqn]


def _view(r: Region, index) -> Region:
    """The region of ``r[index]`` (a basic index), found by indexing an array of r's strides
    over no memory (never read)."""
    key = (r.shape, r.strides, r.dtype, repr(index))
    found = _views.get(key)
    if found is None:
        fake = np.lib.stride_tricks.as_strided(np.zeros(1, r.dtype), r.shape, r.strides)
        # a new last axis: a view even where fake[index] is a scalar
        view = fake[(*index, None) if Ellipsis in index else (*index, Ellipsis, None)]
        offset = view.__array_interface__["data"][0] - fake.__array_interface__["data"][0]
        found = _views[key] = (offset, view.shape[:-1], view.strides[:-1])
    offset, shape, strides = found
    return Region(r.buffer, r.offset + offset, shape, strides, r.dtype)


_views: dict = {}  # (shape, strides, dtype, index) -> the view's (offset, shape, strides)


def _blas_layout(r: Region, size: int):
    """``(transposed, ld)`` for an r x c operand as BLAS takes it (row-major: not
    transposed), None if its strides suit neither layout."""
    (rows, cols), (s0, s1) = r.shape, (s // size for s in r.strides)
    if r.strides[0] % size or r.strides[1] % size:
        return None
    if (cols <= 1 or s1 == 1) and (rows <= 1 or s0 >= max(1, cols)):
        return False, max(cols, 1) if rows <= 1 else s0
    if (rows <= 1 or s0 == 1) and (cols <= 1 or s1 >= max(1, rows)):
        return True, max(rows, 1) if cols <= 1 else s1
    return None


def supported(s) -> bool:
    """Whether loopir.LLVM writes statement ``s`` (parallel loops: table_parallel)."""
    return ir.printable(s, parallel=True)


# --------------------------------------------------------------------------------------
# The compiled program


stats = {"compiled": 0, "loaded": 0}
#: ``DESCRIBE(program, plan, jaxpr, arg_names)``: a program's text (backend/table_source.py)
DESCRIBE = None


class TableProgram:
    """A compiled program: ``exe(args)`` -> list of output arrays, one native call."""

    def __init__(self, jaxpr: Jaxpr, plan: Plan):
        with _lock:
            table_engine._setup()
        self.dtypes = [v.aval.dtype for v in jaxpr.invars]
        description = (table_engine._host(), table_engine._writers(plan.kernels), list(plan.index))
        digest = hashlib.sha256(repr(description).encode()).hexdigest()
        name = f"funcad_table_{digest[:16]}"
        where = table_engine._cache_dir()
        path = where and where / f"{digest}.o"
        with _lock:  # one thread at a time compiles or adds code
            self._code = _loaded.get(name)
            if self._code is None:
                self._code = _loaded[name] = table_engine._Code(name, path, plan.kernels)
                stats[self._code.how] += 1
            addresses, entry = self._code.addresses, table_engine._runtime()
        self.name, self.kernels = name, len(plan.kernels)
        # The table: per call, its kernel's address and its (buffer, offset) slots.
        # Control entries: a null address, their op, target and operands in the slots.
        layout = self._layout(plan)
        # host steps: ctypes callbacks, kept alive here (their addresses are not in the module)
        self.host = {c: k.bind() for c, (k, _) in enumerate(plan.calls) if type(k) not in (int, Control)}
        self.fns = np.array([addresses[k] if type(k) is int else 0 if type(k) is Control else
                             ctypes.cast(self.host[c], ctypes.c_void_p).value
                             for c, (k, _) in enumerate(plan.calls)], np.uintp)
        slots, offsets, bumps = [], [], {}
        for c, (k, regions) in enumerate(plan.calls):
            offsets.append(len(slots))
            control = type(k) is Control
            slots += [k.op, k.target] if control else []
            for q, r in enumerate(regions):
                for loop, stride in plan.steps.get((c, q), ()):  # a slice: its offset slot advances
                    bumps.setdefault(loop, []).extend((len(slots) + 1, stride))
                buf, base = layout[r.buffer]
                slots += [buf, base + r.offset]
            if control:
                slots += k.ints
                if k.op == STEP:
                    pairs = bumps.pop(k.loop, [])
                    slots += [0, len(pairs) // 2, *pairs]
        self.slots, self.offsets = np.array(slots, np.int64), np.array(offsets, np.int64)
        copy_at = -1
        if plan.loops:  # the slots' per-call copy, after the arena
            copy_at, self.arena_bytes = self.arena_bytes, self.arena_bytes + 8 * len(slots)
        self._entry = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p)(entry)
        self._info = np.array([len(plan.calls), self.fns.ctypes.data, self.offsets.ctypes.data,
                               self.slots.ctypes.data, self.n_slots, *_OFFSETS, copy_at, len(slots)],
                              np.int64)
        self._info_address = self._info.ctypes.data
        self.checks = [fn for _, fn in plan.checks]  # raise_fn per status word
        self._clean = bytes(8 * len(self.checks))

    @property
    def source(self) -> str:
        return self.describe()

    def describe(self, arg_names=None) -> str:
        """What ``jit(f).lower(x).source`` shows (``arg_names``: the arguments' names): the
        table under the jaxpr's equations, each kernel's loop IR (backend/table_source.py).
        The plan is built again here (the same) unless :func:`build` kept it for this read
        (``jit(f).lower``): a program does not keep it (a third of what it would hold, for
        ~50 ms of Python per read on the LSTM-20 gradient)."""
        plan = self.__dict__.pop("_plan", None) or Plan(*self._plan_args)
        return DESCRIBE(self, plan, self._plan_args[0], arg_names)

    def _layout(self, plan: Plan) -> dict:
        """Buffer -> (slot in the per-call pointer table, byte offset). Slots: the inputs,
        then a fresh array per program output computed into its own buffer, the constants,
        the status words (one slot, if the program has any), then the arena."""
        layout = {b: (b, 0) for b in range(plan.n_in)}
        outs, self.out_buffers, self.outputs = {}, [], []
        for a in plan.outvars:
            if type(a) is Literal:
                self.outputs.append(("literal", np.asarray(a.val, a.aval.dtype)))
                continue
            r = plan.region(a)
            if plan.whole(r) and r.buffer not in outs:
                outs[r.buffer] = len(self.out_buffers)
                self.out_buffers.append((r.shape, r.dtype))
                self.outputs.append(("out", outs[r.buffer], r.shape))
            else:
                self.outputs.append(("view", r))  # a copy of a view, an input, a repeat
        layout.update((b, (plan.n_in + j, 0)) for b, j in outs.items())
        consts = [b for b, c in enumerate(plan.buffers) if type(c) is np.ndarray]
        self.consts = tuple(plan.buffers[b] for b in consts)
        layout.update((b, (plan.n_in + len(outs) + j, 0)) for j, b in enumerate(consts))
        status = plan.n_in + len(outs) + len(consts)
        layout.update((r.buffer, (status, 8 * j)) for j, (r, _) in enumerate(plan.checks))
        arena = status + bool(plan.checks)
        inner = [b for b in range(plan.n_in, len(plan.buffers)) if b not in layout]
        read_after = [o[1].buffer for o in self.outputs if o[0] == "view" and o[1].buffer in inner]
        ranges = table_arena.live_ranges(plan.calls, inner, read_after, plan.spans)
        sizes = {b: plan.buffers[b][0] for b in inner}
        offsets, self.arena_bytes = table_arena.pack(sizes, ranges)
        self.intermediate_bytes = table_arena.total(sizes.values())  # (their sum: the arena without reuse)
        layout.update((b, (arena, offsets[b])) for b in inner)
        self.layout, self.n_slots = layout, arena + 1
        # every output its own fresh buffer, in order: the call returns them as they are
        self._plain = self.outputs == [("out", j, shape) for j, (shape, _) in enumerate(self.out_buffers)]
        # Arenas kept for the next calls: past glibc's largest mmap threshold (32 MB) a fresh
        # one is mapped and faulted in at every call (a 32 MB block written: 7.1 ms CPU
        # fresh, 1.7 ms kept). Not shrunk: the program holds its arena while it lives.
        self._arenas: list = []
        return layout

    def __call__(self, args) -> list:
        bufs = _c_arrays(args, self.dtypes)
        outs = [np.empty(shape, dt) for shape, dt in self.out_buffers]
        try:  # the arena is kept between calls (one per thread calling at once): see _arenas
            arena = self._arenas.pop()
        except IndexError:
            arena = np.empty(self.arena_bytes // 8 + 1, np.float64)
        status = (np.zeros(len(self.checks), np.int64),) if self.checks else ()
        bufs = (*bufs, *outs, *self.consts, *status, arena)
        if self.host:
            HOST.run(self._entry, bufs, self._info_address)
        else:
            self._entry(id(bufs), self._info_address)  # (bufs is alive until the call returns)
        if status and status[0].tobytes() != self._clean:  # (~0.2 us; .any(): ~2 us)
            for fn, info in zip(self.checks, status[0].tolist()):
                if info:
                    fn(info)
        if self._plain:
            self._arenas.append(arena)
            return outs
        result = []
        for o in self.outputs:
            if o[0] == "out":
                result.append(outs[o[1]])
            elif o[0] == "literal":
                result.append(o[1].copy())
            else:
                r = o[1]
                slot, base = self.layout[r.buffer]
                result.append(array_at(bufs[slot], base + r.offset, r.shape, r.dtype, r.strides).copy())
        self._arenas.append(arena)
        return result


def _c_arrays(args, dtypes) -> list:
    """The flat arguments as C-contiguous arrays of the program's dtypes (copied only if needed)."""
    out = []
    for x, dt in zip(args, dtypes):
        if type(x) is not np.ndarray or x.dtype != dt:
            x = np.asarray(x, dt)
        if not x.flags.c_contiguous:
            x = np.ascontiguousarray(x)
        out.append(x)
    return out


def array_at(buffer, offset, shape, dtype, strides) -> np.ndarray:
    """The array of ``shape``, ``dtype`` and byte ``strides`` at byte ``offset`` of ``buffer`` (a
    call's array: an output read from a view, an input or a repeat; a host step's operand)."""
    if 0 in shape:  # (nothing to read; the offset of an empty view may lie past the buffer)
        return np.empty(shape, dtype)
    return np.ndarray(shape, dtype, buffer, offset, strides)  # (positional: 2x faster)


_loaded = weakref.WeakValueDictionary()  # module name -> its _Code, while a program runs it
_lock = threading.RLock()


def _object_offsets() -> tuple | None:
    """Where a tuple's items and an ndarray's data pointer are, in bytes from the object's
    address (CPython's and NumPy's ABI: after the object header). The native entry reads
    the buffers' pointers there (``.ctypes.data`` costs ~1 us per array in Python); checked
    here on real objects."""
    x = np.zeros(1)
    t = (x,)
    item, data = tuple.__basicsize__, object.__basicsize__
    if ctypes.c_void_p.from_address(id(t) + item).value != id(x) or \
            ctypes.c_void_p.from_address(id(x) + data).value != x.ctypes.data:
        return None  # another layout (a free-threaded build...): build raises UnsupportedPythonError
    return item, data


_OFFSETS = _object_offsets()


def build(jaxpr: Jaxpr, keep_plan: bool = False) -> TableProgram:
    """A :class:`TableProgram` for the simplified ``jaxpr`` (any: what has no native code runs
    as host steps); UnsupportedPythonError on a Python whose object layout it cannot read.
    ``keep_plan``: kept for one :meth:`TableProgram.describe`."""
    if _OFFSETS is None:
        from ..errors import UnsupportedPythonError

        raise UnsupportedPythonError(
            "funcad.jit: this Python lays out tuples and NumPy arrays otherwise than the standard "
            "CPython build (a free-threaded build?): compiled programs read their arrays' addresses "
            "from that layout, so jit cannot run here. Use a standard (GIL) CPython build, or run "
            "without jit (`with funcad.disable_jit():`).")
    if jaxpr.constvars:  # the program's arguments are its constvars' values, then its invars'
        jaxpr = Jaxpr([], jaxpr.constvars + jaxpr.invars, jaxpr.eqns, jaxpr.outvars)
    jaxpr, consts = HOST.inline_calls(jaxpr)
    plan = Plan(jaxpr, consts)
    program = TableProgram(jaxpr, plan)
    program._plan_args = (jaxpr, consts)  # (for .source: the plan is built again when read)
    if keep_plan:
        program._plan = plan
    return program
