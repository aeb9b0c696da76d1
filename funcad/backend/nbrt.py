"""What generated programs call inside Numba: BLAS/LAPACK, NumPy's own where it can be found.

Imported by generated program modules only (it imports Numba), never by ``import funcad``.

Why not ``np.dot`` / ``np.linalg.solve`` inside the program: Numba's overloads of these are
large generic functions specialised by layout (C, F, A) and dtype, each costing 0.5-1 s of
typing and LLVM compile per distinct signature (``np.linalg.solve`` ~2-5 s), and their code
is linked into, and optimised again with, every program that calls them. Here a matrix
product is one intrinsic, :func:`gemm`, a call to one internal LLVM function per module: it
reads the operands' shapes and strides at run time, passes each to ``?gemm`` as row-major or
column-major (explicit transposition flags and leading dimensions), and calls the routine
through a named symbol (``funcad_dgemm``...) that this module registers with LLVM. Named
symbols, not baked addresses, keep the compiled program valid when Numba loads it from its
disk cache in another process.

Which BLAS: NumPy's own (the ILP64 scipy-openblas its wheels bundle and have loaded), found
by :func:`_numpy_blas`; else SciPy's (``scipy.linalg.cython_blas``/``cython_lapack``, LP64),
which is what Numba's ``np.dot`` uses. One library means one thread pool: with two OpenBLAS
copies, each one's worker threads spin for a while after a call, and on a 2-core machine
a jitted program right after a NumPy matrix product ran its own products 4-5x slower (the
MLP step 4.6 ms against 1.0 ms) while the other pool's threads held the cores. ILP64 also
lifts the 32-bit size limit. ``FUNCAD_BLAS=scipy`` forces SciPy's. :data:`BLAS` names the
choice; it is part of the disk cache's key (the integer width is compiled into programs).

:func:`gemm` returns False without computing anything when an operand's strides suit neither
layout (a strided slice, a broadcast view): the generated code then calls
:func:`matmul_into`, which copies to C order first. :func:`solve` is LAPACK's ``?gesv`` on
column-major copies, raising LinAlgError("Singular matrix") as NumPy does;
:func:`solve_batched` and :func:`cholesky_batched` serve stacks of matrices (vmap), with
per-matrix loops for small n (LAPACK's per-call overhead dominates there). :func:`empty` and
:func:`full` allocate arrays inline (``np.empty``/``np.full`` compile a function per rank and
dtype).
"""

from __future__ import annotations

import ctypes
import os
import sys
import textwrap
from pathlib import Path

import llvmlite.binding as ll
import numba
import numpy as np
from llvmlite import ir
from numba.core import cgutils, pythonapi, types
from numba.core.imputils import impl_ret_borrowed
from numba.extending import intrinsic
from numba.np import numpy_support

from . import loopir
from .blas import SMALL_MN, TALL_K

_ROUTINES = ("dgemm", "sgemm", "zgemm", "cgemm", "dgesv", "sgesv", "dpotrf", "spotrf")


def _numpy_blas() -> dict | None:
    """``{routine: address}`` in NumPy's own BLAS/LAPACK: the scipy-openblas64 library (ILP64,
    symbols ``scipy_dgemm_64_``...) that NumPy's wheels bundle and have already loaded (so
    ``CDLL`` returns that same library, with its one thread pool). None for other builds
    (system or MKL BLAS, conda), where SciPy's routines serve."""
    if os.environ.get("FUNCAD_BLAS", "").lower() == "scipy":
        return None
    try:
        blas = np.__config__.CONFIG["Build Dependencies"]["blas"]
    except (AttributeError, KeyError, TypeError):
        return None
    if blas.get("name") != "scipy-openblas" or "USE64BITINT" not in str(blas.get("openblas configuration")):
        return None
    root = Path(np.__file__).resolve().parent
    for path in sorted(root.parent.glob("numpy.libs/libscipy_openblas64_*")) + sorted(
            root.glob(".dylibs/libscipy_openblas64_*")):
        try:
            lib = ctypes.CDLL(str(path))
            found = {r: ctypes.cast(getattr(lib, f"scipy_{r}_64_"), ctypes.c_void_p).value for r in _ROUTINES}
        except (OSError, AttributeError):
            continue
        for r, sym in (("blas_get_threads", "scipy_openblas_get_num_threads64_"),
                       ("blas_set_threads", "scipy_openblas_set_num_threads64_")):
            if hasattr(lib, sym):
                found[r] = ctypes.cast(getattr(lib, sym), ctypes.c_void_p).value
        return found
    return None


def _scipy_blas() -> dict:
    from numba.extending import get_cython_function_address

    return {r: get_cython_function_address(
        "scipy.linalg.cython_blas" if r.endswith("gemm") else "scipy.linalg.cython_lapack", r)
        for r in _ROUTINES}


_addresses = _numpy_blas()
if _addresses is not None:
    BLAS, _BLAS_INT_BITS = "numpy: scipy-openblas64 (ILP64)", 64
else:
    _addresses = _scipy_blas()
    BLAS, _BLAS_INT_BITS = "scipy: cython_blas/cython_lapack (LP64)", 32
for _r, _address in _addresses.items():
    ll.add_symbol(f"funcad_{_r}", _address)

