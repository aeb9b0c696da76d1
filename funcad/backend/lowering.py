"""The Numba lowering of each primitive: two tables keyed by primitive.

* :data:`SCALAR` - elementwise primitives: ``rule(args, eqn) -> expression``, a scalar
  expression of the loop IR (backend/loopir.py) in the operands' (already cast) expressions.
  These are inlined into the loop nests of fused kernels (codegen.py).
* :data:`LOWERINGS` - every other primitive: ``rule(g, eqn)`` emits what computes the
  equation's outputs as arrays (``g`` is the code generator: ``g.arr(atom)`` names an operand
  array, ``g.name(var)`` an output, ``g.dims(shape)`` a shape whose sizes are read at run
  time, ``g.emit(line)`` a line of Python, ``g.add(stmt)`` a loop IR statement).

A primitive without a good loop form calls its NumPy implementation inside the compiled
program (:func:`lower_via_numpy`: a ``numba.objmode`` block), which is exact but costs a
few microseconds per call. This module imports nothing from Numba: it only writes source.
"""

from __future__ import annotations

import hashlib

import numpy as np

from ..jaxpr import Literal, Var, pp_jaxpr
from ..lax import cumulative as cum
from ..lax import decompositions as dec
from ..lax import elementwise as ew
from ..lax import linalg as la
from ..lax import random as rnd
from ..lax import reductions as red
from ..lax import scatter as sc
from ..lax import shapes as sh
from ..lax import sorting as so
from ..lax import special as sp
from . import runtime
from .loopir import (
    BOOL,
    VECTOR_MATH,
    Attr,
    Bin,
    BoolOp,
    Call,
    Cast,
    Cmp,
    Const,
    Load,
    Loop,
    Select,
    Store,
    Un,
    cast,
    lex_compare,
)

# --------------------------------------------------------------------------------------
# Elementwise: scalar expressions (loop IR nodes, backend/loopir.py)


def _dt(eqn):
    return eqn.outputs[0].aval.dtype


def _call(fn):
    return lambda a, eqn: Call(f"np.{fn}", a, _dt(eqn))


_VECTOR_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _math_module(dtype) -> str:
    """Where a math function of ``dtype`` values is called from: ``_vm`` (vecmath) or ``np``."""
    return "_vm" if np.dtype(dtype) in _VECTOR_DTYPES else "np"


def _math(fn):
    """A math function: ``_vm.<fn>`` when every operand is computed in one float dtype."""
    def rule(a, eqn):
        dts = {np.dtype(d) for d in compute_dtypes(eqn)}
        module = _math_module(_dt(eqn)) if len(dts) == 1 and dts <= set(_VECTOR_DTYPES) else "np"
        return Call(f"{module}.{fn}", a, _dt(eqn))

    return rule


def _op(sym):
    return lambda a, eqn: Bin(sym, a[0], a[1])


def _compare(sym):
    def rule(a, eqn):
        if np.dtype(compute_dtypes(eqn)[0]).kind == "c" and sym not in ("==", "!="):
            return lex_compare(a[0], a[1], sym)
        return Cmp(sym, a[0], a[1])

    return rule


def _integer_pow(a, eqn):
    y, x, dt = eqn.params["y"], a[0], _dt(eqn)
    if y == 0:
        return Const(1, dt)
    n = abs(y)
    body = x
    for _ in range(n - 1):
        body = Bin("*", body, x)
    if n > 4:
        body = Call(f"{_math_module(dt)}.power", [x, Const(n, dt)], dt)
    return body if y > 0 else Bin("/", Const(1, dt), body)


