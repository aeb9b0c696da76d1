"""Numba kernels of ``funcad.random``'s draws (lax/random.py's ``random_draw_p``): element
``i`` of a draw under key ``(k0, k1)`` is ``threefry2x32(k0, k1, hi(i), lo(i))`` of its flat
index, turned into bits, a uniform float or a normal float in the same loop. The counters
come from the loop index (no array of them), and a large draw runs its loop with
``numba.prange``: each element depends on its index only, so the numbers do not depend on
the thread count.

Normals are JAX's exactly: ``sqrt(2) * erf_inv(max(lo, 2 u + lo))`` with XLA's ``ErfInv64``
and ``ErfInv32`` (Giles' polynomials) and XLA's CPU ``log1p`` (Cephes' rational form below
sqrt(2) - 1, else ``log(1 + x)``: libm's ``log`` for float64, XLA's own polynomial for
float32), with the fused multiply-adds XLA's CPU compiler contracts them to; exponentials are
``-log1p(-u)`` with the same ``log1p``. The kernels are cached on disk under funcad's cache
directory (nbcache.KernelCache): they take seconds to compile.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic, overload
from numba.np.ufunc.parallel import _launch_threads

from . import nbcache
from . import xlamath as xm
from .xlamath import _ERFINV32_A, _ERFINV64_A, _LOG1P_SMALL
from .xlamath import fma as _fma
from .xlamath import horner as _horner

# A draw this size or larger runs in parallel; ~30 ns an element, so ~2 ms serial.
PARALLEL_MIN_SIZE = 1 << 16

_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))
_M32 = np.uint64(0xFFFFFFFF)



# --------------------------------------------------------------------------------------
# The hash and the maps from words to numbers are intrinsics (LLVM IR written into the
# caller): a call to a separately compiled Numba function in a loop body keeps LLVM from
# vectorising the loop, and Numba's own inlining (inline='always') costs seconds of compile.

def _int(builder, v, bits=32):
    return ir.Constant(ir.IntType(bits), v)


@intrinsic
def threefry(typingctx, k0, k1, x0, x1):
    """Threefry-2x32 with 20 rounds (JAX's ``threefry2x32_p``) of four 32-bit words given
    as uint64; the two output words as uint64."""
    u64 = types.uint64
    sig = types.UniTuple(u64, 2)(u64, u64, u64, u64)

    def codegen(context, builder, sig, args):
        i32 = ir.IntType(32)
        k0, k1, x0, x1 = (builder.trunc(a, i32) for a in args)
        ks = (k0, k1, builder.xor(builder.xor(k0, k1), _int(builder, 0x1BD11BDA)))
        a, b = builder.add(x0, ks[0]), builder.add(x1, ks[1])
        for j in range(5):
            for r in _ROTATIONS[j % 2]:
                a = builder.add(a, b)
                b = builder.or_(builder.shl(b, _int(builder, r)), builder.lshr(b, _int(builder, 32 - r)))
                b = builder.xor(b, a)
            a = builder.add(a, ks[(j + 1) % 3])
            b = builder.add(builder.add(b, ks[(j + 2) % 3]), _int(builder, j + 1))
        i64 = ir.IntType(64)
        return context.make_tuple(builder, sig.return_type, [builder.zext(a, i64), builder.zext(b, i64)])

    return sig, codegen


@intrinsic
def _combine(typingctx, a, b, like):
    """The draw's bits for an output array ``like``: JAX's ``hi << 32 | lo`` for 64 bits,
    ``hi ^ lo`` truncated for 8, 16 and 32."""
    dt = like.dtype

    def codegen(context, builder, sig, args):
        a, b = args[0], args[1]
        if dt.bitwidth == 64:
            return builder.or_(builder.shl(a, _int(builder, 32, 64)), b)
        return builder.trunc(builder.xor(a, b), ir.IntType(dt.bitwidth))

    return dt(types.uint64, types.uint64, like), codegen


@intrinsic
def _unit(typingctx, a, b, like):
    """JAX's floats in [0, 1) for an output array ``like``: ``bitcast(bits >> (nbits - nmant)
    | bits_of(1.0)) - 1``, from ``hi << 32 | lo`` (float64) or ``hi ^ lo`` (float32)."""
    dt = like.dtype

    def codegen(context, builder, sig, args):
        a, b = args[0], args[1]
        if dt == types.float64:
            bits = builder.lshr(builder.or_(builder.shl(a, _int(builder, 32, 64)), b), _int(builder, 12, 64))
            one = builder.bitcast(builder.or_(bits, _int(builder, 0x3FF0000000000000, 64)), ir.DoubleType())
            return builder.fsub(one, ir.Constant(ir.DoubleType(), 1.0))
        bits = builder.lshr(builder.trunc(builder.xor(a, b), ir.IntType(32)), _int(builder, 9))
        one = builder.bitcast(builder.or_(bits, _int(builder, 0x3F800000)), ir.FloatType())
        return builder.fsub(one, ir.Constant(ir.FloatType(), 1.0))

    return dt(types.uint64, types.uint64, like), codegen


def _xla_intrinsic(fn, only=None):
    """A Numba intrinsic writing xlamath's ``fn`` of float arguments (of type ``only`` if given)."""
    def typer(args):
        if only is not None and args[0] != only:
            return None
        return args[0](*args), lambda context, builder, sig, a: fn(builder, *a)

    if fn is xm.erfinv_poly:
        def rule(typingctx, x, w):
            return typer((x, w))
    else:
        def rule(typingctx, x):
            return typer((x,))
    rule.__name__ = fn.__name__
    return intrinsic(rule)


