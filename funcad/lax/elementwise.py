"""Elementwise primitives: NumPy ufuncs with broadcasting, and their rules side by side.

Binary primitives broadcast their operands as NumPy does (funcad.numpy has already
promoted them to one dtype); a JVP term shaped like an operand is broadcast to the output
and a cotangent is summed back down with ``unbroadcast`` (the transpose of broadcasting).
"""

from __future__ import annotations

import math
from functools import partial

import numpy as np

from .. import ad, batching
from .._lazy import LazyModule
from ..ad import defjvp, defjvp_zero, is_undefined, transpose_rules, unbroadcast
from ..batching import OneHot
from ..core import Primitive, ShapedArray, bind, result_dtype
from ..errors import ShapeError

_special = LazyModule("scipy.special")

# Every elementwise primitive, by name -> (primitive, NumPy implementation). The vmap and
# jit rules for the whole family are written once against this table.
ELEMENTWISE: dict[str, Primitive] = {}


def broadcast_shapes(*shapes, op: str = "") -> tuple:
    first = shapes[0]
    if all(s == first for s in shapes):
        return tuple(first)
    if len(shapes) == 2 and not (first and shapes[1]):  # with a scalar (np.broadcast_shapes: 10 us)
        return tuple(first or shapes[1])
    try:
        return np.broadcast_shapes(*shapes)
    except ValueError:
        shown = " and ".join(str(tuple(s)) for s in shapes)
        raise ShapeError(
            f"{op}: operands with shapes {shown} cannot be broadcast together. NumPy's rule: "
            "align the shapes on the right; each pair of sizes must be equal or one of them 1. "
            "Insert an axis (x[:, None]) or reshape one operand."
        ) from None


def _elementwise_prim(name: str, impl, nargs: int, out_dtype=None) -> Primitive:
    prim = Primitive(name)
    prim.def_impl(impl)

    def abstract_eval(*avals, **params):
        if len(avals) != nargs:
            raise TypeError(f"{name} takes {nargs} operands, got {len(avals)}")
        a = avals[0]
        if nargs == 1 or (nargs == 2 and a.shape == avals[1].shape and a.dtype == avals[1].dtype):  # fast path
            weak = a.weak_type and (nargs == 1 or avals[1].weak_type)
            if out_dtype is None and weak == a.weak_type:
                return a  # avals are immutable: share the operand's
            return ShapedArray(a.shape, out_dtype or a.dtype, weak_type=weak)
        shape = avals[0].shape if nargs == 1 else broadcast_shapes(*(a.shape for a in avals), op=name)
        dtype = out_dtype or result_dtype(*avals)
        # Weak in, weak out (NEP 50): an operation on Python scalars alone stays weakly typed.
        return ShapedArray(shape, dtype, weak_type=all(a.weak_type for a in avals))

    prim.def_abstract_eval(abstract_eval)
    ELEMENTWISE[name] = prim
    batching.defbroadcasting(prim)
    return prim


# The function of each primitive is ``partial(bind, prim)``: C-level, so applying one costs
# no Python frame beyond ``bind`` (rules and funcad.numpy call these on every operation).
def _unary(name, impl):
    prim = _elementwise_prim(name, impl, 1)
    return prim, partial(bind, prim)


def _binary(name, impl, out_dtype=None):
    prim = _elementwise_prim(name, impl, 2, out_dtype)
    return prim, partial(bind, prim)


# --------------------------------------------------------------------------------------
# Arithmetic (linear and bilinear)

neg_p, neg = _unary("neg", np.negative)
add_p, add = _binary("add", np.add)
sub_p, sub = _binary("sub", np.subtract)
mul_p, mul = _binary("mul", np.multiply)
div_p, div = _binary("div", np.true_divide)

ad.deflinear(neg_p, lambda ct, x: [neg(ct)])


def _add_jvp(primals, tangents):
    (x, y), (x_dot, y_dot) = primals, tangents
    ans = add(x, y)
    if type(x_dot) is ad.Zero:
        if type(y_dot) is ad.Zero:
            return ans, ad.Zero(ad.get_aval(ans))
        t = y_dot
    else:
        t = x_dot if type(y_dot) is ad.Zero else add(x_dot, y_dot)
    return ans, ad._broadcast_to_aval(t, ad.get_aval(ans))


