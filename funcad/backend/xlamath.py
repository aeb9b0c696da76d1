"""XLA's CPU math functions as LLVM IR (llvmlite only, no Numba): what ``jax.random`` and
``lax.erf``/``lax.erf_inv``/``exp`` compute on the CPU, bit for bit. funcad.random's kernels
(backend/table_random_ir.py) and the table backend's loops (backend/loopir.py) both write them
with these functions: ``f(builder, x...) -> value``."""

from __future__ import annotations

import numpy as np
from llvmlite import ir

_LOG1P_SMALL = 0.41421356237309504880  # sqrt(2) - 1: log1p's rational branch below

_LOG1P_NUM = np.array([4.5270000862445199635e-5, 4.9854102823193375972e-1, 6.5787325942061044846e0,
              2.9911919328553073277e1, 6.0949667980987787057e1, 5.7112963590585538103e1,
              2.0039553499201281259e1])
_LOG1P_DEN = np.array([1.0, 1.5062909083469192198e1, 8.3047565967967209469e1, 2.2176239823732856465e2,
              3.0909872225312059774e2, 2.1642788614495947685e2, 6.0118660497603843919e1])
_LOG32_P = (7.0376836292e-2, -1.1514610310e-1, 1.1676998740e-1, -1.2420140846e-1, 1.4249322787e-1,
             -1.6668057665e-1, 2.0000714765e-1, -2.4999993993e-1, 3.3333331174e-1)  # Cephes' logf
# w < 6.25 (23 coefficients), w < 16 (19), otherwise (17)
_ERFINV64_A = np.array([-3.6444120640178196996e-21, -1.685059138182016589e-19, 1.2858480715256400167e-18,
              1.115787767802518096e-17, -1.333171662854620906e-16, 2.0972767875968561637e-17,
              6.6376381343583238325e-15, -4.0545662729752068639e-14, -8.1519341976054721522e-14,
              2.6335093153082322977e-12, -1.2975133253453532498e-11, -5.4154120542946279317e-11,
              1.051212273321532285e-09, -4.1126339803469836976e-09, -2.9070369957882005086e-08,
              4.2347877827932403518e-07, -1.3654692000834678645e-06, -1.3882523362786468719e-05,
              0.0001867342080340571352, -0.00074070253416626697512, -0.0060336708714301490533,
              0.24015818242558961693, 1.6536545626831027356])
_ERFINV64_B = np.array([2.2137376921775787049e-09, 9.0756561938885390979e-08, -2.7517406297064545428e-07,
              1.8239629214389227755e-08, 1.5027403968909827627e-06, -4.013867526981545969e-06,
              2.9234449089955446044e-06, 1.2475304481671778723e-05, -4.7318229009055733981e-05,
              6.8284851459573175448e-05, 2.4031110387097893999e-05, -0.0003550375203628474796,
              0.00095328937973738049703, -0.0016882755560235047313, 0.0024914420961078508066,
              -0.0037512085075692412107, 0.005370914553590063617, 1.0052589676941592334,
              3.0838856104922207635])
_ERFINV64_C = np.array([-2.7109920616438573243e-11, -2.5556418169965252055e-10, 1.5076572693500548083e-09,
              -3.7894654401267369937e-09, 7.6157012080783393804e-09, -1.4960026627149240478e-08,
              2.9147953450901080826e-08, -6.7711997758452339498e-08, 2.2900482228026654717e-07,
              -9.9298272942317002539e-07, 4.5260625972231537039e-06, -1.9681778105531670567e-05,
              7.5995277030017761139e-05, -0.00021503011930044477347, -0.00013871931833623122026,
              1.0103004648645343977, 4.8499064014085844221])
# w < 5, otherwise
_ERFINV32_A = np.array([2.81022636e-08, 3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087,
              -0.00125372503, -0.00417768164, 0.246640727, 1.50140941], np.float32)
_ERFINV32_B = np.array([-0.000200214257, 0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773,
              -0.0076224613, 0.00943887047, 1.00167406, 2.83297682], np.float32)


