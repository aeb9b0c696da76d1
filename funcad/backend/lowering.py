"""The Numba lowering of each primitive: two tables keyed by primitive.

* :data:`SCALAR` - elementwise primitives: ``rule(args, eqn) -> str``, a scalar expression
  in the operands' (already cast) scalar expressions. These are inlined into the loop
  nests of fused kernels (codegen.py).
* :data:`LOWERINGS` - every other primitive: ``rule(g, eqn)`` emits the source lines that
  compute the equation's outputs as arrays (``g`` is the code generator: ``g.arr(atom)``
  names an operand array, ``g.name(var)`` an output, ``g.dims(shape)`` a shape whose sizes
  are read at run time, ``g.emit(line)``).

A primitive without a good loop form calls its NumPy implementation inside the compiled
program (:func:`lower_via_numpy`: a ``numba.objmode`` block), which is exact but costs a
few microseconds per call. This module imports nothing from Numba: it only writes source.
"""

from __future__ import annotations

import hashlib

import numpy as np

from ..jaxpr import pp_jaxpr
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

# --------------------------------------------------------------------------------------
# Scalar literals and casts


def literal(val, dtype) -> str:
    """A scalar of ``dtype`` as Numba source: ``np.float32(0.5)``, ``np.inf``, ``True``."""
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        return "True" if bool(val) else "False"
    if dtype.kind == "f":
        return f"np.{dtype.name}({_float_source(float(val))})"
    if dtype.kind in "iu":
        return f"np.{dtype.name}({int(val)})"
    if dtype.kind == "c":
        v = complex(val)
        return f"np.{dtype.name}(complex({_float_source(v.real)}, {_float_source(v.imag)}))"
    raise TypeError(f"funcad.jit: no scalar literal of dtype {dtype}")


def _float_source(v: float) -> str:
    return "np.nan" if v != v else ("np.inf" if v == np.inf else "-np.inf" if v == -np.inf else repr(v))


def cast(expr: str, src, dst) -> str:
    src, dst = np.dtype(src), np.dtype(dst)
    if src == dst:
        return expr
    if dst.kind == "b":
        return f"({expr} != 0)"
    if src.kind == "c" and dst.kind != "c":  # NumPy's cast keeps the real part
        expr = f"({expr}).real"
    return f"np.{dst.name}({expr})"


# --------------------------------------------------------------------------------------
# Elementwise: scalar expressions


def _call(fn):
    return lambda a, eqn: f"np.{fn}({', '.join(a)})"


# The functions backend/vecmath.py provides (its FUNCTIONS): on float32/float64 operands they
# are called as ``_vm.<name>``, which LLVM's loop vectorizer can widen (libmvec).
VECTOR_MATH = frozenset((
    "exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sin", "cos", "tan", "arcsin",
    "arccos", "arctan", "sinh", "cosh", "tanh", "arcsinh", "arccosh", "arctanh", "cbrt",
    "arctan2", "hypot", "power"))
_VECTOR_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _math_module(dtype) -> str:
    """Where a math function of ``dtype`` values is called from: ``_vm`` (vecmath) or ``np``."""
    return "_vm" if np.dtype(dtype) in _VECTOR_DTYPES else "np"


def _math(fn):
    """A math function: ``_vm.<fn>`` when every operand is computed in one float dtype."""
    def rule(a, eqn):
        dts = {np.dtype(d) for d in compute_dtypes(eqn)}
        out = eqn.outputs[0].aval.dtype
        module = _math_module(out) if len(dts) == 1 and dts <= set(_VECTOR_DTYPES) else "np"
        return f"{module}.{fn}({', '.join(a)})"

    return rule


def _op(sym):
    return lambda a, eqn: f"({a[0]} {sym} {a[1]})"


def lex_compare(x: str, y: str, sym: str) -> str:
    """``x < y`` (``sym``: < <= > >=) of complex scalars in NumPy's lexicographic order (real
    parts first): Numba has no ordering of complex numbers."""
    strict = sym[0]
    return (f"({x}.real {strict} {y}.real or ({x}.real == {y}.real and {x}.imag {sym} {y}.imag))")


def _compare(sym):
    def rule(a, eqn):
        if np.dtype(compute_dtypes(eqn)[0]).kind == "c":
            return lex_compare(a[0], a[1], sym)
        return f"({a[0]} {sym} {a[1]})"

    return rule


def _integer_pow(a, eqn):
    y, x = eqn.params["y"], a[0]
    dt = eqn.outputs[0].aval.dtype
    if y == 0:
        return literal(1, dt)
    n = abs(y)
    body = "(" + " * ".join([x] * n) + ")" if n <= 4 else f"{_math_module(dt)}.power({x}, {literal(n, dt)})"
    return body if y > 0 else f"({literal(1, dt)} / {body})"