_log1p_small = _xla_intrinsic(xm.log1p_small)  # XLA's log1p below sqrt(2) - 1
_log32 = _xla_intrinsic(xm.log32, types.float32)  # XLA's float32 log
_erfinv_poly = _xla_intrinsic(xm.erfinv_poly)  # ErfInv64/32 given w = -log1p(-x^2)
_erf32_ir = _xla_intrinsic(xm.erf32, types.float32)  # Eigen's float32 erf


@intrinsic
def _erfinv_central(typingctx, x, w):
    """``_erfinv_poly`` for ``w`` below its first edge (6.25 for float64, 5 for float32): the
    same arithmetic without the selects."""
    def codegen(context, builder, sig, args):
        x, w = args
        t = x.type
        if isinstance(t, ir.DoubleType):
            coefs, shift = _ERFINV64_A, 3.125
        else:
            coefs, shift = _ERFINV32_A, 2.5
        return builder.fmul(_horner(builder, coefs, builder.fsub(w, ir.Constant(t, shift))), x)

    return x(x, w), codegen


@intrinsic
def xla_exp(typingctx, x):
    """XLA's CPU ``exp`` of a float64 (``jnp.exp`` under JAX on the CPU, bit for bit)."""
    if x != types.float64:
        return None

    def codegen(context, builder, sig, args):
        return xm.exp64(builder, args[0])

    return x(x), codegen


@numba.njit
def xla_log1p(y):
    """XLA's CPU ``log1p`` of a float64 (scalar): the rational branch below sqrt(2) - 1,
    else libm's ``log(1 + y)``."""
    return _log1p_small(y) if abs(y) < _LOG1P_SMALL else math.log(1.0 + y)


@numba.njit(nogil=True)
def xla_exp_array(x, out):
    """``out[j] = xla_exp(x[j])`` (1-D float64 arrays)."""
    for j in range(x.size):
        out[j] = xla_exp(x[j])


def xla_erf(x):
    pass


@overload(xla_erf)
def _xla_erf_ov(x):
    if x == types.float64:
        tiny = np.finfo(np.float64).tiny
        return lambda x: math.erf(x * 0.0 if abs(x) < tiny else x)
    if x == types.float32:
        tiny32 = np.finfo(np.float32).tiny
        return lambda x: _erf32_ir(x * np.float32(0) if abs(x) < tiny32 else x)
    return None


def xla_erf_inv(x):
    pass


@overload(xla_erf_inv)
def _xla_erf_inv_ov(x):
    if x == types.float64:
        tiny = np.finfo(np.float64).tiny

        def erf_inv64(x):
            x = x * 0.0 if abs(x) < tiny else x
            y = -x * x
            return _erfinv_poly(x, -(_log1p_small(y) if abs(y) < _LOG1P_SMALL else math.log(1.0 + y)))
        return erf_inv64
    if x == types.float32:
        small, one, tiny32 = np.float32(_LOG1P_SMALL), np.float32(1), np.finfo(np.float32).tiny

        def erf_inv32(x):
            x = x * np.float32(0) if abs(x) < tiny32 else x
            y = -x * x
            return _erfinv_poly(x, -(_log1p_small(y) if abs(y) < small else _log32(one + y)))
        return erf_inv32
    return None


@numba.njit(nogil=True)
def xla_erf_array(x, out):
    """``out[j] = xla_erf(x[j])`` (1-D arrays of one float dtype)."""
    for j in range(x.size):
        out[j] = xla_erf(x[j])


@numba.njit(nogil=True)
def xla_erf_inv_array(x, out):
    """``out[j] = xla_erf_inv(x[j])`` (1-D arrays of one float dtype)."""
    for j in range(x.size):
        out[j] = xla_erf_inv(x[j])


# --------------------------------------------------------------------------------------
# The kernels: ``out`` (1-D, C-contiguous: the keys' shape then the draw's, flattened) from
# the key words ``k0``, ``k1`` (1-D uint32, one per key), in blocks of BLOCK elements whose
# words, floats and scratch stay in L1. A block is a few passes that LLVM vectorises (the
# hash, the float conversion with log1p's rational branch, erf_inv's central polynomial),
# and a scalar pass over the third of the normals that need libm's log. The hash writes its
# two words into scratch arrays, in a loop of its own: LLVM runs it in 32-bit lanes there
# (in the loop writing a 64-bit result it ran half as wide).

BLOCK = 1024  # divides 2**32: a block's counters share their high word
TASK = 64  # blocks a parallel task draws with one set of scratch arrays