def np_type(t):
    """The NumPy float type of the LLVM float type ``t``."""
    return np.float64 if t == ir.DoubleType() else np.float32


def intrinsic(builder, name, *args):
    """LLVM's intrinsic ``name`` (``llvm.sqrt``...) of arguments of one float type."""
    t = args[0].type
    fn = builder.module.declare_intrinsic(name, [t], ir.FunctionType(t, [t] * len(args)))
    return builder.call(fn, list(args))


def fma(builder, a, b, c):
    return intrinsic(builder, "llvm.fma", a, b, c)


def libm(builder, name, x):
    """libm's ``name`` of ``x`` (float64)."""
    mod = builder.module
    fn = mod.globals.get(name) or ir.Function(mod, ir.FunctionType(x.type, [x.type]), name)
    return builder.call(fn, [x])


def horner(builder, coefs, x):
    p = ir.Constant(x.type, float(coefs[0]))
    for c in coefs[1:]:
        p = fma(builder, p, x, ir.Constant(x.type, float(c)))
    return p


def log1p_small(builder, x):
    """XLA's CPU log1p for |x| < sqrt(2) - 1: Cephes' ``x - x^2/2 + x^3 P(x)/Q(x)``."""
    num, den = horner(builder, _LOG1P_NUM, x), horner(builder, _LOG1P_DEN, x)
    x2 = builder.fmul(x, x)
    cubic = builder.fmul(builder.fmul(x, x2), builder.fdiv(num, den))
    s = fma(builder, ir.Constant(x.type, -0.5), x2, cubic)
    return builder.fadd(x, s)


def log1p_is_small(builder, x):
    """Whether ``|x|`` is below sqrt(2) - 1, where log1p takes its rational branch."""
    limit = ir.Constant(x.type, float(np_type(x.type)(_LOG1P_SMALL)))
    return builder.fcmp_ordered("<", intrinsic(builder, "llvm.fabs", x), limit)


def log(builder, x):
    """XLA's CPU log of a positive float: libm's (float64), its own polynomial (float32)."""
    return libm(builder, "log", x) if x.type == ir.DoubleType() else log32(builder, x)


def log1p(builder, x, log=log):
    """XLA's CPU log1p: Cephes' rational form below sqrt(2) - 1, else ``log(1 + x)``."""
    small, rational = log1p_is_small(builder, x), log1p_small(builder, x)
    return builder.select(small, rational, log(builder, builder.fadd(ir.Constant(x.type, 1.0), x)))


def log32(builder, x):
    """XLA's CPU float32 ``log`` (its own, not libm's; vectorisable) for positive normal
    floats: Cephes' degree-8 polynomial in ``m - 1`` for ``x = 2^e m``, ``m`` in
    ``[sqrt(1/2), sqrt(2))``, evaluated in three interleaved parts, with the fused
    multiply-adds XLA's compiler contracts it to (found to give JAX's bits on all of 7e5
    arguments of the normal draws' range)."""
    f, b = ir.FloatType(), builder
    c = lambda v: ir.Constant(f, float(np.float32(v)))  # noqa: E731
    i = lambda v: ir.Constant(ir.IntType(32), v)  # noqa: E731
    bits = b.bitcast(x, ir.IntType(32))
    e = b.sitofp(b.sub(b.lshr(bits, i(23)), i(126)), f)  # x = 2^e m, m in [1/2, 1)
    m = b.bitcast(b.or_(b.and_(bits, i(0x807FFFFF)), i(0x3F000000)), f)
    small = b.fcmp_ordered("<", m, c(0.707106781186547524))
    e = b.fsub(e, b.select(small, c(1.0), c(0.0)))
    x = b.fadd(b.fsub(m, c(1.0)), b.select(small, m, c(0.0)))
    x2 = b.fmul(x, x)
    x3 = b.fmul(x2, x)
    p = _LOG32_P
    y, y1, y2 = (fma(b, x, c(p[k]), c(p[k + 1])) for k in (0, 3, 6))
    y, y1, y2 = (fma(b, v, x, c(p[k + 2])) for v, k in ((y, 0), (y1, 3), (y2, 6)))
    y = fma(b, fma(b, y, x3, y1), x3, y2)
    y = fma(b, y, x3, b.fmul(e, c(-2.12194440e-4)))
    x = b.fadd(fma(b, x2, c(-0.5), x), y)
    return fma(b, e, c(0.693359375), x)