def _mul_jvp(primals, tangents):
    # The product rule, written out (mul is the most frequent operation of all).
    (x, y), (x_dot, y_dot) = primals, tangents
    ans = mul(x, y)
    if type(x_dot) is ad.Zero:
        if type(y_dot) is ad.Zero:
            return ans, ad.Zero(ad.get_aval(ans))
        t = mul(x, y_dot)
    elif type(y_dot) is ad.Zero:
        t = mul(x_dot, y)
    elif x is y and x_dot is y_dot:  # x * x: x_dot * 2x, one linear operation instead of three
        t = mul(x_dot, add(x, x))
    else:
        t = add(mul(x_dot, y), mul(x, y_dot))
    return ans, ad._broadcast_to_aval(t, ad.get_aval(ans))


ad.jvp_rules[add_p] = _add_jvp
ad.jvp_rules[mul_p] = _mul_jvp
# A sign goes on the primal factor, not on the tangent: one linear operation instead of two.
defjvp(div_p, lambda g, ans, x, y: div(g, y), lambda g, ans, x, y: mul(g, neg(div(ans, y))))


def _add_transpose(ct, x, y):
    return [unbroadcast(ct, x.aval) if is_undefined(x) else None,
            unbroadcast(ct, y.aval) if is_undefined(y) else None]


def _sub_transpose(ct, x, y):
    return [unbroadcast(ct, x.aval) if is_undefined(x) else None,
            unbroadcast(neg(ct), y.aval) if is_undefined(y) else None]


def _mul_transpose(ct, x, y):
    if is_undefined(x):
        if is_undefined(y):
            raise ValueError("mul is not linear in both operands at once")
        return [unbroadcast(mul(ct, y), x.aval), None]
    return [None, unbroadcast(mul(x, ct), y.aval)]


def _div_transpose(ct, x, y):
    if is_undefined(y):
        raise ValueError("div is not linear in its denominator")
    return [unbroadcast(div(ct, y), x.aval), None]


transpose_rules[add_p] = _add_transpose
transpose_rules[sub_p] = _sub_transpose


def _sub_jvp(primals, tangents):
    # x_dot - y_dot in one operation (not x_dot + neg(y_dot): one array pass fewer).
    (x, y), (x_dot, y_dot) = primals, tangents
    ans = sub(x, y)
    aval = ad.get_aval(ans)
    if type(x_dot) is ad.Zero and type(y_dot) is ad.Zero:
        return ans, ad.Zero(aval)
    if type(y_dot) is ad.Zero:
        return ans, ad._broadcast_to_aval(x_dot, aval)
    t = neg(y_dot) if type(x_dot) is ad.Zero else sub(x_dot, y_dot)
    return ans, ad._broadcast_to_aval(t, aval)


ad.jvp_rules[sub_p] = _sub_jvp
transpose_rules[mul_p] = _mul_transpose
transpose_rules[div_p] = _div_transpose

# --------------------------------------------------------------------------------------
# Powers, exponentials and logarithms

LN2, LN10 = math.log(2.0), math.log(10.0)

exp_p, exp = _unary("exp", np.exp)
exp2_p, exp2 = _unary("exp2", np.exp2)
expm1_p, expm1 = _unary("expm1", np.expm1)
log_p, log = _unary("log", np.log)
log2_p, log2 = _unary("log2", np.log2)
log10_p, log10 = _unary("log10", np.log10)
log1p_p, log1p = _unary("log1p", np.log1p)
sqrt_p, sqrt = _unary("sqrt", np.sqrt)
cbrt_p, cbrt = _unary("cbrt", np.cbrt)
pow_p, pow = _binary("pow", np.power)

