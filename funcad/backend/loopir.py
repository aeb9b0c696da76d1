"""LLVM IR for the program's loop nests, written directly instead of through Numba's compiler.

Numba's typing and lowering cost ~10 ms per loop nest, most of a program's compile time
(docs/architecture.md, "First-call (compile) time"): every array access goes through its
generic indexing (wraparound handling, reference counts) and every statement through type
inference. The loops funcad generates are a tiny, regular subset of Python: scalar locals,
float arithmetic and comparisons, conditional expressions, math calls, loads and stores of
array elements at loop indices, ``for i in range(S[k])``. :func:`plan` picks out runs of such
statements in the generated body; each becomes ONE call,

    _nb.loops((v6, v1, v9), S, '''
    v6, v1, v9 = arrays
    for i0 in range(S[2]):
        ...
    ''')

whose text stays in the module (readable, and part of the disk cache's key), and which the
Numba intrinsic ``nbrt.loops`` compiles by handing the text to :class:`Block`: type inference
over the subset (given the arrays' dtypes), then straight-line IR through llvmlite, with no
reference counting and no index wraparound (the indices are loop counters and 0). A run that
uses anything outside the subset is left to Numba, as before, so the subset only has to be
exact, not complete. Semantics follow Numba's for the same source: IEEE float arithmetic,
ordered comparisons (``!=`` unordered), bools stored as bytes, the same math routines
(``_vm.*``, backend/vecmath.py).

This module imports neither Numba nor llvmlite at import time: the code generator calls
:func:`plan` before any compiling.
"""

from __future__ import annotations

import ast
import re
import threading

from .lowering import VECTOR_MATH

# CPython 3.11's AST constructor keeps its recursion depth in interpreter-wide state, so two
# threads parsing at once can fail with "AST constructor recursion depth mismatch"
# (seen in tests/test_scale.py; python/cpython#106905): jit compiles in several threads
# parse under one lock.
_PARSE_LOCK = threading.Lock()


def _parse(text: str) -> ast.Module:
    with _PARSE_LOCK:
        return ast.parse(text)


FLOATS = ("float32", "float64")
_DTYPE_CALLS = FLOATS + ("bool_",)
_NP_UNARY = {"sqrt": "llvm.sqrt", "abs": "llvm.fabs", "floor": "llvm.floor", "ceil": "llvm.ceil"}
_PREDICATES = ("isfinite", "isnan", "isinf")
_CMP = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">="}
_ARITH = {ast.Add: "fadd", ast.Sub: "fsub", ast.Mult: "fmul", ast.Div: "fdiv"}


class Unsupported(Exception):
    """The text uses something outside the subset: Numba compiles it instead."""


