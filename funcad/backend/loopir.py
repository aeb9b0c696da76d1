"""The loop IR: the generated program's loop nests as data, printed as Python or as LLVM IR.

codegen.py builds fused kernels as these nodes, straight from the fused jaxpr: loops over
named sizes, loads and stores of array elements at loop indices, assignments to scalar
locals, and scalar expressions (constants, arithmetic, comparisons, conditional
expressions, casts, math calls). Every expression knows its dtype. Two printers read them:

* :func:`lines` prints Python for Numba (what ``jit(f).lower(x).source`` shows);
* :class:`LLVM` writes LLVM IR through llvmlite, for the float-only subset (:func:`direct`):
  Numba's typing and lowering cost ~10 ms per loop nest, most of a program's compile time
  (docs/architecture.md, "First-call (compile) time"), and a loop nest in the subset needs
  none of it: no reference counts, no index wraparound (indices are loop counters and 0).

A run of consecutive statements in the subset becomes ONE call in the printed program,
``_nb.loops((arrays...), S, '''<the run printed as Python>''')``: the text stays in the
module (readable, and part of the disk cache's key), and :data:`RUNS` maps it (with the
arrays' dtypes) to the :class:`Run` that the intrinsic ``nbrt.loops`` writes as IR. Nothing
is parsed back. Complex, integer and other dtypes are outside the subset (:func:`direct`
checks every dtype): their loops go to Numba as printed. Semantics follow Numba's for the
printed text: IEEE float arithmetic, ordered comparisons (``!=`` unordered), bools stored as
bytes, the same math routines (``_vm.*``, backend/vecmath.py).

This module imports neither Numba nor llvmlite at import time.
"""

from __future__ import annotations

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
    __slots__ = ("value", "dtype", "bare")  # bare: printed as a Python number (``0``,
    _defaults = {"bare": False}             # ``-np.inf``), which Numba types itself

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
    """The size in slot ``slot`` of the program's sizes array ``S``, named ``name``."""
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
    """``x.real``, ``x.imag`` or ``x.conjugate()`` of a complex value (outside the subset)."""
    __slots__ = ("x", "attr")
    _kids = ("x",)

    @property
    def dtype(self):
        return self.x.dtype if self.attr == "conjugate()" else np.empty(0, self.x.dtype).real.dtype

    def py(self):
        return f"({self.x.py()}).{self.attr}"


def lex_compare(x, y, op: str):
    """``x op y`` (op: < <= > >=) of complex values in NumPy's lexicographic order (real parts
    first): Numba has no ordering of complex numbers."""
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
    __slots__ = ("var", "stop", "body", "start", "parallel")  # parallel: numba.prange
    _defaults = {"start": None, "parallel": False}
    _kids = ("var", "stop", "body", "start")


class Comment(Node):
    __slots__ = ("text",)


class Line(Node):
    """Python written as text by a lowering rule (a library call, a control-flow header):
    opaque to the loop IR, it never reads a kernel's scalar locals."""
    __slots__ = ("text",)


class Alloc(Node):
    """``arr = _nb.empty(shape, np.<dtype>)``, a fresh array of the program, or
    ``_nb.full(shape, fill, np.<dtype>)`` given ``fill`` (a Const); ``shape`` holds size
    expressions (Size, Const, Local). The table backend reads it as a region to allocate."""
    __slots__ = ("arr", "shape", "fill")
    _defaults = {"fill": None}
    _kids = ("shape", "fill")


class Run(Node):
    """Consecutive statements in the subset, compiled as one ``nbrt.loops`` call."""
    __slots__ = ("arrays", "body")  # arrays: the Arr it touches, in the order of the call's tuple
    _kids = ("body",)


def _index(index) -> str:
    if not index:
        return "[()]"
    return "[" + ", ".join(i.py() if isinstance(i, Local) else str(i) for i in index) + "]"


# --------------------------------------------------------------------------------------
# Printing Python

#: (printed text of a run, its arrays' (dtype name, ndim)) -> Run: what nbrt.loops compiles.
RUNS: dict = {}


def lines(s) -> list[str]:
    """Statement ``s`` as lines of Python (indented by 4 spaces per level)."""
    t = type(s)
    if t is Assign:
        return [f"{s.target.py()} = {s.value.py()}"]
    if t is Store:
        return [f"{s.arr.name}{_index(s.index)} {s.aug}= {s.value.py()}"]
    if t is Loop:
        start = f"{s.start.py()}, " if s.start is not None else ""
        head = f"for {s.var.py()} in {'numba.prange' if s.parallel else 'range'}({start}{s.stop.py()}):"
        return [head] + ["    " + ln for b in s.body for ln in lines(b)]
    if t is Comment:
        return [f"# {s.text}"]
    if t is Line:
        return [s.text]
    if t is Alloc:
        dims = "(" + ", ".join(d.py() for d in s.shape) + ("," if len(s.shape) == 1 else "") + ")"
        if s.fill is None:
            return [f"{s.arr.name} = _nb.empty({dims}, np.{s.arr.dtype.name})"]
        return [f"{s.arr.name} = _nb.full({dims}, {s.fill.py()}, np.{s.arr.dtype.name})"]
    text = "\n".join([""] + [ln for b in s.body for ln in lines(b)] + [""])
    RUNS[(text, tuple((a.dtype.name, a.ndim) for a in s.arrays))] = s
    names = ", ".join(a.name for a in s.arrays) + ("," if len(s.arrays) == 1 else "")
    return [f"_nb.loops(({names}), S, '''"] + text.split("\n")[1:-1] + ["''')"]