@numba.njit
def _hash(k0, k1, hi, lo, h, l):  # noqa: E741
    """``threefry2x32(k0, k1, hi, lo + j)`` into ``h[j]``, ``l[j]`` (uint32 arrays)."""
    for j in range(h.size):
        a, b = threefry(k0, k1, hi, lo + np.uint64(j))
        h[j], l[j] = a, b


@numba.njit
def _bits_block(v, h, l, w, rest):  # noqa: E741
    for j in range(v.size):
        v[j] = _combine(np.uint64(h[j]), np.uint64(l[j]), v)


@numba.njit
def _uniform_block(v, h, l, w, rest):  # noqa: E741
    for j in range(v.size):
        v[j] = _unit(np.uint64(h[j]), np.uint64(l[j]), v)


@numba.njit
def _normal_block(v, h, l, w, rest):  # noqa: E741
    """jax.random.normal: ``sqrt(2) erf_inv(x)``, ``x = max(lo, 2 u + lo)``, ``lo = -1 + ulp``."""
    _normal_into(v, h, l, w, rest)


@numba.njit
def _exponential_block(v, h, l, w, rest):  # noqa: E741
    """jax.random.exponential: ``-log1p(-u)``, XLA's CPU log1p as in ``_normal_block``."""
    _exponential_into(v, h, l, w, rest)


def _normal64(v, h, l, w, rest):  # noqa: E741
    one, two, low, sqrt2, small, edge = _normal_consts(v)
    for j in range(v.size):  # x, and log1p(-x^2) by its rational branch (|x^2| < sqrt(2) - 1)
        x = max(low, _unit(np.uint64(h[j]), np.uint64(l[j]), v) * two + low)
        v[j] = x
        w[j] = _log1p_small(-x * x)
    # log1p(y) = log(1 + y) for the rest (~36% of the draws, at random), libm's log: their
    # indices first, without a branch, then the calls, so that no branch is mispredicted.
    # The tails of erf_inv (w >= edge: 0.2% of the draws) are among them, done here once each.
    m = 0
    for j in range(v.size):
        rest[m] = j
        m += abs(v[j] * v[j]) >= small
    for q in range(m):
        j = rest[q]
        y = math.log(one - v[j] * v[j])
        w[j] = y
        if y <= -edge:
            v[j] = sqrt2 * _erfinv_poly(v[j], -y)
    for j in range(v.size):  # the central polynomial (w < edge: 99.8% of the draws)
        r = sqrt2 * _erfinv_central(v[j], -w[j])
        v[j] = r if w[j] > -edge else v[j]


def _normal32(v, h, l, w, rest):  # noqa: E741
    # float32: XLA's log is arithmetic (no libm call) and ErfInv32 two short polynomials:
    # both branches of each, selected per element, in one vectorised loop
    one, two, low, sqrt2, small, _ = _normal_consts(v)
    for j in range(v.size):
        x = max(low, _unit(np.uint64(h[j]), np.uint64(l[j]), v) * two + low)
        y = -x * x
        lg = _log1p_small(y) if abs(y) < small else _log32(one + y)
        v[j] = sqrt2 * _erfinv_poly(x, -lg)


def _exponential64(v, h, l, w, rest):  # noqa: E741
    one, _, _, _, small, _ = _normal_consts(v)
    for j in range(v.size):
        y = -_unit(np.uint64(h[j]), np.uint64(l[j]), v)
        v[j] = y
        w[j] = _log1p_small(y)
    m = 0
    for j in range(v.size):  # log(1 + y) for u >= sqrt(2) - 1 (59% of the draws)
        rest[m] = j
        m += abs(v[j]) >= small
    for q in range(m):
        j = rest[q]
        w[j] = math.log(one + v[j])
    for j in range(v.size):
        v[j] = -w[j]


def _exponential32(v, h, l, w, rest):  # noqa: E741
    one, _, _, _, small, _ = _normal_consts(v)
    for j in range(v.size):
        y = -_unit(np.uint64(h[j]), np.uint64(l[j]), v)
        v[j] = -(_log1p_small(y) if abs(y) < small else _log32(one + y))


def _xla_log(x):
    pass


def _xla_log1p(y):
    pass


@overload(_xla_log)
def _xla_log_ov(x):
    """XLA's CPU log of a positive float: libm's (float64), its own polynomial (float32)."""
    return (lambda x: _log32(x)) if x == types.float32 else (lambda x: math.log(x))


@overload(_xla_log1p)
def _xla_log1p_ov(y):
    """XLA's CPU log1p: the rational branch below sqrt(2) - 1, else ``log(1 + y)``."""
    small, one = (np.float32(_LOG1P_SMALL), np.float32(1)) if y == types.float32 else (_LOG1P_SMALL, 1.0)
    return lambda y: _log1p_small(y) if abs(y) < small else _xla_log(one + y)


