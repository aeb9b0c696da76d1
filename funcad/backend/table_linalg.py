"""LAPACK in the table backend: ``solve``, ``cholesky``, ``triangular_solve`` and ``symmetrize``
on single matrices and stacks, as kernels of table.py's calling convention.

LAPACK works in column-major order and overwrites its operands, so each rule copies what
LAPACK writes over into fresh regions first (copy loops that transpose through strides), then
one :class:`Lapack` kernel calls the routine per matrix of the stack (the library table.py's
``?gemm`` comes from: one OpenBLAS, one thread pool). The arithmetic is today's jit's:

* ``solve``: ``?gesv`` on A in column-major order (nbrt.solve's and NumPy's call), B copied
  into the result where one column (C order = column-major), else into a column-major copy;
* ``cholesky``: the input copied into the C-ordered result, whose lower triangle is the
  column-major upper one: ``?potrf('U')`` factors it in place (nbrt.cholesky_batched's call);
  the strict upper triangle is zeroed by a loop, as NumPy returns it;
* ``triangular_solve``: ``?trtrs`` reading a C-ordered matrix in place as the column-major
  transpose, with ``uplo`` and ``trans`` flipped (what SciPy's ``solve_triangular`` does);
* ``symmetrize``: one loop over each pair ``x[i, j]``, ``x[j, i]`` (both read before either is
  written), written over its operand when nothing else reads it (lowering._symmetrize's rule).

Failures raise what today's jit raises (NumPy's and SciPy's ``LinAlgError`` and messages): a
kernel writes LAPACK's ``info`` into the program's status words (``Plan.checks``, checked by
``TableProgram`` after the call), fills its result with NaN (so that a loop of the program
reading it ends) and stops.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..lax import decompositions as dec
from ..lax import linalg as la
from . import loopir as ir
from . import table
from .table import FLOATS, Loops, Region, Unsupported


@dataclass(frozen=True)
class Lapack:
    """``routine`` on each matrix of a stack of shape ``batch``: arrays ``a`` (n x n), then
    ``b`` (n x k; gesv, trtrs), then ``ipiv`` (gesv), then the status word. ``steps``: each
    matrix array's byte strides over the batch axes; ``flags``: the character arguments."""
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
        return {"gesv": 4, "potrf": 2, "trtrs": 3}[self.routine]

    def emit(self, b, mod, ptrs) -> None:
        from llvmlite import ir as L

        i8, i64, bi = L.IntType(8), L.IntType(64), L.IntType(table._BLAS_INT_BITS)
        fty = L.DoubleType() if self.dtype == np.float64 else L.FloatType()
        pf, pi, p8 = fty.as_pointer(), bi.as_pointer(), i8.as_pointer()
        sym = f"funcad_table_{'d' if self.dtype == np.float64 else 's'}{self.routine}"
        # Fortran's hidden lengths of the character arguments follow (OpenBLAS's C routines
        # ignore them), as i64s
        ftype = L.FunctionType(L.VoidType(), {
            "gesv": [pi, pi, pf, pi, pi, pf, pi, pi],  # (n, nrhs, a, lda, ipiv, b, ldb, info)
            "potrf": [p8, pi, pf, pi, pi, i64],  # (uplo, n, a, lda, info)
            # (uplo, trans, diag, n, nrhs, a, lda, b, ldb, info)
            "trtrs": [p8, p8, p8, pi, pi, pf, pi, pf, pi, pi, i64, i64, i64],
        }[self.routine])
        fn = mod.globals.get(sym) or L.Function(mod, ftype, sym)

        def const(ty, v):
            p = b.alloca(ty)
            b.store(L.Constant(ty, v), p)
            return p

        n, k, lda, ldb = (const(bi, v) for v in (self.n, self.k, max(self.lda, 1), max(self.ldb, 1)))
        flags = [const(i8, ord(c)) for c in self.flags]
        info = const(bi, 0)
        status = b.bitcast(ptrs[-1], i64.as_pointer())
        fn_block = b.function
        count = math.prod(self.batch)
        loop, body, fail, done = (fn_block.append_basic_block(x) for x in ("loop", "body", "fail", "done"))
        start = b.block
        b.branch(loop)
        b.position_at_end(loop)
        m = b.phi(i64)
        m.add_incoming(L.Constant(i64, 0), start)
        b.cbranch(b.icmp_signed("<", m, L.Constant(i64, count)), body, done)
        b.position_at_end(body)
        mats = []
        for p, steps in zip(ptrs, self.steps):  # this matrix: sum of (batch index * step)
            off, inner = L.Constant(i64, 0), count
            for size, step in zip(self.batch, steps):
                inner //= size
                if step and size > 1:
                    idx = b.urem(b.udiv(m, L.Constant(i64, inner)), L.Constant(i64, size))
                    off = b.add(off, b.mul(idx, L.Constant(i64, step)))
            mats.append(b.bitcast(b.gep(p, [off]), pf))
        one = L.Constant(i64, 1)
        if self.routine == "gesv":
            b.call(fn, [n, k, mats[0], lda, b.bitcast(ptrs[2], pi), mats[1], ldb, info])
        elif self.routine == "potrf":
            b.call(fn, [flags[0], n, mats[0], lda, info, one])
        else:
            b.call(fn, [*flags, n, k, mats[0], lda, mats[1], ldb, info, one, one, one])
        got = b.sext(b.load(info), i64) if table._BLAS_INT_BITS < 64 else b.load(info)
        m.add_incoming(b.add(m, one), b.block)
        b.cbranch(b.icmp_signed("!=", got, L.Constant(i64, 0)), fail, loop)
        # a failure: LAPACK's info in the status word, NaN in the whole result (a contiguous
        # stack: the last matrix array), and no further matrices
        b.position_at_end(fail)
        b.store(got, status)
        out = b.bitcast(ptrs[0 if self.routine == "potrf" else 1], pf)
        total = count * self.n * (self.n if self.routine == "potrf" else self.k)
        fill, fill_body = fn_block.append_basic_block("fill"), fn_block.append_basic_block("fill_body")
        b.branch(fill)
        b.position_at_end(fill)
        j = b.phi(i64)
        j.add_incoming(L.Constant(i64, 0), fail)
        b.cbranch(b.icmp_signed("<", j, L.Constant(i64, total)), fill_body, done)
        b.position_at_end(fill_body)
        b.store(L.Constant(fty, float("nan")), b.gep(out, [j]))
        j.add_incoming(b.add(j, one), fill_body)
        b.branch(fill)
        b.position_at_end(done)

    def describe(self) -> str:
        return (f"?{self.routine}({self.flags}) on {math.prod(self.batch)} matrices, n = {self.n}"
                + (f", k = {self.k}" if self.routine != "potrf" else "") + f" ({self.dtype.name})")


