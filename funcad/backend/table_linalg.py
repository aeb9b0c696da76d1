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
* stacks of small matrices (n <= 12 solve, n <= 8 cholesky): per-matrix loops, read
  from the operands where they are (no copies), the same arithmetic in the same order;
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


@dataclass(frozen=True)
class Lapack:
    """``routine`` on each matrix of a stack of shape ``batch``, its arrays: ``gesv``: A, B,
    ipiv; ``potrf``: A; ``trtrs``: A, B; ``gesv_small``: A, B, X; ``potrf_small``: A, L; then
    the status word; ``getrf`` (``flags``: "det" or "slogdet"): A, the determinant (or the
    sign and the log), ipiv, no status word (a singular matrix is no error). ``steps``: each
    matrix array's byte strides over the batch axes; ``flags``: the character arguments;
    ``inner``: the byte strides (row, column) of each matrix array of the ``_small``
    routines (loops of their own: below)."""
    routine: str
    dtype: np.dtype
    n: int
    k: int
    lda: int
    ldb: int
    batch: tuple
    steps: tuple
    flags: str = ""
    inner: tuple = ()

    def key(self):
        return ("lapack", self.routine, self.dtype.name, self.n, self.k, self.lda, self.ldb,
                self.batch, self.steps, self.flags, self.inner)

    @property
    def n_arrays(self) -> int:
        return len(self.steps) + 1 + (self.routine == "gesv")  # (getrf: ipiv, no status)

    def emit(self, b, mod, ptrs) -> None:
        """A loop over the stack: the routine on each matrix until one fails (nonzero info),
        which writes info into the status word and stops the program."""
        from llvmlite import ir as L

        i64 = L.IntType(64)
        fail = None
        with table.batch_loop(b, tuple(zip(self.batch, *self.steps)), ptrs[:len(self.steps)]) as mats:
            info = getattr(self, "_" + self.routine)(b, mod, mats, ptrs)
            if info is not None:  # (getrf: no failure)
                fail, go_on = (b.function.append_basic_block(x) for x in ("fail", "next"))
                b.cbranch(b.icmp_signed("!=", info, L.Constant(i64, 0)), fail, go_on)
                b.position_at_end(go_on)
        if fail is not None:  # info into the status word; the stop word (table_runtime.py) set
            done = b.block
            b.position_at_end(fail)
            stop = b.gep(b.function.args[0], [L.Constant(i64, -1)])
            b.store(info, b.bitcast(ptrs[-1], i64.as_pointer()))
            b.store(b.inttoptr(L.Constant(i64, 1), ptrs[-1].type), stop)
            b.branch(done)
            b.position_at_end(done)

    def _call(self, b, mod, args, types):
        """LAPACK's ``?<routine>(args)``: the integers ``int``s, the characters ``chr``s as
        pointers to constants; returns info as an i64. Fortran's hidden lengths of the
        character arguments follow (OpenBLAS's C routines ignore them)."""
        from llvmlite import ir as L

        i8, i64, bi = L.IntType(8), L.IntType(64), L.IntType(table_engine._BLAS_INT_BITS)
        vals, tys = [], []
        with b.goto_entry_block():  # (an alloca in the loop would grow the stack per matrix)
            info = b.alloca(bi)
            for a, t in zip(args, types):
                if t in (bi, i8):
                    vals.append(b.alloca(t))
                    b.store(L.Constant(t, a), vals[-1])
        for a, t in zip(args, types):
            if t in (bi, i8):
                tys.append(t.as_pointer())
            else:
                vals.insert(len(tys), b.bitcast(a, t))
                tys.append(t)
        chars = sum(t == i8 for t in types)
        sym = f"funcad_table_{'d' if self.dtype == np.float64 else 's'}{self.routine}"
        fn = ir.declare(mod, sym, L.VoidType(), tys + [info.type] + [i64] * chars)
        b.call(fn, vals + [info] + [L.Constant(i64, 1)] * chars)
        got = b.load(info)
        return b.sext(got, i64) if table_engine._BLAS_INT_BITS < 64 else got

    def _types(self):
        from llvmlite import ir as L

        bi = L.IntType(table_engine._BLAS_INT_BITS)
        return L.IntType(8), bi, (L.DoubleType() if self.dtype == np.float64 else L.FloatType()).as_pointer()

    def _gesv(self, b, mod, mats, ptrs):  # (n, nrhs, a, lda, ipiv, b, ldb, info)
        c, i, f = self._types()
        args = [self.n, self.k, mats[0], max(self.lda, 1), ptrs[2], mats[1], max(self.ldb, 1)]
        return self._call(b, mod, args, [i, i, f, i, i.as_pointer(), f, i])

    def _potrf(self, b, mod, mats, ptrs):  # (uplo, n, a, lda, info)
        c, i, f = self._types()
        return self._call(b, mod, [ord(self.flags), self.n, mats[0], max(self.lda, 1)], [c, i, f, i])

    def _trtrs(self, b, mod, mats, ptrs):  # (uplo, trans, diag, n, nrhs, a, lda, b, ldb, info)
        c, i, f = self._types()
        return self._call(b, mod, [*map(ord, self.flags), self.n, self.k, mats[0], max(self.lda, 1), mats[1],
                                   max(self.ldb, 1)], [c, c, c, i, i, f, i, f, i])

    def _getrf(self, b, mod, mats, ptrs):
        """``?getrf`` and the determinant from its factors, as NumPy's ``det``/``slogdet``
        (umath_linalg): the sign from the pivots' parity and the diagonal's signs, the log
        of |det| summed along the diagonal, det = sign * exp(log); singular: 0 and -inf."""
        from llvmlite import ir as L

        c, i, f = self._types()
        info = self._call(b, mod, [self.n, self.n, mats[0], max(self.lda, 1), ptrs[-1], max(self.lda, 1)],
                          [i, i, f, i, i.as_pointer()])
        e = _Emit(b, mod, self.dtype)
        s = self.dtype.itemsize
        a, piv = e.matrix(mats[0], (s, self.n * s)), b.bitcast(ptrs[-1], i.as_pointer())
        sign, log = e.alloca(e.f), e.alloca(e.f)
        b.store(L.Constant(e.f, 1.0), sign)
        b.store(e.zero, log)

        def pivot(j):  # a row interchange: the sign flips
            moved = b.icmp_signed("!=", b.sext(b.load(b.gep(piv, [j])), e.i64) if i.width < 64
                                  else b.load(b.gep(piv, [j])), e.add(j, 1))
            b.store(b.select(moved, b.fneg(b.load(sign)), b.load(sign)), sign)

        def diagonal(j):
            d = a.load(j, j)
            negative = b.fcmp_ordered("<", d, e.zero)
            b.store(b.select(negative, b.fneg(b.load(sign)), b.load(sign)), sign)
            d = b.select(negative, b.fneg(d), d)
            b.store(b.fadd(b.load(log), b.call(e.intrinsic("llvm.log"), [d])), log)

        e.loop(0, self.n, pivot)
        e.loop(0, self.n, diagonal)
        singular = b.icmp_signed("!=", info, e.const(0))
        s = b.select(singular, e.zero, b.load(sign))
        lg = b.select(singular, L.Constant(e.f, float("-inf")), b.load(log))
        if self.flags == "det":
            b.store(b.fmul(s, b.call(e.intrinsic("llvm.exp"), [lg])), b.bitcast(mats[1], f))
        else:
            b.store(s, b.bitcast(mats[1], f))
            b.store(lg, b.bitcast(mats[2], f))
        return None

    def describe(self) -> str:
        small = self.routine.endswith("_small")
        what = f"{self.routine[:-6]} by loops" if small else f"?{self.routine}({self.flags})"
        k = f", k = {self.k}" if self.routine.startswith(("gesv", "trtrs")) else ""
        return f"{what} on {math.prod(self.batch)} matrices, n = {self.n}{k} ({self.dtype.name})"

    # Small matrices of a stack (vmap): LAPACK's per-call overhead dominates at n = 3, so up to
    # SOLVE_SMALL_N / CHOLESKY_SMALL_N, per-matrix loops (the former Numba path's arithmetic,
    # in the same order) on a work copy on the stack. (Unrolled, with n constant, they compiled in
    # 1.3-2.6 s at n = 12.)

    def _gesv_small(self, b, mod, mats, ptrs):
        """Gaussian elimination with partial pivoting (the first largest pivot, as ?getrf) on
        [A | B], then back substitution into X; info 1 at an exactly zero pivot."""
        from llvmlite import ir as L

        n, k, nk = self.n, self.k, self.n + self.k
        e = _Emit(b, mod, self.dtype)
        w = e.alloca(e.f, n * nk)
        a, rhs, x = (e.matrix(m, self.inner[q]) for q, m in enumerate(mats[:3]))
        W = e.matrix(w, (nk, 1))
        e.loop(0, n, lambda i: (e.loop(0, n, lambda j: W.store(i, j, a.load(i, j))),
                                e.loop(0, k, lambda j: W.store(i, e.add(j, n), rhs.load(i, j)))))
        bad, p, best = e.alloca(L.IntType(1)), e.alloca(e.i64), e.alloca(e.f)
        b.store(L.Constant(L.IntType(1), 0), bad)

        def column(c):
            b.store(c, p)
            b.store(e.fabs(W.load(c, c)), best)

            def search(r):
                v = e.fabs(W.load(r, c))
                bigger = b.fcmp_ordered(">", v, b.load(best))
                b.store(b.select(bigger, r, b.load(p)), p)
                b.store(b.select(bigger, v, b.load(best)), best)

            e.loop(e.add(c, 1), n, search)
            q = b.load(p)
            b.store(b.or_(b.load(bad), b.fcmp_ordered("==", W.load(q, c), e.zero)), bad)

            def swap(j):
                t = W.load(c, j)
                W.store(c, j, W.load(q, j))
                W.store(q, j, t)

            e.loop(c, nk, swap)

            def eliminate(r):
                f = b.fdiv(W.load(r, c), W.load(c, c))
                e.loop(e.add(c, 1), nk,
                       lambda j: W.store(r, j, b.fsub(W.load(r, j), b.fmul(f, W.load(c, j)))))

            e.loop(e.add(c, 1), n, eliminate)

        e.loop(0, n, column)

        def back(i1):  # i = n - 1 - i1
            i = b.sub(e.const(n - 1), i1)

            def entry(j):
                s = e.alloca(e.f)
                b.store(W.load(i, e.add(j, n)), s)
                e.loop(e.add(i, 1), n,
                       lambda q: b.store(b.fsub(b.load(s), b.fmul(W.load(i, q), x.load(q, j))), s))
                x.store(i, j, b.fdiv(b.load(s), W.load(i, i)))

            e.loop(0, k, entry)

        e.loop(0, n, back)
        return b.zext(b.load(bad), e.i64)

    def _potrf_small(self, b, mod, mats, ptrs):
        """Cholesky-Banachiewicz, row by row, into L; info 1 at a pivot <= 0 (a NaN passes on,
        as in OpenBLAS's ?potrf)."""
        from llvmlite import ir as L

        e = _Emit(b, mod, self.dtype)
        a, lo = (e.matrix(m, self.inner[q]) for q, m in enumerate(mats[:2]))
        bad, s = e.alloca(L.IntType(1)), e.alloca(e.f)
        b.store(L.Constant(L.IntType(1), 0), bad)

        def row(i):
            def entry(j):
                b.store(a.load(i, j), s)
                e.loop(0, j, lambda q: b.store(b.fsub(b.load(s), b.fmul(lo.load(i, q), lo.load(j, q))), s))
                v = b.load(s)
                diagonal = b.icmp_signed("==", i, j)
                b.store(b.or_(b.load(bad), b.and_(diagonal, b.fcmp_ordered("<=", v, e.zero))), bad)
                root = b.call(e.intrinsic("llvm.sqrt"), [v])
                lo.store(i, j, b.select(diagonal, root, b.fdiv(v, lo.load(j, j))))

            e.loop(0, e.add(i, 1), entry)
            e.loop(e.add(i, 1), self.n, lambda j: lo.store(i, j, e.zero))

        e.loop(0, self.n, row)
        return b.zext(b.load(bad), e.i64)