# A reduction-shaped product runs on one OpenBLAS thread (see blas.TALL_K).
_THREAD_CONTROL = "blas_set_threads" in _addresses

# Transparent huge pages for large arrays, as NumPy does: where the kernel's THP mode is
# "madvise" (this machine's), a fresh 200 MB array faulted in page by page took 69 ms, with
# MADV_HUGEPAGE 12.5 ms; a jitted program writing one ran 3x slower than NumPy without it.
_HUGEPAGE = sys.platform.startswith("linux")
if _HUGEPAGE:
    try:
        ll.add_symbol("funcad_madvise", ctypes.cast(ctypes.CDLL(None).madvise, ctypes.c_void_p).value)
    except (OSError, AttributeError):
        _HUGEPAGE = False
_MADV_HUGEPAGE = 14
_HUGEPAGE_MIN_BYTES = 1 << 22  # NumPy's threshold (4 MiB)

_i8, _i32, _i64 = ir.IntType(8), ir.IntType(32), ir.IntType(64)
_bi = ir.IntType(_BLAS_INT_BITS)  # BLAS/LAPACK's integer
_INT_MAX = 2 ** (_BLAS_INT_BITS - 1) - 1
IPIV = np.int64 if _BLAS_INT_BITS == 64 else np.int32  # LAPACK's pivot indices


def _blas_int(builder, v):
    """An i64 value as BLAS's integer."""
    return v if _BLAS_INT_BITS == 64 else builder.trunc(v, _bi)


def _info(builder, info_ptr):
    """LAPACK's ``info`` (a BLAS integer in memory) as an i64."""
    v = builder.load(info_ptr)
    return v if _BLAS_INT_BITS == 64 else builder.sext(v, _i64)


def _float_ir(dtype):
    if dtype in (types.complex128, types.complex64):  # Fortran's COMPLEX: a (re, im) pair
        part = ir.DoubleType() if dtype == types.complex128 else ir.FloatType()
        return ir.LiteralStructType([part, part])
    return ir.DoubleType() if dtype == types.float64 else ir.FloatType()


def _float_const(dtype, value: float):
    fty = _float_ir(dtype)
    if isinstance(fty, ir.LiteralStructType):
        return ir.Constant(fty, [ir.Constant(fty.elements[0], value), ir.Constant(fty.elements[0], 0.0)])
    return ir.Constant(fty, value)


def _prefix(dtype) -> str:
    return {types.float64: "d", types.float32: "s", types.complex128: "z", types.complex64: "c"}[dtype]


_GEMM_DTYPES = (types.float32, types.float64, types.complex64, types.complex128)


def _alloca_store(builder, ty, value):
    p = cgutils.alloca_once(builder, ty)
    builder.store(value, p)
    return p


def _blas_operand(builder, r, c, s0, s1):
    """For an r x c matrix with element strides (s0, s1): ``(ok, transposed, ld)``, where
    ``transposed`` means column-major storage. Row-major: unit column stride (or c <= 1) and
    s0 >= max(1, c) (or r <= 1); column-major symmetrically."""
    one = ir.Constant(_i64, 1)

    def smax(a, b):
        return builder.select(builder.icmp_signed(">", a, b), a, b)

    def le1(v):
        return builder.icmp_signed("<=", v, one)

    c1, r1 = smax(c, one), smax(r, one)
    row_ok = builder.and_(builder.or_(le1(c), builder.icmp_signed("==", s1, one)),
                          builder.or_(le1(r), builder.icmp_signed(">=", s0, c1)))
    row_ld = builder.select(le1(r), c1, s0)
    col_ok = builder.and_(builder.or_(le1(r), builder.icmp_signed("==", s0, one)),
                          builder.or_(le1(c), builder.icmp_signed(">=", s1, r1)))
    col_ld = builder.select(le1(c), r1, s1)
    ok = builder.or_(row_ok, col_ok)
    transposed = builder.not_(row_ok)
    ld = builder.select(row_ok, row_ld, col_ld)
    return ok, transposed, ld


def _matrix(context, builder, aty, value):
    """``(data as i8*, rows, cols, row stride, column stride)`` of a 2-D array (bytes)."""
    arr = context.make_array(aty)(context, builder, value)
    r, c = cgutils.unpack_tuple(builder, arr.shape, 2)
    s0, s1 = cgutils.unpack_tuple(builder, arr.strides, 2)
    return builder.bitcast(arr.data, _i8.as_pointer()), r, c, s0, s1