def _int_division(kind):
    """fmod, mod and floor_divide: on integers as NumPy computes them. Numba's own trap on
    ``MIN % -1`` and ``MIN // -1`` (SIGFPE: the hardware division overflows), and its
    ``np.fmod`` of negative integers is wrong (``fmod(-7, 2)`` gave 1, NumPy -1); NumPy gives
    0 for a zero divisor and MIN for ``MIN // -1``. Floats call NumPy's functions (``//``:
    Numba's float floor division is NumPy's algorithm, ``1.0 // 0.1 == 9.0``)."""
    def rule(a, eqn):
        (x, y), dt = a, np.dtype(compute_dtypes(eqn)[0])
        if dt.kind == "f":
            return Bin("//", x, y) if kind == "floor_divide" else Call(f"np.{kind}", a, dt)
        z, zero, minus1 = Const(0, dt), Cmp("==", y, Const(0, dt, True)), Cmp("==", y, Const(-1, dt, True))
        if dt.kind == "u":
            return Select(zero, z, Bin("//" if kind == "floor_divide" else "%", x, y))
        if kind == "floor_divide":
            return Select(zero, z, Select(minus1, Un("-", x), Bin("//", x, y)))
        rem = Bin("%", x, y)  # Python's % on integers: the sign of y, as NumPy's remainder
        if kind == "fmod":  # C's remainder, the sign of x: Python's, less y where they differ
            signs = Cmp("!=", Cmp("<", x, Const(0, dt, True)), Cmp("<", y, Const(0, dt, True)))
            rem = Bin("-", rem, Select(BoolOp("and", [Cmp("!=", rem, Const(0, dt, True)), signs]), y, z))
        return Select(BoolOp("or", [zero, minus1]), z, rem)

    return rule


def _sign(a, eqn):
    dt = _dt(eqn)
    if dt.kind == "c":  # NumPy 2's z / |z| (Numba's np.sign of complex is NumPy 1's)
        unit = Bin("/", a[0], Call("np.abs", a, dt))
        return Select(Cmp("!=", a[0], Const(0, dt, True)), unit, Const(0, dt))
    if dt.kind == "u":  # Numba's np.sign of an unsigned integer >= 2**(bits-1) gives -1 (wrapped)
        return Select(Cmp("!=", a[0], Const(0, dt, True)), Const(1, dt), Const(0, dt))
    return Call("np.sign", a, dt)


def _pow(a, eqn):
    if np.dtype(compute_dtypes(eqn)[0]).kind in "iu":  # exact, wrapping, ValueError for y < 0
        return Call("_nb.ipow", a, _dt(eqn))
    return _math("power")(a, eqn)


def _logistic(a, eqn):
    dt = _dt(eqn)
    one = Const(1, dt)
    return Bin("/", one, Bin("+", one, Call(f"{_math_module(dt)}.exp", [Un("-", a[0])], dt)))


def _logical(sym):
    return lambda a, eqn: Bin(sym, *(cast(x, BOOL) for x in a))


def _not(a, eqn):
    return Un("not", cast(a[0], BOOL))


SCALAR: dict = {
    ew.neg_p: lambda a, eqn: Un("-", a[0]),
    ew.add_p: _op("+"), ew.sub_p: _op("-"), ew.mul_p: _op("*"), ew.div_p: _op("/"),
    ew.pow_p: _pow, ew.integer_pow_p: _integer_pow,
    ew.logistic_p: _logistic,
    ew.select_p: lambda a, eqn: Select(*a),
    ew.eq_p: _compare("=="), ew.ne_p: _compare("!="), ew.lt_p: _compare("<"), ew.le_p: _compare("<="),
    ew.gt_p: _compare(">"), ew.ge_p: _compare(">="),
    ew.and_p: _logical("&"), ew.or_p: _logical("|"), ew.xor_p: _logical("^"), ew.not_p: _not,
    ew.round_p: _call("rint"),
    ew.max_p: _call("maximum"), ew.min_p: _call("minimum"),
    ew.convert_element_type_p: lambda a, eqn: cast(a[0], eqn.params["new_dtype"]),
    ew.stop_gradient_p: lambda a, eqn: a[0],
    sh.broadcast_to_p: lambda a, eqn: a[0],  # the operand is read with broadcasting
    sh.full_p: lambda a, eqn: Const(eqn.params["fill_value"], eqn.params["dtype"]),
    # In loops, these read their operand at remapped indices (codegen._remap_index):
    sh.transpose_p: lambda a, eqn: a[0],
    sh.reshape_p: lambda a, eqn: a[0],
}
for _name in ("exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sqrt", "cbrt", "sin",
              "cos", "tan", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh", "arcsinh",
              "arccosh", "arctanh", "arctan2", "logaddexp", "hypot", "abs", "floor",
              "ceil", "isnan", "isinf", "isfinite"):
    SCALAR[ew.ELEMENTWISE[_name]] = (_math if _name in VECTOR_MATH else _call)(_name)
