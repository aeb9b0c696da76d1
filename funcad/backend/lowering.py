"""The elementwise primitives as loop IR: :data:`SCALAR`, keyed by primitive.

``rule(args, eqn) -> expression``: a scalar expression of the loop IR (backend/loopir.py) in
the operands' expressions, already cast to :func:`compute_dtypes`. These are inlined into the
loop nests of fused kernels (codegen.py). Every other primitive is compiled by the table
backend's rules (table.SINGLE) or called as a host step (backend/table_host.py).
"""

from __future__ import annotations

import numpy as np

from ..core import result_dtype
from ..lax import elementwise as ew
from ..lax import random as rnd
from ..lax import shapes as sh
from ..lax import special as sp
from . import loopir as ir

# --------------------------------------------------------------------------------------
# Elementwise: scalar expressions (loop IR nodes, backend/loopir.py)


def _dt(eqn):
    return eqn.outputs[0].aval.dtype


def _call(fn):
    """A call of ``fn`` as printed (``np.rint``, ``math.erf``...) on the operands."""
    return lambda a, eqn: ir.Call(fn, a, _dt(eqn))


def _math_module(dtype) -> str:
    """A math function's prefix on ``dtype`` values: ``_vm`` (vecmath's, float32/float64) or
    ``np`` (the source's text only: loopir.LLVM picks the routine by name and dtype)."""
    return "_vm" if np.dtype(dtype) in ir.FLOATS else "np"


def _math(fn):
    """A math function (its operands are computed in one dtype)."""
    return lambda a, eqn: ir.Call(f"{_math_module(compute_dtypes(eqn)[0])}.{fn}", a, _dt(eqn))


def _op(sym):
    return lambda a, eqn: ir.Bin(sym, a[0], a[1])


def _compare(sym):
    def rule(a, eqn):
        if np.dtype(compute_dtypes(eqn)[0]).kind == "c" and sym not in ("==", "!="):
            return ir.lex_compare(a[0], a[1], sym)
        return ir.Cmp(sym, a[0], a[1])

    return rule


def _integer_pow(a, eqn):
    y, x, dt = eqn.params["y"], a[0], _dt(eqn)
    if y == 0:
        return ir.Const(1, dt)
    n = abs(y)
    body = x
    for _ in range(n - 1 if n <= 4 else 0):  # (x ** 2**31: not a chain of 2**31 products)
        body = ir.Bin("*", body, x)
    if n > 4:
        body = ir.Call(f"{_math_module(dt)}.power", [x, ir.Const(n, dt)], dt)
    return body if y > 0 else ir.Bin("/", ir.Const(1, dt), body)


def _int_division(kind):
    """fmod, mod and floor_divide: on integers as NumPy computes them. The hardware division
    traps on ``MIN % -1`` and ``MIN // -1`` (SIGFPE: it overflows); NumPy gives 0 for a zero
    divisor and MIN for ``MIN // -1``, and fmod has C's sign (``fmod(-7, 2) == -1``). Floats
    call NumPy's functions (``//``: NumPy's algorithm, ``1.0 // 0.1 == 9.0``)."""
    def rule(a, eqn):
        (x, y), dt = a, np.dtype(compute_dtypes(eqn)[0])
        if dt.kind == "f":
            return ir.Bin("//", x, y) if kind == "floor_divide" else ir.Call(f"np.{kind}", a, dt)
        z, bare0 = ir.Const(0, dt), ir.Const(0, dt, bare=True)
        zero, minus1 = ir.Cmp("==", y, bare0), ir.Cmp("==", y, ir.Const(-1, dt, bare=True))
        if dt.kind == "u":
            return ir.Select(zero, z, ir.Bin("//" if kind == "floor_divide" else "%", x, y))
        if kind == "floor_divide":
            return ir.Select(zero, z, ir.Select(minus1, ir.Un("-", x), ir.Bin("//", x, y)))
        rem = ir.Bin("%", x, y)  # Python's % on integers: the sign of y, as NumPy's remainder
        if kind == "fmod":  # C's remainder, the sign of x: Python's, less y where they differ
            signs = ir.Cmp("!=", ir.Cmp("<", x, bare0), ir.Cmp("<", y, bare0))
            rem = ir.Bin("-", rem, ir.Select(ir.BoolOp("and", [ir.Cmp("!=", rem, bare0), signs]), y, z))
        return ir.Select(ir.BoolOp("or", [zero, minus1]), z, rem)

    return rule


def _sign(a, eqn):
    dt = _dt(eqn)
    if dt.kind == "c":  # NumPy 2's z / |z|
        unit = ir.Bin("/", a[0], ir.Call("np.abs", a, dt))
        return ir.Select(ir.Cmp("!=", a[0], ir.Const(0, dt, True)), unit, ir.Const(0, dt))
    if dt.kind == "u":  # (never -1 for an unsigned integer >= 2**(bits-1))
        return ir.Select(ir.Cmp("!=", a[0], ir.Const(0, dt, True)), ir.Const(1, dt), ir.Const(0, dt))
    return ir.Call("np.sign", a, dt)


def _pow(a, eqn):
    if np.dtype(compute_dtypes(eqn)[0]).kind in "iu":  # exact, wrapping, ValueError for y < 0
        return ir.Call("ipow", a, _dt(eqn))
    return _math("power")(a, eqn)