def _const_value(node):
    """A float constant written as the code generator writes them, or None."""
    if isinstance(node, ast.Constant) and type(node.value) in (int, float) and type(node.value) is not bool:
        return float(node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        v = _const_value(node.operand)
        return None if v is None else -v
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "np":
        return {"inf": float("inf"), "nan": float("nan")}.get(node.attr)
    return None


def _np_call(node, module="np"):
    """``name`` if ``node`` is a call of ``<module>.name``, else None."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
            isinstance(node.func.value, ast.Name) and node.func.value.id == module and not node.keywords:
        return node.func.attr
    return None


class Block:
    """One run of loop-subset statements: ``arrays`` names the arrays (in the order of the
    tuple the intrinsic receives), ``body`` the statements. :meth:`infer` types it given each
    array's ``(dtype name, ndim)``; :meth:`emit` writes its IR."""

    def __init__(self, text: str):
        tree = _parse(text)
        head, *body = tree.body
        if not (isinstance(head, ast.Assign) and isinstance(head.value, ast.Name)
                and head.value.id == "arrays" and len(head.targets) == 1):
            raise Unsupported("no arrays line")
        t = head.targets[0]
        names = t.elts if isinstance(t, ast.Tuple) else [t]
        self.arrays = [n.id for n in names]
        self.body = body

    # -- types ----------------------------------------------------------------------------

    def infer(self, arrays: dict) -> None:
        """Type every local (``self.types``); raise :class:`Unsupported` outside the subset.
        ``arrays``: name -> (dtype name, ndim)."""
        self.array_types = arrays
        self.types: dict[str, str] = {}
        self.node_types: dict[ast.AST, str] = {}
        for name in self.arrays:
            if name not in arrays:
                raise Unsupported(name)
        self._stmts(self.body, loop_vars=set())
        if "const" in self.types.values():
            raise Unsupported("a local with no type")

    def _stmts(self, stmts, loop_vars):
        for s in stmts:
            self._stmt(s, loop_vars)

    def _stmt(self, s, loop_vars):
        if isinstance(s, ast.For):
            if s.orelse or not isinstance(s.target, ast.Name) or s.target.id in self.types:
                raise Unsupported("for")
            call = s.iter
            if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name)
                    and call.func.id == "range" and 1 <= len(call.args) <= 2 and not call.keywords):
                raise Unsupported("loop")
            for a in call.args:
                if self._expr(a, loop_vars) != "int64":
                    raise Unsupported("bound")
            self.types[s.target.id] = "int64"
            self._stmts(s.body, loop_vars | {s.target.id})
            return
        if isinstance(s, ast.Assign) and len(s.targets) == 1:
            t, ty = s.targets[0], self._expr(s.value, loop_vars)
            if isinstance(t, ast.Name):
                if t.id in self.array_types or t.id in loop_vars or t.id in ("S", "np", "_vm"):
                    raise Unsupported("assignment")
                old = self.types.get(t.id)
                if old is None or old == "const":  # (a bare constant takes its later type)
                    self.types[t.id] = ty
                elif ty != old and ty != "const":
                    raise Unsupported(f"{t.id} changes type")
                return
            self._store_type(t, ty, loop_vars)
            return
        if isinstance(s, ast.AugAssign) and isinstance(s.op, (ast.Add, ast.Mult)) \
                and isinstance(s.target, ast.Subscript):
            ty = self._expr(s.value, loop_vars)
            if ty not in FLOATS or self._subscript(s.target, loop_vars) != ty:
                raise Unsupported("augmented assignment")
            return
        raise Unsupported(type(s).__name__)

    def _store_type(self, t, ty, loop_vars):
        dt = self._subscript(t, loop_vars)
        if dt != ty:
            raise Unsupported("store of another dtype")

    def _subscript(self, node, loop_vars) -> str:
        """The element type of ``a[i, j]``/``a[()]`` (indices: loop variables or 0)."""
        if not (isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name)):
            raise Unsupported("subscript")
        name = node.value.id
        if name not in self.array_types:
            raise Unsupported(name)
        dtype, ndim = self.array_types[name]
        idx = node.slice
        items = idx.elts if isinstance(idx, ast.Tuple) else [idx]
        if len(items) != ndim:
            raise Unsupported("index rank")
        for i in items:
            if not ((isinstance(i, ast.Name) and i.id in loop_vars)
                    or (isinstance(i, ast.Constant) and i.value == 0 and type(i.value) is int)):
                raise Unsupported("index")
        if dtype not in FLOATS + ("bool",):
            raise Unsupported(dtype)
        return dtype

    def _expr(self, e, loop_vars) -> str:
        """The type of expression ``e``, also recorded for :meth:`emit` (``self.node_types``)."""
        ty = self.node_types[e] = self._type_of(e, loop_vars)
        return ty

    def _type_of(self, e, loop_vars) -> str:
        if isinstance(e, ast.Name):
            if e.id in ("True", "False"):
                return "bool"
            if e.id in self.types:
                return self.types[e.id]
            raise Unsupported(e.id)
        if isinstance(e, ast.Constant) and type(e.value) is bool:
            return "bool"
        if isinstance(e, ast.Subscript):
            if isinstance(e.value, ast.Name) and e.value.id == "S":
                if not (isinstance(e.slice, ast.Constant) and type(e.slice.value) is int):
                    raise Unsupported("size")
                return "int64"
            return self._subscript(e, loop_vars)
        if _const_value(e) is not None:
            return "const"
        if isinstance(e, ast.UnaryOp):
            ty = self._expr(e.operand, loop_vars)
            if isinstance(e.op, ast.USub) and ty in FLOATS:
                return ty
            if isinstance(e.op, ast.Not) and ty == "bool":
                return "bool"
            raise Unsupported("unary")
        if isinstance(e, ast.BinOp) and type(e.op) in _ARITH:
            ty = self._same(e.left, e.right, loop_vars)
            if ty not in FLOATS:
                raise Unsupported("arithmetic")
            return ty
        if isinstance(e, ast.Compare) and len(e.ops) == 1 and type(e.ops[0]) in _CMP:
            ty = self._same(e.left, e.comparators[0], loop_vars)
            equality = type(e.ops[0]) in (ast.Eq, ast.NotEq)
            if ty == "const" or ty not in FLOATS and not (ty == "bool" and equality):
                raise Unsupported("comparison")
            return "bool"
        if isinstance(e, ast.BoolOp):
            if any(self._expr(v, loop_vars) != "bool" for v in e.values):
                raise Unsupported("bool op")
            return "bool"
        if isinstance(e, ast.IfExp):
            if self._expr(e.test, loop_vars) != "bool":
                raise Unsupported("condition")
            ty = self._same(e.body, e.orelse, loop_vars)
            if ty == "const":
                raise Unsupported("untyped constant")
            return ty
        name = _np_call(e)
        if name is not None:
            if name in _DTYPE_CALLS and len(e.args) == 1:
                dt = "bool" if name == "bool_" else name
                if _const_value(e.args[0]) is not None:
                    return dt
                src = self._expr(e.args[0], loop_vars)
                if src not in FLOATS + ("bool",) or dt == "bool":
                    raise Unsupported("cast")
                return dt
            if name in _PREDICATES and len(e.args) == 1:
                if self._expr(e.args[0], loop_vars) not in FLOATS:
                    raise Unsupported(name)
                return "bool"
            if name in _NP_UNARY and len(e.args) == 1:
                ty = self._expr(e.args[0], loop_vars)
                if ty not in FLOATS:
                    raise Unsupported(name)
                return ty
            raise Unsupported(f"np.{name}")
        name = _np_call(e, "_vm")
        if name is not None:
            if name in ("radd", "rmul") and len(e.args) == 2 or name in VECTOR_MATH and 1 <= len(e.args) <= 2:
                tys = {self._expr(a, loop_vars) for a in e.args}
                if len(tys) != 1 or not tys <= set(FLOATS):
                    raise Unsupported(name)
                return tys.pop()
            raise Unsupported(f"_vm.{name}")
        raise Unsupported(type(e).__name__)

    def _same(self, a, b, loop_vars) -> str:
        ta, tb = self._expr(a, loop_vars), self._expr(b, loop_vars)
        if ta == "const":
            return tb
        if tb == "const" or ta == tb:
            return ta
        raise Unsupported(f"{ta} with {tb}")

    # -- IR -------------------------------------------------------------------------------

    def emit(self, builder, arrays: dict, sizes) -> None:
        """Write the block's IR at ``builder``. ``arrays``: name -> ``(data as i8*, byte
        strides as i64 values)``; ``sizes``: the i64* data of ``S``."""
        from llvmlite import ir

        self.ir, self.b, self.arr, self.S = ir, builder, arrays, sizes
        self.i64 = ir.IntType(64)
        fn = builder.function
        entry = fn.entry_basic_block
        self.slots = {}
        with builder.goto_block(entry):
            builder.position_at_start(entry)
            for name, ty in self.types.items():
                self.slots[name] = builder.alloca(self._lltype(ty), name=f"loopir.{name}")
        self._emit_stmts(self.body)

    def _lltype(self, ty):
        ir = self.ir
        return {"float64": ir.DoubleType(), "float32": ir.FloatType(), "bool": ir.IntType(1),
                "int64": ir.IntType(64)}[ty]

    def _emit_stmts(self, stmts):
        for s in stmts:
            self._emit_stmt(s)

    def _emit_stmt(self, s):
        b, ir = self.b, self.ir
        if isinstance(s, ast.For):
            args = [self._value(a, "int64") for a in s.iter.args]
            start, stop = (ir.Constant(self.i64, 0), args[0]) if len(args) == 1 else args
            slot = self.slots[s.target.id]
            b.store(start, slot)
            cond = b.append_basic_block("loopir.cond")
            body = b.append_basic_block("loopir.body")
            end = b.append_basic_block("loopir.end")
            b.branch(cond)
            b.position_at_end(cond)
            b.cbranch(b.icmp_signed("<", b.load(slot), stop), body, end)
            b.position_at_end(body)
            self._emit_stmts(s.body)
            b.store(b.add(b.load(slot), ir.Constant(self.i64, 1)), slot)
            b.branch(cond)
            b.position_at_end(end)
            return
        if isinstance(s, ast.Assign):
            t = s.targets[0]
            if isinstance(t, ast.Name):
                b.store(self._value(s.value, self.types[t.id]), self.slots[t.id])
            else:
                dtype = self.array_types[t.value.id][0]
                self._store(t, self._value(s.value, dtype), dtype)
            return
        # augmented assignment to an array element
        dtype = self.array_types[s.target.value.id][0]
        old = self._load(s.target, dtype)
        v = self._value(s.value, dtype)
        self._store(s.target, (b.fadd if isinstance(s.op, ast.Add) else b.fmul)(old, v), dtype)

    def _pointer(self, node, dtype):
        b, ir = self.b, self.ir
        data, strides = self.arr[node.value.id]
        idx = node.slice
        items = idx.elts if isinstance(idx, ast.Tuple) else [idx]
        offset = None
        for i, stride in zip(items, strides):
            if isinstance(i, ast.Constant):
                continue
            term = b.mul(b.load(self.slots[i.id]), stride)
            offset = term if offset is None else b.add(offset, term)
        p = data if offset is None else b.gep(data, [offset])
        elem = ir.IntType(8) if dtype == "bool" else self._lltype(dtype)
        return b.bitcast(p, elem.as_pointer())

    def _load(self, node, dtype):
        v = self.b.load(self._pointer(node, dtype))
        if dtype == "bool":
            v = self.b.icmp_unsigned("!=", v, self.ir.Constant(v.type, 0))
        return v

    def _store(self, node, value, dtype):
        if dtype == "bool":
            value = self.b.zext(value, self.ir.IntType(8))
        self.b.store(value, self._pointer(node, dtype))

    def _value(self, e, want: str):
        """``e`` as an IR value of type ``want`` (constants take the type they are used at)."""
        b, ir = self.b, self.ir
        c = _const_value(e)
        if c is not None:
            if want == "int64":
                return ir.Constant(self.i64, int(c))
            if want == "bool":
                return ir.Constant(ir.IntType(1), int(c != 0))
            return ir.Constant(self._lltype(want), c)
        if isinstance(e, ast.Name):
            if e.id in ("True", "False"):
                return ir.Constant(ir.IntType(1), e.id == "True")
            return b.load(self.slots[e.id])
        if isinstance(e, ast.Constant):  # a bool
            return ir.Constant(ir.IntType(1), bool(e.value))
        if isinstance(e, ast.Subscript):
            if e.value.id == "S":
                return b.load(b.gep(self.S, [ir.Constant(self.i64, e.slice.value)]))
            return self._load(e, self.array_types[e.value.id][0])
        if isinstance(e, ast.UnaryOp):
            v = self._value(e.operand, want)
            return b.fneg(v) if isinstance(e.op, ast.USub) else b.not_(v)
        if isinstance(e, ast.BinOp):
            return getattr(b, _ARITH[type(e.op)])(self._value(e.left, want), self._value(e.right, want))
        if isinstance(e, ast.Compare):
            ty = self._operand_type(e.left, e.comparators[0])
            x, y = self._value(e.left, ty), self._value(e.comparators[0], ty)
            op = _CMP[type(e.ops[0])]
            if ty == "bool":
                return b.icmp_unsigned(op, x, y)
            return b.fcmp_unordered(op, x, y) if op == "!=" else b.fcmp_ordered(op, x, y)
        if isinstance(e, ast.BoolOp):
            vals = [self._value(v, "bool") for v in e.values]
            out = vals[0]
            for v in vals[1:]:
                out = b.or_(out, v) if isinstance(e.op, ast.Or) else b.and_(out, v)
            return out
        if isinstance(e, ast.IfExp):
            test = self._value(e.test, "bool")
            return b.select(test, self._value(e.body, want), self._value(e.orelse, want))
        name = _np_call(e)
        if name is not None:
            if name in _DTYPE_CALLS:
                return self._cast(e.args[0], "bool" if name == "bool_" else name)
            if name in _PREDICATES:
                ty = self._expr_type(e.args[0])
                return self._predicate(name, self._value(e.args[0], ty))
            v = self._value(e.args[0], want)
            fn = self._intrinsic(_NP_UNARY[name], v.type)
            return b.call(fn, [v])
        name = _np_call(e, "_vm")
        args = [self._value(a, want) for a in e.args]
        if name == "radd":
            return b.fadd(*args, flags=("reassoc",))
        if name == "rmul":
            return b.fmul(*args, flags=("reassoc",))
        from .vecmath import math_function

        return b.call(math_function(b.module, name, args[0].type), args)

    def _cast(self, arg, dst):
        b = self.b
        if _const_value(arg) is not None:
            return self._value(arg, dst)
        src = self._expr_type(arg)
        v = self._value(arg, src)
        if src == dst:
            return v
        if src == "bool":
            return b.uitofp(v, self._lltype(dst))
        if src == "float32":
            return b.fpext(v, self._lltype(dst))
        return b.fptrunc(v, self._lltype(dst))

    def _predicate(self, name, v):
        b, ir = self.b, self.ir
        if name == "isnan":
            return b.fcmp_unordered("uno", v, v)
        inf = ir.Constant(v.type, float("inf"))
        mag = b.call(self._intrinsic("llvm.fabs", v.type), [v])
        if name == "isinf":
            return b.fcmp_ordered("==", mag, inf)
        return b.fcmp_ordered("<", mag, inf)  # isfinite: false for NaN and infinities

    def _intrinsic(self, name, ty):
        """LLVM's ``llvm.sqrt.f64``-style intrinsic of one argument."""
        ir = self.ir
        suffix = "f64" if ty == ir.DoubleType() else "f32"
        return _declare(self.b.module, f"{name}.{suffix}", ir.FunctionType(ty, [ty]))

    def _expr_type(self, e) -> str:
        return self.node_types[e]

    def _operand_type(self, a, c) -> str:
        ta, tc = self.node_types[a], self.node_types[c]
        return tc if ta == "const" else ta