defjvp(exp_p, lambda g, ans, x: mul(g, ans))
defjvp(exp2_p, lambda g, ans, x: mul(g, mul(ans, LN2)))
defjvp(expm1_p, lambda g, ans, x: mul(g, add(ans, 1.0)))
defjvp(log_p, lambda g, ans, x: div(g, x))
defjvp(log2_p, lambda g, ans, x: div(g, mul(x, LN2)))
defjvp(log10_p, lambda g, ans, x: div(g, mul(x, LN10)))
defjvp(log1p_p, lambda g, ans, x: div(g, add(x, 1.0)))
defjvp(sqrt_p, lambda g, ans, x: div(g, mul(ans, 2.0)))
defjvp(cbrt_p, lambda g, ans, x: div(g, mul(integer_pow(ans, 2), 3.0)))


def _pow_jvp_y(g, ans, x, y):
    # d/dy x**y = log(x) x**y; at x == 0 the limit used is 0 (as in JAX), not nan.
    safe_log = log(select(eq(x, 0.0), 1.0, x))
    return mul(g, mul(ans, safe_log))


def _pow_jvp_x(g, ans, x, y):
    # y x**(y-1), with the exponent 1 where y == 0 (as autograd): 0 ** 0.0 then has
    # derivative 0, not 0 * inf, at every order.
    return mul(g, mul(y, pow(x, select(eq(y, 0.0), 1.0, sub(y, 1.0)))))


defjvp(pow_p, _pow_jvp_x, _pow_jvp_y)

integer_pow_p = Primitive("integer_pow")
integer_pow_p.def_impl(lambda x, *, y: np.power(x, y) if y >= 0 else np.reciprocal(np.power(x, -y)))
integer_pow_p.def_abstract_eval(lambda x, *, y: x)
ELEMENTWISE["integer_pow"] = integer_pow_p
batching.defbroadcasting(integer_pow_p)


def integer_pow(x, y: int):
    """``x ** y`` for a Python int ``y`` (exact, and differentiable at negative x)."""
    if y == 1:
        return x
    return bind(integer_pow_p, x, y=y)


def _integer_pow_jvp(g, ans, x, *, y):
    if y == 0:
        return mul(g, 0.0)
    return mul(g, mul(float(y), integer_pow(x, y - 1) if y != 1 else 1.0))


defjvp(integer_pow_p, _integer_pow_jvp)

# --------------------------------------------------------------------------------------
# Trigonometric and hyperbolic

sin_p, sin = _unary("sin", np.sin)
cos_p, cos = _unary("cos", np.cos)
tan_p, tan = _unary("tan", np.tan)
arcsin_p, arcsin = _unary("arcsin", np.arcsin)
arccos_p, arccos = _unary("arccos", np.arccos)
arctan_p, arctan = _unary("arctan", np.arctan)
sinh_p, sinh = _unary("sinh", np.sinh)
cosh_p, cosh = _unary("cosh", np.cosh)
tanh_p, tanh = _unary("tanh", np.tanh)
arcsinh_p, arcsinh = _unary("arcsinh", np.arcsinh)
arccosh_p, arccosh = _unary("arccosh", np.arccosh)
arctanh_p, arctanh = _unary("arctanh", np.arctanh)
arctan2_p, arctan2 = _binary("arctan2", np.arctan2)

defjvp(sin_p, lambda g, ans, x: mul(g, cos(x)))
defjvp(cos_p, lambda g, ans, x: mul(g, neg(sin(x))))
defjvp(tan_p, lambda g, ans, x: mul(g, add(1.0, integer_pow(ans, 2))))
defjvp(arcsin_p, lambda g, ans, x: div(g, sqrt(sub(1.0, integer_pow(x, 2)))))
defjvp(arccos_p, lambda g, ans, x: div(g, neg(sqrt(sub(1.0, integer_pow(x, 2))))))
defjvp(arctan_p, lambda g, ans, x: div(g, add(1.0, integer_pow(x, 2))))
defjvp(sinh_p, lambda g, ans, x: mul(g, cosh(x)))
defjvp(cosh_p, lambda g, ans, x: mul(g, sinh(x)))
defjvp(tanh_p, lambda g, ans, x: mul(g, sub(1.0, integer_pow(ans, 2))))
defjvp(arcsinh_p, lambda g, ans, x: div(g, sqrt(add(integer_pow(x, 2), 1.0))))
defjvp(arccosh_p, lambda g, ans, x: div(g, sqrt(sub(integer_pow(x, 2), 1.0))))
defjvp(arctanh_p, lambda g, ans, x: div(g, sub(1.0, integer_pow(x, 2))))
defjvp(arctan2_p,
       lambda g, ans, y, x: mul(g, div(x, add(integer_pow(x, 2), integer_pow(y, 2)))),
       lambda g, ans, y, x: mul(g, neg(div(y, add(integer_pow(x, 2), integer_pow(y, 2))))))