@numba.njit
def _laplace_block(v, h, l, w, rest):  # noqa: E741
    """jax.random.laplace: ``sign(u) log1p(-|u|)``, ``u = max(lo, 2 f + lo)``, ``lo = -1 + ulp``."""
    _, two, low, _, _, _ = _normal_consts(v)
    for j in range(v.size):
        u = max(low, _unit(np.uint64(h[j]), np.uint64(l[j]), v) * two + low)
        v[j] = np.sign(u) * _xla_log1p(-abs(u))


@numba.njit
def _logistic_block(v, h, l, w, rest):  # noqa: E741
    """jax.random.logistic: ``log(x) - log1p(-x)``, ``x = max(tiny, f + tiny)``."""
    tiny = _tiny(v)
    for j in range(v.size):
        x = max(tiny, _unit(np.uint64(h[j]), np.uint64(l[j]), v) + tiny)
        v[j] = _xla_log(x) - _xla_log1p(-x)


@numba.njit
def _gumbel_block(v, h, l, w, rest):  # noqa: E741
    """jax.random.gumbel (mode 'low'): ``-log(-log(u))``, ``u = max(tiny, f + tiny)``."""
    tiny = _tiny(v)
    for j in range(v.size):
        u = max(tiny, _unit(np.uint64(h[j]), np.uint64(l[j]), v) + tiny)
        v[j] = -_xla_log(-_xla_log(u))


def _tiny(out):
    pass


@overload(_tiny)
def _tiny_ov(out):
    t = np.float32 if out.dtype == types.float32 else np.float64
    tiny = np.finfo(t).tiny
    return lambda out: tiny


def _normal_into(v, h, l, w, rest):  # noqa: E741
    pass


def _exponential_into(v, h, l, w, rest):  # noqa: E741
    pass


# float64 and float32 each their own loops, chosen when the block is typed
overload(_normal_into)(lambda v, h, l, w, rest: _normal32 if v.dtype == types.float32 else _normal64)
overload(_exponential_into)(
    lambda v, h, l, w, rest: _exponential32 if v.dtype == types.float32 else _exponential64)


def _driver(block):
    """The kernel drawing ``out`` with ``block``: serial below PARALLEL_MIN_SIZE elements,
    else in parallel tasks of TASK blocks (each element depends on its index only, so the
    numbers do not depend on the thread count). A factory's closures, not one kernel taking
    the block as an argument: a function passed as a value makes Numba's code uncacheable."""

    def task(k0, k1, out, n, per, t):
        h, l = np.empty(BLOCK, np.uint32), np.empty(BLOCK, np.uint32)  # noqa: E741
        w, rest = np.empty(BLOCK, out.dtype), np.empty(BLOCK, np.int64)
        for c in range(t * TASK, min(k0.size * per, (t + 1) * TASK)):
            b, start = c // per, (c % per) * BLOCK
            m, i = min(n - start, BLOCK), np.uint64(start)
            _hash(np.uint64(k0[b]), np.uint64(k1[b]), i >> np.uint64(32), i & _M32, h[:m], l[:m])
            block(out[b * n + start:b * n + start + m], h, l, w, rest)

    # Each kernel's task its own name: the machine code of a closure is named after its
    # qualified name and a per-process counter, so a task loaded from the disk cache could
    # otherwise carry the name another kernel's task compiled in this process gets, and the
    # linker would resolve one's call to the other's body (seen: normal drew laplace's numbers).
    kind = block.__name__.split("_")[1]
    task.__name__ = task.__qualname__ = "task_" + kind
    task = numba.njit(task)

    def draw(k0, k1, out):
        n = out.size // max(1, k0.size)  # a key's elements
        per = (n + BLOCK - 1) // BLOCK  # a key's blocks
        tasks = (k0.size * per + TASK - 1) // TASK
        if out.size < PARALLEL_MIN_SIZE:
            for t in range(tasks):
                task(k0, k1, out, n, per, t)
        else:
            for t in numba.prange(tasks):
                task(k0, k1, out, n, per, t)

    draw.__name__ = draw.__qualname__ = "draw_" + kind
    return nbcache.KernelCache.attach(numba.njit(parallel=True, nogil=True)(draw))


draw_bits, draw_uniform, draw_normal, draw_exponential, draw_laplace, draw_logistic, draw_gumbel = (
    _driver(b) for b in (_bits_block, _uniform_block, _normal_block, _exponential_block, _laplace_block,
                         _logistic_block, _gumbel_block))


def _normal_consts(out):
    pass


@overload(_normal_consts)
def _normal_consts_ov(out):
    t = np.float64 if out.dtype == types.float64 else np.float32
    edge = 6.25 if t is np.float64 else 5.0  # of erf_inv's central polynomial
    c = (t(1), t(2), np.nextafter(t(-1), t(0)), t(np.sqrt(2)), t(_LOG1P_SMALL), t(edge))
    return lambda out: c


DRAW = {"bits": draw_bits, "uniform": draw_uniform, "normal": draw_normal, "exponential": draw_exponential,
        "laplace": draw_laplace, "logistic": draw_logistic, "gumbel": draw_gumbel}


