"""funcad.random's kernels as LLVM IR (llvmlite only): JAX's draws, gamma and poisson samplers
and XLA's CPU exp/erf/erf_inv/fma, bit for bit, each a function of its sizes at run time
(:func:`module`; table_random.py compiles, caches and calls them).

Element ``i`` of a draw under key ``(k0, k1)`` comes from ``threefry2x32(k0, k1, hi(i),
lo(i))`` of its flat index, so a draw past ``PARALLEL_MIN_SIZE`` elements runs on
table_parallel's threads with the same numbers whatever their count. A draw goes in blocks
of BLOCK elements whose words and scratch stay in L1: the hash in a loop of its own (LLVM runs
it in 32-bit lanes), then passes turning words into numbers. Normals are
``sqrt(2) erf_inv(max(lo, 2 u + lo))`` with XLA's ErfInv and log1p (xlamath.py); in float64
the third of the elements whose log1p needs libm's ``log`` are gathered first and done in a
scalar pass, the central polynomial in a vectorised pass after it (as exponentials' log1p).
"""

from __future__ import annotations

import math

import numpy as np
from llvmlite import ir as L

from ..lax import random as rl
from . import table_parallel
from . import xlamath as xm
from .loopir import declare
from .loopir import for_range as _for  # for i in range(lo, hi): body(i)

PARALLEL_MIN_SIZE = 1 << 16  # ~30 ns an element: ~2 ms serial
BLOCK = 1024  # divides 2**32: a block's counters share their high word
I8, I32, I64, F32, F64 = L.IntType(8), L.IntType(32), L.IntType(64), L.FloatType(), L.DoubleType()
I8P = I8.as_pointer()
_IR = {"float32": F32, "float64": F64}
_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))


def _c(t, v):
    return L.Constant(t, float(v) if isinstance(t, (L.FloatType, L.DoubleType)) else int(v))


# --------------------------------------------------------------------------------------
# Structured code at an llvmlite builder: while loops (counted ones: loopir's for_range),
# variables (allocas in the entry block, which LLVM promotes to registers).

def _while(b, cond, body):
    head, loop, end = (b.append_basic_block(x) for x in ("while", "do", "done"))
    b.branch(head)
    b.position_at_end(head)
    b.cbranch(cond(), loop, end)
    b.position_at_end(loop)
    body()
    b.branch(head)
    b.position_at_end(end)


def _var(b, value):
    with b.goto_entry_block():
        p = b.alloca(value.type)
    b.store(value, p)
    return p


def _at(b, p, i):
    return b.gep(p, [i])


def _min(b, x, y):
    return b.select(b.icmp_signed("<", x, y), x, y)


def _max(b, x, y):
    return b.select(b.icmp_signed(">", x, y), x, y)


def _fmax(b, x, y):  # Python's max(x, y) of floats (no NaN here)
    return b.select(b.fcmp_ordered(">", y, x), y, x)


# --------------------------------------------------------------------------------------
# The hash and the maps from its two words to JAX's numbers

def threefry(b, k0, k1, x0, x1):
    """Threefry-2x32 with 20 rounds (JAX's ``threefry2x32_p``) of four i32 words."""
    ks = (k0, k1, b.xor(b.xor(k0, k1), _c(I32, 0x1BD11BDA)))
    x, y = b.add(x0, ks[0]), b.add(x1, ks[1])
    for j in range(5):
        for r in _ROTATIONS[j % 2]:
            x = b.add(x, y)
            y = b.xor(b.or_(b.shl(y, _c(I32, r)), b.lshr(y, _c(I32, 32 - r))), x)
        x = b.add(x, ks[(j + 1) % 3])
        y = b.add(b.add(y, ks[(j + 2) % 3]), _c(I32, j + 1))
    return x, y


def _split(b, key, j):
    """``split(key)[j]``'s words: the hash of counter ``(0, j)``."""
    return threefry(b, *key, _c(I32, 0), _c(I32, j))


def _round(b, chain, n):
    """The subkeys ``split(c, n + 1)[1:]``'s words of the chain key in ``chain`` (two i32
    variables), which moves on to ``split(c)[0]``."""
    c = [b.load(q) for q in chain]
    for q, v in zip(chain, _split(b, c, 0)):
        b.store(v, q)
    return [w for j in range(1, n + 1) for w in _split(b, c, j)]