def _gemm_function(module, dtype):
    """The module's ``i1 funcad_gemm_<d|s>(a, m, k, as0, as1, b, n, bs0, bs1, c, cs0, cs1)``:
    defined once per module (internal, never inlined), so each matmul in a program costs one
    call instruction rather than a copy of the layout logic."""
    p8 = _i8.as_pointer()
    fnty = ir.FunctionType(ir.IntType(1), [p8, _i64, _i64, _i64, _i64, p8, _i64, _i64, _i64,
                                           p8, _i64, _i64])
    name = f"funcad_gemm_{_prefix(dtype)}"
    fn = cgutils.get_or_insert_function(module, fnty, name)
    if not fn.is_declaration:
        return fn
    fn.linkage = "internal"
    fn.attributes.add("noinline")
    builder = ir.IRBuilder(fn.append_basic_block("entry"))
    a_p, m, k, as0, as1, b_p, n, bs0, bs1, c_p, cs0, cs1 = fn.args
    fty = _float_ir(dtype)
    size = ir.Constant(_i64, np.dtype(str(dtype)).itemsize)
    as0, as1, bs0, bs1, cs0, cs1 = (builder.sdiv(v, size) for v in (as0, as1, bs0, bs1, cs0, cs1))
    a_ok, a_t, lda = _blas_operand(builder, m, k, as0, as1)
    b_ok, b_t, ldb = _blas_operand(builder, k, n, bs0, bs1)
    one, zero = ir.Constant(_i64, 1), ir.Constant(_i64, 0)
    m1 = builder.icmp_signed("<=", m, one)
    n1 = builder.icmp_signed("<=", n, one)
    c_ok = builder.and_(builder.or_(n1, builder.icmp_signed("==", cs1, one)),
                        builder.or_(m1, builder.icmp_signed(">=", cs0, n)))
    ldc = builder.select(m1, builder.select(n1, one, n), cs0)
    ldc = builder.select(builder.icmp_signed("<", ldc, one), one, ldc)
    big = ir.Constant(_i64, _INT_MAX)
    fits = builder.not_(builder.or_(
        builder.or_(builder.icmp_signed(">", m, big), builder.icmp_signed(">", n, big)),
        builder.or_(builder.icmp_signed(">", k, big), builder.icmp_signed(">", builder.select(
            builder.icmp_signed(">", lda, ldb), lda, ldb), big))))
    fits = builder.and_(fits, builder.icmp_signed("<=", ldc, big))
    ok = builder.and_(builder.and_(a_ok, b_ok), builder.and_(c_ok, fits))
    empty = builder.or_(builder.icmp_signed("==", m, zero), builder.icmp_signed("==", n, zero))
    with builder.if_then(builder.and_(ok, builder.not_(empty))):
        # out^T (n x m, column-major) = op(B') op(A') with B' = b's memory, A' = a's.
        tn, tt = ir.Constant(_i8, ord("N")), ir.Constant(_i8, ord("T"))
        transa = _alloca_store(builder, _i8, builder.select(b_t, tt, tn))
        transb = _alloca_store(builder, _i8, builder.select(a_t, tt, tn))
        ints = [_alloca_store(builder, _bi, _blas_int(builder, v)) for v in (n, m, k, ldb, lda, ldc)]
        alpha = _alloca_store(builder, fty, _float_const(dtype, 1.0))
        beta = _alloca_store(builder, fty, _float_const(dtype, 0.0))
        pf, pi = fty.as_pointer(), _bi.as_pointer()
        blas_ty = ir.FunctionType(ir.VoidType(), [p8, p8, pi, pi, pi, pf, pf, pi, pf, pi, pf, pf, pi])
        blas = cgutils.get_or_insert_function(module, blas_ty, f"funcad_{_prefix(dtype)}gemm")
        data = [builder.bitcast(X, pf) for X in (b_p, a_p, c_p)]
        args = [transa, transb, ints[0], ints[1], ints[2], alpha, data[0], ints[3], data[1],
                ints[4], beta, data[2], ints[5]]
        if _THREAD_CONTROL:
            _call_tall_single_threaded(builder, module, m, n, k, lambda: builder.call(blas, args))
        else:
            builder.call(blas, args)
    builder.ret(ok)
    return fn


def _call_tall_single_threaded(builder, module, m, n, k, call):
    """``call()``, on one BLAS thread when ``m x k @ k x n`` is reduction-shaped (see
    :data:`blas.TALL_K`); the thread count is restored after."""
    mn_max = builder.select(builder.icmp_signed(">", m, n), m, n)
    tall = builder.and_(builder.icmp_signed(">=", k, builder.mul(mn_max, ir.Constant(_i64, TALL_K))),
                        builder.icmp_signed("<=", builder.mul(m, n), ir.Constant(_i64, SMALL_MN)))
    get = cgutils.get_or_insert_function(module, ir.FunctionType(_i32, []), "funcad_blas_get_threads")
    set_ = cgutils.get_or_insert_function(module, ir.FunctionType(ir.VoidType(), [_i32]),
                                          "funcad_blas_set_threads")
    before = builder.call(get, [])
    limit = builder.and_(tall, builder.icmp_signed(">", before, ir.Constant(_i32, 1)))
    with builder.if_then(limit):
        builder.call(set_, [ir.Constant(_i32, 1)])
    call()
    with builder.if_then(limit):
        builder.call(set_, [before])


@intrinsic
def gemm(typingctx, a, b, out):
    """``out[...] = a @ b`` for 2-D float32/float64/complex64/complex128 arrays of one dtype,
    through ``?gemm`` (``zgemm`` with "T", the plain transpose: no conjugation).
    Returns False (and computes nothing) if an operand's strides do not suit BLAS or a size
    exceeds BLAS's integer (32 bits with SciPy's); ``out`` must be row-major with unit column stride."""
    if not (isinstance(a, types.Array) and isinstance(b, types.Array) and isinstance(out, types.Array)
            and a.ndim == b.ndim == out.ndim == 2 and a.dtype == b.dtype == out.dtype
            and a.dtype in _GEMM_DTYPES):
        return None
    dtype = a.dtype

    def codegen(context, builder, sig, args):
        a_p, m, k, as0, as1 = _matrix(context, builder, sig.args[0], args[0])
        b_p, _, n, bs0, bs1 = _matrix(context, builder, sig.args[1], args[1])
        c_p, _, _, cs0, cs1 = _matrix(context, builder, sig.args[2], args[2])
        fn = _gemm_function(builder.module, dtype)
        return builder.call(fn, [a_p, m, k, as0, as1, b_p, n, bs0, bs1, c_p, cs0, cs1])

    return types.boolean(a, b, out), codegen