def _int_division(kind):
    """fmod, mod and floor_divide: on integers as NumPy computes them. Numba's own trap on
    ``MIN % -1`` and ``MIN // -1`` (SIGFPE: the hardware division overflows), and its
    ``np.fmod`` of negative integers is wrong (``fmod(-7, 2)`` gave 1, NumPy -1); NumPy gives
    0 for a zero divisor and MIN for ``MIN // -1``. Floats call NumPy's functions (``//``:
    Numba's float floor division is NumPy's algorithm, ``1.0 // 0.1 == 9.0``)."""
    def rule(a, eqn):
        (x, y), dt = a, np.dtype(compute_dtypes(eqn)[0])
        if dt.kind == "f":
            return f"({x} // {y})" if kind == "floor_divide" else f"np.{kind}({x}, {y})"
        z = literal(0, dt)
        if dt.kind == "u":
            return f"({z} if {y} == 0 else {x} {'//' if kind == 'floor_divide' else '%'} {y})"
        if kind == "floor_divide":
            return f"({z} if {y} == 0 else -{x} if {y} == -1 else {x} // {y})"
        if kind == "mod":  # Python's % on integers: the sign of y, as NumPy's remainder
            return f"({z} if {y} == 0 or {y} == -1 else {x} % {y})"
        # fmod: C's remainder, the sign of x: Python's (floor) remainder, less y where they differ
        return (f"({z} if {y} == 0 or {y} == -1 else {x} % {y} - "
                f"({y} if {x} % {y} != 0 and ({x} < 0) != ({y} < 0) else {z}))")

    return rule


def _sign(a, eqn):
    dt = eqn.outputs[0].aval.dtype
    if dt.kind == "c":  # NumPy 2's z / |z| (Numba's np.sign of complex is NumPy 1's)
        return f"({a[0]} / np.abs({a[0]}) if {a[0]} != 0 else {literal(0, dt)})"
    if dt.kind == "u":  # Numba's np.sign of an unsigned integer >= 2**(bits-1) gives -1 (wrapped)
        return f"({literal(1, dt)} if {a[0]} != 0 else {literal(0, dt)})"
    return f"np.sign({a[0]})"


def _pow(a, eqn):
    if np.dtype(compute_dtypes(eqn)[0]).kind in "iu":  # exact, wrapping, ValueError for y < 0
        return f"_nb.ipow({a[0]}, {a[1]})"
    return _math("power")(a, eqn)


def _logistic(a, eqn):
    one = literal(1, eqn.outputs[0].aval.dtype)
    return f"({one} / ({one} + {_math_module(eqn.outputs[0].aval.dtype)}.exp(-{a[0]})))"


def _logical(sym):
    def rule(a, eqn):
        x, y = (f"({v} != 0)" if e.aval.dtype.kind != "b" else v for v, e in zip(a, eqn.inputs))
        return f"({x} {sym} {y})"

    return rule


def _not(a, eqn):
    return f"({a[0]} == 0)" if eqn.inputs[0].aval.dtype.kind != "b" else f"(not {a[0]})"