# Numba starts its threading layer when it compiles a parfor, not when cached code that calls
# one is loaded: a program from funcad's disk cache that calls these kernels segfaults in its
# first prange (or even before, on the layer's symbols) unless the layer is up. Programs
# import this module through nbrt, so it is started here (idempotent; ~10 ms).
_launch_threads()


# --------------------------------------------------------------------------------------
# jax.random.gamma, bit for bit (float64): JAX's Marsaglia-Tsang rejection sampler with its
# key splitting (jax/_src/random: _gamma_impl, _gamma_one), per element, with the rounding
# XLA's CPU compiler gives it: 1/3 / sqrt(d) rewritten as 1/3 * rsqrt(d), 1 + x c contracted
# to a fused multiply-add.

@intrinsic
def fma(typingctx, a, b, c):
    """``a * b + c`` rounded once (LLVM's ``llvm.fma``; Numba has no ``math.fma``)."""
    if not (a == b == c and isinstance(a, types.Float)):
        return None

    def codegen(context, builder, sig, args):
        return _fma(builder, *args)

    return a(a, a, a), codegen


@numba.njit(nogil=True)
def fma_array(a, b, c, out):
    """``out[j] = fma(a[j], b[j], c[j])`` (1-D arrays of one float dtype)."""
    for j in range(out.size):
        out[j] = fma(a[j], b[j], c[j])


@numba.njit
def _scalar_normal(k0, k1):
    """``jax.random.normal(key, ())`` (float64): element 0 of a draw."""
    a, b = threefry(k0, k1, np.uint64(0), np.uint64(0))
    lo = np.nextafter(-1.0, 0.0)
    x = max(lo, _unit_scalar(a, b) * 2.0 + lo)
    y = -x * x
    w = math.log(y + 1.0) if abs(y) >= _LOG1P_SMALL else _log1p_small(y)
    return np.sqrt(2.0) * _erfinv_poly(x, -w)


@numba.njit
def _unit_scalar(a, b):
    return np.float64(np.int64(((a << np.uint64(32)) | b) >> np.uint64(12))) * 2.0 ** -52


@numba.njit
def _gamma_loop(k0, k1, alpha):
    """The rejection loop of JAX's ``_gamma_one``: ``d``, ``V`` and the boost's key."""
    boost = alpha >= 1.0
    a = alpha if boost else alpha + 1.0
    d = a - 1.0 / 3.0
    c = (1.0 / 3.0) * (1.0 / math.sqrt(d))
    key0, key1 = threefry(k0, k1, np.uint64(0), np.uint64(0))
    sub0, sub1 = threefry(k0, k1, np.uint64(0), np.uint64(1))
    X, V, U = 0.0, 1.0, 2.0
    while U >= fma(-0.0331, X * X, 1.0) and math.log(U) >= X * 0.5 + d * ((1.0 - V) + math.log(V)):
        n0, n1 = threefry(key0, key1, np.uint64(0), np.uint64(0))
        x0, x1 = threefry(key0, key1, np.uint64(0), np.uint64(1))
        u0, u1 = threefry(key0, key1, np.uint64(0), np.uint64(2))
        key0, key1 = n0, n1
        x, v = 0.0, -1.0
        while v <= 0.0:
            s0, s1 = threefry(x0, x1, np.uint64(0), np.uint64(1))
            x0, x1 = threefry(x0, x1, np.uint64(0), np.uint64(0))
            x = _scalar_normal(s0, s1)
            v = fma(x, c, 1.0)
        a_, b_ = threefry(u0, u1, np.uint64(0), np.uint64(0))
        X, V, U = x * x, v * v * v, _unit_scalar(a_, b_)
    a_, b_ = threefry(sub0, sub1, np.uint64(0), np.uint64(0))
    return d, V, _unit_scalar(a_, b_)


@numba.njit
def _gamma_one(k0, k1, alpha):
    d, V, u = _gamma_loop(k0, k1, alpha)
    if alpha >= 1.0:
        return d * V
    return (d * V) * math.pow(1.0 - u, 1.0 / alpha)


@numba.njit
def _loggamma_one(k0, k1, alpha):
    """JAX's ``log_space`` sample (``loggamma``): ``log d + log V + log1p(-u) / alpha``."""
    d, V, u = _gamma_loop(k0, k1, alpha)
    log_u = xla_log1p(-u)  # -exponential(subkey)
    boost = 0.0 if alpha >= 1.0 or log_u == 0.0 else log_u * (1.0 / alpha)
    return (math.log(d) + math.log(V)) + boost