@intrinsic
def _gesv(typingctx, a, b, ipiv):
    """LAPACK ``?gesv`` on column-major work arrays, stored here as C-ordered transposes:
    ``a`` (n x n) holds A^T, ``b`` (nrhs x n) holds B^T; ``ipiv`` of :data:`IPIV` (n). Returns info."""
    if not (isinstance(a, types.Array) and isinstance(b, types.Array) and a.dtype == b.dtype
            and a.dtype in (types.float32, types.float64)):
        return None
    dtype = a.dtype

    def codegen(context, builder, sig, args):
        fty = _float_ir(dtype)
        A = context.make_array(sig.args[0])(context, builder, args[0])
        B = context.make_array(sig.args[1])(context, builder, args[1])
        P = context.make_array(sig.args[2])(context, builder, args[2])
        n = cgutils.unpack_tuple(builder, A.shape, 2)[0]
        nrhs = cgutils.unpack_tuple(builder, B.shape, 2)[0]
        one = ir.Constant(_i64, 1)
        ld = builder.select(builder.icmp_signed("<", n, one), one, n)
        ints = [_alloca_store(builder, _bi, _blas_int(builder, v)) for v in (n, nrhs, ld, ld)]
        info = _alloca_store(builder, _bi, ir.Constant(_bi, 0))
        pf, pi = fty.as_pointer(), _bi.as_pointer()
        fnty = ir.FunctionType(ir.VoidType(), [pi, pi, pf, pi, pi, pf, pi, pi])
        fn = cgutils.get_or_insert_function(builder.module, fnty, f"funcad_{_prefix(dtype)}gesv")
        builder.call(fn, [ints[0], ints[1], builder.bitcast(A.data, pf), ints[2],
                          builder.bitcast(P.data, pi), builder.bitcast(B.data, pf), ints[3], info])
        return _info(builder, info)

    return types.int64(a, b, ipiv), codegen


def _alloc_types(shape, dtype):
    """``(array type, element types of the shape)`` for ``empty(shape, dtype)``, or None."""
    if isinstance(shape, types.Integer):
        dims = (shape,)
    elif isinstance(shape, types.BaseTuple) and all(isinstance(t, types.Integer) for t in shape):
        dims = tuple(shape)
    else:
        return None
    if isinstance(dtype, types.NumberClass):
        dt = dtype.instance_type
    elif isinstance(dtype, types.DType):
        dt = dtype.dtype
    else:
        return None
    return types.Array(dt, len(dims), "C"), dims


def _alloc(context, builder, arrty, shape_type, shape_value):
    """A new C-ordered array of ``arrty`` and the given shape, as straight-line code: the
    byte size, one call to the runtime's aligned allocator (MemoryError if it fails) and the
    array structure. Numba's own ``_empty_nd_impl`` also checks the size for overflow and
    calls the allocator through an internal compiled function, about three times the IR per
    allocation (a program has 10-30 of them). A byte size that overflows 64 bits (shapes of
    arrays that exist, broadcast together) becomes the largest signed one, which the
    allocator refuses: MemoryError, never a short buffer."""
    from numba.np.arrayobj import make_array, populate_array

    if isinstance(shape_type, types.Integer):
        values, dims = [shape_value], [shape_type]
    else:
        values, dims = cgutils.unpack_tuple(builder, shape_value), list(shape_type)
    shapes = [context.cast(builder, v, t, types.intp) for v, t in zip(values, dims)]
    intp = context.get_value_type(types.intp)
    datatype = context.get_data_type(arrty.dtype)
    itemsize = ir.Constant(intp, context.get_abi_sizeof(datatype))
    nbytes, overflow = itemsize, ir.Constant(ir.IntType(1), 0)
    for n in shapes:
        prod = builder.smul_with_overflow(nbytes, n)
        nbytes = builder.extract_value(prod, 0)
        overflow = builder.or_(overflow, builder.extract_value(prod, 1))
    nbytes = builder.select(overflow, ir.Constant(intp, 2**63 - 1), nbytes)
    strides = [itemsize]
    for n in reversed(shapes[1:]):
        strides.append(builder.mul(strides[-1], n))
    strides = strides[::-1] if shapes else []
    align = context.get_preferred_array_alignment(arrty.dtype)
    meminfo = context.nrt.meminfo_alloc_aligned(builder, nbytes, align)
    data = context.nrt.meminfo_data(builder, meminfo)
    if _HUGEPAGE:
        builder.call(_hugepage_function(builder.module), [builder.bitcast(data, _i8.as_pointer()), nbytes])
    ary = make_array(arrty)(context, builder)
    populate_array(ary, data=builder.bitcast(data, datatype.as_pointer()),
                   shape=cgutils.pack_array(builder, shapes, ty=intp),
                   strides=cgutils.pack_array(builder, strides, ty=intp),
                   itemsize=itemsize, meminfo=meminfo)
    return ary