SCALAR[ew.sign_p] = _sign
SCALAR[ew.real_p] = lambda a, eqn: Attr(a[0], "real")
SCALAR[ew.imag_p] = lambda a, eqn: Attr(a[0], "imag")
SCALAR[ew.conj_p] = lambda a, eqn: Attr(a[0], "conjugate()")
SCALAR[ew.complex_p] = lambda a, eqn: Cast(Call("complex", a, _dt(eqn)), _dt(eqn))


def compute_dtypes(eqn) -> list:
    """The dtype each operand is cast to before the scalar expression is applied."""
    from ..core import result_dtype

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


# --------------------------------------------------------------------------------------
# Whole-array lowerings


def _matmul(g, eqn):
    x, y = eqn.inputs
    out = eqn.outputs[0]
    dt = out.aval.dtype
    if dt.kind not in "fc" or dt.itemsize < 4 or out.aval.size == 0 or x.aval.shape[-1] == 0:
        return _einsum_loops(g, eqn, _matmul_spec(x.aval.ndim, y.aval.ndim, out.aval.ndim))
    # BLAS ?gemm called directly (backend/nbrt.py): one small intrinsic whatever the operands'
    # layouts, where np.dot costs 0.5-1 s of Numba compile per layout signature.
    a, b = g.arr(x, dt), g.arr(y, dt)
    o = g.name(out)
    g.alloc(out, dtype=dt)
    g.contiguous.add(out)
    g.owned.add(out)
    if x.aval.ndim == 2 and y.aval.ndim == 2:
        B = _weighted_gram(g, x, y, dt)
        if B is not None:
            _gram_upper(g, g.arr(B), b, o, g.sizes_of(out.aval.shape[:1], [[(out, 0)]])[0].py())
            return
        # A copy (astype) or a known-contiguous value suits BLAS: no fallback to compile.
        safe = all(a.aval.dtype != dt or a in g.contiguous for a in (x, y))
        _gemm(g, a, b, o, safe)
        return
    # Batched: a loop over the (broadcast) batch axes, one BLAS call per matrix.
    batch = out.aval.shape[:-2]
    nb = len(batch)
    idx = [f"b{k}" for k in range(nb)]
    for k in range(nb):
        g.emit(f"for b{k} in range({g.dim(batch[k])}):")
        g.indent += 1

    def sub(v, name):
        off = nb - (v.aval.ndim - 2)
        parts = ["0" if n == 1 else idx[off + j] for j, n in enumerate(v.aval.shape[:-2])]
        return f"{name}[{', '.join(parts)}]" if parts else name

    _gemm(g, sub(x, a), sub(y, b), f"{o}[{', '.join(idx)}]", False)
    g.indent -= nb


def _weighted_gram(g, x, y, dt):
    """``B`` if ``x @ y`` is ``B.T @ (B * v)``, ``v`` a column ``(n, 1)`` or a scalar (the
    Hessian of a loss summed over the rows of ``B``: ``X.T @ (X * s[:, None])``): a symmetric
    product. ``B`` must be one the program does not write over (not one of its own arrays)."""
    tx, my = g.producers.get(x), g.producers.get(y)
    if (tx is None or my is None or tx.prim is not sh.transpose_p or my.prim is not ew.mul_p
            or tuple(tx.params["permutation"]) != (1, 0)):
        return None
    B = tx.inputs[0]
    u, v = my.inputs
    w = v if u is B else u if v is B else None
    if (type(B) is not Var or w is None or B in g.owned or B.aval.dtype != dt or w.aval.dtype != dt
            or w.aval.shape not in ((), (1,), (1, 1), (B.aval.shape[0], 1))):
        return None
    return B