def _gamma_driver(one):
    def draw(k0, k1, alpha, out):
        n = out.size // max(1, k0.size)
        if out.size < PARALLEL_MIN_SIZE // 16:
            for j in range(out.size):
                b = j // n
                ka, kb = threefry(np.uint64(k0[b]), np.uint64(k1[b]), np.uint64(0), np.uint64(j - b * n))
                out[j] = one(ka, kb, alpha[j])
        else:
            for j in numba.prange(out.size):
                b = j // n
                ka, kb = threefry(np.uint64(k0[b]), np.uint64(k1[b]), np.uint64(0), np.uint64(j - b * n))
                out[j] = one(ka, kb, alpha[j])

    draw.__name__ = draw.__qualname__ = "draw_" + one.py_func.__name__.split("_")[1]
    draw.__doc__ = """Gamma(alpha[j], 1) (or its log) into ``out[j]`` (1-D float64), ``out.size //
    k0.size`` a key: the element's key is split ``i`` of its key (``split(key, n)[i]``) as JAX's."""
    return nbcache.KernelCache.attach(numba.njit(parallel=True, nogil=True)(draw))


draw_gamma, draw_loggamma = _gamma_driver(_gamma_one), _gamma_driver(_loggamma_one)


# --------------------------------------------------------------------------------------
# jax.random.poisson, bit for bit: JAX's Knuth loop below lam 10 (and for nan) and its
# transformed rejection (Hörmann) from 10 on (jax/_src/random: _poisson, _poisson_knuth,
# _poisson_rejection), in float32 as JAX (it converts lam to float32), with XLA's float32 log,
# log1p and lgamma (stablehlo's Lanczos decomposition of chlo.lgamma) and the rewrites XLA's
# CPU compiler gives the graph: constants reassociated (b - 3.4 as sqrt(lam) 2.53 - 2.469),
# z / 7.5 as z * (1 / 7.5), products feeding sums contracted to fused multiply-adds.
# Both of JAX's loops run over the whole draw until every element is done: Knuth's count of
# an element is its own, but the rejection loop keeps overwriting an accepted element with
# later acceptances until the slowest element of the draw (elements below 10 included, run
# with lam = 1e5) is accepted, so the kernel finds that round first, then replays up to it.

_F32 = np.float32
_LANCZOS32 = tuple(_F32(c) for c in (676.520368121885098567009190444019, -1259.13921672240287047156078755283,
                                      771.3234287776530788486528258894, -176.61502916214059906584551354,
                                      12.507343278686904814458936853, -0.13857109526572011689554707,
                                      9.984369578019570859563e-6, 1.50563273514931155834e-7))
_LOG_7_5, _HALF_LOG_2PI = _F32(math.log(7.5)), _F32((math.log(2) + math.log(math.pi)) / 2)
_INV_7_5 = _F32(1) / _F32(7.5)
_POISSON_KNUTH_BELOW = _F32(10)
_POISSON_REJECTION_PAD = _F32(1e5)  # JAX's lam for the Knuth elements in the rejection loop


@intrinsic
def _unit32(typingctx, a, b):
    """JAX's float32 uniform in [0, 1) from a threefry pair: ``(a ^ b) >> 9 | 1.0f, - 1``."""
    def codegen(context, builder, sig, args):
        bits = builder.lshr(builder.trunc(builder.xor(args[0], args[1]), ir.IntType(32)), _int(builder, 9))
        one = builder.bitcast(builder.or_(bits, _int(builder, 0x3F800000)), ir.FloatType())
        return builder.fsub(one, ir.Constant(ir.FloatType(), 1.0))

    return types.float32(types.uint64, types.uint64), codegen


@numba.njit(error_model="numpy")  # IEEE division: x / 0 is inf, as XLA
def xla_log32(x):
    """XLA's CPU float32 ``log`` (``_log32``) with its edge values: -inf at 0, nan below."""
    if x > _F32(0) and x < _F32(np.inf):
        return _log32(x)
    if x == _F32(0):
        return _F32(-np.inf)
    return x if x == _F32(np.inf) else _F32(np.nan)


@numba.njit(error_model="numpy")
def xla_log1p32(x):
    """XLA's CPU float32 ``log1p``: Cephes' rational form below sqrt(2) - 1, else log(1 + x)."""
    if abs(x) < _F32(_LOG1P_SMALL):
        return _log1p_small(x)
    return xla_log32(_F32(1) + x)


@numba.njit(error_model="numpy")
def xla_lgamma1p32(z):
    """XLA's float32 ``lgamma(z + 1)`` for ``z >= -1/2`` (integers here: JAX's ``lgamma(k + 1)``,
    which XLA evaluates from ``z = k``): Lanczos' approximation (g = 7, 9 terms), stablehlo's
    decomposition of chlo.lgamma, without its reflection branch (``z + 1 < 1/2``)."""
    c = _LANCZOS32
    a = c[0] / (z + _F32(1)) + _F32(1)  # kBaseLanczosCoeff rounds to 1 in float32
    a = a + c[1] / (z + _F32(2))
    a = a + c[2] / (z + _F32(3))
    a = a + c[3] / (z + _F32(4))
    a = a + c[4] / (z + _F32(5))
    a = a + c[5] / (z + _F32(6))
    a = a + c[6] / (z + _F32(7))
    a = a + c[7] / (z + _F32(8))
    log_t = xla_log1p32(z * _INV_7_5) + _LOG_7_5
    r = (z + _F32(0.5)) - (z + _F32(7.5)) / log_t
    return fma(r, log_t, _HALF_LOG_2PI) + xla_log32(a)