def _bits(b, h, l, t):  # noqa: E741
    """JAX's bits for an integer type ``t``: ``hi << 32 | lo`` for 64 bits, else ``hi ^ lo``."""
    if t.width == 64:
        return b.or_(b.shl(b.zext(h, I64), _c(I64, 32)), b.zext(l, I64))
    return b.trunc(b.xor(h, l), t) if t.width < 32 else b.xor(h, l)


def _unit(b, h, l, t):  # noqa: E741
    """JAX's floats in [0, 1): ``bitcast(bits >> (nbits - nmant) | bits_of(1.0)) - 1``."""
    if t == F64:
        bits = b.or_(b.lshr(_bits(b, h, l, I64), _c(I64, 12)), _c(I64, 0x3FF0000000000000))
    else:
        bits = b.or_(b.lshr(b.xor(h, l), _c(I32, 9)), _c(I32, 0x3F800000))
    return b.fsub(b.bitcast(bits, t), _c(t, 1.0))


def _open(b, h, l, t):  # noqa: E741
    """``max(lo, 2 u + lo)``, ``lo = -1 + ulp``: uniform on (-1, 1) (normal's, laplace's)."""
    low = _c(t, np.nextafter(xm.np_type(t)(-1), xm.np_type(t)(0)))
    return _fmax(b, low, b.fadd(b.fmul(_unit(b, h, l, t), _c(t, 2.0)), low))


def _positive(b, h, l, t):  # noqa: E741
    """``max(tiny, u + tiny)`` (logistic's, gumbel's)."""
    tiny = _c(t, np.finfo(xm.np_type(t)).tiny)
    return _fmax(b, tiny, b.fadd(_unit(b, h, l, t), tiny))


def _normal(b, x, lg):
    """``sqrt(2) erf_inv(x)`` given ``lg = log1p(-x^2)``."""
    return b.fmul(_c(x.type, xm.np_type(x.type)(np.sqrt(2))), xm.erfinv_poly(b, x, b.fneg(lg)))


def _laplace(b, u):
    """``sign(u) log1p(-|u|)``."""
    t = u.type
    sign = b.select(b.fcmp_ordered(">", u, _c(t, 0)), _c(t, 1),
                    b.select(b.fcmp_ordered("<", u, _c(t, 0)), _c(t, -1), _c(t, 0)))
    return b.fmul(sign, xm.log1p(b, b.fneg(xm.intrinsic(b, "llvm.fabs", u))))


# What each element of a block becomes, from its words (kinds without passes of their own)
_MAPS = {
    "bits": _bits,
    "uniform": _unit,
    "normal": lambda b, h, l, t: _normal(b, x := _open(b, h, l, t), xm.log1p(b, b.fmul(b.fneg(x), x))),
    "exponential": lambda b, h, l, t: b.fneg(xm.log1p(b, b.fneg(_unit(b, h, l, t)))),
    "laplace": lambda b, h, l, t: _laplace(b, _open(b, h, l, t)),
    "logistic": lambda b, h, l, t: b.fsub(xm.log(b, x := _positive(b, h, l, t)), xm.log1p(b, b.fneg(x))),
    "gumbel": lambda b, h, l, t: b.fneg(xm.log(b, b.fneg(xm.log(b, _positive(b, h, l, t))))),
}


def _gather(b, m, rest, big):
    """The indices ``j < m`` where ``big(j)`` into ``rest``, without a branch; their count."""
    count = _var(b, _c(I64, 0))

    def one(j):
        q = b.load(count)
        b.store(j, _at(b, rest, q))
        b.store(b.add(q, b.zext(big(j), I64)), count)

    _for(b, 0, m, one)
    return b.load(count)


def _log1p_passes(b, m, w, rest, first, s, then=None):
    """``w[j] = log1p(-s(j))`` for a block's ``j < m``, float64, in passes: ``first(j)`` (which
    writes what ``s(j)`` reads) with log1p's rational branch; libm's log for the others (at
    random: their indices gathered first, so that no branch is mispredicted), each followed
    by ``then(j, w[j])``."""
    def small(j):
        first(j)
        b.store(xm.log1p_small(b, b.fneg(s(j))), _at(b, w, j))

    def big(q):
        j = b.load(_at(b, rest, q))
        lg = xm.log(b, b.fsub(_c(F64, 1.0), s(j)))
        b.store(lg, _at(b, w, j))
        if then:
            then(j, lg)

    _for(b, 0, m, small)
    _for(b, 0, _gather(b, m, rest, lambda j: b.not_(xm.log1p_is_small(b, s(j)))), big)