# --------------------------------------------------------------------------------------
# The subset LLVM is written for


def walk(node):
    """``node`` and every node under it (its fields, lists and index tuples), in pre-order."""
    yield node
    for name in node._kids:
        v = getattr(node, name)
        for x in v if type(v) in (list, tuple) else (v,):
            if isinstance(x, Node):
                yield from walk(x)


_NP_UNARY = {"np.sqrt": "llvm.sqrt", "np.abs": "llvm.fabs", "np.floor": "llvm.floor", "np.ceil": "llvm.ceil"}
_PREDICATES = ("np.isfinite", "np.isnan", "np.isinf")
_ARITH = {"+": "fadd", "-": "fsub", "*": "fmul", "/": "fdiv"}
_CMP = ("==", "!=", "<", "<=", ">", ">=")


def _expr_ok(e) -> bool:
    t, dt = type(e), e.dtype
    if t is Const:
        return dt in FLOATS or dt == BOOL
    if t in (Local, Load):
        return dt in FLOATS or dt == BOOL or (t is Local and dt == INT)
    if t is Size:
        return True
    if t is Un:
        return (dt in FLOATS) if e.op == "-" else e.x.dtype == BOOL
    if t is Bin:
        return e.op in _ARITH and dt in FLOATS and _same(e.x, e.y)
    if t is Cmp:
        return e.op in _CMP and _same(e.x, e.y) and (
            e.x.dtype in FLOATS or e.x.dtype == BOOL and e.op in ("==", "!="))
    if t is BoolOp:
        return all(x.dtype == BOOL for x in e.xs)
    if t is Select:
        return e.cond.dtype == BOOL and _same(e.x, e.y)
    if t is Cast:
        return e.x.dtype in FLOATS + (BOOL,) and dt in FLOATS
    if t is Call:
        args_ok = all(a.dtype == dt for a in e.args) and dt in FLOATS
        if e.fn in _PREDICATES:
            return len(e.args) == 1 and e.args[0].dtype in FLOATS
        if e.fn in _NP_UNARY:
            return args_ok and len(e.args) == 1
        return args_ok and e.fn[:4] == "_vm." and e.fn[4:] in VECTOR_MATH | {"radd", "rmul"}
    return False


def _same(x, y) -> bool:
    return x.dtype == y.dtype or getattr(x, "bare", False) or getattr(y, "bare", False)


def direct(s) -> bool:
    """Whether statement ``s`` is in the subset :class:`LLVM` writes: float32/float64 and
    bool values only (no integer, complex or other dtype), serial loops, no text."""
    for n in walk(s):
        t = type(n)
        if t is Loop:
            if n.parallel:
                return False
        elif t is Assign:
            if n.target.dtype != n.value.dtype:
                return False
        elif t is Store:
            if n.arr.dtype not in FLOATS + (BOOL,) or n.value.dtype != n.arr.dtype or \
                    (n.aug and n.arr.dtype not in FLOATS):
                return False
        elif t in (Comment, Line, Alloc, Run) or not _expr_ok(n):
            return False
    return True


# --------------------------------------------------------------------------------------
# Printing LLVM IR