def erfinv_poly(builder, x, w):
    """XLA's ErfInv64/ErfInv32 given ``w = -log1p(-x^2)``: Giles' polynomials with the
    coefficients selected per element (branch-free as XLA's, so the loop vectorises; each
    region still evaluates exactly its own Horner chain)."""
    t = x.type
    c = lambda v: ir.Constant(t, float(v))  # noqa: E731
    sel, lt = builder.select, (lambda v: builder.fcmp_ordered("<", w, c(v)))
    sqrt_w = intrinsic(builder, "llvm.sqrt", w)
    if isinstance(t, ir.DoubleType):
        lt6, lt16 = lt(6.25), lt(16.0)
        z = sel(lt6, builder.fsub(w, c(3.125)), builder.fsub(sqrt_w, sel(lt16, c(3.25), c(5.0))))

        def coef(k):
            v = c(_ERFINV64_A[k])
            if k < 19:
                v = sel(lt6, v, c(_ERFINV64_B[k]))
            if k < 17:
                v = sel(lt16, v, c(_ERFINV64_C[k]))
            return v

        p = coef(0)
        for k in range(1, 23):
            q = fma(builder, p, z, coef(k))
            p = q if k < 17 else sel(lt16 if k < 19 else lt6, q, p)
    else:
        lt5 = lt(5.0)
        z = sel(lt5, builder.fsub(w, c(2.5)), builder.fsub(sqrt_w, c(3.0)))
        p = sel(lt5, c(_ERFINV32_A[0]), c(_ERFINV32_B[0]))
        for k in range(1, 9):
            p = fma(builder, p, z, sel(lt5, c(_ERFINV32_A[k]), c(_ERFINV32_B[k])))
    ax = intrinsic(builder, "llvm.fabs", x)
    return sel(builder.fcmp_ordered("==", ax, c(1.0)), builder.fmul(x, c(np.inf)), builder.fmul(p, x))


# XLA's CPU float64 exp (not libm's: they differ on ~14% of arguments), for beta's and
# dirichlet's normalisation and for any kernel that needs JAX's exp: Cephes' rational form
# ``1 + 2 g P(g^2) / (Q(g^2) - g P(g^2))`` of ``g = x - n ln 2`` (ln 2 in two parts), scaled
# by 2^n with Eigen's ldexp (three multiplications by 2^(n >> 2), one by the rest), with the
# fused multiply-adds XLA's compiler contracts it to (found to give JAX's bits on all of 5.6e5
# arguments, among them every x near a rounding edge of n).

_EXP64_P = (1.26177193074810590878e-4, 3.02994407707441961300e-2, 9.99999999999999999910e-1)
_EXP64_Q = (3.00198505138664455042e-6, 2.52448340349684104192e-3, 2.27265548208155028766e-1,
            2.00000000000000000009e0)
_EXP64_HI, _EXP64_LO = 709.782712893384, -708.3964185322641