def _declare(module, name, fnty):
    fn = module.globals.get(name)
    if fn is None:
        from llvmlite import ir

        fn = ir.Function(module, fnty, name)
    return fn


# --------------------------------------------------------------------------------------
# Choosing the runs (code generator side)

_TOP = re.compile(r"^    (?! )")


def plan(lines: list[str], arrays: dict) -> list[str]:
    """Rewrite the program body ``lines`` (indented one level): each maximal run of top-level
    statements that :class:`Block` accepts, reads no local from before it and leaves none
    that later lines read, becomes one ``_nb.loops`` call. ``arrays``: name -> (dtype name,
    ndim) of every array the body may touch."""
    stmts: list[list[str]] = []
    for line in lines:
        if _TOP.match(line) or not stmts:
            stmts.append([line])
        else:
            stmts[-1].append(line)
    ok = [_accepted(s) for s in stmts]
    out: list[str] = []
    n = 0
    while n < len(stmts):
        if not ok[n]:
            out.extend(stmts[n])
            n += 1
            continue
        m = n
        while m < len(stmts) and ok[m]:
            m += 1
        out.extend(_rewrite(stmts[n:m], stmts[m:], arrays))
        n = m
    return out


def _accepted(stmt: list[str]) -> bool:
    first = stmt[0].strip()
    if first.startswith("#"):
        return True
    if "_nb." in first or "numba." in first or first.startswith(("return", "if ", "with ", "while ")):
        return False
    try:
        tree = _parse("\n".join(line[4:] for line in stmt))
    except SyntaxError:
        return False
    if len(tree.body) != 1 or not isinstance(tree.body[0], (ast.For, ast.Assign, ast.AugAssign)):
        return False
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and not all(isinstance(t, (ast.Name, ast.Subscript))
                                                    for t in node.targets):
            return False
        if isinstance(node, ast.Call) and not (_np_call(node) or _np_call(node, "_vm") or (
                isinstance(node.func, ast.Name) and node.func.id == "range")):
            return False
        if isinstance(node, ast.Attribute) and not (isinstance(node.value, ast.Name)
                                                    and node.value.id in ("np", "_vm")):
            return False
    return True


