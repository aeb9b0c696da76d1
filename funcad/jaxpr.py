"""The jaxpr: funcad's typed intermediate representation, and the trace that builds it.

A jaxpr is four small classes: :class:`Var` (a typed variable), :class:`Literal` (an
inline scalar), :class:`Eqn` (``outs = prim[params] ins``) and :class:`Jaxpr` (constants,
inputs, equations, outputs). :class:`StagingTrace` records equations as a function runs
on abstract values; :func:`trace_to_jaxpr` turns a Python function into a jaxpr;
:func:`eval_jaxpr` runs one by binding each equation under the current trace, so every
transformation applies to jaxprs for free.
"""

from __future__ import annotations

import functools
import operator
from typing import Any, Callable, NamedTuple, Sequence

import numpy as np

from . import core
from .core import Primitive, ShapedArray, Trace, Tracer, get_aval
from .errors import ConcretizationError, FuncadError


class Var:
    __slots__ = ("aval",)

    def __init__(self, aval: ShapedArray):
        self.aval = aval

    def __repr__(self):
        return f"Var({self.aval.str_short()})"


class Literal:
    __slots__ = ("val", "aval")

    def __init__(self, val, aval: ShapedArray | None = None):
        self.val = val
        self.aval = aval if aval is not None else get_aval(val)

    def __repr__(self):
        return f"Literal({self.val!r})"


Atom = Var | Literal


class Eqn(NamedTuple):
    prim: Primitive
    inputs: list  # of Atom
    params: dict
    outputs: list  # of Var


class Jaxpr:
    """``{ lambda constvars ; invars. let eqns in outvars }``."""

    __slots__ = ("constvars", "invars", "eqns", "outvars")

    def __init__(self, constvars, invars, eqns, outvars):
        self.constvars: list[Var] = list(constvars)
        self.invars: list[Var] = list(invars)
        self.eqns: list[Eqn] = list(eqns)
        self.outvars: list[Atom] = list(outvars)

    in_avals = property(lambda self: [v.aval for v in self.invars])
    out_avals = property(lambda self: [v.aval for v in self.outvars])

    def __repr__(self):
        return pp_jaxpr(self)


class ClosedJaxpr:
    """A jaxpr together with the values of its constvars; what make_jaxpr returns."""

    __slots__ = ("jaxpr", "consts", "in_tree", "out_tree")

    def __init__(self, jaxpr: Jaxpr, consts: Sequence, in_tree=None, out_tree=None):
        self.jaxpr = jaxpr
        self.consts = list(consts)
        self.in_tree = in_tree
        self.out_tree = out_tree

    in_avals = property(lambda self: self.jaxpr.in_avals)
    out_avals = property(lambda self: self.jaxpr.out_avals)
    eqns = property(lambda self: self.jaxpr.eqns)

    def __call__(self, *args):
        return eval_jaxpr(self.jaxpr, self.consts, *args)

    def __repr__(self):
        return pp_jaxpr(self.jaxpr)

    def __str__(self):
        return pp_jaxpr(self.jaxpr)


# --------------------------------------------------------------------------------------
# Evaluation


def eval_jaxpr(jaxpr: Jaxpr, consts: Sequence, *args) -> list:
    """Run ``jaxpr`` by binding each equation under the current trace."""
    env: dict[Var, Any] = {}

    def read(a):
        return a.val if type(a) is Literal else env[a]

    env.update(zip(jaxpr.constvars, consts))
    env.update(zip(jaxpr.invars, args))
    for eqn in jaxpr.eqns:
        outs = core.bind(eqn.prim, *map(read, eqn.inputs), **eqn.params)
        if eqn.prim.multiple_results:
            env.update(zip(eqn.outputs, outs))
        else:
            env[eqn.outputs[0]] = outs
    return [read(v) for v in jaxpr.outvars]


# --------------------------------------------------------------------------------------
# Type checking


class JaxprTypeError(FuncadError, TypeError):
    """A jaxpr that is not well typed: always a bug in a funcad rule."""