# --------------------------------------------------------------------------------------
# Stable special functions used by funcad.nn

logistic_p, logistic = _unary("logistic", lambda x: _special.expit(x))
logaddexp_p, logaddexp = _binary("logaddexp", np.logaddexp)
hypot_p, hypot = _binary("hypot", np.hypot)

# s' = s (1 - s), written s(x) s(-x): 1 - s cancels catastrophically for large x.
defjvp(logistic_p, lambda g, ans, x: mul(g, mul(ans, logistic(neg(x)))))
# d/dx logaddexp(x, y) = sigmoid(x - y), not exp(x - ans): the same first derivative, but
# differentiating it again needs no tangent of ``ans`` (one array operation instead of three
# on the Hessian's batched tangents).
defjvp(logaddexp_p,
       lambda g, ans, x, y: mul(g, logistic(sub(x, y))),
       lambda g, ans, x, y: mul(g, logistic(sub(y, x))))
defjvp(hypot_p,
       lambda g, ans, x, y: mul(g, div(x, ans)),
       lambda g, ans, x, y: mul(g, div(y, ans)))

# --------------------------------------------------------------------------------------
# Piecewise: abs, sign, maximum, minimum, select

abs_p, abs = _unary("abs", np.abs)
sign_p, sign = _unary("sign", np.sign)
max_p, max = _binary("max", np.maximum)
min_p, min = _binary("min", np.minimum)

abs_p.def_abstract_eval(lambda x: ShapedArray(x.shape, real_dtype(x.dtype), x.weak_type))


def _abs_jvp(g, ans, x):
    # abs at 0 takes the subgradient sign(0) = 0. For complex x, d|x| = Re(conj(x) dx) / |x|
    # (0 at x = 0, as JAX).
    if x_is_complex(x):
        safe = convert_element_type(select(eq(ans, 0.0), 1.0, ans), ad.get_aval(x).dtype)
        return real(mul(g, div(conj(x), safe)))
    return mul(g, sign(x))


def _sign_jvp(g, ans, x):
    # Piecewise constant for reals. For complex x, sign(x) = x / |x| moves on the unit circle:
    # d sign = (dx - sign Re(conj(sign) dx)) / |x|, 0 at x = 0. (JAX's is zero there too.)
    if not x_is_complex(x):
        return mul(g, 0.0)
    r = abs(x)
    zero = eq(r, 0.0)
    dt = ad.get_aval(x).dtype
    inv = convert_element_type(select(zero, 0.0, div(1.0, select(zero, 1.0, r))), dt)
    radial = mul(ans, convert_element_type(real(mul(g, conj(ans))), dt))
    return mul(sub(g, radial), inv)


defjvp(abs_p, _abs_jvp)
defjvp(sign_p, _sign_jvp)
# max/min at ties split the tangent half-half.


def _pick(g, x, y, cmp):
    """The share of g that flows to x in max/min: 1 where x wins, 1/2 at ties, 0 elsewhere."""
    dt = ad.get_aval(g).dtype
    share = add(convert_element_type(cmp(x, y), dt), mul(convert_element_type(eq(x, y), dt), 0.5))
    return mul(g, share)


defjvp(max_p, lambda g, ans, x, y: _pick(g, x, y, gt), lambda g, ans, x, y: _pick(g, y, x, gt))
defjvp(min_p, lambda g, ans, x, y: _pick(g, x, y, lt), lambda g, ans, x, y: _pick(g, y, x, lt))

select_p = Primitive("select")
select_p.def_impl(np.where)