class LLVM:
    """Writes a :class:`Run`'s IR at an llvmlite ``builder``: ``arrays`` maps each array's
    name to ``(data as i8*, byte strides as i64 values)``, ``sizes`` is the i64* data of ``S``."""

    def __init__(self, builder, arrays: dict, sizes):
        from llvmlite import ir

        self.ir, self.b, self.arr, self.S = ir, builder, arrays, sizes
        self.i64 = ir.IntType(64)
        self.slots: dict[str, object] = {}

    def run(self, run: Run) -> None:
        b = self.b
        entry = b.function.entry_basic_block
        with b.goto_block(entry):
            b.position_at_start(entry)
            for s in run.body:
                for n in walk(s):
                    if type(n) is Local and n.name not in self.slots:
                        self.slots[n.name] = b.alloca(self.lltype(n.dtype), name=f"loopir.{n.name}")
        for s in run.body:
            self.stmt(s)

    def lltype(self, dt):
        ir = self.ir
        return {"float64": ir.DoubleType(), "float32": ir.FloatType(), "bool": ir.IntType(1),
                "int64": ir.IntType(64)}[np.dtype(dt).name]

    def stmt(self, s):
        b, ir = self.b, self.ir
        if type(s) is Assign:
            b.store(self.value(s.value), self.slots[s.target.name])
        elif type(s) is Store:
            v = self.value(s.value)
            if s.aug:
                v = (b.fadd if s.aug == "+" else b.fmul)(self.load(s.arr, s.index), v)
            if s.arr.dtype == BOOL:
                v = b.zext(v, ir.IntType(8))
            b.store(v, self.pointer(s.arr, s.index))
        else:  # Loop
            start = ir.Constant(self.i64, 0) if s.start is None else self.value(s.start)
            stop, slot = self.value(s.stop), self.slots[s.var.name]
            b.store(start, slot)
            cond, body, end = (b.append_basic_block(f"loopir.{n}") for n in ("cond", "body", "end"))
            b.branch(cond)
            b.position_at_end(cond)
            b.cbranch(b.icmp_signed("<", b.load(slot), stop), body, end)
            b.position_at_end(body)
            for x in s.body:
                self.stmt(x)
            b.store(b.add(b.load(slot), ir.Constant(self.i64, 1)), slot)
            b.branch(cond)
            b.position_at_end(end)

    def pointer(self, arr: Arr, index):
        b, ir = self.b, self.ir
        data, strides = self.arr[arr.name]
        offset = None
        for i, stride in zip(index, strides):
            if isinstance(i, Local):
                term = b.mul(b.load(self.slots[i.name]), stride)
                offset = term if offset is None else b.add(offset, term)
        p = data if offset is None else b.gep(data, [offset])
        elem = ir.IntType(8) if arr.dtype == BOOL else self.lltype(arr.dtype)
        return b.bitcast(p, elem.as_pointer())

    def load(self, arr: Arr, index):
        v = self.b.load(self.pointer(arr, index))
        return self.b.icmp_unsigned("!=", v, self.ir.Constant(v.type, 0)) if arr.dtype == BOOL else v

    def value(self, e):
        """``e`` as an IR value."""
        b, ir, t = self.b, self.ir, type(e)
        if t is Const:
            return ir.Constant(self.lltype(e.dtype), bool(e.value) if e.dtype == BOOL else float(e.value))
        if t is Local:
            return b.load(self.slots[e.name])
        if t is Size:
            return b.load(b.gep(self.S, [ir.Constant(self.i64, e.slot)]))
        if t is Load:
            return self.load(e.arr, e.index)
        if t is Un:
            v = self.value(e.x)
            return b.fneg(v) if e.op == "-" else b.not_(v)
        if t in (Bin, Cmp, Select):
            x, y = self.value(e.x), self.value(e.y)
            if t is Bin:
                return getattr(b, _ARITH[e.op])(x, y)
            if t is Select:
                return b.select(self.value(e.cond), x, y)
            if e.x.dtype == BOOL:
                return b.icmp_unsigned(e.op, x, y)
            return b.fcmp_unordered(e.op, x, y) if e.op == "!=" else b.fcmp_ordered(e.op, x, y)
        if t is BoolOp:
            out = self.value(e.xs[0])
            for x in e.xs[1:]:
                out = (b.or_ if e.op == "or" else b.and_)(out, self.value(x))
            return out
        if t is Cast:
            v, src = self.value(e.x), e.x.dtype
            if src == BOOL:
                return b.uitofp(v, self.lltype(e.dtype))
            if src == e.dtype:
                return v
            return (b.fpext if src == FLOATS[0] else b.fptrunc)(v, self.lltype(e.dtype))
        args = [self.value(a) for a in e.args]  # a Call
        if e.fn in _PREDICATES:
            return self.predicate(e.fn[3:], args[0])
        if e.fn in _NP_UNARY:
            return b.call(self.intrinsic(_NP_UNARY[e.fn], args[0].type), args)
        if e.fn in ("_vm.radd", "_vm.rmul"):
            return (b.fadd if e.fn == "_vm.radd" else b.fmul)(*args, flags=("reassoc",))
        from .vecmath import math_function

        return b.call(math_function(b.module, e.fn[4:], args[0].type), args)

    def predicate(self, name, v):
        b, ir = self.b, self.ir
        if name == "isnan":
            return b.fcmp_unordered("uno", v, v)
        inf = ir.Constant(v.type, float("inf"))
        mag = b.call(self.intrinsic("llvm.fabs", v.type), [v])
        return b.fcmp_ordered("==" if name == "isinf" else "<", mag, inf)  # isfinite: not NaN or inf

    def intrinsic(self, name, ty):
        """LLVM's ``llvm.sqrt.f64``-style intrinsic of one argument."""
        ir = self.ir
        name = f"{name}.{'f64' if ty == ir.DoubleType() else 'f32'}"
        fn = self.b.module.globals.get(name)
        return fn if fn is not None else ir.Function(self.b.module, ir.FunctionType(ty, [ty]), name)