def typecheck_jaxpr(jaxpr: Jaxpr) -> None:
    """Check every variable is defined before use and every equation's types match its rule."""
    defined: set[Var] = set()

    def check_atom(a, where):
        if isinstance(a, Literal):
            return a.aval
        if a not in defined:
            raise JaxprTypeError(f"{where}: variable {a} used before it is defined")
        return a.aval

    for v in jaxpr.constvars + jaxpr.invars:
        if v in defined:
            raise JaxprTypeError(f"variable {v} bound twice")
        defined.add(v)
    for eqn in jaxpr.eqns:
        in_avals = [check_atom(a, eqn.prim.name) for a in eqn.inputs]
        out = eqn.prim.abstract_eval(*in_avals, **eqn.params)
        out_avals = out if eqn.prim.multiple_results else [out]
        if [v.aval for v in eqn.outputs] != list(out_avals):
            raise JaxprTypeError(
                f"{eqn.prim.name}: declared outputs {[v.aval for v in eqn.outputs]} but the "
                f"rule gives {list(out_avals)}"
            )
        for sub in _subjaxprs(eqn.params):
            typecheck_jaxpr(sub)
        for v in eqn.outputs:
            if v in defined:
                raise JaxprTypeError(f"variable {v} bound twice")
            defined.add(v)
    for a in jaxpr.outvars:
        check_atom(a, "output")


def _subjaxprs(params: dict):
    for p in params.values():
        if isinstance(p, Jaxpr):
            yield p
        elif isinstance(p, ClosedJaxpr):
            yield p.jaxpr
        elif isinstance(p, tuple):
            for q in p:
                if isinstance(q, Jaxpr):
                    yield q
                elif isinstance(q, ClosedJaxpr):
                    yield q.jaxpr


# --------------------------------------------------------------------------------------
# Pretty-printing, in JAX's text format


class _Namer:
    def __init__(self):
        self.names: dict[Var, str] = {}

    def __call__(self, v: Var) -> str:
        name = self.names.get(v)
        if name is None:
            name = self.names[v] = _var_name(len(self.names))
        return name


def _var_name(i: int) -> str:
    """a, b, ..., z, ba, bb, ...: base 26 with 'a' as the zero digit, as JAX names them."""
    s = ""
    while True:
        i, r = divmod(i, 26)
        s = chr(ord("a") + r) + s
        if not i:
            return s


def _pp_literal(lit: Literal) -> str:
    v = lit.val
    if isinstance(v, np.ndarray) and v.ndim:
        return f"array{lit.aval.str_short()}"
    v = v.item() if isinstance(v, np.ndarray | np.generic) else v
    return repr(v)


def _pp_param(v) -> str:
    if isinstance(v, np.dtype | type):
        return np.dtype(v).name
    if isinstance(v, (Jaxpr, ClosedJaxpr)):
        return "{...}"
    return repr(v)


def _is_jaxpr_tuple(v) -> bool:
    return isinstance(v, tuple) and bool(v) and all(isinstance(q, (Jaxpr, ClosedJaxpr)) for q in v)


def pp_jaxpr(jaxpr: Jaxpr, indent: int = 0, namer: _Namer | None = None) -> str:
    """``{ lambda ; a:f64[3]. let b:f64[3] = sin a in (b,) }``"""
    name = namer or _Namer()

    def atom(a):
        return _pp_literal(a) if isinstance(a, Literal) else name(a)

    def binder(v):
        return f"{name(v)}:{v.aval.str_short()}"

    consts = " ".join(map(binder, jaxpr.constvars))
    args = " ".join(map(binder, jaxpr.invars))
    head = f"{{ lambda {consts}{' ' if consts else ''}; {args}. let"
    lines = []
    for eqn in jaxpr.eqns:
        line = pp_eqn(eqn, name)
        for sub in _subjaxprs(eqn.params):
            line += "\n" + " " * (indent + 6) + pp_jaxpr(sub, indent + 6, name)
        lines.append(line)
    outs = "(" + ", ".join(map(atom, jaxpr.outvars)) + ("," if len(jaxpr.outvars) == 1 else "") + ")"
    pad = " " * indent
    if len(lines) <= 1 and "\n" not in "".join(lines):
        body = f" {lines[0]} " if lines else " "
        return f"{head}{body}in {outs} }}"
    body = "".join(f"\n{pad}    {ln}" for ln in lines)
    return f"{head}{body}\n{pad}  in {outs} }}"