class _Emit:
    """Loops and strided matrices for the small-matrix kernels, at an llvmlite builder
    (locals in allocas, which LLVM's mem2reg makes registers)."""

    def __init__(self, b, mod, dtype):
        from llvmlite import ir as L

        self.L, self.b, self.mod = L, b, mod
        self.i64, self.f = L.IntType(64), L.DoubleType() if dtype == np.float64 else L.FloatType()
        self.zero = L.Constant(self.f, 0.0)

    def const(self, v):
        return v if not isinstance(v, int) else self.L.Constant(self.i64, v)

    def add(self, x, y):
        return self.b.add(self.const(x), self.const(y))

    def alloca(self, ty, count=None):
        with self.b.goto_entry_block():
            return self.b.alloca(ty, count)

    def intrinsic(self, name):
        return _intrinsic(self.mod, name, self.f)

    def fabs(self, v):
        return self.b.call(self.intrinsic("llvm.fabs"), [v])

    def matrix(self, ptr, strides):
        """Element (i, j) of the matrix at ``ptr`` with byte strides ``strides`` (element
        strides for a work array of this kernel's float type)."""
        return _Matrix(self, ptr, strides)

    def loop(self, lo, hi, body) -> None:
        """``for i in range(lo, hi): body(i)`` (i an i64 value)."""
        ir.for_range(self.b, self.const(lo), self.const(hi), body)


