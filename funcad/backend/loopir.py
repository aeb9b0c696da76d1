"""The loop IR: fused kernels' loop nests as data, written as LLVM IR (and shown as text).

codegen.py builds fused kernels as these nodes, straight from the fused jaxpr: loops over
named sizes, loads and stores of array elements at loop indices, assignments to scalar
locals, and scalar expressions (constants, arithmetic, comparisons, conditional
expressions, casts, math calls). Every expression knows its dtype.

* :class:`LLVM` writes every statement :func:`printable` accepts (any dtype but float16)
  through llvmlite, for the table backend (backend/table.py). Its semantics are NumPy's
  (see the class): IEEE float arithmetic, ordered comparisons (``!=`` unordered), bools
  stored as bytes, vector math routines (``_vm.*``, backend/vecmath.py).
* :func:`lines` prints a statement as Python-like text: a kernel's identity in the table's
  deduplication and disk cache key, and what ``jit(f).lower(x).source`` shows.

This module imports llvmlite only when IR is written.
"""

from __future__ import annotations

import platform
import sys

import numpy as np

FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
# The functions backend/vecmath.py provides (its FUNCTIONS): on float32/float64 operands they
# are called as ``_vm.<name>``, which LLVM's loop vectorizer can widen (libmvec).
VECTOR_MATH = frozenset((
    "exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sin", "cos", "tan", "arcsin",
    "arccos", "arctan", "sinh", "cosh", "tanh", "arcsinh", "arccosh", "arctanh", "cbrt",
    "arctan2", "hypot", "power"))
BOOL, INT = np.dtype(bool), np.dtype(np.int64)


def literal(val, dtype) -> str:
    """A scalar of ``dtype`` as text: ``np.float32(0.5)``, ``np.inf``, ``True``."""
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


# --------------------------------------------------------------------------------------
# Nodes. Expressions carry ``dtype``; ``py()`` is their Python text. Plain classes with
# slots (dataclasses cost ~1 ms each to create, at every ``import funcad``).


class Node:
    """A loop IR node: its fields are its (and its bases') ``__slots__``, given in order or by
    name (the trailing ones may default, ``_defaults``); ``_kids`` names those holding nodes."""

    __slots__ = ()
    _fields: tuple = ()
    _defaults: dict = {}
    _kids: tuple = ()

    def __init_subclass__(cls):
        cls._fields = cls._fields + cls.__dict__.get("__slots__", ())

    def __init__(self, *args, **kwargs):
        names = self._fields
        for name, v in zip(names, args):
            setattr(self, name, v)
        for name in names[len(args):]:
            setattr(self, name, kwargs[name] if name in kwargs else self._defaults[name])

    def __repr__(self):
        return f"{type(self).__name__}({', '.join(repr(getattr(self, n)) for n in self._fields)})"


class Arr(Node):
    """An array of the program, by name (equal to another of the same name, dtype and rank)."""
    __slots__ = ("name", "dtype", "ndim")

    def _key(self):
        return self.name, self.dtype, self.ndim

    def __eq__(self, other):
        return type(other) is Arr and self._key() == other._key()

    def __hash__(self):
        return hash(self._key())


class Const(Node):
    __slots__ = ("value", "dtype", "bare")  # bare: a number of the other operand's dtype
    _defaults = {"bare": False}             # (printed ``0``, ``-np.inf``)

    def py(self):
        if not self.bare:
            return literal(self.value, self.dtype)
        v = float(self.value)
        return "np.inf" if v == np.inf else "-np.inf" if v == -np.inf else str(int(v))


class Local(Node):
    __slots__ = ("name", "dtype")

    def py(self):
        return self.name


class Size(Node):
    """The size in slot ``slot`` of the kernel's sizes, named ``name``."""
    __slots__ = ("slot", "name")
    dtype = INT

    def py(self):
        return self.name


class Load(Node):
    __slots__ = ("arr", "index")  # index, per axis: a loop variable (Local) or 0
    _kids = ("index",)
    dtype = property(lambda self: self.arr.dtype)

    def py(self):
        return self.arr.name + _index(self.index)


class Un(Node):
    __slots__ = ("op", "x")  # op: "-" or "not"
    _kids = ("x",)
    dtype = property(lambda self: BOOL if self.op == "not" else self.x.dtype)

    def py(self):
        return f"({self.op}{' ' if self.op == 'not' else ''}{self.x.py()})"


class Bin(Node):
    __slots__ = ("op", "x", "y")
    _kids = ("x", "y")
    dtype = property(lambda self: self.y.dtype if getattr(self.x, "bare", False) else self.x.dtype)

    def py(self):
        return f"({self.x.py()} {self.op} {self.y.py()})"


class Cmp(Bin):
    __slots__ = ()
    dtype = BOOL


class BoolOp(Node):
    __slots__ = ("op", "xs")  # op: "or" or "and"
    _kids = ("xs",)
    dtype = BOOL

    def py(self):
        return "(" + f" {self.op} ".join(x.py() for x in self.xs) + ")"


class Select(Node):
    __slots__ = ("cond", "x", "y")
    _kids = ("cond", "x", "y")
    dtype = property(lambda self: self.x.dtype)

    def py(self):
        return f"({self.x.py()} if {self.cond.py()} else {self.y.py()})"


class Call(Node):
    __slots__ = ("fn", "args", "dtype")  # fn as printed: "np.sqrt", "_vm.exp", "math.erf"...
    _kids = ("args",)

    def py(self):
        return f"{self.fn}({', '.join(a.py() for a in self.args)})"