def _normal64(b, v, m, h, l, w, rest):  # noqa: E741
    """Float64 normals in passes: x and log1p(-x^2) (libm's log for ~36% of the draws), with
    the tails of erf_inv (w >= 6.25: 0.2%) among those; the central polynomial for the others
    (99.8%)."""
    sqrt2, edge = _c(F64, np.sqrt(2)), _c(F64, -6.25)

    def first(j):
        b.store(_open(b, b.load(_at(b, h, j)), b.load(_at(b, l, j)), F64), _at(b, v, j))

    def sq(j):
        x = b.load(_at(b, v, j))
        return b.fmul(x, x)

    def tail(j, lg):
        with b.if_then(b.fcmp_ordered("<=", lg, edge)):
            b.store(_normal(b, b.load(_at(b, v, j)), lg), _at(b, v, j))

    def central(j):
        x, y = b.load(_at(b, v, j)), b.load(_at(b, w, j))
        r = b.fmul(sqrt2, b.fmul(xm.horner(b, xm._ERFINV64_A, b.fsub(b.fneg(y), _c(F64, 3.125))), x))
        b.store(b.select(b.fcmp_ordered(">", y, edge), r, x), _at(b, v, j))

    _log1p_passes(b, m, w, rest, first, sq, tail)
    _for(b, 0, m, central)


def _exponential64(b, v, m, h, l, w, rest):  # noqa: E741
    """Float64 exponentials ``-log1p(-u)`` in passes as normals': libm's log for u >= sqrt(2) - 1."""
    def first(j):
        b.store(_unit(b, b.load(_at(b, h, j)), b.load(_at(b, l, j)), F64), _at(b, v, j))

    _log1p_passes(b, m, w, rest, first, lambda j: b.load(_at(b, v, j)))
    _for(b, 0, m, lambda j: b.store(b.fneg(b.load(_at(b, w, j))), _at(b, v, j)))


# --------------------------------------------------------------------------------------
# The kernels. A function's body over a range of units runs directly or, when ``parallel``,
# through table_parallel's parallel_for; its arguments go through a table of i8* (scalars
# by address).

def _function(mod, name, arrays, n_sizes):
    """``void name(i8* arrays..., i64 sizes...)``, external, in ``mod``: a builder at its entry,
    its arrays as pointers to their element types ``arrays``, its sizes."""
    fn = L.Function(mod, L.FunctionType(L.VoidType(), [I8P] * len(arrays) + [I64] * n_sizes), name)
    b = L.IRBuilder(fn.append_basic_block("entry"))
    return b, [b.bitcast(p, t.as_pointer()) for p, t in zip(fn.args, arrays)], fn.args[len(arrays):]


def _parallel(b, args, n, body, size, min_size=PARALLEL_MIN_SIZE):
    """``body(builder, args, i)`` for the units ``i`` in ``[0, n)``, on threads if the ``size``
    elements they hold are at least ``min_size``."""
    mod, parallel = b.module, b.icmp_signed(">=", size, _c(I64, min_size))
    fn = L.Function(mod, table_parallel._body_type(), f"{b.function.name}_body{len(mod.globals)}")
    fn.linkage = "internal"
    bb = L.IRBuilder(fn.append_basic_block("entry"))
    ptrs, lo, hi = fn.args
    inner = []
    for q, a in enumerate(args):
        p = bb.load(bb.gep(ptrs, [_c(I64, q)]))
        inner.append(bb.bitcast(p, a.type) if isinstance(a.type, L.PointerType)
                     else bb.load(bb.bitcast(p, a.type.as_pointer())))
    _for(bb, lo, hi, lambda i: body(bb, inner, i))
    bb.ret_void()
    with b.goto_entry_block():
        tab = b.alloca(I8P, len(args))
    for q, a in enumerate(args):
        p = a if isinstance(a.type, L.PointerType) else _var(b, a)
        b.store(b.bitcast(p, I8P), b.gep(tab, [_c(I64, q)]))
    with b.if_else(parallel) as (threads, here):
        with threads:
            b.call(table_parallel._parallel_for(mod), [fn, tab, n])
        with here:
            b.call(fn, [tab, _c(I64, 0), n])