class _Matrix:
    def __init__(self, e, ptr, strides):
        self.e, self.ptr, self.strides = e, ptr, strides
        self.bytes = ptr.type.pointee != e.f

    def at(self, i, j):
        e, b = self.e, self.e.b
        off = b.add(b.mul(e.const(i), e.const(self.strides[0])), b.mul(e.const(j), e.const(self.strides[1])))
        p = b.gep(self.ptr, [off])
        return b.bitcast(p, e.f.as_pointer()) if self.bytes else p

    def load(self, i, j):
        return self.e.b.load(self.at(i, j))

    def store(self, i, j, v):
        self.e.b.store(v, self.at(i, j))


def _intrinsic(mod, name, ty):
    from llvmlite import ir as L

    name = f"{name}.{'f64' if ty == L.DoubleType() else 'f32'}"
    return ir.declare(mod, name, ty, [ty])


def _addresses() -> dict:
    """LAPACK's routines, from the library that table.py takes ``?gemm`` from."""
    routines = tuple(p + r for r in ("gesv", "potrf", "trtrs", "getrf") for p in "ds")
    found, _ = table_engine._blas_addresses(routines)
    return {f"funcad_table_{r}": a for r, a in found.items()}


table_engine.SYMBOL_HOOKS.append(_addresses)