# Both loops split their key each round the same way: round i's chain key c_i (c_0 the draw's
# key, c_{i+1} = split(c_i)[0]) gives Knuth's subkey A_i = split(c_i)[1] and the rejection's
# two, A_i and B_i = split(c_i, 3)[1:]. A draw's first ROUND_TABLE rounds are hashed once per
# key into a table (c, A, B as six words a round); rounds beyond it are hashed as they come.

ROUND_TABLE = 32


@numba.njit
def _round_table(k0, k1, tab):
    for b in range(k0.size):
        c0, c1 = np.uint64(k0[b]), np.uint64(k1[b])
        for i in range(tab.shape[1]):
            a0, a1 = threefry(c0, c1, np.uint64(0), np.uint64(1))
            b0, b1 = threefry(c0, c1, np.uint64(0), np.uint64(2))
            tab[b, i, 0], tab[b, i, 1], tab[b, i, 2], tab[b, i, 3], tab[b, i, 4], tab[b, i, 5] = \
                c0, c1, a0, a1, b0, b1
            c0, c1 = threefry(c0, c1, np.uint64(0), np.uint64(0))


@numba.njit
def _round_keys(tab, b, i, c0, c1):
    """Round ``i``'s chain key and subkeys ``(c, A, B)``, given round ``i - 1``'s chain key."""
    if i < tab.shape[1]:
        return tab[b, i, 0], tab[b, i, 1], tab[b, i, 2], tab[b, i, 3], tab[b, i, 4], tab[b, i, 5]
    c0, c1 = threefry(c0, c1, np.uint64(0), np.uint64(0))
    a0, a1 = threefry(c0, c1, np.uint64(0), np.uint64(1))
    b0, b1 = threefry(c0, c1, np.uint64(0), np.uint64(2))
    return c0, c1, a0, a1, b0, b1


@numba.njit(error_model="numpy")
def _poisson_knuth(tab, b, hi, lo, lam, max_iters):
    """Knuth's count for one element: rounds while the running log-product of float32 uniforms
    is above ``-lam`` (JAX's ``k``; the draw is ``k - 1``), at most ``max_iters``."""
    log_prod, neg_lam, k = _F32(0), -lam, 0
    c0 = c1 = np.uint64(0)
    while k < max_iters and log_prod > neg_lam:
        c0, c1, a0, a1, _, _ = _round_keys(tab, b, k, c0, c1)
        x, y = threefry(a0, a1, hi, lo)
        log_prod = log_prod + xla_log32(_unit32(x, y))
        k += 1
    return k


@numba.njit(error_model="numpy")
def _poisson_constants(lam):
    """The rejection sampler's per-lam constants as XLA computes them: (log lam, b, 2a, a,
    1/alpha, v_r)."""
    sq = np.sqrt(lam)
    b = fma(sq, _F32(2.53), _F32(0.931))
    a = fma(b, _F32(0.02483), _F32(-0.059))
    inv_alpha = _F32(1.1328) / fma(sq, _F32(2.53), _F32(-2.469)) + _F32(1.1239)
    v_r = _F32(0.9277) - _F32(3.6224) / fma(sq, _F32(2.53), _F32(-1.069))
    return xla_log32(lam), b, a * _F32(2), a, inv_alpha, v_r


@numba.njit(error_model="numpy")
def _poisson_try(a0, a1, b0, b1, hi, lo, lam, log_lam, b, two_a, a, inv_alpha, v_r):
    """One round of the transformed rejection for one element under the round's subkeys:
    (the candidate k, accepted)."""
    x, y = threefry(a0, a1, hi, lo)
    u = _unit32(x, y) - _F32(0.5)
    x, y = threefry(b0, b1, hi, lo)
    v = _unit32(x, y)
    us = _F32(0.5) - abs(u)
    k = np.floor(fma(two_a / us + b, u, lam) + _F32(0.43))
    s = xla_log32((v * inv_alpha) / (a / (us * us) + b))
    t = fma(k, log_lam, -lam) - xla_lgamma1p32(k)
    accept1 = us >= _F32(0.07) and v <= v_r
    reject = k < _F32(0) or (us < _F32(0.013) and v > us)
    return k, accept1 or (not reject and s <= t)


@numba.njit(error_model="numpy")
def _poisson_first(tab, kb, hi, lo, lam, max_iters):
    """The first round accepting the element (``max_iters`` if none) and its k."""
    log_lam, b, two_a, a, inv_alpha, v_r = _poisson_constants(lam)
    c0 = c1 = np.uint64(0)
    for i in range(max_iters):
        c0, c1, a0, a1, b0, b1 = _round_keys(tab, kb, i, c0, c1)
        k, ok = _poisson_try(a0, a1, b0, b1, hi, lo, lam, log_lam, b, two_a, a, inv_alpha, v_r)
        if ok:
            return i, k
    return max_iters, _F32(-1)