SCALAR: dict = {
    ew.neg_p: lambda a, eqn: f"(-{a[0]})",
    ew.add_p: _op("+"), ew.sub_p: _op("-"), ew.mul_p: _op("*"), ew.div_p: _op("/"),
    ew.pow_p: _pow, ew.integer_pow_p: _integer_pow,
    ew.logistic_p: _logistic,
    ew.select_p: lambda a, eqn: f"({a[1]} if {a[0]} else {a[2]})",
    ew.eq_p: _op("=="), ew.ne_p: _op("!="), ew.lt_p: _compare("<"), ew.le_p: _compare("<="),
    ew.gt_p: _compare(">"), ew.ge_p: _compare(">="),
    ew.and_p: _logical("&"), ew.or_p: _logical("|"), ew.xor_p: _logical("^"), ew.not_p: _not,
    ew.round_p: _call("rint"),
    ew.max_p: _call("maximum"), ew.min_p: _call("minimum"),
    ew.convert_element_type_p: lambda a, eqn: cast(a[0], eqn.inputs[0].aval.dtype, eqn.params["new_dtype"]),
    ew.stop_gradient_p: lambda a, eqn: a[0],
    sh.broadcast_to_p: lambda a, eqn: a[0],  # the operand is read with broadcasting
    sh.full_p: lambda a, eqn: literal(eqn.params["fill_value"], eqn.params["dtype"]),
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
SCALAR[ew.real_p] = lambda a, eqn: f"({a[0]}).real"
SCALAR[ew.imag_p] = lambda a, eqn: f"({a[0]}).imag"
SCALAR[ew.conj_p] = lambda a, eqn: f"({a[0]}).conjugate()"
SCALAR[ew.complex_p] = lambda a, eqn: \
    f"np.{eqn.outputs[0].aval.dtype.name}(complex({a[0]}, {a[1]}))"


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
    if dt.kind != "f" or out.aval.size == 0 or x.aval.shape[-1] == 0:
        return _einsum_loops(g, eqn, _matmul_spec(x.aval.ndim, y.aval.ndim, out.aval.ndim))
    # BLAS ?gemm called directly (backend/nbrt.py): one small intrinsic whatever the operands'
    # layouts, where np.dot costs 0.5-1 s of Numba compile per layout signature.
    a, b = g.arr(x, dt), g.arr(y, dt)
    o = g.name(out)
    g.emit(f"{o} = _nb.empty({g.dims(out.aval.shape)}, np.{dt.name})")
    g.contiguous.add(out)
    if x.aval.ndim == 2 and y.aval.ndim == 2:
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


def _gemm(g, a: str, b: str, o: str, safe: bool) -> None:
    """``o[...] = a @ b`` through BLAS. Operands BLAS cannot take as they are (a strided
    slice, a broadcast view) are copied first, by ``_nb.matmul_into``: emitted only where an
    operand is not known to be contiguous, as it costs ~0.3 s of Numba compile per layout."""
    if safe:
        # Sizes beyond BLAS's integer (32 bits with SciPy's) are the only way gemm can refuse
        # these operands.
        g.emit(f"if not _nb.gemm({a}, {b}, {o}):")
        g.emit("    raise ValueError('funcad.jit: a matrix size exceeds the 32-bit integers of the BLAS in use')")
    else:
        g.emit(f"if not _nb.gemm({a}, {b}, {o}):")
        g.emit(f"    _nb.matmul_into({a}, {b}, {o})")


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
    sizes = {}
    for s, a in zip(subs, eqn.inputs):
        for c, n in zip(s, a.aval.shape):
            sizes.setdefault(c, (a, s.index(c), n))
    names = [g.arr(a) for a in eqn.inputs]
    o = g.name(out)
    g.emit(f"{o} = _nb.full({g.dims(out.aval.shape)}, {literal(0, dt)}, np.{dt.name})")
    letters = list(dict.fromkeys(out_sub + "".join(subs)))
    for c in letters:
        a, axis, n = sizes[c]
        g.emit(f"for i_{c} in range({g.dim(n)}):")
        g.indent += 1

    def at(name, s, a):
        parts = ["0" if n == 1 else f"i_{c}" for c, n in zip(s, a.aval.shape)]
        return f"{name}[{', '.join(parts)}]" if parts else f"{name}[()]"

    prod = " * ".join(cast(at(n, s, a), a.aval.dtype, dt) for n, s, a in zip(names, subs, eqn.inputs))
    g.emit(f"{at(o, out_sub, out)} += {prod or literal(1, dt)}")
    g.indent -= len(letters)


def _reshape(g, eqn):
    x, out = eqn.inputs[0], eqn.outputs[0]
    g.emit(f"{g.name(out)} = np.ascontiguousarray({g.arr(x)}).reshape({g.dims(out.aval.shape)})")
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
    expr = f"{g.arr(x)}[{', '.join(parts)}]" if parts else f"{g.arr(x)}[()]"
    o = g.name(out)
    if out.aval.ndim == 0:  # Numba returns a scalar for a full integer index
        g.emit(f"{o} = _nb.empty((), np.{out.aval.dtype.name})")
        g.emit(f"{o}[()] = {expr}")
    else:
        g.emit(f"{o} = {expr}")
        g.alias(out, x)


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
        g.emit(f"{g.name(out)} = _nb.solve({g.arr(a, dt)}, {g.arr(b, dt)})")
    elif out.aval.ndim == 3 and a.aval.ndim in (2, 3) and b.aval.ndim in (2, 3):
        # A stack (vmap): per-matrix loops for small n, ?gesv per matrix above
        # (nbrt.SOLVE_SMALL_N). A 2-D operand (inv's identity) is one matrix for the whole
        # stack: batch size 1. Other ranks (nested vmap) call NumPy.
        ea, eb = (g.arr(x, dt) + ("[None]" if x.aval.ndim == 2 else "") for x in (a, b))
        g.emit(f"{g.name(out)} = _nb.solve_batched({ea}, {eb})")
        g.contiguous.add(out)
    else:
        lower_via_numpy(g, eqn)


def _cholesky(g, eqn):
    (a,), out = eqn.inputs, eqn.outputs[0]
    if not _float_kind(out.aval.dtype) or a.aval.dtype != out.aval.dtype or a.aval.ndim != 3:
        return lower_via_numpy(g, eqn)
    # A stack (vmap): per-matrix loops for small n, ?potrf per matrix above
    # (nbrt.CHOLESKY_SMALL_N). A single matrix or other ranks call NumPy.
    g.emit(f"{g.name(out)} = _nb.cholesky_batched({g.arr(a)})")
    g.contiguous.add(out)


def _full(g, eqn):
    out = eqn.outputs[0]
    g.emit(f"{g.name(out)} = _nb.full({g.dims(out.aval.shape)}, "
           f"{literal(eqn.params['fill_value'], out.aval.dtype)}, np.{out.aval.dtype.name})")
    g.contiguous.add(out)


def _reduction(kind):
    def rule(g, eqn):
        # Normally fused into a kernel by fusion.py; this is the stand-alone form.
        x, out = eqn.inputs[0], eqn.outputs[0]
        fn = {"sum": "np.sum", "prod": "np.prod", "max": "np.max", "min": "np.min"}[kind]
        if out.aval.ndim == 0 and not eqn.params["axes"] == ():
            g.emit(f"{g.name(out)} = _nb.empty((), np.{out.aval.dtype.name})")
            g.emit(f"{g.name(out)}[()] = {fn}({g.arr(x)})")
        else:
            lower_via_numpy(g, eqn)

    return rule


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
        g.emit(f"{g.name(v)} = {t}.reshape({g.dims(v.aval.shape)})")


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
    sh.index_add_p: lower_via_numpy,  # scatter-add with repeated indices: np.add.at semantics
    sh.full_p: _full,
    red.reduce_sum_p: _reduction("sum"),
    red.reduce_prod_p: _reduction("prod"),
    red.reduce_max_p: _reduction("max"),
    red.reduce_min_p: _reduction("min"),
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
    sp.erf_p: lambda a, eqn: f"math.erf({a[0]})",
    sp.erfc_p: lambda a, eqn: f"math.erfc({a[0]})",
    sp.gammaln_p: lambda a, eqn: f"math.lgamma({a[0]})",
    sp.fmod_p: _int_division("fmod"),
    sp.mod_p: _int_division("mod"),
    sp.floor_divide_p: _int_division("floor_divide"),
})
LOWERINGS[dec.cholesky_p] = _cholesky  # stacks; otherwise lower_via_numpy
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
        g.emit(f"{o} = {o}.reshape({g.dims(v.aval.shape)})")