def pp_eqn(eqn: Eqn, name: Callable[[Var], str]) -> str:
    """``c:f64[3] = add a b``: one equation, its variables named by ``name`` (a jaxpr's
    nested jaxprs are not shown)."""
    def atom(a):
        return _pp_literal(a) if isinstance(a, Literal) else name(a)

    lhs = " ".join(f"{name(v)}:{v.aval.str_short()}" for v in eqn.outputs) or "_"
    params = {k: v for k, v in eqn.params.items()
              if not isinstance(v, (Jaxpr, ClosedJaxpr)) and not _is_jaxpr_tuple(v)}
    p = "[" + " ".join(f"{k}={_pp_param(v)}" for k, v in params.items()) + "]" if params else ""
    return f"{lhs} = {eqn.prim.name}{p} {' '.join(map(atom, eqn.inputs))}".rstrip()


# --------------------------------------------------------------------------------------
# Staging: the trace that records a jaxpr


# Partial evaluation rules, for primitives that hold jaxprs: ``rule(trace, args, **params)``
# where ``trace`` is a fold-mode StagingTrace and ``args`` mix its tracers (unknown) with
# known values. See funcad/lax/control.py.
partial_eval_rules: dict[Primitive, Callable] = {}


_aval_of = operator.attrgetter("aval")
# Eqn((prim, inputs, params, outputs)) without the Python-level __new__ of a NamedTuple.
_new_eqn = functools.partial(tuple.__new__, Eqn)
_SCALAR_TYPES = frozenset({float, int, bool, np.float64, np.float32, np.int64, np.int32, np.bool_})


class StagingTracer(Tracer):
    __slots__ = ("_var", "aval")  # ``aval`` a slot (shadowing Tracer.aval): read on every op

    def __init__(self, trace: StagingTrace, var: Var):
        self._trace = trace
        self._var = var
        self.aval = var.aval


