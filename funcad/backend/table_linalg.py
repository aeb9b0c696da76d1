"""LAPACK in the table backend: ``solve``, ``cholesky``, ``triangular_solve``, ``det``,
``slogdet`` and ``symmetrize`` on single matrices and stacks (any batch axes, broadcast), as
kernels of table.py's calling convention. Float32/float64 operands of one dtype; anything
else raises ``table.Unsupported`` (the program takes another path).

LAPACK works in column-major order and overwrites its operands, so each rule copies what
LAPACK writes over into fresh regions first (copy loops that transpose through strides), then
one :class:`Lapack` kernel calls the routine per matrix of the stack (the library table.py's
``?gemm`` comes from: one OpenBLAS, one thread pool). The arithmetic is today's jit's:

* ``solve``: ``?gesv`` on A in column-major order (NumPy's call), B copied
  into the result where one column (C order = column-major), else into a column-major copy;
* ``cholesky``: the input copied into the C-ordered result, whose lower triangle is the
  column-major upper one: ``?potrf('U')`` factors it in place;
  the strict upper triangle is zeroed by a loop, as NumPy returns it;
* ``triangular_solve``: ``?trtrs`` reading a C-ordered matrix in place as the column-major
  transpose, with ``uplo`` and ``trans`` flipped (what SciPy's ``solve_triangular`` does);
* stacks of small matrices (n <= 12 solve, n <= 8 cholesky): a loop kernel over the
  matrices (loop IR, shown in the program's source), read from the operands where they are
  (no copies), the same arithmetic in the same order;
* ``det``/``slogdet``: ``?getrf`` on a column-major copy, then NumPy's determinant of the
  factors (umath_linalg's order: float64 results are NumPy's bits);
* ``symmetrize``: one loop over each pair ``x[i, j]``, ``x[j, i]`` (both read before either is
  written), written over its operand when nothing else reads it.

Failures raise what today's jit raises (NumPy's and SciPy's ``LinAlgError`` and messages): a
kernel writes LAPACK's ``info`` into the program's status words (``Plan.checks``, checked by
``TableProgram`` after the call) and sets the stop word, so the interpreter stops after it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..lax import decompositions as dec
from ..lax import linalg as la
from . import loopir as ir
from . import table, table_engine
from .table import Loops, Region, Unsupported
from .table_einsum import broadcast
from .table_index import Checked, call_loops, stop


@dataclass(frozen=True)
class Lapack:
    """``routine`` on each matrix of a stack of shape ``batch``, its arrays: ``gesv``: A, B,
    ipiv; ``potrf``: A; ``trtrs``: A, B; then the status word; ``getrf`` (``flags``: "det" or
    "slogdet"): A, the determinant (or the sign and the log), ipiv, no status word (a singular
    matrix is no error). ``steps``: each matrix array's byte strides over the batch axes;
    ``flags``: the character arguments."""
    routine: str
    dtype: np.dtype
    n: int
    k: int
    lda: int
    ldb: int
    batch: tuple
    steps: tuple
    flags: str = ""

    def key(self):
        return ("lapack", self.routine, self.dtype.name, self.n, self.k, self.lda, self.ldb,
                self.batch, self.steps, self.flags)

    @property
    def n_arrays(self) -> int:
        return len(self.steps) + 1 + (self.routine == "gesv")  # (getrf: ipiv, no status)

    def emit(self, b, mod, ptrs) -> None:
        """A loop over the stack: the routine on each matrix until one fails (nonzero info),
        which writes info into the status word and stops the program."""
        from llvmlite import ir as L

        i64, bi = L.IntType(64), L.IntType(table_engine._BLAS_INT_BITS)
        f = (L.DoubleType() if self.dtype == np.float64 else L.FloatType()).as_pointer()
        ipiv = b.bitcast(ptrs[len(self.steps)], bi.as_pointer())  # (gesv, getrf)
        n, k, lda, ldb, fail = self.n, self.k, self.lda, self.ldb, None
        with table.batch_loop(b, tuple(zip(self.batch, *self.steps)), ptrs[:len(self.steps)]) as mats:
            a, *rest = (b.bitcast(m, f) for m in mats)
            args = {"gesv": (n, k, a, lda, ipiv, *rest, ldb),  # (n, nrhs, a, lda, ipiv, b, ldb, info)
                    "potrf": (*self.flags, n, a, lda),  # (uplo, n, a, lda, info)
                    "trtrs": (*self.flags, n, k, a, lda, *rest, ldb),  # (uplo, trans, diag, n, nrhs...)
                    "getrf": (n, n, a, lda, ipiv)}  # (m, n, a, lda, ipiv, info)
            info = self._call(b, mod, *args[self.routine])
            if self.routine == "getrf":  # (no failure)
                self._determinant(b, mod, info, a, ipiv, rest)
            else:
                fail, go_on = (b.function.append_basic_block(x) for x in ("fail", "next"))
                b.cbranch(b.icmp_signed("!=", info, L.Constant(i64, 0)), fail, go_on)
                b.position_at_end(go_on)
        if fail is not None:  # info into the status word; the program stops
            done = b.block
            b.position_at_end(fail)
            b.store(info, b.bitcast(ptrs[-1], i64.as_pointer()))
            stop(b)
            b.branch(done)
            b.position_at_end(done)

    def _call(self, b, mod, *args):
        """LAPACK's ``?<routine>(*args, &info)``; returns info as an i64. Fortran takes every
        argument by reference: Python ints (BLAS integers) and strings (characters) are passed
        as pointers to constants, LLVM values (pointers) as they are. Fortran's hidden lengths
        of the character arguments follow (OpenBLAS's C routines ignore them)."""
        from llvmlite import ir as L

        i8, i64, bi = L.IntType(8), L.IntType(64), L.IntType(table_engine._BLAS_INT_BITS)
        vals = list(args)
        with b.goto_entry_block():  # (an alloca in the loop would grow the stack per matrix)
            info = b.alloca(bi)
            for j, a in enumerate(args):
                if isinstance(a, (int, str)):
                    t, v = (i8, ord(a)) if isinstance(a, str) else (bi, a)
                    vals[j] = b.alloca(t)
                    b.store(L.Constant(t, v), vals[j])
        chars = sum(isinstance(a, str) for a in args)
        sym = f"funcad_table_{'d' if self.dtype == np.float64 else 's'}{self.routine}"
        fn = ir.declare(mod, sym, L.VoidType(), [v.type for v in vals] + [info.type] + [i64] * chars)
        b.call(fn, vals + [info] + [L.Constant(i64, 1)] * chars)
        got = b.load(info)
        return b.sext(got, i64) if bi.width < 64 else got

    def _determinant(self, b, mod, info, a, piv, outs) -> None:
        """The determinant from ``?getrf``'s factors ``a`` (column-major) and pivots, as
        NumPy's ``det``/``slogdet`` (umath_linalg): the sign from the pivots' parity and the
        diagonal's signs, the log of |det| summed along the diagonal, det = sign * exp(log);
        singular: 0 and -inf."""
        from llvmlite import ir as L

        i64, f = L.IntType(64), a.type.pointee
        zero, suffix = L.Constant(f, 0.0), "f64" if self.dtype == np.float64 else "f32"
        log, exp = (ir.declare(mod, f"llvm.{g}.{suffix}", f, [f]) for g in ("log", "exp"))
        with b.goto_entry_block():
            sign, total = b.alloca(f), b.alloca(f)
        b.store(L.Constant(f, 1.0), sign)
        b.store(zero, total)

        def flip(cond):
            b.store(b.select(cond, b.fneg(b.load(sign)), b.load(sign)), sign)

        def pivot(j):  # a row interchange: the sign flips
            p = b.load(b.gep(piv, [j]))
            p = b.sext(p, i64) if p.type.width < 64 else p
            flip(b.icmp_signed("!=", p, b.add(j, L.Constant(i64, 1))))

        def diagonal(j):
            d = b.load(b.gep(a, [b.mul(j, L.Constant(i64, self.n + 1))]))
            negative = b.fcmp_ordered("<", d, zero)
            flip(negative)
            b.store(b.fadd(b.load(total), b.call(log, [b.select(negative, b.fneg(d), d)])), total)

        ir.for_range(b, 0, self.n, pivot)
        ir.for_range(b, 0, self.n, diagonal)
        singular = b.icmp_signed("!=", info, L.Constant(i64, 0))
        s = b.select(singular, zero, b.load(sign))
        lg = b.select(singular, L.Constant(f, float("-inf")), b.load(total))
        if self.flags == "det":
            b.store(b.fmul(s, b.call(exp, [lg])), outs[0])
        else:
            b.store(s, outs[0])
            b.store(lg, outs[1])

    def describe(self) -> str:
        k = f", k = {self.k}" if self.routine in ("gesv", "trtrs") else ""
        count = math.prod(self.batch)
        return f"?{self.routine}({self.flags}) on {count} matrices, n = {self.n}{k} ({self.dtype.name})"


def _addresses() -> dict:
    """LAPACK's routines, from the library that table.py takes ``?gemm`` from."""
    routines = tuple(p + r for r in ("gesv", "potrf", "trtrs", "getrf") for p in "ds")
    found, _ = table_engine._blas_addresses(routines)
    return {f"funcad_table_{r}": a for r, a in found.items()}


table_engine.SYMBOL_HOOKS.append(_addresses)


# --------------------------------------------------------------------------------------
# Regions: column-major views and copies; the errors


def _fortran(r: Region) -> Region:
    """A fresh C-ordered region ``r`` seen as column-major matrices (the last two axes'
    strides swapped, and the shape with them): r's (..., p, q) memory holds (..., q, p)."""
    *batch, p, q = r.shape
    s = r.dtype.itemsize
    return Region(r.buffer, r.offset, (*batch, q, p), (*r.strides[:-2], s, q * s), r.dtype)


def _copy(plan, dst: Region, src: Region) -> None:
    """``dst = src`` with the matrix axes of both swapped where that makes dst's inner loop
    contiguous (the copy loops run over the axes in order)."""
    if abs(dst.strides[-2]) < abs(dst.strides[-1]):
        dst, src = (Region(r.buffer, r.offset, (*r.shape[:-2], r.shape[-1], r.shape[-2]),
                           (*r.strides[:-2], r.strides[-1], r.strides[-2]), r.dtype) for r in (dst, src))
    plan.copy(dst, src)


def _lapack(plan, kernel: Lapack, regions) -> None:
    plan.call(kernel.key(), lambda: kernel, regions)


def _float_operands(eqn) -> np.dtype:
    dt = eqn.outputs[0].aval.dtype
    if dt not in ir.FLOATS or any(a.aval.dtype != dt for a in eqn.inputs):
        raise Unsupported(f"{eqn.prim.name} of {[a.aval.dtype.name for a in eqn.inputs]}")
    return dt


def _singular(info):
    raise np.linalg.LinAlgError("Singular matrix")


def _not_positive_definite(info):
    raise np.linalg.LinAlgError("Matrix is not positive definite")


def _triangular_singular(info):
    raise np.linalg.LinAlgError(f"singular matrix: resolution failed at diagonal {info - 1}")


# --------------------------------------------------------------------------------------
# The rules


# Up to these sizes a stack's matrices are solved and factored by loops (the former Numba
# path's measured crossovers).
SOLVE_SMALL_N, CHOLESKY_SMALL_N = 12, 8


def _result(plan, eqn):
    """``(dtype, operand regions (broadcast to the batch), the result's fresh region, batch
    shape, n, k)`` of a LAPACK equation whose result is ``batch + (n, k)``."""
    dt = _float_operands(eqn)
    out = plan.regions[eqn.outputs[0]] = plan.fresh(eqn.outputs[0])
    *batch, n, k = out.shape
    operands = [broadcast(plan.region(x), tuple(batch)) for x in eqn.inputs]
    return dt, operands, out, tuple(batch), n, k


def solve(plan, eqn) -> None:
    """``?gesv`` per matrix: A copied to column-major order, B to the result (one column)
    or a column-major copy, then copied to the result. Stacks of small matrices: loops."""
    dt, (a, b), out, batch, n, k = _result(plan, eqn)
    if 0 in out.shape:
        return
    if batch and n <= SOLVE_SMALL_N:
        return _small(plan, _solve_loops, [a, b, out], _singular, _Work)
    wa = plan.fresh(batch + (n, n), dt)
    _copy(plan, _fortran(wa), a)
    wb = out if k == 1 else plan.fresh(batch + (k, n), dt)
    _copy(plan, out if k == 1 else _fortran(wb), b)
    ipiv = plan.fresh((n,), np.int64)
    steps = (wa.strides[:-2], wb.strides[:-2])
    _lapack(plan, Lapack("gesv", dt, n, k, n, n, batch, steps), [wa, wb, ipiv, plan.status(_singular)])
    if k != 1:
        _copy(plan, out, _fortran(wb))


def cholesky(plan, eqn) -> None:
    """``?potrf('U')`` in place on a C-ordered copy (its column-major upper triangle is the
    lower one), then the strict upper triangle zeroed. Stacks of small matrices: loops."""
    dt, (a,), out, batch, n, _ = _result(plan, eqn)
    if 0 in out.shape:
        return
    if batch and n <= CHOLESKY_SMALL_N:
        return _small(plan, _cholesky_loops, [a, out], _not_positive_definite)
    _copy(plan, out, a)
    kernel = Lapack("potrf", dt, n, n, n, n, batch, (out.strides[:-2],), "U")
    _lapack(plan, kernel, [out, plan.status(_not_positive_definite)])
    if n > 1:
        _triangle(plan, "zero_upper", out)


def triangular_solve(plan, eqn) -> None:
    """``?trtrs`` with A read where it is (C-ordered rows: the column-major transpose, flags
    flipped; column-major: as it is), B copied to the result or a column-major copy."""
    dt, (a, b), out, batch, n, k = _result(plan, eqn)
    if 0 in out.shape:
        return
    s = dt.itemsize
    lower, trans = eqn.params["lower"], eqn.params["transpose_a"]
    r0, r1 = a.strides[-2:]
    if r1 == s and r0 >= n * s and r0 % s == 0:  # C-ordered rows: the transpose, column-major
        lower, trans, lda = not lower, not trans, r0 // s
    elif r0 == s and r1 >= n * s and r1 % s == 0:
        lda = r1 // s
    else:  # copied to C order
        a = plan.contiguous(a)
        lower, trans, lda = not lower, not trans, n
    if n == 1:
        lda = 1
    wb = out if k == 1 else plan.fresh(batch + (k, n), dt)
    _copy(plan, out if k == 1 else _fortran(wb), b)
    flags = ("L" if lower else "U") + ("T" if trans else "N") + ("U" if eqn.params["unit_diagonal"] else "N")
    kernel = Lapack("trtrs", dt, n, k, lda, n, batch, (a.strides[:-2], wb.strides[:-2]), flags)
    _lapack(plan, kernel, [a, wb, plan.status(_triangular_singular)])
    if k != 1:
        _copy(plan, out, _fortran(wb))


def symmetrize(plan, eqn) -> None:
    """``(x + x^T) / 2`` by pairs, over its operand when this is its last reader."""
    _float_operands(eqn)
    (a,), v = eqn.inputs, eqn.outputs[0]
    r = plan.region(a)
    plan.regions[v] = r if plan.writable(r) else plan.fresh(v)
    _triangle(plan, "symmetrize", plan.regions[v], r)


def determinant(plan, eqn) -> None:
    """``?getrf`` per matrix on a column-major copy, then NumPy's determinant of the factors."""
    dt = _float_operands(eqn)
    a = plan.region(eqn.inputs[0])
    outs = [plan.fresh(v) for v in eqn.outputs]
    plan.regions.update(zip(eqn.outputs, outs))
    *batch, n, _ = a.shape
    batch = tuple(batch)
    if 0 in batch:
        return
    if n == 0:  # NumPy: det 1, sign 1, log 0
        for r, value in zip(outs, (1.0, 0.0)):
            plan.fill(r, value)
        return
    wa = plan.fresh(batch + (n, n), dt)
    _copy(plan, _fortran(wa), a)
    steps = (wa.strides[:-2], *(r.strides for r in outs))
    kernel = Lapack("getrf", dt, n, n, n, n, batch, steps, eqn.prim.name)
    _lapack(plan, kernel, [wa, *outs, plan.fresh((n,), np.int64)])


# --------------------------------------------------------------------------------------
# Loop kernels: small matrices of a stack, triangles


def _small(plan, loops, regions, error, kernel=Checked) -> None:
    """A loop kernel over a stack of small matrices (``regions``: the operands broadcast to the
    batch, the result): ``loops(regions, arrays, batch variables, bad)`` gives the statements
    for one matrix and the sizes after the batch's; ``bad`` (set where a matrix fails) goes
    to a status word: ``error`` raises after the program, which stops."""
    regions = regions + [plan.status(error)]
    batch = regions[0].shape[:-2]
    arrays, bv, over = _stack(batch, regions)
    bad = ir.Local("bad", ir.BOOL)
    matrix, sizes = loops(regions, arrays, bv, bad)
    body = [ir.Assign(bad, ir.Const(False, ir.BOOL)), *over(matrix),
            ir.Store(arrays[-1], (0,), ir.cast(bad, ir.INT))]
    strides = [r.strides for r in regions]
    call_loops(plan, "small", kernel(body, arrays, strides, [*batch, *sizes], 1), regions)


class _Work(Checked):
    """A small solve's kernel (:func:`_solve_loops`): its arrays ``w`` and ``wb`` (before the
    status word) are no regions but a work matrix [A | B] on the kernel's stack, which LLVM
    knows no other pointer reaches: its rows are copied in by ``memcpy`` (through a work
    region, a stack of 8 x 8 solves took 12% longer)."""

    def __init__(self, body, arrays, strides, sizes, n_status):
        *_, n, k, nk = sizes
        s = arrays[0].dtype.itemsize
        super().__init__(body, [*arrays[:-1], *_work(arrays[0].dtype), arrays[-1]],
                         [*strides[:-1], (nk * s, s), (nk * s, s), strides[-1]], sizes, n_status)
        self.offsets = (n * nk * s, n * s)  # (its bytes, wb's offset)

    @property
    def n_arrays(self) -> int:
        return len(self.arrays) - 2

    def emit(self, b, mod, ptrs) -> None:
        from llvmlite import ir as L

        with b.goto_entry_block():
            w = b.alloca(L.IntType(8), self.offsets[0])
            w.align = 16
        wb = b.gep(w, [L.Constant(L.IntType(64), self.offsets[1])])
        super().emit(b, mod, [*ptrs[:-1], w, wb, ptrs[-1]])


def _work(dt):
    """The work matrix [A | B] of :class:`_Work` and its last k columns."""
    return ir.Arr("w", dt, 2), ir.Arr("wb", dt, 2)


def _stack(batch, regions):
    """The loop IR names of a stack kernel: an array per region, the batch loops' variables and
    a function wrapping statements in the batch loops (slots 0.. of the sizes: ``batch``)."""
    arrays = [ir.Arr(f"v{q}", r.dtype, len(r.shape)) for q, r in enumerate(regions)]
    bv = tuple(ir.Local(f"b{d}", ir.INT) for d in range(len(batch)))

    def over(body):
        for d in reversed(range(len(batch))):
            body = [ir.Loop(bv[d], ir.Size(d, f"n{d}"), body)]
        return body

    return arrays, bv, over


# Small matrices of a stack (vmap): LAPACK's per-call overhead dominates at n = 3, so up to
# SOLVE_SMALL_N / CHOLESKY_SMALL_N, loops over each matrix (the former Numba path's
# arithmetic, in the same order).

_ONE = ir.Const(1, ir.INT, bare=True)


def _minus_product(s, x, y):
    return ir.Bin("-", s, ir.Bin("*", x, y))


def _solve_loops(regions, arrays, bv, bad):
    """Gaussian elimination with partial pivoting (the first largest pivot, as ?getrf) on
    [A | B] in a work matrix W (its last k columns: WB), then back substitution into X; bad at
    an exactly zero pivot."""
    (A, B, X, _), (W, WB) = arrays, _work(regions[0].dtype)
    (n, k), dt = regions[2].shape[-2:], regions[0].dtype
    N, K, NK = (ir.Size(len(bv) + d, name) for d, name in enumerate(("n", "k", "nk")))
    i, j, c, r, p, q = (ir.Local(x, ir.INT) for x in "ijcrpq")
    v, best, f, s = (ir.Local(x, dt) for x in ("v", "best", "f", "s"))
    c1 = ir.Bin("+", c, _ONE)
    bigger = ir.Cmp(">", v, best)

    def w(i, j):
        return ir.Load(W, (i, j))

    copy_in = ir.Loop(i, N, [ir.Loop(j, N, [ir.Store(W, (i, j), ir.Load(A, (*bv, i, j)))]),
                             ir.Loop(j, K, [ir.Store(WB, (i, j), ir.Load(B, (*bv, i, j)))])])
    search = ir.Loop(r, N, [ir.Assign(v, ir.Call("np.abs", [w(r, c)], dt)),
                            ir.Assign(p, ir.Select(bigger, r, p)),
                            ir.Assign(best, ir.Select(bigger, v, best))], start=c1)
    swap = ir.Loop(j, NK, [ir.Assign(s, w(c, j)), ir.Store(W, (c, j), w(p, j)), ir.Store(W, (p, j), s)],
                   start=c)
    row = ir.Loop(j, NK, [ir.Store(W, (r, j), _minus_product(w(r, j), f, w(c, j)))], start=c1)
    eliminate = ir.Loop(r, N, [ir.Assign(f, ir.Bin("/", w(r, c), w(c, c))), row], start=c1)
    column = [ir.Assign(p, c), ir.Assign(best, ir.Call("np.abs", [w(c, c)], dt)), search,
              ir.Assign(bad, ir.BoolOp("or", [bad, ir.Cmp("==", w(p, c), ir.Const(0, dt))])), swap, eliminate]
    entry = [ir.Assign(s, ir.Load(WB, (i, j))),  # X[i, j]
             ir.Loop(q, N, [ir.Assign(s, _minus_product(s, w(i, q), ir.Load(X, (*bv, q, j))))],
                     start=ir.Bin("+", i, _ONE)),
             ir.Store(X, (*bv, i, j), ir.Bin("/", s, w(i, i)))]
    back = ir.Loop(r, N, [ir.Assign(i, ir.Bin("-", ir.Bin("-", N, _ONE), r)), ir.Loop(j, K, entry)])
    return [copy_in, ir.Loop(c, N, column), back], [n, k, n + k]


def _cholesky_loops(regions, arrays, bv, bad):
    """Cholesky-Banachiewicz, row by row, into L; bad at a pivot <= 0 (a NaN passes on, as in
    OpenBLAS's ?potrf)."""
    A, L, _ = arrays
    n, dt = regions[1].shape[-1], regions[0].dtype
    N = ir.Size(len(bv), "n")
    i, j, q = (ir.Local(x, ir.INT) for x in "ijq")
    s = ir.Local("s", dt)
    diagonal, below = ir.Cmp("==", i, j), ir.Bin("+", i, _ONE)
    not_positive = ir.Cmp("<=", s, ir.Const(0, dt))

    def lo(i, j):
        return ir.Load(L, (*bv, i, j))

    value = ir.Select(diagonal, ir.Call("np.sqrt", [s], dt), ir.Bin("/", s, lo(j, j)))

    entry = [ir.Assign(s, ir.Load(A, (*bv, i, j))),  # L[i, j]
             ir.Loop(q, j, [ir.Assign(s, _minus_product(s, lo(i, q), lo(j, q)))]),
             ir.Assign(bad, ir.BoolOp("or", [bad, ir.BoolOp("and", [diagonal, not_positive])])),
             ir.Store(L, (*bv, i, j), value)]
    row = [ir.Loop(j, below, entry), ir.Loop(j, N, [ir.Store(L, (*bv, i, j), ir.Const(0, dt))], start=below)]
    return [ir.Loop(i, N, row)], [n]


def _triangle(plan, kind, dst: Region, src: Region | None = None) -> None:
    """A loop kernel over the pairs (i, j >= i) of each matrix: ``symmetrize`` (dst from src,
    which may be dst) or ``zero_upper`` (dst[j, i] = 0 for j < i)."""
    regions = [dst] + ([src] if src is not None else [])
    arrays, bv, over = _stack(dst.shape[:-2], regions)
    i, j = ir.Local("i", ir.INT), ir.Local("j", ir.INT)
    n = ir.Size(len(bv), "n")
    if kind == "symmetrize":
        x = ir.Local("x", dst.dtype)
        pair = ir.Bin("+", ir.Load(arrays[1], (*bv, i, j)), ir.Load(arrays[1], (*bv, j, i)))
        body = [ir.Assign(x, ir.Bin("*", pair, ir.Const(0.5, dst.dtype))),
                ir.Store(arrays[0], (*bv, i, j), x), ir.Store(arrays[0], (*bv, j, i), x)]
        stmt = ir.Loop(i, n, [ir.Loop(j, n, body, start=i)])
    else:
        stmt = ir.Loop(i, n, [ir.Loop(j, i, [ir.Store(arrays[0], (*bv, j, i), ir.Const(0.0, dst.dtype))])])
    loops = Loops(over([stmt]), arrays, [r.strides for r in regions], [*dst.shape[:-2], dst.shape[-1]])
    call_loops(plan, "triangle", loops, regions)


table.register_single(la.solve_p, solve)
table.register_single(dec.cholesky_p, cholesky)
table.register_single(dec.triangular_solve_p, triangular_solve)
table.register_single(la.symmetrize_p, symmetrize)
table.register_single(dec.det_p, determinant)
table.register_single(dec.slogdet_p, determinant)