def _gram_upper(g, B: str, M: str, o: str, d: str) -> None:
    """``o = B.T @ M`` for ``M = B * v`` (v a column): the column blocks ``o[:j1, j0:j1]``
    of the upper triangle by GEMM, then the lower triangle mirrored, exactly symmetric. With
    ``k = min(4, d // 32)`` blocks (none below 64 columns) the arithmetic is ``(k + 1) / 2k`` of
    the full product's: 0.67 at d = 100, where OpenBLAS (one thread) took 0.82 of the time."""
    j0, j1, nb, bs = (g.fresh(s) for s in ("j0_", "j1_", "nb", "bs"))
    g.emit(f"{nb} = max(1, min(4, {d} // 32))")
    g.emit(f"{bs} = ({d} + {nb} - 1) // {nb}")
    g.emit(f"for {j0} in range(0, {d}, {bs}):")
    g.indent += 1
    g.emit(f"{j1} = min({d}, {j0} + {bs})")
    _gemm(g, f"{B}[:, :{j1}].T", f"{M}[:, {j0}:{j1}]", f"{o}[:{j1}, {j0}:{j1}]", False)
    g.indent -= 1
    r, c = g.fresh("r"), g.fresh("c")
    g.emit(f"for {r} in range(1, {d}):")
    g.emit(f"    for {c} in range({r}):")
    g.emit(f"        {o}[{r}, {c}] = {o}[{c}, {r}]")


def _any(x: str) -> str:
    """An operand of an nbrt helper, as any layout: one compile of the helper per dtype and
    rank, not per layout (nbrt.any_layout)."""
    return f"_nb.any_layout({x})"


def _gemm(g, a: str, b: str, o: str, safe: bool) -> None:
    """``o[...] = a @ b`` through BLAS. Operands BLAS cannot take as they are (a strided
    slice, a broadcast view) are copied first, by ``_nb.matmul_into``: emitted only where an
    operand is not known to be contiguous, as it costs ~0.3 s of Numba compile per layout."""
    if safe:
        # Sizes beyond BLAS's integer (32 bits with SciPy's) are the only way gemm can refuse
        # these operands.
        g.emit(f"if not _nb.gemm({a}, {b}, {o}):")
        g.emit("    raise ValueError('funcad.jit: a matrix size exceeds the 32-bit integers "
               "of the BLAS in use')")
    else:
        g.emit(f"if not _nb.gemm({a}, {b}, {o}):")
        g.emit(f"    _nb.matmul_into({_any(a)}, {_any(b)}, {_any(o)})")


def _matmul_spec(nx, ny, no):
    letters = "abcdefgh"
    bo = letters[: no - 2]
    bx, by = bo[len(bo) - (nx - 2):], bo[len(bo) - (ny - 2):]
    return f"{bx}ij,{by}jk->{bo}ik"


def _einsum(g, eqn):
    _einsum_loops(g, eqn, eqn.params["spec"])


def _einsum_loops(g, eqn, spec):
    """An explicit loop nest over every index letter: out[...] += prod(operands[...])."""
    ins, out_sub = spec.split("->")
    subs = ins.split(",")
    out = eqn.outputs[0]
    dt = out.aval.dtype
    sizes, keys = {}, {}
    for s, a in zip(subs + [out_sub], eqn.inputs + [out]):
        for j, (c, n) in enumerate(zip(s, a.aval.shape)):
            sizes.setdefault(c, n)
            if type(a) is Var and n != 1:
                keys.setdefault(c, []).append((a, j))
    g.alloc(out, Const(0, dt), dtype=dt)
    letters = [c for c in dict.fromkeys(out_sub + "".join(subs)) if sizes[c] != 1]
    lv = {c: g.loop_var() for c in letters}
    n = dict(zip(letters, g.sizes_of([sizes[c] for c in letters], [keys[c] for c in letters])))

    def at(a, s):
        if type(a) is Literal:
            return Const(a.val, a.aval.dtype)
        return Load(g.array(a), tuple(0 if n == 1 else lv[c] for c, n in zip(s, a.aval.shape)))

    prod = Const(1, dt)
    for k, (s, a) in enumerate(zip(subs, eqn.inputs)):
        x = cast(at(a, s), dt)
        prod = x if k == 0 else Bin("*", prod, x)
    stmt = Store(g.array(out), at(out, out_sub).index, prod, aug="+")
    for c in reversed(letters):
        stmt = Loop(lv[c], n[c], [stmt])
    g.add(stmt)