class StagingTrace(Trace):
    """Records each primitive as an equation instead of running it.

    With ``fold=True`` (used by linearize) an equation none of whose inputs are this trace's
    tracers is not recorded but run in the parent trace: this is partial evaluation, so
    the staged program holds only what depends on the staged inputs.
    """

    def __init__(self, parent: Trace, fold: bool = False, context: str = ""):
        super().__init__(parent)
        self.fold = fold
        self.context = context  # what traces (error messages): "" for jit and make_jaxpr
        # The parent's process_primitive when the parent is the root: known values are then
        # evaluated by a direct call (NumPy impls bind nothing, so no switch of the trace).
        self._eval = parent.process_primitive if type(parent) is core.EvalTrace else None
        self.eqns: list[Eqn] = []
        self.constvar_of: dict[int, Var] = {}
        self.consts: list = []
        self.arg_names: dict[Var, str] = {}
        self.lazy_arg_names = None  # (names, invars): names worked out for a message only

    def new_arg(self, aval: ShapedArray, name: str = "") -> StagingTracer:
        tracer = StagingTracer(self, Var(aval))
        if name:
            self.arg_names[tracer._var] = name
        return tracer

    def pure(self, x):
        return StagingTracer(self, self._constvar(x))

    def _constvar(self, x) -> Var:
        var = self.constvar_of.get(id(x))
        if var is None:
            var = self.constvar_of[id(x)] = Var(get_aval(x))
            self.consts.append(x)
        return var

    def to_atom(self, x):
        if isinstance(x, StagingTracer) and x._trace is self:
            return x._var
        if isinstance(x, Tracer):
            if not x._trace.alive:
                raise core.escaped_tracer_error(x)
            return self._constvar(x)
        if isinstance(x, np.ndarray):
            return Literal(x[()], get_aval(x)) if x.ndim == 0 else self._constvar(x)
        return Literal(x)

    def is_staged(self, x) -> bool:
        """Whether ``x`` is a tracer of this trace (unknown), not a value it treats as known."""
        return isinstance(x, StagingTracer) and x._trace is self

    def process_primitive(self, prim, args, params):
        if self.fold:
            for x in args:
                if type(x) is StagingTracer and x._trace is self:
                    break
            else:  # all inputs known: evaluate now, in the parent trace (partial evaluation)
                if self._eval is not None:
                    return self._eval(prim, args, params)
                state = core._state
                prev, state.trace = state.trace, self.parent
                try:
                    return core.bind(prim, *args, **params)
                finally:
                    state.trace = prev
        if self.fold and prim in partial_eval_rules:
            # Mixed known and unknown inputs to a primitive holding a jaxpr (cond, scan...):
            # its rule runs the known part now and stages only the unknown part.
            return partial_eval_rules[prim](self, args, **params)
        return self.stage(prim, args, params)

    def stage(self, prim, args, params):
        """Record ``prim`` applied to ``args`` as an equation, whatever its inputs."""
        atoms = []  # a loop, not comprehensions: this runs for every staged operation
        for x in args:
            if type(x) is StagingTracer and x._trace is self:
                atoms.append(x._var)
            elif type(x) in _SCALAR_TYPES:  # a Python or NumPy scalar (a rule's coefficient)
                atoms.append(Literal(x, get_aval(x)))
            else:
                atoms.append(self.to_atom(x))
        out_aval = prim.abstract_eval(*map(_aval_of, atoms), **params)
        if prim.multiple_results:
            outs = [StagingTracer(self, Var(a)) for a in out_aval]
            self.eqns.append(_new_eqn((prim, atoms, params, [t._var for t in outs])))
        else:
            outs = StagingTracer(self, Var(out_aval))
            self.eqns.append(_new_eqn((prim, atoms, params, [outs._var])))
        if core.debug_hooks.stage is not None:  # funcad.config's debug_nans: the source line
            core.debug_hooks.stage(self.eqns[-1])
        return outs

    def concrete_value(self, tracer, why, scalar=False):
        if self.context:
            raise ConcretizationError(
                f"{why} inside the function given to {self.context}, which funcad traces to a "
                f"program: the value ({tracer.aval.str_short()}) is abstract there, only its "
                "shape and dtype are known. Use funcad.lax.cond / funcad.numpy.where / "
                "funcad.lax.while_loop for value-dependent control flow.")
        names = self._input_names(tracer._var)
        origin = f" It depends on the argument{'s' if len(names) > 1 else ''} {', '.join(names)}." if names else ""
        raise ConcretizationError(
            f"{why} inside jit or make_jaxpr, where the value ({tracer.aval.str_short()}) is "
            f"abstract: only its shape and dtype are known.{origin} Mark the argument static "
            "(jit(f, static_argnums=...) or static_argnames=...) if it is a setting rather than "
            "data, or use funcad.lax.cond / funcad.numpy.where / funcad.lax.while_loop for "
            "value-dependent control flow."
        )

    def _input_names(self, var: Var) -> list[str]:
        """The names of the traced arguments that ``var`` depends on (for error messages)."""
        if self.lazy_arg_names is not None:
            names, invars = self.lazy_arg_names
            self.arg_names.update((v, n) for v, n in zip(invars, names) if n)
            self.lazy_arg_names = None
        needed = self.dependencies(var)
        return [n for v, n in self.arg_names.items() if v in needed]

    def dependencies(self, var: Var) -> set[Var]:
        """The variables ``var`` is computed from (itself included)."""
        needed = {var}
        for eqn in reversed(self.eqns):
            if any(o in needed for o in eqn.outputs):
                needed.update(a for a in eqn.inputs if isinstance(a, Var))
        return needed

    def to_jaxpr(self, in_tracers, out_vals) -> tuple[Jaxpr, list]:
        outvars = [self.to_atom(x) for x in out_vals]
        invars = [t._var for t in in_tracers]
        constvars = [self.constvar_of[id(c)] for c in self.consts]
        return Jaxpr(constvars, invars, self.eqns, outvars), list(self.consts)