class Cast(Node):
    __slots__ = ("x", "dtype")
    _kids = ("x",)

    def py(self):
        return f"np.{self.dtype.name}({self.x.py()})"


class Attr(Node):
    """``x.real``, ``x.imag`` or ``x.conjugate()`` of a complex value."""
    __slots__ = ("x", "attr")
    _kids = ("x",)

    @property
    def dtype(self):
        return self.x.dtype if self.attr == "conjugate()" else np.empty(0, self.x.dtype).real.dtype

    def py(self):
        return f"({self.x.py()}).{self.attr}"


def lex_compare(x, y, op: str):
    """``x op y`` (op: < <= > >=) of complex values in NumPy's lexicographic order (real parts
    first)."""
    xr, yr = Attr(x, "real"), Attr(y, "real")
    same = BoolOp("and", [Cmp("==", xr, yr), Cmp(op, Attr(x, "imag"), Attr(y, "imag"))])
    return BoolOp("or", [Cmp(op[0], xr, yr), same])


def cast(x, dst):
    """``x`` converted to ``dst`` (as NumPy's ``astype``)."""
    dst = np.dtype(dst)
    if x.dtype == dst:
        return x
    if isinstance(x, Const) and not x.bare:
        return Const(x.value, dst)
    if dst.kind == "b":
        return Cmp("!=", x, Const(0, x.dtype, bare=True))
    if x.dtype.kind == "c" and dst.kind != "c":  # NumPy's cast keeps the real part
        x = Attr(x, "real")
    return Cast(x, dst)


# Statements


class Assign(Node):
    __slots__ = ("target", "value")
    _kids = ("target", "value")


class Store(Node):
    __slots__ = ("arr", "index", "value", "aug")  # aug: "+" or "*" for ``a[i] += v``
    _defaults = {"aug": ""}
    _kids = ("index", "value")


class Loop(Node):
    __slots__ = ("var", "stop", "body", "start", "parallel")  # parallel: run on threads
    _defaults = {"start": None, "parallel": False}
    _kids = ("var", "stop", "body", "start")


class Alloc(Node):
    """A fresh array of the kernel's ``shape`` (size expressions), filled with ``fill`` (a
    Const) if given: the table backend gives it a region (and a fill loop)."""
    __slots__ = ("arr", "shape", "fill")
    _defaults = {"fill": None}
    _kids = ("shape", "fill")


def _index(index) -> str:
    if not index:
        return "[()]"
    return "[" + ", ".join(i.py() if isinstance(i, Local) else str(i) for i in index) + "]"


# --------------------------------------------------------------------------------------
# Printing text


def lines(s) -> list[str]:
    """Statement ``s`` as lines of Python-like text (indented by 4 spaces per level)."""
    t = type(s)
    if t is Assign:
        return [f"{s.target.py()} = {s.value.py()}"]
    if t is Store:
        return [f"{s.arr.name}{_index(s.index)} {s.aug}= {s.value.py()}"]
    if t is Loop:
        start = f"{s.start.py()}, " if s.start is not None else ""
        head = f"for {s.var.py()} in {'parallel_range' if s.parallel else 'range'}({start}{s.stop.py()}):"
        return [head] + ["    " + ln for b in s.body for ln in lines(b)]
    raise TypeError(f"no text for {t.__name__}")


# --------------------------------------------------------------------------------------
# Walking a tree of nodes


def walk(node):
    """``node`` and every node under it (its fields, lists and index tuples), in pre-order."""
    yield node
    for name in node._kids:
        v = getattr(node, name)
        for x in v if type(v) in (list, tuple) else (v,):
            if isinstance(x, Node):
                yield from walk(x)


# --------------------------------------------------------------------------------------
# Printing LLVM IR

_INTRINSICS = {"sqrt": "llvm.sqrt", "floor": "llvm.floor", "ceil": "llvm.ceil", "rint": "llvm.rint",
               "trunc": "llvm.trunc", "fma": "llvm.fma"}
_XLA = {"xla_erf": "erf", "xla_erf_inv": "erf_inv", "xla_exp": "exp64"}  # XLA's CPU math: xlamath.py
_ROUNDING = ("floor", "ceil", "rint", "trunc")
_LIBM = ("erf", "erfc", "lgamma", "nextafter")  # math.erf..., np.nextafter: libm's
# glibc's complex functions, which NumPy's loops call: NumPy's name -> C's
_CLIBM = {"exp": "cexp", "log": "clog", "sqrt": "csqrt", "sin": "csin", "cos": "ccos", "tan": "ctan",
          "sinh": "csinh", "cosh": "ccosh", "tanh": "ctanh", "arcsin": "casin", "arccos": "cacos",
          "arctan": "catan", "arcsinh": "casinh", "arccosh": "cacosh", "arctanh": "catanh"}
_SYSV = sys.platform.startswith("linux") and platform.machine() in ("x86_64", "AMD64")  # (clibm's ABI)
_LOGE2, _LOG2E, _LOG10E = 0.693147180559945309417, 1.442695040888963407360, 0.434294481903251827651


def _part(dt):
    """The float dtype of a complex dtype's parts."""
    return np.dtype(f"f{np.dtype(dt).itemsize // 2}")


def native(dt) -> bool:
    """Whether :class:`LLVM` has values of ``dt``: bools, integers, float32/64, complex64/128
    (not float16 or long doubles)."""
    dt = np.dtype(dt)
    return dt.kind in "biu" or dt.kind in "fc" and dt.itemsize // (1 + (dt.kind == "c")) in (4, 8)