def _logistic(a, eqn):
    dt = _dt(eqn)
    one = ir.Const(1, dt)
    exp = ir.Call(f"{_math_module(dt)}.exp", [ir.Un("-", a[0])], dt)
    return ir.Bin("/", one, ir.Bin("+", one, exp))


def _logical(sym):
    return lambda a, eqn: ir.Bin(sym, *(ir.cast(x, ir.BOOL) for x in a))


def _not(a, eqn):
    return ir.Un("not", ir.cast(a[0], ir.BOOL))


def _gammaln(a, eqn):  # SciPy's gammaln(-inf) is -inf (C's lgamma: +inf)
    dt, ninf = _dt(eqn), ir.Const(-np.inf, _dt(eqn))
    return ir.Select(ir.Cmp("==", a[0], ninf), ninf, ir.Call("math.lgamma", a, dt))


def _xla_exp(a, eqn):  # float32: XLA's float64 exp, rounded
    dt, f64 = _dt(eqn), np.dtype(np.float64)
    if dt == f64:
        return ir.Call("_rnd.xla_exp", a, dt)
    return ir.Cast(ir.Call("_rnd.xla_exp", [ir.Cast(a[0], f64)], f64), dt)


def compute_dtypes(eqn) -> list:
    """The dtype each operand is cast to before the scalar expression is applied."""
    p, avals = eqn.prim, [a.aval for a in eqn.inputs]
    if p is ew.select_p:
        dt = eqn.outputs[0].aval.dtype
        return [np.dtype(bool), dt, dt]
    if p in (ew.convert_element_type_p, sh.broadcast_to_p, ew.stop_gradient_p, ew.integer_pow_p,
             sh.transpose_p, sh.reshape_p,
             ew.not_p, ew.and_p, ew.or_p, ew.xor_p) or not avals:
        return [a.dtype for a in avals]
    dt = result_dtype(*avals)
    return [dt] * len(avals)


SCALAR: dict = {
    ew.neg_p: lambda a, eqn: ir.Un("-", a[0]),
    ew.add_p: _op("+"), ew.sub_p: _op("-"), ew.mul_p: _op("*"), ew.div_p: _op("/"),
    ew.pow_p: _pow, ew.integer_pow_p: _integer_pow,
    ew.logistic_p: _logistic,
    ew.select_p: lambda a, eqn: ir.Select(*a),
    ew.eq_p: _compare("=="), ew.ne_p: _compare("!="), ew.lt_p: _compare("<"), ew.le_p: _compare("<="),
    ew.gt_p: _compare(">"), ew.ge_p: _compare(">="),
    ew.and_p: _logical("&"), ew.or_p: _logical("|"), ew.xor_p: _logical("^"), ew.not_p: _not,
    ew.bitwise_and_p: _op("&"), ew.bitwise_or_p: _op("|"), ew.bitwise_xor_p: _op("^"),
    ew.left_shift_p: _op("<<"), ew.right_shift_p: _op(">>"),
    ew.round_p: _call("np.rint"),
    ew.max_p: _call("np.maximum"), ew.min_p: _call("np.minimum"),
    ew.convert_element_type_p: lambda a, eqn: ir.cast(a[0], eqn.params["new_dtype"]),
    ew.stop_gradient_p: lambda a, eqn: a[0],
    sh.broadcast_to_p: lambda a, eqn: a[0],  # the operand is read with broadcasting
    sh.full_p: lambda a, eqn: ir.Const(eqn.params["fill_value"], eqn.params["dtype"]),
    # In loops, these read their operand at remapped indices (codegen._remap_index):
    sh.transpose_p: lambda a, eqn: a[0],
    sh.reshape_p: lambda a, eqn: a[0],
    ew.sign_p: _sign,
    ew.real_p: lambda a, eqn: ir.Attr(a[0], "real"),
    ew.imag_p: lambda a, eqn: ir.Attr(a[0], "imag"),
    ew.conj_p: lambda a, eqn: ir.Attr(a[0], "conjugate()"),
    ew.complex_p: lambda a, eqn: ir.Cast(ir.Call("complex", a, _dt(eqn)), _dt(eqn)),
    # The other families with a scalar form (math.erf...); the rest (decompositions, sorting,
    # cumulative ops, other special functions) are host steps (backend/table_host.py).
    sp.erf_p: _call("math.erf"), sp.erfc_p: _call("math.erfc"), sp.gammaln_p: _gammaln,
    sp.fmod_p: _int_division("fmod"), sp.mod_p: _int_division("mod"),
    sp.floor_divide_p: _int_division("floor_divide"),
    rnd.fma_p: _call("_rnd.fma"), rnd.nextafter_p: _call("np.nextafter"),
    rnd.xla_erf_p: _call("_rnd.xla_erf"), rnd.xla_erf_inv_p: _call("_rnd.xla_erf_inv"),
    rnd.xla_exp_p: _xla_exp,
}
for _name in ("exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sqrt", "cbrt", "sin",
              "cos", "tan", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh", "arcsinh",
              "arccosh", "arctanh", "arctan2", "logaddexp", "hypot", "abs", "floor",
              "ceil", "isnan", "isinf", "isfinite"):
    SCALAR[ew.ELEMENTWISE[_name]] = _math(_name) if _name in ir.VECTOR_MATH else _call(f"np.{_name}")