@numba.njit(error_model="numpy")
def _poisson_last(tab, kb, hi, lo, lam, first, k, rounds):
    """The element's k after JAX's ``rounds`` rounds: its last accepting round's (found from
    the last round back: ~1.1 tries, not ``rounds - first``), else its first's."""
    log_lam, b, two_a, a, inv_alpha, v_r = _poisson_constants(lam)
    if rounds <= tab.shape[1]:
        for i in range(rounds - 1, first, -1):
            kk, ok = _poisson_try(tab[kb, i, 2], tab[kb, i, 3], tab[kb, i, 4], tab[kb, i, 5], hi, lo,
                                  lam, log_lam, b, two_a, a, inv_alpha, v_r)
            if ok:
                return kk
        return k
    c0 = c1 = np.uint64(0)
    for i in range(rounds):  # past the table (rare): forwards, hashing the chain as it goes
        c0, c1, a0, a1, b0, b1 = _round_keys(tab, kb, i, c0, c1)
        if i > first:
            kk, ok = _poisson_try(a0, a1, b0, b1, hi, lo, lam, log_lam, b, two_a, a, inv_alpha, v_r)
            k = kk if ok else k
    return k


@numba.njit(error_model="numpy")
def _saturate(x, fmin, fmax, imin, imax):
    """XLA's float to integer conversion into a dtype with range ``[fmin, fmax]``: truncating,
    saturating, nan to 0; as int64 bits (uint64's largest is -1, wrapped back by astype)."""
    if x != x:
        return np.int64(0)
    if x <= fmin:
        return imin
    if x >= fmax:
        return imax
    if x < 9.2e18:
        return np.int64(x)
    return np.int64(np.uint64(x))


@numba.njit(error_model="numpy")
def _poisson_pass1(tab, lam, out, first, kf, n, max_iters, j, pad):
    """Knuth's draw of element ``j`` (lam < 10 or nan), or its first accepting round; with
    ``pad`` (its key's draw has rejection elements) a Knuth element's first round at 1e5 too."""
    b = j // n
    i = np.uint64(j - b * n)
    hi, lo = i >> np.uint64(32), i & _M32
    lj = lam[j]
    if lj != lj or lj < _POISSON_KNUTH_BELOW:
        out[j] = 0 if lj == _F32(0) else _poisson_knuth(tab, b, hi, lo, lj, max_iters) - 1
        if pad:
            first[j], kf[j] = _poisson_first(tab, b, hi, lo, _POISSON_REJECTION_PAD, max_iters)
        else:
            first[j] = -1
    else:
        first[j], kf[j] = _poisson_first(tab, b, hi, lo, lj, max_iters)


@numba.njit(error_model="numpy")
def _poisson_pass2(tab, lam, out, first, kf, n, rounds, j, fmin, fmax, imin, imax):
    b = j // n
    i = np.uint64(j - b * n)
    lj = lam[j]
    if not (lj != lj or lj < _POISSON_KNUTH_BELOW):
        k = _poisson_last(tab, b, i >> np.uint64(32), i & _M32, lj, first[j], kf[j], rounds[b])
        out[j] = _saturate(k, fmin, fmax, imin, imax)


@nbcache.KernelCache.attach
@numba.njit(parallel=True, nogil=True, error_model="numpy")
def draw_poisson(k0, k1, lam, out, fmin, fmax, imin, imax, max_iters):
    """Poisson(lam[j]) into ``out[j]`` (1-D int64, the bits of the output dtype's values; lam
    float32 of the same size), ``out.size // k0.size`` elements a key (a key's draw is one of
    JAX's calls); the dtype's range and JAX's round limit from lax/random.py's
    ``poisson_bounds``. One kernel
    for every integer dtype (each would cost a compile)."""
    nk = k0.size
    n = out.size // max(1, nk)
    pad = np.zeros(nk, np.bool_)
    for j in range(out.size):  # a key's draw with a rejection element runs JAX's rejection loop
        if not (lam[j] != lam[j] or lam[j] < _POISSON_KNUTH_BELOW):
            pad[j // n] = True
    first, kf = np.empty(out.size, np.int64), np.empty(out.size, np.float32)
    tab = np.empty((nk, ROUND_TABLE, 6), np.uint64)
    _round_table(k0, k1, tab)
    if out.size < PARALLEL_MIN_SIZE // 16:
        for j in range(out.size):
            _poisson_pass1(tab, lam, out, first, kf, n, max_iters, j, pad[j // n])
    else:
        for j in numba.prange(out.size):
            _poisson_pass1(tab, lam, out, first, kf, n, max_iters, j, pad[j // n])
    rounds = np.zeros(nk, np.int64)  # the rejection loop's rounds: its slowest element's + 1
    for j in range(out.size):
        rounds[j // n] = max(rounds[j // n], min(first[j] + 1, max_iters))
    if out.size < PARALLEL_MIN_SIZE // 16:
        for j in range(out.size):
            _poisson_pass2(tab, lam, out, first, kf, n, rounds, j, fmin, fmax, imin, imax)
    else:
        for j in numba.prange(out.size):
            _poisson_pass2(tab, lam, out, first, kf, n, rounds, j, fmin, fmax, imin, imax)