def exp64(builder, x):
    b, d = builder, x.type
    c = lambda v: ir.Constant(d, float(v))  # noqa: E731
    i64 = ir.IntType(64)
    above, below = b.fcmp_ordered(">", x, c(_EXP64_HI)), b.fcmp_ordered("<", x, c(_EXP64_LO))
    xc = b.select(above, c(_EXP64_HI), b.select(below, c(_EXP64_LO), x))  # NaN stays NaN
    n = intrinsic(b, "llvm.floor", fma(b, xc, c(1.4426950408889634073599), c(0.5)))
    neg_n = b.fneg(n)
    g = fma(b, neg_n, c(1.42860682030941723212e-6), fma(b, neg_n, c(0.693145751953125), xc))
    g2 = b.fmul(g, g)
    p = b.fmul(horner(b, _EXP64_P, g2), g)
    q = horner(b, _EXP64_Q, g2)
    e = fma(b, b.fdiv(p, b.fsub(q, p)), c(2.0), c(1.0))
    # ldexp(e, n): n clamped to [-2099, 2099] (NaN: 0, its result is NaN anyway)
    ni = b.fptosi(b.select(b.fcmp_ordered("==", n, n), n, c(0.0)), i64)
    lim = ir.Constant(i64, 2099)
    ni = b.select(b.icmp_signed(">", ni, lim), lim, ni)
    ni = b.select(b.icmp_signed("<", ni, b.neg(lim)), b.neg(lim), ni)
    q4 = b.ashr(ni, ir.Constant(i64, 2))

    def pow2(k):
        return b.bitcast(b.shl(b.add(k, ir.Constant(i64, 1023)), ir.Constant(i64, 52)), d)

    s = pow2(q4)
    out = b.fmul(b.fmul(b.fmul(e, s), s), s)
    out = b.fmul(out, pow2(b.sub(ni, b.mul(ir.Constant(i64, 3), q4))))
    return b.select(above, c(np.inf), b.select(below, c(0.0), out))


# XLA's CPU erf and erf_inv (``lax.erf``, ``lax.erf_inv``), for truncated_normal's bounds and
# its inverse CDF: float64 erf is libm's ``erf`` (Numba's math.erf calls it); float32 is
# Eigen's rational interpolant with the fused multiply-adds XLA emits, +-1 beyond
# erfinv(1 - 2^-23). erf_inv is normal's ErfInv64/ErfInv32 with XLA's log1p. Subnormal inputs
# count as zero, as XLA's CPU code (flush-to-zero) does: erf(5e-324) is 0 under JAX.

_ERF32_P = (0.00022905065861350646, 0.0034082910107109506, 0.050955695062380861,
            0.18520832239976145, 1.128379143519084)
_ERF32_Q = (-1.1791602954361697e-7, 0.000023547966471313185, 0.0010179625278914885,
            0.014070470171167667, 0.11098505178285362, 0.49746925110067538, 1.0)
_ERF32_CLAMP = 3.832506856900711


def erf32(builder, x):
    b = builder
    c = lambda v: ir.Constant(x.type, float(np.float32(v)))  # noqa: E731
    x2 = b.fmul(x, x)
    p, q = horner(b, _ERF32_P, x2), horner(b, _ERF32_Q, x2)
    big = b.fcmp_ordered("<=", c(_ERF32_CLAMP), intrinsic(b, "llvm.fabs", x))
    return b.select(big, intrinsic(b, "llvm.copysign", c(1.0), x), b.fdiv(b.fmul(x, p), q))


def _flush(b, x):
    """``x`` with subnormals as (signed) zero, as XLA's flush-to-zero CPU code reads them."""
    tiny = ir.Constant(x.type, float(np.finfo(np_type(x.type)).tiny))
    ax = intrinsic(b, "llvm.fabs", x)
    return b.select(b.fcmp_ordered("<", ax, tiny), b.fmul(x, ir.Constant(x.type, 0.0)), x)


def erf(b, x):
    """``lax.erf``: libm's erf of a float64, Eigen's form of a float32 (subnormals as 0)."""
    x = _flush(b, x)
    return libm(b, "erf", x) if x.type == ir.DoubleType() else erf32(b, x)


def erf_inv(b, x):
    """``lax.erf_inv``: Giles' polynomials of ``w = -log1p(-x^2)`` with XLA's log1p."""
    x = _flush(b, x)
    return erfinv_poly(b, x, b.fneg(log1p(b, b.fneg(b.fmul(x, x)))))