def _reshape(g, eqn):
    x, out = eqn.inputs[0], eqn.outputs[0]
    g.emit(f"{g.name(out)} = np.ascontiguousarray({g.arr(x)}).reshape({g.dims_of(out)})")
    g.alias(out, x)
    g.contiguous.add(out)


def _transpose(g, eqn):
    x, out = eqn.inputs[0], eqn.outputs[0]
    perm = eqn.params["permutation"]
    # x.T is a view Numba types as F-layout (cheap to compile, taken as is by BLAS);
    # x.transpose(perm) compiles very slowly, so other ranks are loops (fusion.is_remap_eqn).
    assert tuple(perm) == (1, 0), "only 2-D transposes are lowered on their own"
    g.emit(f"{g.name(out)} = {g.arr(x)}.T")
    g.alias(out, x)
    if x in g.contiguous:
        g.contiguous.add(out)


def _concatenate(g, eqn):
    out = eqn.outputs[0]
    dt = out.aval.dtype
    parts = [g.arr(a, dt) for a in eqn.inputs if a.aval.size or True]
    g.emit(f"{g.name(out)} = np.concatenate(({', '.join(parts)},), axis={eqn.params['axis']})")


def _index(g, eqn):
    template = eqn.params["template"]
    if not sh._is_basic(template):
        return lower_via_numpy(g, eqn)
    x, out = eqn.inputs[0], eqn.outputs[0]
    expr = _basic_index(g, x, template)
    o = g.name(out)
    if out.aval.ndim == 0:  # Numba returns a scalar for a full integer index
        g.alloc(out)
        g.emit(f"{o}[()] = {expr}")
    else:
        g.emit(f"{o} = {expr}")
        g.alias(out, x)


def _index_add(g, eqn):
    """``x`` with ``updates`` added at a basic index (no index repeats: a loop over the
    view), as the transpose of a slice is in an LSTM's gradient; others through NumPy."""
    x, u = eqn.inputs[:2]
    out, template = eqn.outputs[0], eqn.params["template"]
    if (len(eqn.inputs) > 2 or not sh._is_basic(template) or type(u) is not Var
            or u.aval.dtype != out.aval.dtype or x.aval.dtype != out.aval.dtype
            or tuple(u.aval.shape) != tuple(sh._index_shape(x.aval.shape, template, ()))):
        return lower_via_numpy(g, eqn)
    o, w = g.name(out), g.fresh("w")
    g.emit(f"{o} = {g.arr(x)}.copy()")
    g.contiguous.add(out)
    if not u.aval.ndim:  # one element (a scalar parameter's gradient: theta[2])
        g.emit(f"{_basic_index(g, out, template)} += {g.name(u)}[()]")
        return
    g.emit(f"{w} = {_basic_index(g, out, template)}")
    idx = [g.fresh("i") for _ in u.aval.shape]
    for i, n in zip(idx, u.aval.shape):
        g.emit(f"for {i} in range({g.dim(n)}):")
        g.indent += 1
    g.emit(f"{w}[{', '.join(idx)}] += {g.name(u)}[{', '.join(idx)}]")
    g.indent -= len(idx)