def _select_abstract_eval(pred, x, y):
    if pred.dtype != np.bool_:
        raise TypeError(f"select: the predicate must be boolean, got {pred.dtype}")
    shape = broadcast_shapes(pred.shape, x.shape, y.shape, op="where")
    return ShapedArray(shape, result_dtype(x, y), weak_type=x.weak_type and y.weak_type)


select_p.def_abstract_eval(_select_abstract_eval)
ELEMENTWISE["select"] = select_p
batching.defbroadcasting(select_p)


def select(pred, x, y):
    """``where(pred, x, y)`` on operands funcad.numpy has already promoted."""
    return bind(select_p, pred, x, y)


def _select_jvp(primals, tangents):
    pred, x, y = primals
    _, x_dot, y_dot = tangents
    ans = select(pred, x, y)
    aval = ad.get_aval(ans)
    if type(x_dot) is ad.Zero and type(y_dot) is ad.Zero:
        return ans, ad.Zero(aval)
    # A zero tangent is one 0-d zero (select broadcasts it: no array of zeros is built), of
    # the output's dtype (a Python scalar's would be float64).
    zero = ShapedArray((), aval.dtype)
    x_dot, y_dot = ad.instantiate(x_dot, zero), ad.instantiate(y_dot, zero)
    return ans, ad._broadcast_to_aval(select(pred, x_dot, y_dot), aval)


def _select_transpose(ct, pred, x, y):
    zeros = ad.zeros_like_aval(ShapedArray((), ad.get_aval(ct).dtype))  # broadcast by select
    return [None,
            unbroadcast(select(pred, ct, zeros), x.aval) if is_undefined(x) else None,
            unbroadcast(select(pred, zeros, ct), y.aval) if is_undefined(y) else None]


ad.jvp_rules[select_p] = _select_jvp
transpose_rules[select_p] = _select_transpose

# --------------------------------------------------------------------------------------
# Structured batches (batching.OneHot: the identity basis of Jacobians, diagonals). Scaling
# by an unbatched value keeps one nonzero per example: only the coefficients are computed,
# and a zero stays zero where the dense product would give inf * 0 = NaN.


def _onehot_arith(prim, axis_size, vals, dims):
    x, y = vals
    if type(x) is OneHot and x.same_layout(y):  # both one-hot at the same positions
        if prim is div_p:
            return NotImplemented
        return x.like(bind(prim, x.coef_or_one(), y.coef_or_one())), 0
    if prim in (add_p, sub_p):
        return _onehot_plus_dense(prim, vals, dims)
    pair = batching.onehot_and_other(vals, dims)
    if pair is None:
        return NotImplemented
    s, u, first = pair
    if not s.takes(u) or (prim is div_p and not first):
        return NotImplemented
    dtype = result_dtype(s.aval, ad.get_aval(u))
    if s.coef is None and prim is mul_p:
        return s.like(u, dtype=dtype), 0  # 1 * u is u
    c = s.coef_or_one()
    return s.like(bind(prim, c, u) if first else bind(prim, u, c), dtype=dtype), 0


def _onehot_plus_dense(prim, vals, dims):
    # A diagonal is symmetric: it is added along the dense operand's batch axis as well as
    # along axis 0, so that operand need not move (a transpose). Eagerly the diagonal goes
    # into a copy of the dense operand (one n x n array more, not two); staged, it is a select
    # that the compiled program fuses into the loop of the addition.
    (x, y), (dx, dy) = vals, dims
    s, d = (x, dy) if type(x) is OneHot else (y, dx)
    dense = y if type(x) is OneHot else x
    if (d is None or not s.full_block() or len(s.shape) != 1 or type(dense) is OneHot
            or ad.get_aval(dense).shape != (s.size, s.size) or ad.get_aval(dense).dtype != s.dtype):
        return NotImplemented
    if type(dense) is np.ndarray and (prim is add_p or dense is x):
        from .shapes import index_add_p

        ii = np.arange(s.size)
        return bind(index_add_p, dense, s.full_coef() if prim is add_p else neg(s.full_coef()), ii, ii,
                    template=(("array", 0), ("array", 1))), d
    m = batching.materialize(s)
    return (bind(prim, m, dense) if dense is y else bind(prim, dense, m)), d