def _draw(mod, name, kind, t):
    """``draw(k0, k1, out, nk, n)``: ``out`` (nk * n elements of type ``t``) is nk draws of
    n elements, one per key (``k0[b]``, ``k1[b]``)."""
    b, (k0, k1, out), (nk, n) = _function(mod, name, (I32, I32, t), 2)
    per = b.sdiv(b.add(n, _c(I64, BLOCK - 1)), _c(I64, BLOCK))  # a key's blocks
    passes = {("normal", F64): _normal64, ("exponential", F64): _exponential64}.get((kind, t))

    def block(b, args, c):
        k0, k1, out, n, per = args
        with b.goto_entry_block():  # (once a call of the body)
            h, l, rest = (b.alloca(q, BLOCK) for q in (I32, I32, I64))  # noqa: E741
            w = b.alloca(t, BLOCK)
        kb = b.sdiv(c, per)
        start = b.mul(b.srem(c, per), _c(I64, BLOCK))
        m = _min(b, b.sub(n, start), _c(I64, BLOCK))
        key = b.load(_at(b, k0, kb)), b.load(_at(b, k1, kb))
        hi32, lo32 = b.trunc(b.lshr(start, _c(I64, 32)), I32), b.trunc(start, I32)

        def hash_(j):
            x, y = threefry(b, *key, hi32, b.add(lo32, b.trunc(j, I32)))
            b.store(x, _at(b, h, j))
            b.store(y, _at(b, l, j))

        _for(b, 0, m, hash_)
        v = _at(b, out, b.add(b.mul(kb, n), start))
        if passes:
            return passes(b, v, m, h, l, w, rest)
        _for(b, 0, m, lambda j: b.store(
            _MAPS[kind](b, b.load(_at(b, h, j)), b.load(_at(b, l, j)), t), _at(b, v, j)))

    total = b.mul(nk, n)
    _parallel(b, [k0, k1, out, n, per], b.mul(nk, per), block, total)
    b.ret_void()