def _rewrite(run: list[list[str]], after: list[list[str]], arrays: dict) -> list[str]:
    """``run`` as a ``_nb.loops`` call if it types, else unchanged. Comments stay in place
    (moved ahead of the call)."""
    flat = [line for s in run for line in s]
    is_code = [not s[0].strip().startswith("#") for s in run]
    if not any(is_code):
        return flat
    last = max(k for k, c in enumerate(is_code) if c)
    comments = [s[0] for s in run[:last] if s[0].strip().startswith("#")]
    trailing = [line for s in run[last + 1:] for line in s]
    code = [line[4:] for s in run[:last + 1] if not s[0].strip().startswith("#") for line in s]
    if not any(line.startswith("for ") for line in code):
        return flat  # straight-line scalar code: Numba's cost is small, leave it
    text = "\n".join(code)
    used = sorted(set(re.findall(r"\b(v\d+)\b", text)), key=lambda v: int(v[1:]))
    header = f"{', '.join(used)}{',' if len(used) == 1 else ''} = arrays"
    try:
        block = Block(header + "\n" + text)
        block.infer({v: arrays[v] for v in used if v in arrays})
    except (Unsupported, SyntaxError, KeyError):
        return flat
    later = "\n".join(trailing + [line for s in after for line in s])
    if any(re.search(rf"\b{re.escape(name)}\b", later) for name in block.types):
        return flat  # a local read after the run
    body = "\n".join("    " + line if line else line for line in [header] + code)
    tup = f"({', '.join(used)}{',' if len(used) == 1 else ''})"
    return comments + [f"    _nb.loops({tup}, S, '''", body, "    ''')"] + trailing