def printable(s, parallel=False) -> bool:
    """Whether :class:`LLVM` writes statement ``s``: every node but text, parallel loops
    (unless ``parallel``: the caller runs them), values of dtypes not :func:`native` and a
    few calls (complex calls off x86-64 Linux)."""
    for n in walk(s):
        t = type(n)
        if t is Alloc or t is Loop and n.parallel and not parallel:
            return False
        dt = getattr(n, "dtype", None)
        if dt is not None and not native(dt):
            return False
        if t is Assign and n.target.dtype != n.value.dtype or \
                t is Store and (n.value.dtype != n.arr.dtype or n.aug and n.arr.dtype == BOOL):
            return False
        if t is Bin and (n.op not in ("+", "-", "*", "/", "//", "%", "&", "|", "^", "<<", ">>") or
                         n.op == "/" and dt.kind in "biu" or n.op in ("&", "|", "^") and dt.kind not in "biu"
                         or n.op in ("<<", ">>") and dt.kind not in "iu"
                         or dt.kind == "b" and n.op not in "+*&|^" or dt.kind == "c" and n.op in ("//", "%")):
            return False
        if t is Un and dt.kind == "b" and n.op == "-":
            return False
        if t is Call and not _callable(n):
            return False
    return True


def _small_integer(v) -> bool:
    """Whether ``v`` is an integer of magnitude below 100 (NumPy's complex powers multiply)."""
    v = complex(v)
    return v.imag == 0 and abs(v.real) < 100 and v.real == int(v.real)


# The calls :class:`LLVM` writes: of complex operands (x86-64 Linux: glibc's ABI), of any,
# of floats alone (float32/float64, with xla_exp's exception below).
_COMPLEX_CALLS = {*_CLIBM, "abs", "isnan", "isinf", "isfinite", "maximum", "minimum", "log2", "log10",
                  "exp2", "log1p", "expm1", "power"}
_ANY_CALLS = {"abs", "maximum", "minimum", "sign", "isnan", "isinf", "isfinite", "min", "complex"}
_FLOAT_CALLS = {*_INTRINSICS, *_LIBM, *VECTOR_MATH, *_XLA, "radd", "rmul", "fmod", "mod", "logaddexp"}


def _callable(e) -> bool:
    name, kinds = e.fn.rpartition(".")[2], {a.dtype.kind for a in e.args}
    if e.fn == "ipow":  # (the kernel has a status word: ``LLVM.ipow``)
        return kinds <= set("iu")
    if "c" in kinds:
        return _SYSV and name in _COMPLEX_CALLS
    if name in _ANY_CALLS or name in _ROUNDING and kinds <= set("biu"):
        return True
    if name == "power" and kinds <= set("iu"):
        return type(e.args[1]) is Const and int(e.args[1].value) >= 0
    if name == "xla_exp":  # (XLA's is float64's: float32 is rounded from it, lowering.py)
        return kinds == {"f"} and e.dtype == np.float64
    return kinds <= {"f"} and name in _FLOAT_CALLS


def declare(module, name: str, ret, params):
    """The function ``ret name(params)`` of llvmlite ``module``, declared the first time."""
    from llvmlite import ir

    return module.globals.get(name) or ir.Function(module, ir.FunctionType(ret, params), name)


def while_loop(b, init: list, cond, step) -> list:
    """Write ``v = init; while cond(v): v = step(v)`` at llvmlite builder ``b`` (``v``: a list
    of values; ``step`` may add blocks); returns the values after the loop, where the builder
    is left."""
    start = b.block
    head, body, end = (b.append_basic_block(f"loop.{x}") for x in ("head", "body", "end"))
    b.branch(head)
    b.position_at_end(head)
    v = [b.phi(x.type) for x in init]
    for phi, x in zip(v, init):
        phi.add_incoming(x, start)
    b.cbranch(cond(v), body, end)
    b.position_at_end(body)
    for phi, x in zip(v, step(v)):
        phi.add_incoming(x, b.block)
    b.branch(head)
    b.position_at_end(end)
    return v


def for_range(b, lo, hi, body) -> None:
    """Write ``for i in range(lo, hi): body(i)`` at llvmlite builder ``b`` (``lo``, ``hi``: i64
    values or ints; ``body`` gets ``i`` and may add blocks); the builder is left after the loop."""
    from llvmlite import ir

    i64 = ir.IntType(64)
    lo, hi = (ir.Constant(i64, v) if isinstance(v, int) else v for v in (lo, hi))

    def step(v):
        body(v[0])
        return [b.add(v[0], ir.Constant(i64, 1))]

    while_loop(b, [lo], lambda v: b.icmp_signed("<", v[0], hi), step)