def _basic_index(g, x, template) -> str:
    consumed = sum(1 for t in template if t is not None and t is not Ellipsis)
    parts = []
    for t in template:
        if t is None:
            parts.append("None")
        elif t is Ellipsis:
            parts.extend([":"] * (x.aval.ndim - consumed))
        elif t[0] == "slice":
            parts.append(":".join("" if v is None else str(int(v)) for v in t[1:4]))
        else:
            parts.append(str(int(t[1])))
    if Ellipsis not in template:
        parts.extend([":"] * (x.aval.ndim - consumed))
    return f"{g.arr(x)}[{', '.join(parts)}]" if parts else f"{g.arr(x)}[()]"


def _float_kind(dt) -> bool:
    return np.dtype(dt) in (np.dtype(np.float32), np.dtype(np.float64))


def _solve(g, eqn):
    a, b = eqn.inputs
    out = eqn.outputs[0]
    dt = out.aval.dtype
    if not _float_kind(dt):
        return lower_via_numpy(g, eqn)
    if a.aval.ndim == b.aval.ndim == 2:
        # LAPACK ?gesv through backend/nbrt.py (np.linalg.solve costs 2-5 s of Numba compile).
        g.emit(f"{g.name(out)} = _nb.solve({_any(g.arr(a, dt))}, {_any(g.arr(b, dt))})")
    elif out.aval.ndim == 3 and a.aval.ndim in (2, 3) and b.aval.ndim in (2, 3):
        # A stack (vmap): per-matrix loops for small n, ?gesv per matrix above
        # (nbrt.SOLVE_SMALL_N). A 2-D operand (inv's identity) is one matrix for the whole
        # stack: batch size 1. Other ranks (nested vmap) call NumPy.
        ea, eb = (g.arr(x, dt) + ("[None]" if x.aval.ndim == 2 else "") for x in (a, b))
        g.emit(f"{g.name(out)} = _nb.solve_batched({_any(ea)}, {_any(eb)})")
        g.contiguous.add(out)
    else:
        lower_via_numpy(g, eqn)


def _cholesky(g, eqn):
    (a,), out = eqn.inputs, eqn.outputs[0]
    if not _float_kind(out.aval.dtype) or a.aval.dtype != out.aval.dtype or a.aval.ndim != 3:
        return lower_via_numpy(g, eqn)
    # A stack (vmap): per-matrix loops for small n, ?potrf per matrix above
    # (nbrt.CHOLESKY_SMALL_N). A single matrix or other ranks call NumPy.
    g.emit(f"{g.name(out)} = _nb.cholesky_batched({_any(g.arr(a))})")
    g.contiguous.add(out)


def _symmetrize(g, eqn):
    (a,), out = eqn.inputs, eqn.outputs[0]
    dt = out.aval.dtype
    if out.aval.ndim != 2 or not _float_kind(dt) or type(a) is not Var:
        return lower_via_numpy(g, eqn)
    if a in g.owned and g.uses[a] == 1 and a not in g.may_alias_input:
        # nothing else reads ``a``, an array of the program's own: written over
        g.emit(f"_nb.symmetrize_into({g.name(a)}, {g.name(a)})")
        g.names[out] = g.name(a)
    else:
        g.alloc(out, dtype=dt)
        g.emit(f"_nb.symmetrize_into({_any(g.arr(a))}, {g.name(out)})")
    g.contiguous.add(out)
    g.owned.add(out)


def _full(g, eqn):
    out = eqn.outputs[0]
    g.alloc(out, Const(eqn.params["fill_value"], out.aval.dtype))
    g.contiguous.add(out)


def lower_via_numpy(g, eqn):
    """Call the primitive's NumPy implementation from the compiled program (numba.objmode)."""
    key = register_call(eqn.prim, eqn.params, [v.aval.dtype for v in eqn.outputs])
    tmps = [g.fresh("t") for _ in eqn.outputs]
    types = ", ".join(f"{t}='{_numba_type(v.aval.dtype)}[::1]'" for t, v in zip(tmps, eqn.outputs))
    args = ", ".join(g.arr(a) for a in eqn.inputs)
    g.emit(f"with numba.objmode({types}):")
    lhs = ", ".join(tmps) + ("," if len(tmps) == 1 else "")
    g.emit(f"    {lhs} = _rt.call({key!r}, {args})")
    for t, v in zip(tmps, eqn.outputs):
        g.emit(f"{g.name(v)} = {t}.reshape({g.dims_of(v)})")