def _random_draw(g, eqn):  # one loop (parallel when large), backend/nbrandom.py
    out = eqn.outputs[0]
    k0, k1 = (f"np.ascontiguousarray({g.arr(a)}).reshape(-1)" for a in eqn.inputs)
    o = g.name(out)
    g.emit(f"{o} = _nb.empty({g.dims(out.aval.shape)}, np.{out.aval.dtype.name})")
    g.emit(f"_nb.rnd.draw_{eqn.params['kind']}({k0}, {k1}, {o}.reshape(-1))")
    g.contiguous.add(out)


def _random_gamma(g, eqn):  # JAX's rejection sampler per element, backend/nbrandom.py
    out = eqn.outputs[0]
    k0, k1 = (f"np.ascontiguousarray({g.arr(a)}).reshape(-1)" for a in eqn.inputs[:2])
    a = f"np.ascontiguousarray({g.arr(eqn.inputs[2], np.float64)}).reshape(-1)"
    o = g.name(out)
    g.emit(f"{o} = _nb.empty({g.dims(out.aval.shape)}, np.float64)")
    g.emit(f"_nb.rnd.draw_gamma({k0}, {k1}, {a}, {o}.reshape(-1))")
    if out.aval.dtype != np.float64:
        g.emit(f"{o} = {o}.astype(np.{out.aval.dtype.name})")
    g.contiguous.add(out)


LOWERINGS[rnd.threefry2x32_p] = _threefry
LOWERINGS[rnd.random_gamma_p] = _random_gamma
LOWERINGS[rnd.random_draw_p] = _random_draw
LOWERINGS[rnd.random_gamma_grad_p] = lower_via_numpy
LOWERINGS[rnd.poisson_icdf_p] = lower_via_numpy


def has_lowering(prim) -> bool:
    return prim in SCALAR or prim in LOWERINGS