# --------------------------------------------------------------------------------------
# Regions: stacks, column-major views, status words


def _broadcast(r: Region, batch: tuple) -> Region:
    """``r`` seen with the batch axes ``batch`` (NumPy's broadcasting: a missing or unit
    axis repeats, with stride 0)."""
    extra = len(batch) - (len(r.shape) - 2)
    shape, strides = (1,) * extra + r.shape, (0,) * extra + r.strides
    strides = tuple(0 if n == 1 and i < len(batch) else s for i, (n, s) in enumerate(zip(shape, strides)))
    return Region(r.buffer, r.offset, batch + r.shape[-2:], strides, r.dtype)


def _fortran(r: Region) -> Region:
    """A fresh C-ordered region ``r`` seen as column-major matrices (the last two axes'
    strides swapped, and the shape with them): r's (..., p, q) memory holds (..., q, p)."""
    *batch, p, q = r.shape
    s = r.dtype.itemsize
    return Region(r.buffer, r.offset, (*batch, q, p), (*r.strides[:-2], s, q * s), r.dtype)


def _copy(plan, dst: Region, src: Region) -> None:
    """``dst = src`` with the matrix axes of both swapped where that makes dst's inner loop
    contiguous (the copy loops run over the axes in order)."""
    if len(dst.shape) >= 2 and abs(dst.strides[-2]) < abs(dst.strides[-1]):
        dst, src = (Region(r.buffer, r.offset, (*r.shape[:-2], r.shape[-1], r.shape[-2]),
                           (*r.strides[:-2], r.strides[-1], r.strides[-2]), r.dtype) for r in (dst, src))
    plan.copy(dst, src)