def _numba_type(dtype) -> str:
    dtype = np.dtype(dtype)
    return "bool_" if dtype.kind == "b" else dtype.name


def register_call(prim, params, dtypes) -> str:
    """A stable name for ``prim`` with ``params`` (the same in every process)."""
    text = prim.name + ":" + repr(sorted((k, _param_text(v)) for k, v in params.items()))
    text += repr([np.dtype(d).str for d in dtypes])
    key = f"{prim.name}:{hashlib.sha1(text.encode()).hexdigest()[:16]}"
    runtime.CALLS[key] = (prim, params, [np.dtype(d) for d in dtypes])
    return key


def _param_text(v):
    from ..jaxpr import ClosedJaxpr, Jaxpr

    if isinstance(v, Jaxpr):
        return pp_jaxpr(v)
    if isinstance(v, ClosedJaxpr):
        return pp_jaxpr(v.jaxpr) + repr([np.asarray(c).tobytes() for c in v.consts])
    if isinstance(v, np.ndarray):
        return ("ndarray", v.dtype.str, v.shape, v.tobytes())
    return repr(v)


LOWERINGS: dict = {
    la.matmul_p: _matmul,
    la.einsum_p: _einsum,
    la.solve_p: _solve,
    sh.reshape_p: _reshape,
    sh.transpose_p: _transpose,  # 2-D; others are fused loops (SCALAR)
    sh.concatenate_p: _concatenate,
    sh.index_p: _index,
    sh.index_add_p: _index_add,  # a basic index; repeated indices (np.add.at) through NumPy
    sh.full_p: _full,
    # Reductions are fused into kernels (fusion.py); only a Literal's stands alone.
    red.reduce_sum_p: lower_via_numpy, red.reduce_prod_p: lower_via_numpy,
    red.reduce_max_p: lower_via_numpy, red.reduce_min_p: lower_via_numpy,
}


def register_lowering(prim, rule) -> None:
    """Lower ``prim`` with ``rule(g, eqn)``. Primitives defined above the backend register
    theirs next to their other rules, as JAX's ``mlir.register_lowering``: cond, while and
    scan (lax/control.py: native branches and loops), custom_jvp/vjp and checkpoint
    (custom_derivatives.py: inline calls), debug.print (debug.py: a call into Python)."""
    LOWERINGS[prim] = rule


# The other families. Scalar forms where Numba has one (math.erf...); the rest
# (decompositions, sorting, cumulative ops, special functions without a Numba form) call
# their NumPy/SciPy implementation: keyed by primitive like every rule here, so the test that
# every primitive has a lowering notices a new one rather than it falling back silently.
SCALAR.update({
    sp.erf_p: lambda a, eqn: Call("math.erf", a, _dt(eqn)),
    sp.erfc_p: lambda a, eqn: Call("math.erfc", a, _dt(eqn)),
    sp.gammaln_p: lambda a, eqn: Call("math.lgamma", a, _dt(eqn)),
    sp.fmod_p: _int_division("fmod"),
    sp.mod_p: _int_division("mod"),
    sp.floor_divide_p: _int_division("floor_divide"),
})
LOWERINGS[dec.cholesky_p] = _cholesky  # stacks; otherwise lower_via_numpy
LOWERINGS[la.symmetrize_p] = _symmetrize  # in place where it can; stacks: NumPy
for _p in (sp.polygamma_p, sp.log_ndtr_p, sp.ndtri_p, sp.erfinv_p, sp.i0e_p, sp.i1e_p,
           sp.gammainc_p, sp.gammaincc_p, sp.betainc_p, sp.zeta_p,
           cum.cumsum_p, cum.cumprod_p, cum.linear_recurrence_p,
           dec.triangular_solve_p, dec.eigh_p, dec.qr_p, dec.svd_p, dec.det_p, dec.slogdet_p,
           dec.pinv_p, dec.lu_p, sc.index_set_p, so.sort_p, so.argsort_p, so.argmax_p, so.argmin_p):
    LOWERINGS[_p] = lower_via_numpy