class LLVM:
    """Writes statements' IR at an llvmlite ``builder``: ``arrays`` maps each array's
    name to ``(data as i8*, its byte strides)``, ``sizes`` holds the kernel's sizes (by
    :class:`Size`'s slot); strides and sizes are written as constants.
    Values are LLVM values (bools as i1, integers as iN of their width, wrapping), complex
    values a (real, imaginary) pair; arrays hold bools as bytes. Semantics are NumPy's
    (integer division and remainder by zero give 0, ``MIN // -1`` wraps, float -> integer
    casts as x86-64 compiles NumPy's, NaN rules of maximum/minimum, complex division)."""

    def __init__(self, builder, arrays: dict, sizes):
        from llvmlite import ir

        self.ir, self.b, self.arr, self.sizes = ir, builder, arrays, sizes
        self.i64 = ir.IntType(64)
        self.slots: dict[str, object] = {}

    def run(self, body: list) -> None:
        b = self.b
        entry = b.function.entry_basic_block
        with b.goto_block(entry):
            b.position_at_start(entry)
            for s in body:
                for n in walk(s):
                    if type(n) is Local and n.name not in self.slots:
                        ty, cplx = self.lltype(n.dtype), n.dtype.kind == "c"
                        slot = [b.alloca(ty, name=f"loopir.{n.name}") for _ in range(1 + cplx)]
                        self.slots[n.name] = tuple(slot) if cplx else slot[0]
        for s in body:
            self.stmt(s)

    def lltype(self, dt):
        """The LLVM type of a ``dt`` value (of each part, for complex)."""
        ir, dt = self.ir, np.dtype(dt)
        if dt.kind in "biu":
            return ir.IntType(1 if dt.kind == "b" else 8 * dt.itemsize)
        return ir.DoubleType() if dt.itemsize == (16 if dt.kind == "c" else 8) else ir.FloatType()

    def const(self, v, dt):
        ir, dt = self.ir, np.dtype(dt)
        if dt.kind == "c":
            return tuple(self.ir.Constant(self.lltype(dt), p) for p in (complex(v).real, complex(v).imag))
        if dt.kind in "iu":  # (as a signed number of the width: LLVM's text)
            bits = 8 * dt.itemsize
            v = int(v) & ((1 << bits) - 1)
            return ir.Constant(self.lltype(dt), v - (v >> bits - 1 << bits))
        return ir.Constant(self.lltype(dt), bool(v) if dt.kind == "b" else float(v))

    def stmt(self, s):
        b = self.b
        if type(s) is Assign:
            v, slot = self.value(s.value), self.slots[s.target.name]
            for p, q in zip(v, slot) if type(slot) is tuple else [(v, slot)]:
                b.store(p, q)
        elif type(s) is Store:
            v = self.value(s.value)
            if s.aug:
                v = self.arith(s.aug, self.load(s.arr, s.index), v, s.arr.dtype)
            self.put(s.arr, s.index, v)
        else:  # Loop: its variable is the slot's (read by the indices and the body)
            def body(i):
                b.store(i, self.slots[s.var.name])
                for x in s.body:
                    self.stmt(x)

            for_range(b, 0 if s.start is None else self.value(s.start), self.value(s.stop), body)

    def pointer(self, arr: Arr, index, part=0):
        b, ir = self.b, self.ir
        data, strides = self.arr[arr.name]
        offset = None
        for i, stride in zip(index, strides):
            if isinstance(i, Local):
                term = b.mul(b.load(self.slots[i.name]), ir.Constant(self.i64, stride))
                offset = term if offset is None else b.add(offset, term)
        p = data if offset is None else b.gep(data, [offset])
        elem = ir.IntType(8) if arr.dtype == BOOL else self.lltype(arr.dtype)
        p = b.bitcast(p, elem.as_pointer())
        return b.gep(p, [ir.Constant(self.i64, part)]) if part else p

    def load(self, arr: Arr, index):
        if arr.dtype.kind == "c":
            return tuple(self.b.load(self.pointer(arr, index, k)) for k in (0, 1))
        v = self.b.load(self.pointer(arr, index))
        return self.b.icmp_unsigned("!=", v, self.ir.Constant(v.type, 0)) if arr.dtype == BOOL else v

    def put(self, arr: Arr, index, v):
        if arr.dtype.kind == "c":
            for k in (0, 1):
                self.b.store(v[k], self.pointer(arr, index, k))
            return
        if arr.dtype == BOOL:
            v = self.b.zext(v, self.ir.IntType(8))
        self.b.store(v, self.pointer(arr, index))

    def value(self, e):
        """``e`` as an IR value (a pair for a complex ``e``)."""
        b, ir, t = self.b, self.ir, type(e)
        if t is Const:
            return self.const(e.value, e.dtype)
        if t is Local:
            slot = self.slots[e.name]
            return tuple(b.load(p) for p in slot) if type(slot) is tuple else b.load(slot)
        if t is Size:
            return ir.Constant(self.i64, self.sizes[e.slot])
        if t is Load:
            return self.load(e.arr, e.index)
        if t is Un:
            v = self.value(e.x)
            if e.op == "not":
                return b.not_(v)
            return self.arith("-", self.const(0, e.dtype), v, e.dtype) if e.dtype.kind in "iu" else \
                tuple(b.fneg(p) for p in v) if e.dtype.kind == "c" else b.fneg(v)
        if t in (Bin, Cmp, Select):
            x, y = e.x, e.y  # a bare constant takes the other operand's dtype
            x, y = (Const(x.value, y.dtype) if getattr(x, "bare", False) else x,
                    Const(y.value, x.dtype) if getattr(y, "bare", False) else y)
            xv, yv = self.value(x), self.value(y)
            if t is Bin:
                return self.arith(e.op, xv, yv, x.dtype)
            if t is Cmp:
                return self.compare(e.op, xv, yv, x.dtype)
            c = self.value(e.cond)
            return tuple(b.select(c, p, q) for p, q in zip(xv, yv)) if x.dtype.kind == "c" else \
                b.select(c, xv, yv)
        if t is BoolOp:
            out = self.value(e.xs[0])
            for x in e.xs[1:]:
                out = (b.or_ if e.op == "or" else b.and_)(out, self.value(x))
            return out
        if t is Cast:
            return self.convert(self.value(e.x), e.x.dtype, e.dtype)
        if t is Attr:
            v = self.value(e.x)
            if e.x.dtype.kind != "c":
                return self.const(0, e.dtype) if e.attr == "imag" else v
            return v[0] if e.attr == "real" else v[1] if e.attr == "imag" else (v[0], b.fneg(v[1]))
        return self.call(e, [self.value(a) for a in e.args])

    # -- arithmetic, comparisons, casts -------------------------------------------------

    def arith(self, op, x, y, dt):
        b, k = self.b, np.dtype(dt).kind
        if k == "c":
            return self.complex_arith(op, x, y)
        if k == "f":
            if op in ("//", "%"):
                return self.float_divmod(x, y)[op == "%"]
            return getattr(b, {"+": "fadd", "-": "fsub", "*": "fmul", "/": "fdiv"}[op])(x, y)
        if op in ("//", "%"):
            return self.int_divmod(op, x, y, dt)
        if op in ("<<", ">>"):
            return self.shift(op, x, y, dt)
        if k == "b":
            op = {"+": "|", "*": "&"}.get(op, op)  # NumPy's add and multiply of bools: or, and
        return getattr(b, {"+": "add", "-": "sub", "*": "mul", "&": "and_", "|": "or_", "^": "xor"}[op])(x, y)

    def shift(self, op, x, y, dt):
        """NumPy's shifts: a count outside 0..bits-1 (negative ones included) shifts every bit
        out (0, or -1 for a negative signed x shifted right), where LLVM's would be poison."""
        b, bits = self.b, self.const(np.dtype(dt).itemsize * 8, dt)
        inside = b.icmp_unsigned("<", y, bits)
        count = b.select(inside, y, self.const(0, dt))
        if op == "<<":
            return b.select(inside, b.shl(x, count), self.const(0, dt))
        if np.dtype(dt).kind == "u":
            return b.select(inside, b.lshr(x, count), self.const(0, dt))
        return b.ashr(x, b.select(inside, count, b.sub(bits, self.const(1, dt))))

    def int_divmod(self, op, x, y, dt):
        """Python's floor division and remainder, as NumPy's: 0 for a zero divisor, and
        ``MIN // -1`` wraps to MIN (the divisor is never 0 or -1 here: no trap)."""
        b, c = self.b, (lambda v: self.const(v, dt))
        zero = b.icmp_unsigned("==", y, c(0))
        if dt.kind == "u":
            return b.select(zero, c(0), (b.udiv if op == "//" else b.urem)(x, b.select(zero, c(1), y)))
        m1 = b.icmp_signed("==", y, c(-1))
        d = b.select(b.or_(zero, m1), c(1), y)
        q, r = b.sdiv(x, d), b.srem(x, d)
        adjust = b.and_(b.icmp_signed("!=", r, c(0)), b.icmp_signed("<", b.xor(r, d), c(0)))
        if op == "//":
            out = b.select(m1, b.sub(c(0), x), b.sub(q, b.zext(adjust, q.type)))
        else:
            out = b.select(m1, c(0), b.select(adjust, b.add(r, d), r))
        return b.select(zero, c(0), out)

    def float_divmod(self, x, y):
        """NumPy's floor_divide and remainder of floats (npy_divmod)."""
        b, c = self.b, (lambda v: self.ir.Constant(x.type, v))
        lt = lambda u, v: b.fcmp_ordered("<", u, v)  # noqa: E731
        copysign = lambda v, s: self.intrinsic("llvm.copysign", [v, s])  # noqa: E731
        mod = b.frem(x, y)
        div = b.fdiv(b.fsub(x, mod), y)
        nonzero = b.fcmp_unordered("!=", mod, c(0.0))
        fix = b.and_(nonzero, b.xor(lt(y, c(0.0)), lt(mod, c(0.0))))
        mod = b.select(nonzero, b.select(fix, b.fadd(mod, y), mod), copysign(c(0.0), y))
        div = b.select(fix, b.fsub(div, c(1.0)), div)
        fl = self.intrinsic("llvm.floor", [div])
        fl = b.select(b.fcmp_ordered(">", b.fsub(div, fl), c(0.5)), b.fadd(fl, c(1.0)), fl)
        q = b.select(b.fcmp_unordered("!=", div, c(0.0)), fl, copysign(c(0.0), b.fdiv(x, y)))
        by_zero = b.fcmp_ordered("==", y, c(0.0))
        return b.select(by_zero, b.fdiv(x, y), q), b.select(by_zero, b.frem(x, y), mod)

    def complex_arith(self, op, x, y, fused=True):
        b, (xr, xi), (yr, yi) = self.b, x, y
        if op in ("+", "-"):
            f = b.fadd if op == "+" else b.fsub
            return f(xr, yr), f(xi, yi)
        if op == "*" and not fused:  # (NumPy's scalar cmul, in its powers)
            return b.fsub(b.fmul(xr, yr), b.fmul(xi, yi)), b.fadd(b.fmul(xr, yi), b.fmul(xi, yr))
        if op == "*":  # as NumPy's vector loops (fmaddsub: the same bits, overflows included)
            fma = lambda p, q, r: self.intrinsic("llvm.fma", [p, q, r])  # noqa: E731
            return fma(xr, yr, b.fneg(b.fmul(xi, yi))), fma(xr, yi, b.fmul(xi, yr))
        # NumPy's division (Smith's, scaled by the larger part of the divisor)
        c = lambda v: self.ir.Constant(xr.type, v)  # noqa: E731
        ar, ai = (self.intrinsic("llvm.fabs", [v]) for v in (yr, yi))
        real_big = b.fcmp_ordered(">=", ar, ai)
        both_zero = b.and_(b.fcmp_ordered("==", ar, c(0.0)), b.fcmp_ordered("==", ai, c(0.0)))
        rat = b.fdiv(yi, yr)
        scl = b.fdiv(c(1.0), b.fadd(yr, b.fmul(yi, rat)))
        r1 = (b.fmul(b.fadd(xr, b.fmul(xi, rat)), scl), b.fmul(b.fsub(xi, b.fmul(xr, rat)), scl))
        r0 = (b.fdiv(xr, ar), b.fdiv(xi, ar))
        rat = b.fdiv(yr, yi)
        scl = b.fdiv(c(1.0), b.fadd(yi, b.fmul(yr, rat)))
        r2 = (b.fmul(b.fadd(b.fmul(xr, rat), xi), scl), b.fmul(b.fsub(b.fmul(xi, rat), xr), scl))
        return tuple(b.select(real_big, b.select(both_zero, p, q), s) for p, q, s in zip(r0, r1, r2))

    def compare(self, op, x, y, dt):
        b, k = self.b, np.dtype(dt).kind
        if k == "c":  # == and != (orderings are lex_compare's, on the parts)
            if op == "==":
                return b.and_(b.fcmp_ordered("==", x[0], y[0]), b.fcmp_ordered("==", x[1], y[1]))
            return b.or_(b.fcmp_unordered("!=", x[0], y[0]), b.fcmp_unordered("!=", x[1], y[1]))
        if k == "f":
            return b.fcmp_unordered(op, x, y) if op == "!=" else b.fcmp_ordered(op, x, y)
        return (b.icmp_signed if k == "i" else b.icmp_unsigned)(op, x, y)

    def convert(self, v, src, dst):
        """``v`` of dtype ``src`` as ``dst`` (NumPy's astype)."""
        b, ir = self.b, self.ir
        src, dst = np.dtype(src), np.dtype(dst)
        if src == dst:
            return v
        if dst.kind == "c":
            if src.kind == "c":
                return tuple(self.convert(p, _part(src), _part(dst)) for p in v)
            return self.convert(v, src, _part(dst)), self.const(0, _part(dst))
        if src.kind == "c":
            return self.convert(v[0], _part(src), dst)
        if dst.kind == "b":
            return self.compare("!=", v, self.const(0, src), src)
        t = self.lltype(dst)
        if src.kind in "biu":
            if dst.kind == "f":
                return (b.sitofp if src.kind == "i" else b.uitofp)(v, t)
            if t.width <= v.type.width:
                return v if t.width == v.type.width else b.trunc(v, t)
            return (b.sext if src.kind == "i" else b.zext)(v, t)
        if dst.kind == "f":
            return (b.fpext if dst.itemsize > src.itemsize else b.fptrunc)(v, t)
        # x86-64's conversion as NumPy's casts compile: truncation; NaN or out of range gives
        # the minimum of 32 or 64 bits (then narrowed); unsigned 32/64-bit targets convert
        # x - 2**(n-1) with the top bit set back from 2**(n-1) up.
        bits = 64 if dst.itemsize == 8 else 32
        it, top = ir.IntType(bits), 2.0 ** (bits - 1)

        f, low = (lambda x: ir.Constant(v.type, x)), ir.Constant(it, -1 << bits - 1)

        def cvtt(x):
            ok = b.and_(b.fcmp_ordered(">=", x, f(-top)), b.fcmp_ordered("<", x, f(top)))
            return b.select(ok, b.fptosi(b.select(ok, x, f(0.0)), it), low)

        out = cvtt(v)
        if dst.kind == "u" and dst.itemsize >= 4:
            out = b.select(b.fcmp_ordered(">=", v, f(top)), b.xor(cvtt(b.fsub(v, f(top))), low), out)
        return out if t.width == bits else b.trunc(out, t)

    # -- calls ---------------------------------------------------------------------------

    def call(self, e, args):
        b, ir = self.b, self.ir
        name = e.fn.rpartition(".")[2]
        dt = e.args[0].dtype if e.args else e.dtype
        if name == "complex":
            return tuple(self.convert(v, a.dtype, _part(e.dtype)) for v, a in zip(args, e.args))
        if dt.kind == "c":
            return self.complex_call(name, args, e)
        x = args[0]
        if name in ("isnan", "isinf", "isfinite"):
            return self.predicate(name, x) if dt.kind == "f" else \
                ir.Constant(ir.IntType(1), name == "isfinite")
        if name in ("maximum", "minimum", "min"):
            return self.extremum(name != "maximum", x, args[1], dt)
        if name == "abs":
            if dt.kind == "f":
                return self.intrinsic("llvm.fabs", [x])
            return b.select(b.icmp_signed("<", x, self.const(0, dt)), b.neg(x), x) if dt.kind == "i" else x
        if name == "sign":
            one, zero = self.const(1, dt), self.const(0, dt)
            pos = self.compare(">", x, zero, dt)
            neg = self.compare("<", x, zero, dt)
            # NumPy: sign(-0.0) is 0.0, NaN stays
            rest = zero if dt.kind in "iu" else b.select(b.fcmp_ordered("==", x, zero), zero, x)
            return b.select(pos, one, b.select(neg, self.const(-1, dt), rest))
        if name in _ROUNDING and dt.kind in "biu":  # (NumPy 2: integers stay as they are)
            return x
        if name == "power" and dt.kind in "iu":  # (a constant exponent >= 0: printable)
            return self.ipow(x, int(e.args[1].value), dt)
        if name == "ipow":
            return self.ipow(x, args[1], dt)
        if name in ("radd", "rmul"):
            return (b.fadd if name == "radd" else b.fmul)(*args, flags=("reassoc",))
        if name in _INTRINSICS:
            return self.intrinsic(_INTRINSICS[name], args)
        if name in _XLA:  # JAX's bits (as backend/table_random_ir.py's kernels)
            from . import xlamath

            return getattr(xlamath, _XLA[name])(b, x)
        if name in _LIBM:
            return self.libm(name, args)
        if name in ("fmod", "mod"):
            return b.frem(*args) if name == "fmod" else self.float_divmod(*args)[1]
        if name == "logaddexp":  # NumPy's npy_logaddexp
            y, c = args[1], (lambda v: ir.Constant(x.type, v))
            d = b.fsub(x, y)
            big = b.select(b.fcmp_ordered(">", d, c(0.0)), x, y)
            small = self.vector_math("exp", [b.fneg(self.intrinsic("llvm.fabs", [d]))])
            tail = self.vector_math("log1p", [small])
            out = b.select(b.fcmp_unordered("uno", d, d), d, b.fadd(big, tail))
            return b.select(b.fcmp_ordered("==", x, y), b.fadd(x, c(_LOGE2)), out)
        return self.vector_math(name, args)

    def extremum(self, low, x, y, dt):
        """NumPy's maximum/minimum: a NaN operand wins (the first if both), else the first
        if strictly greater (smaller), the second of equals (``maximum(-0.0, 0.0)`` is 0.0)."""
        b = self.b
        if dt.kind == "f":
            pick = b.fcmp_ordered("<" if low else ">", x, y)
            return b.select(b.or_(pick, b.fcmp_unordered("uno", x, x)), x, y)
        return b.select(self.compare("<" if low else ">", x, y, dt), x, y)

    def ipow(self, x, y, dt):
        """``x ** y`` of integers, by squaring, wrapping, as NumPy; ``y`` traced or a Python int
        >= 0. A negative traced ``y`` sets the kernel's status word (the array ``status``:
        NumPy's ValueError after the program)."""
        b, ir = self.b, self.ir
        zero = self.const(0, dt)
        if dt.kind == "i" and not isinstance(y, int):
            negative = b.icmp_signed("<", y, zero)
            with b.if_then(negative, likely=False):
                b.store(ir.Constant(self.i64, 1), b.bitcast(self.arr["status"][0], self.i64.as_pointer()))
            y = b.select(negative, zero, y)
        return self.squarings((self.const(1, dt),), (x,), y, lambda u, v: (b.mul(*u, *v),))[0]

    def squarings(self, one, x, n, mul):
        """``x ** n`` (``n`` >= 0: an integer value, or a Python int) by squaring, as NumPy's
        loops: over the bits of ``n``, ``r = r * p`` where it has the bit, ``p = p * p``. Values
        are tuples (a real value's one part, a complex value's two), multiplied by ``mul``. A
        Python int is unrolled here to the multiplications its bits need (table_engine's LLVM
        unrolls no loop)."""
        b, ir = self.b, self.ir
        if isinstance(n, int):
            r, p, m = one, x, n
            while m:
                r = mul(r, p) if m & 1 else r
                m >>= 1
                p = mul(p, p) if m else p
            return r
        bits = b.sub(ir.Constant(n.type, n.type.width), b.ctlz(n, ir.Constant(ir.IntType(1), 0)))
        k = len(x)

        def step(v):
            bit = b.trunc(b.lshr(n, v[0]), ir.IntType(1))
            r, p = v[1:1 + k], v[1 + k:]
            return [b.add(v[0], ir.Constant(n.type, 1)), *(b.select(bit, t, q) for t, q in zip(mul(r, p), r)),
                    *mul(p, p)]

        v = while_loop(b, [ir.Constant(n.type, 0), *one, *x], lambda v: b.icmp_signed("<", v[0], bits), step)
        return tuple(v[1:1 + k])

    def complex_call(self, name, args, e):
        b, ir = self.b, self.ir
        z = args[0]
        fty = z[0].type
        c = lambda v: ir.Constant(fty, v)  # noqa: E731
        if name == "abs":  # |z| (a complex Call: np.sign's z / |z|)
            r = self.libm("hypot", list(z))
            return (r, c(0.0)) if e.dtype.kind == "c" else r
        if name in ("isnan", "isinf", "isfinite"):
            p, q = (self.predicate(name, v) for v in z)
            return b.and_(p, q) if name == "isfinite" else b.or_(p, q)
        if name in ("maximum", "minimum"):  # NumPy's: lexicographic, a NaN in the first wins
            (xr, xi), (yr, yi) = z, args[1]
            op = "<=" if name == "minimum" else ">="
            nan = lambda v: b.fcmp_unordered("uno", v, v)  # noqa: E731
            strict = b.and_(b.fcmp_ordered(op[0], xr, yr), b.not_(b.or_(nan(xi), nan(yi))))
            pick = b.or_(b.or_(strict, b.and_(b.fcmp_ordered("==", xr, yr), b.fcmp_ordered(op, xi, yi))),
                         b.or_(nan(xr), nan(xi)))
            return tuple(b.select(pick, p, q) for p, q in zip(z, args[1]))
        if name == "power":
            y = e.args[1]  # (a constant small integer: its multiplications alone, see cpow)
            n = int(y.value.real) if type(y) is Const and _small_integer(y.value) else None
            return self.cpow(z, self.convert(args[1], y.dtype, e.args[0].dtype), n)
        if name in ("log2", "log10"):
            w = self.clibm("clog", z)
            s = c(_LOG2E if name == "log2" else _LOG10E)
            return b.fmul(w[0], s), b.fmul(w[1], s)
        if name == "exp2":
            return self.clibm("cexp", (b.fmul(z[0], c(_LOGE2)), b.fmul(z[1], c(_LOGE2))))
        if name == "log1p":  # NumPy's nc_log1p
            r1 = b.fadd(z[0], c(1.0))
            return self.libm("log", [self.libm("hypot", [r1, z[1]])]), self.libm("atan2", [z[1], r1])
        if name == "expm1":  # NumPy's nc_expm1
            a = self.libm("sin", [b.fdiv(z[1], c(2.0))])
            re = b.fsub(b.fmul(self.libm("expm1", [z[0]]), self.libm("cos", [z[1]])),
                        b.fmul(b.fmul(c(2.0), a), a))
            return re, b.fmul(self.libm("exp", [z[0]]), self.libm("sin", [z[1]]))
        return self.clibm(_CLIBM[name], z)

    def cpow(self, z, w, n=None):
        """``z ** w``: NumPy's ``nc_pow`` (1 for w = 0, 0 or NaN for z = 0, repeated
        multiplication for an integer |w| < 100, else libm's cpow). ``n``: ``w`` as a constant
        small integer, whose branches and multiplications LLVM then folds away."""
        b, ir = self.b, self.ir
        fty, i64 = z[0].type, self.i64
        c = lambda v: ir.Constant(fty, v)  # noqa: E731
        mul = lambda u, v: self.complex_arith("*", u, v, fused=False)  # noqa: E731
        zero = lambda u: b.and_(*(b.fcmp_ordered("==", v, c(0.0)) for v in u))  # noqa: E731
        (br, bi), one = w, (c(1.0), c(0.0))
        if n is not None:
            small, m, n = ir.Constant(ir.IntType(1), 1), abs(n), ir.Constant(i64, n)
        else:
            whole = b.fcmp_ordered("==", self.intrinsic("llvm.trunc", [br]), br)
            small = b.and_(b.and_(b.fcmp_ordered("==", bi, c(0.0)), whole),
                           b.fcmp_ordered("<", self.intrinsic("llvm.fabs", [br]), c(100.0)))
            n = b.fptosi(b.select(small, br, c(0.0)), i64)
            m = b.select(b.icmp_signed("<", n, ir.Constant(i64, 0)), b.neg(n), n)
        fn = b.function
        powers, general, join = (fn.append_basic_block(f"cpow.{x}") for x in ("powers", "general", "join"))
        b.cbranch(small, powers, general)
        b.position_at_end(powers)
        aa = self.squarings(one, z, m, mul)
        r = tuple(b.select(b.fcmp_ordered("<", br, c(0.0)), q, t) for q, t in zip(
            self.complex_arith("/", one, aa), aa))
        z2 = mul(z, z)
        for k, v in ((3, mul(z, z2)), (2, z2), (1, z)):  # (unrolled: infinities as NumPy's)
            r = tuple(b.select(b.icmp_signed("==", n, ir.Constant(i64, k)), q, t) for q, t in zip(v, r))
        done = b.block
        b.branch(join)
        b.position_at_end(general)
        g = self.clibm("cpow", z, w)
        b.branch(join)
        b.position_at_end(join)
        out = []
        for q, t in zip(r, g):
            phi = b.phi(fty)
            phi.add_incoming(q, done)
            phi.add_incoming(t, general)
            out.append(phi)
        at_zero = [b.select(b.fcmp_ordered(">", br, c(0.0)), c(0.0), c(np.nan))] * 2
        return tuple(b.select(zero(w), u, b.select(zero(z), v, q)) for u, v, q in zip(one, at_zero, out))

    def clibm(self, cname, *zs):
        """glibc's complex function ``cname`` of ``zs`` (SysV x86-64: a complex double is two
        double arguments and a {double, double} result; a complex float one <2 x float>)."""
        b, ir = self.b, self.ir
        fty = zs[0][0].type
        if fty == ir.DoubleType():
            fn = declare(b.module, cname, ir.LiteralStructType([fty, fty]), [fty, fty] * len(zs))
            r = b.call(fn, [v for z in zs for v in z])
            return b.extract_value(r, 0), b.extract_value(r, 1)
        vty = ir.VectorType(fty, 2)
        i32 = ir.IntType(32)
        vs = [b.insert_element(b.insert_element(ir.Constant(vty, ir.Undefined), z[0], ir.Constant(i32, 0)),
                               z[1], ir.Constant(i32, 1)) for z in zs]
        r = b.call(declare(b.module, cname + "f", vty, [vty] * len(zs)), vs)
        return b.extract_element(r, ir.Constant(i32, 0)), b.extract_element(r, ir.Constant(i32, 1))

    def libm(self, name, args):
        """libm's ``name`` (``namef`` for float32)."""
        ty = args[0].type
        name += "f" if ty == self.ir.FloatType() else ""
        return self.b.call(declare(self.b.module, name, ty, [ty] * len(args)), args)

    def vector_math(self, name, args):
        from .vecmath import math_function

        return self.b.call(math_function(self.b.module, name, args[0].type), args)

    def predicate(self, name, v):
        b, ir = self.b, self.ir
        if name == "isnan":
            return b.fcmp_unordered("uno", v, v)
        inf = ir.Constant(v.type, float("inf"))
        mag = self.intrinsic("llvm.fabs", [v])
        return b.fcmp_ordered("==" if name == "isinf" else "<", mag, inf)  # isfinite: not NaN or inf

    def intrinsic(self, name, args):
        """LLVM's ``llvm.sqrt.f64``-style intrinsic (its arguments of one float type)."""
        ty = args[0].type
        fn = self.b.module.declare_intrinsic(name, [ty], self.ir.FunctionType(ty, [ty] * len(args)))
        return self.b.call(fn, args)