def _gamma_kernel(mod, name, t, log_space):
    """``gamma(k0, k1, alpha, out, nk, n)``: a Gamma(alpha[j]) sample (or its log) into
    ``out[j]`` under element j's key ``split(key_b, n)[j mod n]``, b = j // n, as JAX's."""
    b, (k0, k1, alpha, out), (nk, n) = _function(mod, name, (I32, I32, t, t), 2)

    def element(b, args, j):
        k0, k1, alpha, out, n = args
        kb = b.sdiv(j, n)
        key = threefry(b, b.load(_at(b, k0, kb)), b.load(_at(b, k1, kb)), _c(I32, 0),
                       b.trunc(b.sub(j, b.mul(kb, n)), I32))
        b.store(_gamma(b, key, b.load(_at(b, alpha, j)), log_space), _at(b, out, j))

    total = b.mul(nk, n)
    _parallel(b, [k0, k1, alpha, out, n], total, element, total, PARALLEL_MIN_SIZE // 16)
    b.ret_void()


# --------------------------------------------------------------------------------------
# jax.random.gamma, bit for bit (float64): JAX's Marsaglia-Tsang rejection sampler with its
# key splitting (jax/_src/random: _gamma_impl, _gamma_one), per element, with the rounding
# XLA's CPU compiler gives it: 1/3 / sqrt(d) rewritten as 1/3 * rsqrt(d), 1 + x c contracted
# to a fused multiply-add.

def _gamma_loop(b, key, alpha):
    """The rejection loop of JAX's ``_gamma_one``: ``d``, ``V`` and the boost's uniform."""
    c = lambda v: _c(F64, v)  # noqa: E731
    a = b.select(b.fcmp_ordered(">=", alpha, c(1)), alpha, b.fadd(alpha, c(1)))
    d = b.fsub(a, c(1 / 3))
    cc = b.fmul(c(1 / 3), b.fdiv(c(1), xm.intrinsic(b, "llvm.sqrt", d)))
    sub = _split(b, key, 1)
    key = [_var(b, k) for k in _split(b, key, 0)]
    X, V, U = _var(b, c(0)), _var(b, c(1)), _var(b, c(2))

    def more():
        x, v, u = b.load(X), b.load(V), b.load(U)
        squeeze = b.fcmp_ordered(">=", u, xm.fma(b, c(-0.0331), b.fmul(x, x), c(1)))
        test = b.fadd(b.fmul(x, c(0.5)), b.fmul(d, b.fadd(b.fsub(c(1), v), xm.log(b, v))))
        return b.and_(squeeze, b.fcmp_ordered(">=", xm.log(b, u), test))

    def round_():
        xk, uk = (w := _round(b, key, 2))[:2], w[2:]
        xkey, x, v = [_var(b, w) for w in xk], _var(b, c(0)), _var(b, c(-1))

        def normal():  # normal(s, ()), element 0 of a draw, for the subkey s of the chain xkey
            b.store(_MAPS["normal"](b, *_split(b, _round(b, xkey, 1), 0), F64), x)
            b.store(xm.fma(b, b.load(x), cc, c(1)), v)

        _while(b, lambda: b.fcmp_ordered("<=", b.load(v), c(0)), normal)
        vv = b.load(v)
        b.store(b.fmul(b.load(x), b.load(x)), X)
        b.store(b.fmul(b.fmul(vv, vv), vv), V)
        b.store(_unit(b, *_split(b, uk, 0), F64), U)

    _while(b, more, round_)
    return d, b.load(V), _unit(b, *_split(b, sub, 0), F64)


def _gamma(b, key, alpha, log_space):
    t = alpha.type
    alpha = b.fpext(alpha, F64) if t != F64 else alpha
    d, v, u = _gamma_loop(b, key, alpha)
    boosted = b.fcmp_ordered(">=", alpha, _c(F64, 1))
    inv = b.fdiv(_c(F64, 1), alpha)
    if log_space:  # JAX's loggamma: log d + log V + log1p(-u) / alpha
        log_u = xm.log1p(b, b.fneg(u))
        zero = b.or_(boosted, b.fcmp_ordered("==", log_u, _c(F64, 0)))
        r = b.fadd(b.fadd(xm.log(b, d), xm.log(b, v)), b.select(zero, _c(F64, 0), b.fmul(log_u, inv)))
    else:
        dv = b.fmul(d, v)
        pw = xm.intrinsic(b, "llvm.pow", b.fsub(_c(F64, 1), u), inv)
        r = b.select(boosted, dv, b.fmul(dv, pw))
    return b.fptrunc(r, t) if t != F64 else r


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
# Both loops split their key each round the same way: round i's chain key c_i (c_0 the draw's
# key, c_{i+1} = split(c_i)[0]) gives Knuth's subkey A_i = split(c_i)[1] and the rejection's
# two, A_i and B_i = split(c_i, 3)[1:]; the replay reads them from a table made per key.

_LANCZOS32 = (676.520368121885098567009190444019, -1259.13921672240287047156078755283,
              771.3234287776530788486528258894, -176.61502916214059906584551354,
              12.507343278686904814458936853, -0.13857109526572011689554707,
              9.984369578019570859563e-6, 1.50563273514931155834e-7)


def _f(v):
    return _c(F32, np.float32(v))


def _log32(b, x):
    """XLA's CPU float32 ``log`` with its edge values: -inf at 0, nan below, inf at inf."""
    inside = b.and_(b.fcmp_ordered(">", x, _f(0)), b.fcmp_ordered("<", x, _f(np.inf)))
    safe = b.select(inside, x, _f(1))
    edge = b.select(b.fcmp_ordered("==", x, _f(0)), _f(-np.inf),
                    b.select(b.fcmp_ordered("==", x, _f(np.inf)), x, _f(np.nan)))
    return b.select(inside, xm.log32(b, safe), edge)


def _lgamma1p32(b, z):
    """XLA's float32 ``lgamma(z + 1)`` for ``z >= -1/2`` (JAX's ``lgamma(k + 1)``, which XLA
    evaluates from ``z = k``): Lanczos' approximation (g = 7, 9 terms), stablehlo's
    decomposition of chlo.lgamma, without its reflection branch."""
    a = b.fadd(b.fdiv(_f(_LANCZOS32[0]), b.fadd(z, _f(1))), _f(1))  # kBaseLanczosCoeff rounds to 1
    for k in range(1, 8):
        a = b.fadd(a, b.fdiv(_f(_LANCZOS32[k]), b.fadd(z, _f(k + 1))))
    log_t = b.fadd(xm.log1p(b, b.fmul(z, _f(np.float32(1) / np.float32(7.5))), _log32), _f(math.log(7.5)))
    r = b.fsub(b.fadd(z, _f(0.5)), b.fdiv(b.fadd(z, _f(7.5)), log_t))
    return b.fadd(xm.fma(b, r, log_t, _f((math.log(2) + math.log(math.pi)) / 2)), _log32(b, a))


def _unit32(b, w):
    return _unit(b, *w, F32)


def _constants(b, lam):
    """The rejection sampler's per-lam constants as XLA computes them."""
    sq = xm.intrinsic(b, "llvm.sqrt", lam)
    bb = xm.fma(b, sq, _f(2.53), _f(0.931))
    a = xm.fma(b, bb, _f(0.02483), _f(-0.059))
    inv_alpha = b.fadd(b.fdiv(_f(1.1328), xm.fma(b, sq, _f(2.53), _f(-2.469))), _f(1.1239))
    v_r = b.fsub(_f(0.9277), b.fdiv(_f(3.6224), xm.fma(b, sq, _f(2.53), _f(-1.069))))
    return lam, _log32(b, lam), bb, b.fmul(a, _f(2)), a, inv_alpha, v_r


def _try(b, keys, ctr, k):
    """One round of the transformed rejection for one element under the round's subkeys
    ``keys`` (A, B): (the candidate k, accepted)."""
    lam, log_lam, bb, two_a, a, inv_alpha, v_r = k
    u = b.fsub(_unit32(b, threefry(b, *keys[:2], *ctr)), _f(0.5))
    v = _unit32(b, threefry(b, *keys[2:], *ctr))
    us = b.fsub(_f(0.5), xm.intrinsic(b, "llvm.fabs", u))
    kk = xm.intrinsic(b, "llvm.floor", b.fadd(xm.fma(b, b.fadd(b.fdiv(two_a, us), bb), u, lam), _f(0.43)))
    s = _log32(b, b.fdiv(b.fmul(v, inv_alpha), b.fadd(b.fdiv(a, b.fmul(us, us)), bb)))
    t = b.fsub(xm.fma(b, kk, log_lam, b.fneg(lam)), _lgamma1p32(b, kk))
    lt = lambda x, y: b.fcmp_ordered("<", x, y)  # noqa: E731
    accept = b.and_(b.fcmp_ordered(">=", us, _f(0.07)), b.fcmp_ordered("<=", v, v_r))
    reject = b.or_(lt(kk, _f(0)), b.and_(lt(us, _f(0.013)), b.fcmp_ordered(">", v, us)))
    return kk, b.or_(accept, b.and_(b.not_(reject), b.fcmp_ordered("<=", s, t)))


def _accept(b, start, more, step, attempt, k):
    """Rounds ``i`` from ``start`` by ``step`` while ``more(i)``, until ``attempt(i) -> (k,
    accepted)`` accepts: (the accepting round, else the first past the last; its k, else ``k``)."""
    i, out, done = _var(b, start), _var(b, k), _var(b, _c(L.IntType(1), 0))

    def round_():
        kk, ok = attempt(b.load(i))
        b.store(b.select(ok, kk, b.load(out)), out)
        b.store(ok, done)
        b.store(b.select(ok, b.load(i), b.add(b.load(i), step)), i)

    _while(b, lambda: b.and_(more(b.load(i)), b.not_(b.load(done))), round_)
    return b.load(i), b.load(out)


def _first(b, key, ctr, lam, max_iters):
    """The first round accepting the element (``max_iters`` if none) and its k."""
    k, chain = _constants(b, lam), [_var(b, w) for w in key]
    return _accept(b, _c(I64, 0), lambda i: b.icmp_signed("<", i, max_iters), _c(I64, 1),
                   lambda i: _try(b, _round(b, chain, 2), ctr, k), _f(-1))


def _last(b, row, ctr, lam, first, kf, n_rounds):
    """The element's k after the draw's ``n_rounds`` rounds: its last accepting round's (found
    from the last round back, ``row`` holding each round's subkeys: ~1.1 tries), else ``kf``."""
    k = _constants(b, lam)

    def attempt(i):
        keys = b.gep(row, [b.mul(i, _c(I64, 4))])
        return _try(b, [b.load(_at(b, keys, _c(I64, q))) for q in range(4)], ctr, k)

    return _accept(b, b.sub(n_rounds, _c(I64, 1)), lambda i: b.icmp_signed(">", i, first), _c(I64, -1),
                   attempt, kf)[1]


def _knuth(b, key, ctr, lam, max_iters):
    """Knuth's count: rounds while the log-product of float32 uniforms is above ``-lam``."""
    log_prod, k, chain = _var(b, _f(0)), _var(b, _c(I64, 0)), [_var(b, w) for w in key]

    def round_():
        u = _unit32(b, threefry(b, *_round(b, chain, 1), *ctr))
        b.store(b.fadd(b.load(log_prod), _log32(b, u)), log_prod)
        b.store(b.add(b.load(k), _c(I64, 1)), k)

    _while(b, lambda: b.and_(b.icmp_signed("<", b.load(k), max_iters),
                             b.fcmp_ordered(">", b.load(log_prod), b.fneg(lam))), round_)
    return b.load(k)


def _poisson(mod, name, dt):
    """``poisson(k0, k1, lam, out, nk, n)``: Poisson(lam[j]) (float32 rates) into ``out[j]``
    (integers of ``dt``, saturated as XLA converts), n elements a key."""
    info, t = np.iinfo(dt), L.IntType(8 * dt.itemsize)
    max_iters = _c(I64, min(int(info.max), int(np.iinfo(np.int64).max)))
    b, (k0, k1, lam, out), (nk, n) = _function(mod, name, (I32, I32, F32, t), 2)
    total, zero, one = b.mul(nk, n), _c(I64, 0), _c(I64, 1)
    malloc, free = declare(mod, "malloc", I8P, [I64]), declare(mod, "free", L.VoidType(), [I8P])
    scratch = b.call(malloc, [b.add(b.mul(total, _c(I64, 12)), b.mul(nk, _c(I64, 8)))])
    first = b.bitcast(scratch, I64.as_pointer())  # per element: its first accepting round,
    kfirst = b.bitcast(_at(b, first, total), F32.as_pointer())  # its k then; per key: its rounds
    n_rounds = b.bitcast(_at(b, kfirst, total), I64.as_pointer())
    rejecting = lambda b, x: b.not_(b.or_(b.fcmp_unordered("uno", x, x), b.fcmp_ordered("<", x, _f(10))))  # noqa: E731
    _for(b, zero, nk, lambda kb: b.store(zero, _at(b, n_rounds, kb)))

    def pad(j):  # a key's draw runs JAX's rejection loop if one of its elements does
        with b.if_then(rejecting(b, b.load(_at(b, lam, j)))):
            b.store(one, _at(b, n_rounds, b.sdiv(j, n)))

    _for(b, zero, total, pad)

    def run(second, tab, width):  # the first pass over the elements, or the second (the replay)
        def element(b, args, j):
            k0, k1, tab, lam, out, first, kfirst, n_rounds, n, width = args
            kb = b.sdiv(j, n)
            i = b.sub(j, b.mul(kb, n))
            ctr = b.trunc(b.lshr(i, _c(I64, 32)), I32), b.trunc(i, I32)
            key = b.load(_at(b, k0, kb)), b.load(_at(b, k1, kb))
            lj = b.load(_at(b, lam, j))
            if second:
                with b.if_then(rejecting(b, lj)):
                    row = b.gep(tab, [b.mul(kb, b.mul(width, _c(I64, 4)))])
                    k = _last(b, row, ctr, lj, *(b.load(_at(b, p, q)) for p, q in
                                                 ((first, j), (kfirst, j), (n_rounds, kb))))
                    b.store(_saturate(b, k, info, t), _at(b, out, j))
                return
            padded = b.icmp_signed("!=", b.load(_at(b, n_rounds, kb)), zero)
            with b.if_then(b.not_(rejecting(b, lj))):
                kn = b.sub(_knuth(b, key, ctr, lj, max_iters), one)
                kn = b.select(b.fcmp_ordered("==", lj, _f(0)), zero, kn)
                b.store(b.trunc(kn, t) if t.width < 64 else kn, _at(b, out, j))
                b.store(_c(I64, -1), _at(b, first, j))
            with b.if_then(b.or_(padded, rejecting(b, lj))):  # Knuth's elements at lam 1e5, as JAX's
                i1, kf1 = _first(b, key, ctr, b.select(rejecting(b, lj), lj, _f(1e5)), max_iters)
                b.store(i1, _at(b, first, j))
                b.store(kf1, _at(b, kfirst, j))

        _parallel(b, [k0, k1, tab, lam, out, first, kfirst, n_rounds, n, width], total, element, total,
                  PARALLEL_MIN_SIZE // 16)

    run(False, b.bitcast(scratch, I32.as_pointer()), zero)
    _for(b, zero, nk, lambda kb: b.store(zero, _at(b, n_rounds, kb)))
    width = _var(b, zero)  # the most rounds of a key's draw

    def rounds_(j):  # a draw's rejection loop runs until its slowest element is accepted
        p = _at(b, n_rounds, b.sdiv(j, n))
        r = _min(b, b.add(b.load(_at(b, first, j)), one), max_iters)
        b.store(_max(b, r, b.load(p)), p)
        b.store(_max(b, r, b.load(width)), width)

    _for(b, zero, total, rounds_)
    # the subkeys (A, B) of each round of each key's draw, for the replay
    w = b.load(width)
    tab = b.bitcast(b.call(malloc, [b.mul(b.mul(nk, w), _c(I64, 16))]), I32.as_pointer())

    def table_(kb):
        chain = [_var(b, b.load(_at(b, k, kb))) for k in (k0, k1)]
        row = b.gep(tab, [b.mul(kb, b.mul(w, _c(I64, 4)))])

        def round_(i):
            for q, v in enumerate(_round(b, chain, 2)):
                b.store(v, _at(b, row, b.add(b.mul(i, _c(I64, 4)), _c(I64, q))))

        _for(b, zero, b.load(_at(b, n_rounds, kb)), round_)

    _for(b, zero, nk, table_)
    run(True, tab, w)
    b.call(free, [b.bitcast(tab, I8P)])
    b.call(free, [scratch])
    b.ret_void()


def _saturate(b, x, info, t):
    """XLA's float to integer conversion: truncating, saturating, nan to 0."""
    r = b.fptoui(x, t) if info.min == 0 else b.fptosi(x, t)
    x = b.fpext(x, F64)
    r = b.select(b.fcmp_ordered("<=", x, _c(F64, info.min)), _c(t, int(info.min)), r)
    r = b.select(b.fcmp_ordered(">=", x, _c(F64, info.max)), _c(t, int(info.max) & ((1 << t.width) - 1)), r)
    return b.select(b.fcmp_unordered("uno", x, x), _c(t, 0), r)


# --------------------------------------------------------------------------------------
# XLA's elementwise math, eagerly (under jit these are loop IR: loopir's _XLA and fma)

_ELEMENTWISE = {"xla_exp": (xm.exp64, 1), "xla_erf": (xm.erf, 1), "xla_erf_inv": (xm.erf_inv, 1),
                "fma": (xm.fma, 3)}


def _elementwise(mod, name, f, n_in, t):
    """``f(x..., out, n)``: ``out[j] = f(x[j]...)``."""
    b, (*ins, out), (n,) = _function(mod, name, [t] * (n_in + 1), 1)
    _for(b, 0, n, lambda j: b.store(f(b, *(b.load(_at(b, p, j)) for p in ins)), _at(b, out, j)))
    b.ret_void()


def _threefry(mod, name):
    """``threefry(k0, k1, x0, x1, y0, y1, n, s...)``: ``y = threefry2x32(k0, k1, x0, x1)`` over
    n elements, operand q read at ``j * s[q]`` (0: one value for all, as the primitive's)."""
    b, ps, (n, *steps) = _function(mod, name, [I32] * 6, 5)

    def one(j):
        words = threefry(b, *(b.load(_at(b, p, b.mul(j, s))) for p, s in zip(ps, steps)))
        for p, v in zip(ps[4:], words):
            b.store(v, _at(b, p, j))

    _for(b, 0, n, one)
    b.ret_void()


# --------------------------------------------------------------------------------------
# A kernel's module

def module(kind: str, dtype: np.dtype, name: str):
    """The LLVM module of kernel ``kind`` for ``dtype``: one external function ``name``."""
    mod = L.Module(kind)
    t = _IR.get(dtype.name) or L.IntType(8 * dtype.itemsize)
    if kind in rl.DRAW_KINDS:
        _draw(mod, name, kind, t)
    elif kind in ("gamma", "loggamma"):
        _gamma_kernel(mod, name, t, kind == "loggamma")
    elif kind == "poisson":
        _poisson(mod, name, dtype)
    elif kind == "threefry":
        _threefry(mod, name)
    else:
        _elementwise(mod, name, *_ELEMENTWISE[kind], t)
    return mod