def _hugepage_function(module):
    """The module's ``void funcad_hugepage(i8* data, i64 nbytes)``: for blocks of at least
    4 MiB, ``madvise(MADV_HUGEPAGE)`` on the pages inside (NumPy's rule, in alloc.c). One
    internal function per module, so an allocation costs one call instruction."""
    p8 = _i8.as_pointer()
    fn = cgutils.get_or_insert_function(module, ir.FunctionType(ir.VoidType(), [p8, _i64]), "funcad_hugepage")
    if not fn.is_declaration:
        return fn
    fn.linkage = "internal"
    fn.attributes.add("noinline")
    builder = ir.IRBuilder(fn.append_basic_block("entry"))
    data, nbytes = fn.args
    big = builder.icmp_signed(">=", nbytes, ir.Constant(_i64, _HUGEPAGE_MIN_BYTES))
    with builder.if_then(big, likely=False):
        page = ir.Constant(_i64, 4096)
        address = builder.ptrtoint(data, _i64)
        offset = builder.sub(page, builder.urem(address, page))
        madvise = cgutils.get_or_insert_function(
            module, ir.FunctionType(_i32, [p8, _i64, _i32]), "funcad_madvise")
        builder.call(madvise, [builder.inttoptr(builder.add(address, offset), p8),
                               builder.sub(nbytes, offset), ir.Constant(_i32, _MADV_HUGEPAGE)])
    builder.ret_void()
    return fn


@intrinsic
def empty(typingctx, shape, dtype):
    """``np.empty(shape, dtype)`` (C order) as inline code. Numba's ``np.empty`` compiles, for
    each rank and dtype, a function of its own (a pipeline run and an LLVM module, ~0.03-0.05 s
    once per process) that is then linked into the program."""
    parsed = _alloc_types(shape, dtype)
    if parsed is None:
        return None
    arrty, dims = parsed

    def codegen(context, builder, sig, args):
        return _alloc(context, builder, arrty, sig.args[0], args[0])._getvalue()

    return arrty(shape, dtype), codegen


@intrinsic
def full(typingctx, shape, value, dtype):
    """``np.full(shape, value, dtype)`` (C order) as inline code (see :func:`empty`)."""
    parsed = _alloc_types(shape, dtype)
    if parsed is None or not isinstance(value, (types.Number, types.Boolean)):
        return None
    arrty, dims = parsed

    def codegen(context, builder, sig, args):
        ary = _alloc(context, builder, arrty, sig.args[0], args[0])
        v = context.cast(builder, args[1], sig.args[1], arrty.dtype)
        v = context.get_value_as_data(builder, arrty.dtype, v)
        with cgutils.for_range(builder, ary.nitems) as loop:
            builder.store(v, builder.gep(ary.data, [loop.index]))
        return ary._getvalue()

    return arrty(shape, value, dtype), codegen


@intrinsic
def any_layout(typingctx, a):
    """``a`` itself, typed as an array of any strides (layout 'A'). Programs pass the operands
    of the helpers below through it, so that each helper compiles once per dtype and rank
    (~0.3 s each) rather than once per combination of its operands' layouts (C, F, A): the
    GP gradient's solves of ``K`` and ``K.T`` compiled ``solve`` twice. The helpers read
    strides anyway (they copy to BLAS's layout or loop over a matrix)."""
    if not isinstance(a, types.Array):
        return None

    def codegen(context, builder, sig, args):
        return impl_ret_borrowed(context, builder, sig.return_type, args[0])

    return a.copy(layout="A")(a), codegen


# The helpers are compiled without Numba's C-callable wrapper (made for first-class function
# values, which they never are): ~20 ms each.
@numba.njit(nogil=True, cache=False, no_cfunc_wrapper=True)
def symmetrize_into(r, out):
    """``out = (r + r.T) * 0.5`` (square ``r``), by blocks of both triangles at once: each
    pair ``r[i, j]``, ``r[j, i]`` is read before either is written, so ``out`` may be ``r``."""
    n, b = r.shape[0], 64
    for ib in range(0, n, b):
        for jb in range(ib, n, b):
            for i in range(ib, min(ib + b, n)):
                for j in range(max(jb, i), min(jb + b, n)):
                    s = (r[i, j] + r[j, i]) * 0.5
                    out[i, j] = s
                    out[j, i] = s


@numba.njit(nogil=True, cache=False, no_cfunc_wrapper=True)
def matmul_into(a, b, out):
    """``out[...] = a @ b`` for operands BLAS cannot take as they are (copied to C order)."""
    ac = np.ascontiguousarray(a)
    bc = np.ascontiguousarray(b)
    if not gemm(ac, bc, out):  # sizes beyond BLAS's integer: plain loops
        for i in range(a.shape[0]):
            for j in range(b.shape[1]):
                acc = out.dtype.type(0)
                for p in range(a.shape[1]):
                    acc += ac[i, p] * bc[p, j]
                out[i, j] = acc