def _addresses() -> dict:
    """LAPACK's routines, from the library that table.py takes ``?gemm`` from."""
    found, _ = table._blas_addresses(tuple(p + r for r in ("gesv", "potrf", "trtrs") for p in "ds"))
    return {f"funcad_table_{r}": a for r, a in found.items()}


table.SYMBOL_HOOKS.append(_addresses)


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
    if dt not in FLOATS or any(a.aval.dtype != dt for a in eqn.inputs):
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


def solve(plan, eqn) -> None:
    """``?gesv`` per matrix: A copied to column-major order, B to the result (one column)
    or a column-major copy, then copied to the result."""
    dt = _float_operands(eqn)
    a, b = (plan.region(x) for x in eqn.inputs)
    out = plan.regions[eqn.outputs[0]] = plan.fresh(eqn.outputs[0])
    *batch, n, k = out.shape
    batch = tuple(batch)
    if 0 in out.shape:
        return
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
    dt = _float_operands(eqn)
    a = plan.region(eqn.inputs[0])
    out = plan.regions[eqn.outputs[0]] = plan.fresh(eqn.outputs[0])
    *batch, n, _ = out.shape
    batch = tuple(batch)
    if 0 in out.shape:
        return
    _copy(plan, out, a)
    kernel = Lapack("potrf", dt, n, n, n, n, batch, (out.strides[:-2],), "U")
    _lapack(plan, kernel, [out, _status(plan, _not_positive_definite)])
    if n > 1:
        _triangle_loops(plan, out, "zero_upper")


def triangular_solve(plan, eqn) -> None:
    """``?trtrs`` with A read where it is (C-ordered rows: the column-major transpose, flags
    flipped; column-major: as it is), B copied to the result or a column-major copy."""
    dt = _float_operands(eqn)
    a, b = (plan.region(x) for x in eqn.inputs)
    out = plan.regions[eqn.outputs[0]] = plan.fresh(eqn.outputs[0])
    *batch, n, k = out.shape
    batch = tuple(batch)
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
    if any(x < 0 for x in a.strides):
        raise Unsupported("triangular_solve of a reversed view")
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
    if _writable(plan, a, r):
        plan.regions[v] = r
    else:
        plan.regions[v] = plan.fresh(v)
    _triangle_loops(plan, plan.regions[v], "symmetrize", r)


def _writable(plan, a, r: Region) -> bool:
    """Whether ``a``'s region is a whole buffer of the program's own that nothing reads
    after this equation (no input, output, or other value in that buffer read later)."""
    if r.buffer < plan.n_in or r.offset or not r.c_contiguous:
        return False
    if plan.buffers[r.buffer][0] != math.prod(r.shape) * r.dtype.itemsize:
        return False
    return not any(q.buffer == r.buffer and plan.last_read.get(x, -1) > plan.item
                   for x, q in plan.regions.items())


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