class ConcreteStagingTrace(StagingTrace):
    """A staging trace that knows its inputs' concrete values: an ``if`` on a staged value
    evaluates it and the jaxpr records the branch taken, as JAX's tracing on concrete values
    once did. For a function traced under eager transformations (custom_jvp/custom_vjp's),
    whose jaxpr serves these values only. A conversion to a Python number stays refused: it
    would freeze a value the jaxpr's derivative must see."""

    def __init__(self, parent: Trace, values: Sequence, context: str = ""):
        super().__init__(parent, context=context)
        self.values = values
        self.invars: list[Var] = []

    def new_arg(self, aval, name=""):
        tracer = super().new_arg(aval, name)
        self.invars.append(tracer._var)
        return tracer

    def concrete_value(self, tracer, why, scalar=False):
        if scalar:
            return super().concrete_value(tracer, why, scalar)
        prefix = Jaxpr([self.constvar_of[id(c)] for c in self.consts], self.invars, list(self.eqns),
                       [tracer._var])
        with core.set_current_trace(self.parent):
            (out,) = eval_jaxpr(prefix, list(self.consts), *self.values)
        return out._concrete(why, scalar) if isinstance(out, Tracer) else out


def trace_to_jaxpr(
    fun: Callable, in_avals: Sequence[ShapedArray], arg_names: Sequence[str] = (), fold: bool = False,
    context: str = "", values: Sequence | None = None,
) -> tuple[Jaxpr, list]:
    """Trace ``fun(*flat_args) -> flat list`` on abstract inputs; return ``(jaxpr, consts)``.

    ``arg_names`` name the inputs in error messages (a ConcretizationError says which
    argument a value came from), ``context`` says what traces (default: jit). With
    ``values`` (the inputs' concrete values) Python control flow on traced values works,
    and the jaxpr is valid for those values only.
    """
    lazy = not isinstance(arg_names, (list, tuple))  # (api's _LazyPaths: computed if needed)
    names = [""] * len(in_avals) if lazy else list(arg_names) + [""] * (len(in_avals) - len(arg_names))
    trace_type = functools.partial(StagingTrace, fold=fold, context=context) if values is None \
        else functools.partial(ConcreteStagingTrace, values=values, context=context)
    with core.new_trace(trace_type) as trace:
        in_tracers = [trace.new_arg(a, n) for a, n in zip(in_avals, names)]
        if lazy:
            trace.lazy_arg_names = (arg_names, [t._var for t in in_tracers])
        outs = fun(*in_tracers)
        jaxpr, consts = trace.to_jaxpr(in_tracers, outs)
    return jaxpr, consts


def jaxpr_as_fun(jaxpr: Jaxpr, consts) -> Callable:
    return lambda *args: eval_jaxpr(jaxpr, consts, *args)


# --------------------------------------------------------------------------------------
# The jit primitive: params ``jaxpr`` (a Jaxpr without constvars) and ``name``. Defined here,
# below everything that inspects it (simplify, sparsity, debug_nans); its implementation
# (compile, then run) is registered by funcad/backend/dispatch.py, its rules by
# funcad/jit.py.

jit_p = Primitive("jit", multiple_results=True)


def _jit_abstract_eval(*avals, jaxpr: Jaxpr, name: str):
    expected = [v.aval for v in jaxpr.invars]
    if len(avals) != len(expected) or any(
        a.shape != e.shape or a.dtype != e.dtype for a, e in zip(avals, expected)
    ):
        raise TypeError(f"jit program {name} expects {expected}, got {list(avals)}")
    return [v.aval for v in jaxpr.outvars]


jit_p.def_abstract_eval(_jit_abstract_eval)


def bind_jaxpr(jaxpr: Jaxpr, args: Sequence, name: str) -> list:
    """Bind ``jit`` on ``jaxpr`` unless it is trivial (no equations): then just forward values."""
    if not jaxpr.eqns:
        env = dict(zip(jaxpr.invars, args))
        return [a.val if type(a) is Literal else env[a] for a in jaxpr.outvars]
    return jit_p.bind(*args, jaxpr=jaxpr, name=name)