def _threefry(g, eqn):
    outs = [g.name(v) for v in eqn.outputs]
    g.emit(f"{outs[0]}, {outs[1]} = _nb.threefry2x32({', '.join(g.arr(a) for a in eqn.inputs)})")
    for o, v in zip(outs, eqn.outputs):
        g.emit(f"{o} = {o}.reshape({g.dims_of(v)})")


def _random_draw(g, eqn):  # one loop (parallel when large), backend/nbrandom.py
    out = eqn.outputs[0]
    k0, k1 = (f"np.ascontiguousarray({g.arr(a)}).reshape(-1)" for a in eqn.inputs)
    o = g.name(out)
    g.alloc(out)
    g.emit(f"_rnd.draw_{eqn.params['kind']}({k0}, {k1}, {o}.reshape(-1))")
    g.contiguous.add(out)


def _random_gamma(g, eqn):  # JAX's rejection sampler per element, backend/nbrandom.py
    out = eqn.outputs[0]
    k0, k1 = (f"np.ascontiguousarray({g.arr(a)}).reshape(-1)" for a in eqn.inputs[:2])
    a = f"np.ascontiguousarray({g.arr(eqn.inputs[2], np.float64)}).reshape(-1)"
    o = g.name(out)
    g.alloc(out, dtype=np.float64)
    kind = "loggamma" if eqn.params.get("log_space") else "gamma"
    g.emit(f"_rnd.draw_{kind}({k0}, {k1}, {a}, {o}.reshape(-1))")
    if out.aval.dtype != np.float64:
        g.emit(f"{o} = {o}.astype(np.{out.aval.dtype.name})")
    g.contiguous.add(out)


def _random_poisson(g, eqn):  # JAX's Knuth / rejection loops per element, backend/nbrandom.py
    out = eqn.outputs[0]
    k0, k1 = (f"np.ascontiguousarray({g.arr(a)}).reshape(-1)" for a in eqn.inputs[:2])
    lam = f"np.ascontiguousarray({g.arr(eqn.inputs[2], np.float32)}).reshape(-1)"
    o = g.name(out)
    bounds = ", ".join(repr(b) for b in rnd.poisson_bounds(out.aval.dtype))
    g.alloc(out, dtype=np.int64)  # the dtype's values as int64 bits
    g.emit(f"_rnd.draw_poisson({k0}, {k1}, {lam}, {o}.reshape(-1), {bounds})")
    if out.aval.dtype != np.int64:
        g.emit(f"{o} = {o}.astype(np.{out.aval.dtype.name})")
    g.contiguous.add(out)


LOWERINGS[rnd.threefry2x32_p] = _threefry
LOWERINGS[rnd.random_gamma_p] = _random_gamma
LOWERINGS[rnd.random_draw_p] = _random_draw
LOWERINGS[rnd.random_gamma_grad_p] = lower_via_numpy
LOWERINGS[rnd.random_poisson_p] = _random_poisson
SCALAR[rnd.fma_p] = lambda a, eqn: Call("_rnd.fma", a, _dt(eqn))
SCALAR[rnd.nextafter_p] = lambda a, eqn: Call("np.nextafter", a, _dt(eqn))
SCALAR[rnd.xla_erf_p] = lambda a, eqn: Call("_rnd.xla_erf", a, _dt(eqn))
SCALAR[rnd.xla_erf_inv_p] = lambda a, eqn: Call("_rnd.xla_erf_inv", a, _dt(eqn))
SCALAR[rnd.xla_exp_p] = lambda a, eqn: (  # float32: XLA's float64 exp, rounded
    Call("_rnd.xla_exp", a, _dt(eqn)) if _dt(eqn) == np.float64
    else Cast(Call("_rnd.xla_exp", [Cast(a[0], np.dtype(np.float64))], np.dtype(np.float64)), _dt(eqn)))


def has_lowering(prim) -> bool:
    return prim in SCALAR or prim in LOWERINGS