for _p in (add_p, sub_p, mul_p, div_p):
    batching.structured_batchers[_p] = partial(_onehot_arith, _p)
batching.structured_batchers[neg_p] = lambda n, vals, dims: (vals[0].like(neg(vals[0].coef_or_one())), 0)


# --------------------------------------------------------------------------------------
# Comparisons and logic: boolean outputs, zero tangents

BOOL = np.dtype(bool)
eq_p, eq = _binary("eq", np.equal, BOOL)
ne_p, ne = _binary("ne", np.not_equal, BOOL)
lt_p, lt = _binary("lt", np.less, BOOL)
le_p, le = _binary("le", np.less_equal, BOOL)
gt_p, gt = _binary("gt", np.greater, BOOL)
ge_p, ge = _binary("ge", np.greater_equal, BOOL)
and_p, logical_and = _binary("and", np.logical_and, BOOL)
or_p, logical_or = _binary("or", np.logical_or, BOOL)
xor_p, logical_xor = _binary("xor", np.logical_xor, BOOL)
not_p = _elementwise_prim("not", np.logical_not, 1, BOOL)
# Bitwise operations of integers of one dtype (funcad.numpy sends booleans to the logical ones)
bitwise_and_p, bitwise_and = _binary("bitwise_and", np.bitwise_and)
bitwise_or_p, bitwise_or = _binary("bitwise_or", np.bitwise_or)
bitwise_xor_p, bitwise_xor = _binary("bitwise_xor", np.bitwise_xor)
left_shift_p, left_shift = _binary("left_shift", np.left_shift)
right_shift_p, right_shift = _binary("right_shift", np.right_shift)
floor_p, floor = _unary("floor", np.floor)
ceil_p, ceil = _unary("ceil", np.ceil)
round_p, round = _unary("round", np.round)
isnan_p = _elementwise_prim("isnan", np.isnan, 1, BOOL)
isinf_p = _elementwise_prim("isinf", np.isinf, 1, BOOL)
isfinite_p = _elementwise_prim("isfinite", np.isfinite, 1, BOOL)


def logical_not(x):
    return bind(not_p, x)


for _p in (eq_p, ne_p, lt_p, le_p, gt_p, ge_p, and_p, or_p, xor_p, not_p, floor_p, ceil_p,
           round_p, isnan_p, isinf_p, isfinite_p, bitwise_and_p, bitwise_or_p, bitwise_xor_p,
           left_shift_p, right_shift_p):
    defjvp_zero(_p)

# --------------------------------------------------------------------------------------
# dtype conversion

convert_element_type_p = Primitive("convert_element_type")
convert_element_type_p.def_impl(lambda x, *, new_dtype: np.asarray(x).astype(new_dtype))
convert_element_type_p.def_abstract_eval(lambda x, *, new_dtype: ShapedArray(x.shape, new_dtype))
ELEMENTWISE["convert_element_type"] = convert_element_type_p
batching.defbroadcasting(convert_element_type_p)


def convert_element_type(x, new_dtype):
    new_dtype = np.dtype(new_dtype)
    if type(x) in (bool, int, float, complex):  # a cast makes a strongly typed value
        x = np.asarray(x)
    dt = ad.get_aval(x).dtype
    if dt == new_dtype:
        return x
    if dt.kind == "c" and new_dtype.kind != "c":  # the real part, as NumPy (without its warning)
        x = real(x)
        if new_dtype == ad.get_aval(x).dtype:
            return x
    return bind(convert_element_type_p, x, new_dtype=new_dtype)


def _convert_jvp(primals, tangents, *, new_dtype):
    (x,), (x_dot,) = primals, tangents
    ans = convert_element_type(x, new_dtype)
    if type(x_dot) is ad.Zero or not np.issubdtype(new_dtype, np.inexact):
        return ans, ad.Zero(ad.get_aval(ans))
    return ans, convert_element_type(x_dot, new_dtype)