def _status(plan, error) -> Region:
    """A status word the next kernel writes LAPACK's ``info`` into on failure; after the
    program, a nonzero one raises ``error(info)``."""
    r = plan.fresh((1,), np.int64)
    plan.checks.append((r, error))
    return r


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


# Up to these sizes a stack's matrices are solved and factored by unrolled loops (the
# former Numba path's measured crossovers).
SOLVE_SMALL_N, CHOLESKY_SMALL_N = 12, 8


def _inner(*regions) -> tuple:
    return tuple(r.strides[-2:] for r in regions)


def _result(plan, eqn):
    """``(dtype, operand regions, the result's fresh region, batch shape, n, k)`` of a LAPACK
    equation whose result is ``batch + (n, k)``."""
    dt = _float_operands(eqn)
    operands = [plan.region(x) for x in eqn.inputs]
    out = plan.regions[eqn.outputs[0]] = plan.fresh(eqn.outputs[0])
    *batch, n, k = out.shape
    return dt, operands, out, tuple(batch), n, k


def solve(plan, eqn) -> None:
    """``?gesv`` per matrix: A copied to column-major order, B to the result (one column)
    or a column-major copy, then copied to the result. Stacks of small matrices: loops."""
    dt, (a, b), out, batch, n, k = _result(plan, eqn)
    if 0 in out.shape:
        return
    if batch and n <= SOLVE_SMALL_N:
        a, b = _broadcast(a, batch), _broadcast(b, batch)
        regions = [a, b, out]
        kernel = Lapack("gesv_small", dt, n, k, 0, 0, batch, tuple(r.strides[:-2] for r in regions),
                        inner=_inner(*regions))
        return _lapack(plan, kernel, regions + [_status(plan, _singular)])
    wa = plan.fresh(batch + (n, n), dt)
    _copy(plan, _fortran(wa), _broadcast(a, batch))
    wb = out if k == 1 else plan.fresh(batch + (k, n), dt)
    _copy(plan, out if k == 1 else _fortran(wb), _broadcast(b, batch))
    ipiv = plan.fresh((n,), np.int64)
    steps = (wa.strides[:-2], wb.strides[:-2])
    _lapack(plan, Lapack("gesv", dt, n, k, n, n, batch, steps), [wa, wb, ipiv, _status(plan, _singular)])
    if k != 1:
        _copy(plan, out, _fortran(wb))


def cholesky(plan, eqn) -> None:
    """``?potrf('U')`` in place on a C-ordered copy (its column-major upper triangle is the
    lower one), then the strict upper triangle zeroed."""
    dt, (a,), out, batch, n, _ = _result(plan, eqn)
    if 0 in out.shape:
        return
    if batch and n <= CHOLESKY_SMALL_N:
        regions = [a, out]
        kernel = Lapack("potrf_small", dt, n, n, 0, 0, batch, tuple(r.strides[:-2] for r in regions),
                        inner=_inner(*regions))
        return _lapack(plan, kernel, regions + [_status(plan, _not_positive_definite)])
    _copy(plan, out, a)
    kernel = Lapack("potrf", dt, n, n, n, n, batch, (out.strides[:-2],), "U")
    _lapack(plan, kernel, [out, _status(plan, _not_positive_definite)])
    if n > 1:
        _triangle_loops(plan, out, "zero_upper")