@numba.njit(nogil=True, cache=False, no_cfunc_wrapper=True)
def solve(a, b):
    """``np.linalg.solve(a, b)`` for 2-D float ``a`` (n x n) and ``b`` (n x k), C-ordered result."""
    n, k = a.shape[0], b.shape[1]
    wa = empty((n, n), a.dtype)  # wa[j, i] = a[i, j]: column-major A
    for i in range(n):
        for j in range(n):
            wa[j, i] = a[i, j]
    wb = empty((k, n), a.dtype)
    for i in range(n):
        for j in range(k):
            wb[j, i] = b[i, j]
    ipiv = empty((n + 1,), IPIV)
    if n > 0 and k > 0:
        if _gesv(wa, wb, ipiv) > 0:
            raise np.linalg.LinAlgError("Singular matrix")
    out = empty((n, k), a.dtype)
    for i in range(n):
        for j in range(k):
            out[i, j] = wb[j, i]
    return out


@intrinsic
def _potrf_upper(typingctx, a):
    """LAPACK ``?potrf`` with uplo='U' on a C-ordered n x n array: seen column-major, its
    upper triangle is the row-major lower triangle, so this factors the lower triangle of
    ``a`` in place into L (a = L L^T, upper triangle untouched). Returns info."""
    if not (isinstance(a, types.Array) and a.dtype in (types.float32, types.float64)):
        return None
    dtype = a.dtype

    def codegen(context, builder, sig, args):
        fty = _float_ir(dtype)
        A = context.make_array(sig.args[0])(context, builder, args[0])
        n = cgutils.unpack_tuple(builder, A.shape, 2)[0]
        one = ir.Constant(_i64, 1)
        ld = builder.select(builder.icmp_signed("<", n, one), one, n)
        uplo = _alloca_store(builder, _i8, ir.Constant(_i8, ord("U")))
        ints = [_alloca_store(builder, _bi, _blas_int(builder, v)) for v in (n, ld)]
        info = _alloca_store(builder, _bi, ir.Constant(_bi, 0))
        pf, pi, p8 = fty.as_pointer(), _bi.as_pointer(), _i8.as_pointer()
        fnty = ir.FunctionType(ir.VoidType(), [p8, pi, pf, pi, pi])
        fn = cgutils.get_or_insert_function(builder.module, fnty, f"funcad_{_prefix(dtype)}potrf")
        builder.call(fn, [uplo, ints[0], builder.bitcast(A.data, pf), ints[1], info])
        return _info(builder, info)

    return types.int64(a), codegen


# Many small matrices (vmap of solve/cholesky/inv): LAPACK's per-call overhead (argument
# checks, workspace queries, blocked code paths) dominates at n = 3, so up to a small n the
# batched routines below run plain per-matrix loops, the same as a hand-written Numba loop;
# above it they call LAPACK once per matrix. The size is read at run time (sizes are never
# in a program's source), so one compiled program serves every n. The thresholds are the
# measured crossovers (one thread, 200k matrix entries per call): the loops win for solve
# and inv up to n ~ 16 (n = 12: 0.66 vs 0.94 ms solve, 1.2 vs 1.6 ms inv) and for Cholesky
# up to n ~ 10 (n = 8: 0.38 vs 0.50 ms; n = 12: 0.44 vs 0.37 ms).
SOLVE_SMALL_N = 12
CHOLESKY_SMALL_N = 8