def _convert_transpose(ct, x, *, new_dtype):
    if x_is_complex(ct) and x.aval.dtype.kind != "c":  # real -> complex: Re is the adjoint
        ct = real(ct)
    return [convert_element_type(ct, x.aval.dtype)]


ad.jvp_rules[convert_element_type_p] = _convert_jvp
batching.structured_batchers[convert_element_type_p] = lambda n, vals, dims, *, new_dtype: (
    vals[0].like(None if vals[0].coef is None else convert_element_type(vals[0].coef, new_dtype),
                 dtype=new_dtype), 0)
transpose_rules[convert_element_type_p] = _convert_transpose

# --------------------------------------------------------------------------------------
# Complex parts. Tangents of complex values are complex; a transpose is the adjoint for the
# real pairing <u, v> = Re(u v) (JAX's convention: no conjugation, so the transpose of a
# product by y is a product by y), which makes grad of a real f(z) df/dx - i df/dy.


def real_dtype(dtype) -> np.dtype:
    """The real dtype of the same precision (complex64 -> float32); other dtypes themselves."""
    dtype = np.dtype(dtype)
    return np.finfo(dtype).dtype if dtype.kind == "c" else dtype


def complex_dtype(dtype) -> np.dtype:
    """The complex dtype of the same precision (float32 -> complex64; others complex128)."""
    dtype = np.dtype(dtype)
    return dtype if dtype.kind == "c" else np.dtype(np.complex64 if dtype == np.float32 else np.complex128)


def x_is_complex(x) -> bool:
    return ad.get_aval(x).dtype.kind == "c"


def _part_prim(name, impl):
    prim = Primitive(name)
    prim.def_impl(impl)
    prim.def_abstract_eval(lambda x: ShapedArray(x.shape, real_dtype(x.dtype), x.weak_type))
    ELEMENTWISE[name] = prim
    batching.defbroadcasting(prim)
    return prim, partial(bind, prim)


real_p, real = _part_prim("real", np.real)
imag_p, imag = _part_prim("imag", np.imag)
conj_p, conj = _unary("conj", np.conjugate)
complex_p, _complex = _binary("complex", lambda x, y: np.add(x, np.multiply(y, 1j)))
complex_p.def_abstract_eval(lambda x, y: ShapedArray(
    broadcast_shapes(x.shape, y.shape, op="complex"), complex_dtype(result_dtype(x, y)),
    x.weak_type and y.weak_type))


def make_complex(x, y):
    """``x + 1j * y`` for real ``x`` and ``y`` of one dtype (lax.complex)."""
    return _complex(x, y)


def _real_transpose(ct, x):
    return [convert_element_type(ct, x.aval.dtype)]


def _imag_transpose(ct, x):  # Re(c (-i ct) dx) = ct Im(dx)
    return [make_complex(mul(ct, 0.0), neg(ct))]


def _complex_transpose(ct, x, y):
    return [unbroadcast(real(ct), x.aval) if is_undefined(x) else None,
            unbroadcast(neg(imag(ct)), y.aval) if is_undefined(y) else None]


ad.deflinear(real_p, _real_transpose)
ad.deflinear(imag_p, _imag_transpose)
ad.deflinear(conj_p, lambda ct, x: [conj(ct)])
defjvp(complex_p, lambda g, ans, x, y: make_complex(g, mul(g, 0.0)),
       lambda g, ans, x, y: make_complex(mul(g, 0.0), g))
transpose_rules[complex_p] = _complex_transpose

# --------------------------------------------------------------------------------------
# stop_gradient: the identity, with a zero derivative

stop_gradient_p = Primitive("stop_gradient")
stop_gradient_p.def_impl(lambda x: x)
stop_gradient_p.def_abstract_eval(lambda x: x)
defjvp_zero(stop_gradient_p)
batching.defvectorized(stop_gradient_p)


def stop_gradient(x):
    """The identity in value; its derivative is zero (no gradient flows through it).

    >>> import funcad as fa
    >>> float(fa.grad(lambda x: x * fa.stop_gradient(x))(3.0))
    3.0
    """
    from ..tree_util import tree_map

    return tree_map(lambda leaf: bind(stop_gradient_p, leaf), x)