def triangular_solve(plan, eqn) -> None:
    """``?trtrs`` with A read where it is (C-ordered rows: the column-major transpose, flags
    flipped; column-major: as it is), B copied to the result or a column-major copy."""
    dt, (a, b), out, batch, n, k = _result(plan, eqn)
    if 0 in out.shape:
        return
    a = _broadcast(a, batch)
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
    _copy(plan, out if k == 1 else _fortran(wb), _broadcast(b, batch))
    flags = ("L" if lower else "U") + ("T" if trans else "N") + ("U" if eqn.params["unit_diagonal"] else "N")
    kernel = Lapack("trtrs", dt, n, k, lda, n, batch, (a.strides[:-2], wb.strides[:-2]), flags)
    _lapack(plan, kernel, [a, wb, _status(plan, _triangular_singular)])
    if k != 1:
        _copy(plan, out, _fortran(wb))


def symmetrize(plan, eqn) -> None:
    """``(x + x^T) / 2`` by pairs, over its operand when this is its last reader."""
    _float_operands(eqn)
    (a,), v = eqn.inputs, eqn.outputs[0]
    r = plan.region(a)
    if plan.writable(r):
        plan.regions[v] = r
    else:
        plan.regions[v] = plan.fresh(v)
    _triangle_loops(plan, plan.regions[v], "symmetrize", r)


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


def _triangle_loops(plan, dst: Region, kind, src: Region | None = None) -> None:
    """A loop kernel over the pairs (i, j >= i) of each matrix: ``symmetrize`` (dst from src,
    which may be dst) or ``zero_upper`` (dst[j, i] = 0 for j < i)."""
    regions = [dst] + ([src] if src is not None else [])
    key = ("triangle", kind, tuple((r.dtype, r.shape, r.strides) for r in regions))
    plan.call(key, lambda: _triangle_kernel(kind, regions), regions)


def _triangle_kernel(kind, regions) -> Loops:
    dst = regions[0]
    nb = len(dst.shape) - 2
    batch = [ir.Local(f"b{d}", ir.INT) for d in range(nb)]
    i, j = ir.Local("i", ir.INT), ir.Local("j", ir.INT)
    arrs = [ir.Arr(f"v{q}", r.dtype, len(r.shape)) for q, r in enumerate(regions)]
    sizes = list(dst.shape[:-2]) + [dst.shape[-1]]
    n = ir.Size(nb, "n")
    if kind == "symmetrize":
        x = ir.Local("x", dst.dtype)
        half = ir.Const(0.5, dst.dtype)
        pair = ir.Bin("+", ir.Load(arrs[1], (*batch, i, j)), ir.Load(arrs[1], (*batch, j, i)))
        body = [ir.Assign(x, ir.Bin("*", pair, half)),
                ir.Store(arrs[0], (*batch, i, j), x), ir.Store(arrs[0], (*batch, j, i), x)]
        stmt = ir.Loop(i, n, [ir.Loop(j, n, body, start=i)])
    else:
        stmt = ir.Loop(i, n, [ir.Loop(j, i, [ir.Store(arrs[0], (*batch, j, i), ir.Const(0.0, dst.dtype))])])
    for d in reversed(range(nb)):
        stmt = ir.Loop(batch[d], ir.Size(d, f"n{d}"), [stmt])
    return Loops([stmt], arrs, [r.strides for r in regions], sizes)


table.register_single(la.solve_p, solve)
table.register_single(dec.cholesky_p, cholesky)
table.register_single(dec.triangular_solve_p, triangular_solve)
table.register_single(la.symmetrize_p, symmetrize)
table.register_single(dec.det_p, determinant)
table.register_single(dec.slogdet_p, determinant)