@numba.njit(nogil=True, cache=False, no_cfunc_wrapper=True)
def solve_batched(a, b):
    """``np.linalg.solve(a, b)`` for float ``a`` (Na, n, n) and ``b`` (Nb, n, k), C-ordered
    result (N, n, k); a batch size of 1 broadcasts (inv: one identity for every matrix).
    n <= SOLVE_SMALL_N: Gaussian elimination with partial pivoting (the first largest pivot, as
    LAPACK's ``?getrf``), on [A | B] for several right-hand sides, with a separate vector for
    one (the common case; 0.35 against 0.48 ms for 10,000 3x3 systems, for ~0.3-0.5 s more
    first compile); otherwise ``?gesv`` per matrix. An exactly zero pivot raises
    LinAlgError("Singular matrix"), as LAPACK (hence NumPy) does."""
    Na, Nb, n, k = a.shape[0], b.shape[0], b.shape[1], b.shape[2]
    N = Nb if Na == 1 else Na
    if (Nb != 1 and Nb != N) or a.shape[1] != n or a.shape[2] != n:
        raise ValueError("solve_batched: shapes do not match")
    sa = 0 if Na == 1 else 1  # batch index multipliers: 0 broadcasts
    sb = 0 if Nb == 1 else 1
    out = empty((N, n, k), a.dtype)
    if N == 0 or n == 0 or k == 0:
        return out
    if n <= SOLVE_SMALL_N and k == 1:  # one right-hand side: the loop with a vector x
        w = empty((n, n), a.dtype)
        x = empty((n,), a.dtype)
        for m in range(N):
            for i in range(n):
                x[i] = b[sb * m, i, 0]
                for j in range(n):
                    w[i, j] = a[sa * m, i, j]
            for c in range(n):
                p = c
                for r in range(c + 1, n):
                    if abs(w[r, c]) > abs(w[p, c]):
                        p = r
                if w[p, c] == 0:
                    raise np.linalg.LinAlgError("Singular matrix")
                if p != c:
                    for j in range(n):
                        w[c, j], w[p, j] = w[p, j], w[c, j]
                    x[c], x[p] = x[p], x[c]
                for r in range(c + 1, n):
                    f = w[r, c] / w[c, c]
                    for j in range(c, n):
                        w[r, j] -= f * w[c, j]
                    x[r] -= f * x[c]
            for i in range(n - 1, -1, -1):
                s = x[i]
                for j in range(i + 1, n):
                    s -= w[i, j] * out[m, j, 0]
                out[m, i, 0] = s / w[i, i]
        return out
    if n <= SOLVE_SMALL_N:
        nk = n + k
        w = empty((n, nk), a.dtype)  # [A | B], eliminated in place
        for m in range(N):
            am, bm, x = a[sa * m], b[sb * m], out[m]
            for i in range(n):
                for j in range(n):
                    w[i, j] = am[i, j]
                for j in range(k):
                    w[i, n + j] = bm[i, j]
            for c in range(n):
                p = c
                for r in range(c + 1, n):
                    if abs(w[r, c]) > abs(w[p, c]):
                        p = r
                if w[p, c] == 0:
                    raise np.linalg.LinAlgError("Singular matrix")
                if p != c:
                    for j in range(c, nk):
                        t = w[c, j]
                        w[c, j] = w[p, j]
                        w[p, j] = t
                for r in range(c + 1, n):
                    f = w[r, c] / w[c, c]
                    for j in range(c + 1, nk):
                        w[r, j] -= f * w[c, j]
            for i in range(n - 1, -1, -1):
                for j in range(k):
                    s = w[i, n + j]
                    for q in range(i + 1, n):
                        s -= w[i, q] * x[q, j]
                    x[i, j] = s / w[i, i]
        return out
    wa = empty((n, n), a.dtype)  # wa[j, i] = a[m, i, j]: column-major A
    wb = empty((k, n), a.dtype)
    ipiv = empty((n + 1,), IPIV)
    for m in range(N):
        for i in range(n):
            for j in range(n):
                wa[j, i] = a[sa * m, i, j]
            for j in range(k):
                wb[j, i] = b[sb * m, i, j]
        if _gesv(wa, wb, ipiv) > 0:
            raise np.linalg.LinAlgError("Singular matrix")
        for i in range(n):
            for j in range(k):
                out[m, i, j] = wb[j, i]
    return out


@numba.njit(nogil=True, cache=False, no_cfunc_wrapper=True)
def cholesky_batched(a):
    """``np.linalg.cholesky(a)`` for float ``a`` (N, n, n): lower L with a = L L^T, reading
    the lower triangle, zeros above. n <= CHOLESKY_SMALL_N: Cholesky-Banachiewicz (row by row);
    otherwise ``?potrf`` per matrix. A non-positive pivot raises
    LinAlgError("Matrix is not positive definite"), as NumPy does; a NaN propagates."""
    N, n = a.shape[0], a.shape[1]
    out = empty((N, n, n), a.dtype)
    if N == 0 or n == 0:
        return out
    if n <= CHOLESKY_SMALL_N:
        for m in range(N):
            L = out[m]
            for i in range(n):
                for j in range(i + 1):
                    s = a[m, i, j]
                    for q in range(j):
                        s -= L[i, q] * L[j, q]
                    if i == j:
                        if s <= 0:  # NaN passes on, as in NumPy's (OpenBLAS) potrf
                            raise np.linalg.LinAlgError("Matrix is not positive definite")
                        L[i, i] = np.sqrt(s)
                    else:
                        L[i, j] = s / L[j, j]
                for j in range(i + 1, n):
                    L[i, j] = 0
        return out
    for m in range(N):
        L = out[m]
        for i in range(n):
            for j in range(i + 1):
                L[i, j] = a[m, i, j]
            for j in range(i + 1, n):
                L[i, j] = 0
        if _potrf_upper(L) != 0:
            raise np.linalg.LinAlgError("Matrix is not positive definite")
    return out


@numba.njit(nogil=True, cache=False, no_cfunc_wrapper=True)
def ipow(x, y):
    """``x ** y`` of integers as NumPy computes it: by repeated squaring, wrapping in the
    operands' width (Numba's ``np.power`` of uint32/uint64 went through floats), and
    ValueError for a negative exponent."""
    if y < 0:
        raise ValueError("Integers to negative integer powers are not allowed.")
    r = x - x + 1
    while y:
        if y & 1:
            r = r * x
        x = x * x
        y = y >> 1
    return r


@intrinsic
def loops(typingctx, arrays, sizes, text):
    """Run the loop nests printed as ``text`` over the tuple ``arrays``, with ``S`` the sizes
    array: the :class:`loopir.Run` printed as that text for these arrays' dtypes
    (``loopir.RUNS``, filled as the code generator printed the program), written as LLVM IR
    by :class:`loopir.LLVM`, not by Numba's compiler."""
    if not (isinstance(text, types.StringLiteral) and isinstance(arrays, types.BaseTuple)
            and all(isinstance(a, types.Array) for a in arrays) and isinstance(sizes, types.Array)
            and sizes.dtype == types.int64 and sizes.ndim == 1):
        return None
    types_ = tuple((str(a.dtype), a.ndim) for a in arrays)
    run = loopir.RUNS.get((textwrap.dedent(text.literal_value), types_))
    if run is None:
        return None

    def codegen(context, builder, sig, args):
        refs = {}
        for arr, aty, val in zip(run.arrays, sig.args[0], cgutils.unpack_tuple(builder, args[0])):
            a = context.make_array(aty)(context, builder, val)
            shape = cgutils.unpack_tuple(builder, a.shape, aty.ndim)
            itemsize = ir.Constant(_i64, context.get_abi_sizeof(context.get_data_type(aty.dtype)))
            if aty.layout in "CF" and aty.ndim:
                # Contiguous: strides from the shape, so LLVM sees the unit stride.
                order = range(aty.ndim - 1, -1, -1) if aty.layout == "C" else range(aty.ndim)
                strides, step = [None] * aty.ndim, itemsize
                for d in order:
                    strides[d] = step
                    step = builder.mul(step, shape[d])
            else:
                strides = cgutils.unpack_tuple(builder, a.strides, aty.ndim)
            refs[arr.name] = (builder.bitcast(a.data, _i8.as_pointer()), strides)
        S = context.make_array(sig.args[1])(context, builder, args[1]).data
        loopir.LLVM(builder, refs, S).run(run)
        return context.get_dummy_value()

    return types.none(arrays, sizes, text), codegen


def _box_array(typ, val, c):
    """Numba's boxing of a returned array (numba.core.boxing.box_array) with the array's
    Python type read from the function's environment, as its dtype already is (numba#1198),
    instead of unpickled at every box: ``PythonAPI.nrt_adapt_ndarray_to_python`` calls
    ``numba_unpickle`` (a Python-level call) for ``aryty.box_type`` per array returned. A
    driven program's kernels return hundreds of arrays per call (the LSTM gradient 565): the
    box took 0.50 us per array, 0.24 us this way. The environment's constants are pickled
    with a cached function, so the cache stays valid across processes. Installed by
    :func:`use_own_boxing` before a compilation."""
    if not c.context.enable_nrt:
        return _numba_box_array(typ, val, c)
    env, api = c.env_manager, c.pyapi
    dtype = env.read_const(env.add_const(numpy_support.as_dtype(typ.dtype)))
    pytype = env.read_const(env.add_const(typ.box_type))
    fnty = ir.FunctionType(api.pyobj, [api.voidptr, api.pyobj, _i32, _i32, api.pyobj])
    fn = api._get_function(fnty, name="NRT_adapt_ndarray_to_python_acqref")
    ndim = c.context.get_constant(types.int32, typ.ndim)
    writable = c.context.get_constant(types.int32, int(typ.mutable))
    ptr = c.builder.bitcast(cgutils.alloca_once_value(c.builder, val), api.voidptr)
    out = c.builder.call(fn, [ptr, pytype, ndim, writable, dtype])
    c.context.nrt.decref(c.builder, typ, val)  # the new array holds its own reference
    return out


_numba_box_array = None


def use_own_boxing() -> None:
    """Box returned arrays with :func:`_box_array` in what Numba compiles from now on. Called
    before a compilation (nbcache), not at import: ``numba.core.boxing``, whose import
    registers Numba's boxers, costs ~15-35 ms of CPU that a program loaded from the disk
    cache never needs (Numba itself imports it when it first builds a wrapper)."""
    global _numba_box_array
    if _numba_box_array is None:
        from numba.core import boxing

        _numba_box_array = boxing.box_array
        pythonapi._boxers.functions[types.Array] = _box_array


@numba.njit(nogil=True, cache=False)
def threefry2x32(k0, k1, x0, x1):
    """Threefry-2x32 (20 rounds) of four uint32 arrays of one size or of size 1 (read for every
    element), as JAX's ``threefry2x32_p``.
    Numba types uint32 arithmetic as int64/uint64 (and uint64 with an int literal as float64),
    so every step is done in uint64 with uint64 constants and masked to 32 bits."""
    k0, k1 = np.ascontiguousarray(k0).ravel(), np.ascontiguousarray(k1).ravel()
    x0, x1 = np.ascontiguousarray(x0).ravel(), np.ascontiguousarray(x1).ravel()
    n = max(k0.size, k1.size, x0.size, x1.size)
    s0, s1, s2, s3 = k0.size > 1, k1.size > 1, x0.size > 1, x1.size > 1
    y0 = np.empty(n, np.uint32)
    y1 = np.empty(n, np.uint32)
    m = np.uint64(0xFFFFFFFF)
    rot = (np.uint64(13), np.uint64(15), np.uint64(26), np.uint64(6),
           np.uint64(17), np.uint64(29), np.uint64(16), np.uint64(24))
    for i in range(n):
        ka, kb = np.uint64(k0[i if s0 else 0]), np.uint64(k1[i if s1 else 0])
        ks = (ka, kb, ka ^ kb ^ np.uint64(0x1BD11BDA))
        a = (np.uint64(x0[i if s2 else 0]) + ka) & m
        b = (np.uint64(x1[i if s3 else 0]) + kb) & m
        for j in range(5):
            for r in range(4):
                s = rot[4 * (j % 2) + r]
                a = (a + b) & m
                b = ((b << s) | (b >> (np.uint64(32) - s))) & m
                b = a ^ b
            a = (a + ks[(j + 1) % 3]) & m
            b = (b + ks[(j + 2) % 3] + np.uint64(j + 1)) & m
        y0[i] = a
        y1[i] = b
    return y0, y1

