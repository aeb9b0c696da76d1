"""Automatic differentiation: forward mode (JVP), linearize, and transposition (reverse mode).

Forward mode: :class:`JVPTrace` carries ``(primal, tangent)`` pairs and applies each
primitive's JVP rule. A tangent known to be zero is the symbolic :class:`Zero`, so rules
skip it and no zero array is ever built for an input that does not matter.

Reverse mode is built as JAX builds it: ``linearize`` runs the JVP with the tangents as
inputs of a staging trace in *fold* mode, so every operation on primal values alone is
evaluated at once (partial evaluation) and only the tangent computation, which is linear,
is recorded as a jaxpr. ``backward_pass`` then transposes that linear jaxpr, equation by
equation, in reverse order. Only linear primitives need a transpose rule, and every rule is
written with ``bind``, so reverse mode differentiates again (grad of grad).
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from . import core
from .core import Primitive, ShapedArray, Trace, Tracer, _state, bind, get_aval
from .errors import ConcretizationError, NonlinearTangentError
from .jaxpr import Jaxpr, Literal, StagingTrace, Var

jvp_rules: dict[Primitive, Callable] = {}
transpose_rules: dict[Primitive, Callable] = {}


class Zero:
    """A tangent or cotangent known to be zero, with the abstract value it stands for."""

    __slots__ = ("aval",)

    def __init__(self, aval: ShapedArray):
        self.aval = aval

    def __repr__(self):
        return f"Zero({self.aval.str_short()})"


# funcad.lax builds on this module (its primitives register their rules here), and the
# helpers here build on a few of its operations (add_p, full, broadcast_to, reduce_sum, reshape):
# funcad/lax/__init__.py hands itself over as ``lax`` when it is imported, so that neither
# module imports the other.
lax = None


def zeros_like_aval(aval: ShapedArray):
    return lax.full(aval.shape, 0, aval.dtype)


def instantiate(t, aval: ShapedArray | None = None):
    return zeros_like_aval(t.aval if aval is None else aval) if type(t) is Zero else t


def tangent_aval(aval: ShapedArray) -> ShapedArray:
    """Tangents of float arrays share their dtype; integer and bool values have none."""
    return aval


# --------------------------------------------------------------------------------------
# Forward mode


class JVPTracer(Tracer):
    # ``aval`` is a plain slot (it shadows Tracer.aval): the NumPy layer asks every operand
    # for its dtype, so a property would run on every eager operation.
    __slots__ = ("primal", "tangent", "aval")

    def __init__(self, trace, primal, tangent):
        self._trace = trace
        self.primal = primal
        self.tangent = tangent
        self.aval = get_aval(primal)


class JVPTrace(Trace):
    def pure(self, x):
        tracer = JVPTracer(self, x, None)
        tracer.tangent = Zero(tracer.aval)
        return tracer

    def process_primitive(self, prim, args, params):
        primals, tangents, constants = [], [], 0
        for x in args:
            if type(x) is JVPTracer and x._trace is self:
                primals.append(x.primal)
                tangents.append(x.tangent)
            else:
                if isinstance(x, Tracer) and not x._trace.alive:
                    raise core.escaped_tracer_error(x)
                primals.append(x)
                tangents.append(None)
                constants += 1
        state = _state  # run the rules in the parent trace (no contextmanager: hot path)
        prev, state.trace = state.trace, self.parent
        try:
            if constants == len(args):
                return bind(prim, *primals, **params)
            if constants:
                tangents = [Zero(get_aval(p)) if t is None else t for p, t in zip(primals, tangents)]
            rule = jvp_rules.get(prim)
            if rule is None:
                raise NotImplementedError(f"funcad has no differentiation rule for {prim.name}")
            primal_out, tangent_out = rule(primals, tangents, **params)
        finally:
            state.trace = prev
        if prim.multiple_results:
            return [p if type(t) is Zero else JVPTracer(self, p, t) for p, t in zip(primal_out, tangent_out)]
        return primal_out if type(tangent_out) is Zero else JVPTracer(self, primal_out, tangent_out)

    in_names: Sequence[str] = ()  # the differentiated inputs' names and tangents (messages)
    in_tangents: Sequence = ()

    def concrete_value(self, tracer, why, scalar=False):
        if scalar and type(tracer.tangent) is not Zero:
            raise ConcretizationError(
                f"{why} would drop its derivative: the value ({tracer.aval.str_short()}) is "
                f"being differentiated{self._origin(tracer.tangent)}, and a Python number "
                "carries no derivative, so the result would be silently wrong. Keep it an "
                "array: funcad.numpy functions instead of math's (fnp.sin(x), not math.sin(x)), "
                "x instead of float(x); write y = fnp.asarray(y).at[i].set(x) instead of "
                "y[i] = x; wrap it in funcad.lax.stop_gradient(x) if it is meant as a constant.")
        p = tracer.primal
        return p._concrete(why, scalar) if isinstance(p, Tracer) else p

    def _origin(self, tangent) -> str:
        names = list(self.in_names)
        lin = getattr(tangent, "_trace", None)
        if isinstance(lin, StagingTrace) and lin.alive:  # under grad: which inputs it depends on
            deps = lin.dependencies(tangent._var)
            names = [n for n, t in zip(names, self.in_tangents)
                     if getattr(t, "_trace", None) is lin and t._var in deps] or names
        names = [n for n in names if n]
        return f" with respect to {', '.join(names)}" if names else ""


def jvp_flat(fun: Callable, primals: Sequence, tangents: Sequence, names: Sequence[str] = ()):
    """Push tangents through ``fun(*primals) -> list``; return (primals_out, tangents_out).

    ``names`` name the inputs in error messages."""
    with core.new_trace(JVPTrace) as trace:
        trace.in_names, trace.in_tangents = names, tangents
        ins = [JVPTracer(trace, p, t) for p, t in zip(primals, tangents)]
        outs = fun(*ins)
        primals_out, tangents_out = [], []
        for o in outs:
            if type(o) is JVPTracer and o._trace is trace:
                primals_out.append(o.primal)
                tangents_out.append(o.tangent)
            else:
                primals_out.append(o)
                tangents_out.append(Zero(get_aval(o)))
    return primals_out, tangents_out


# --------------------------------------------------------------------------------------
# Rule helpers


def add_tangents(a, b):
    if type(a) is Zero:
        return b
    if type(b) is Zero:
        return a
    return core.bind(lax.add_p, a, b)


def defjvp(prim: Primitive, *rules: Callable | None) -> None:
    """One rule per argument: ``rule(x_dot, ans, *primals, **params) -> tangent term``.

    ``None`` marks an argument the output does not depend on differentiably.
    """

    def jvp(primals, tangents, **params):
        ans = core.bind(prim, *primals, **params)
        out = None
        for rule, t in zip(rules, tangents):
            if rule is not None and type(t) is not Zero:
                term = rule(t, ans, *primals, **params)
                out = term if out is None else add_tangents(out, term)
        ans_aval = get_aval(ans)
        if out is None:
            return ans, Zero(ans_aval)
        return ans, _broadcast_to_aval(out, ans_aval)

    def jvp_one(primals, tangents, **params):  # the same for one rule, without the loop
        ans = core.bind(prim, *primals, **params)
        t = tangents[0]
        if type(t) is Zero:
            return ans, Zero(get_aval(ans))
        out, shape = rules[0](t, ans, *primals, **params), get_aval(ans).shape
        return ans, out if get_aval(out).shape == shape else lax.broadcast_to(out, shape)

    jvp_rules[prim] = jvp_one if len(rules) == 1 and rules[0] is not None else jvp


def defjvp_zero(prim: Primitive) -> None:
    """The output is piecewise constant (comparisons, sign, floor...): tangent zero."""

    def jvp(primals, tangents, **params):
        ans = core.bind(prim, *primals, **params)
        if prim.multiple_results:
            return ans, [Zero(get_aval(a)) for a in ans]
        return ans, Zero(get_aval(ans))

    jvp_rules[prim] = jvp


def deflinear(prim: Primitive, transpose_rule: Callable) -> None:
    """A primitive linear in its single array argument: the JVP applies it to the tangent."""

    def jvp(primals, tangents, **params):
        ans = core.bind(prim, *primals, **params)
        t = tangents[0]
        if type(t) is Zero:
            return ans, Zero(get_aval(ans))
        return ans, core.bind(prim, t, *primals[1:], **params)

    jvp_rules[prim] = jvp
    transpose_rules[prim] = transpose_rule


def _broadcast_to_aval(x, aval: ShapedArray):
    if get_aval(x).shape == aval.shape:
        return x
    return lax.broadcast_to(x, aval.shape)


_NUMPY_TYPES = frozenset({np.ndarray, np.float64, np.float32})


def unbroadcast(x, aval: ShapedArray):
    """Sum ``x`` down to ``aval``'s shape: the transpose of NumPy broadcasting; and cast to
    ``aval``'s dtype (the real part for a real one): the transpose of the promotion a weakly
    typed operand, a traced Python float, gets without a convert_element_type (``x * 1j``,
    ``x * float32_array``)."""
    xa = x if type(x) in _NUMPY_TYPES else get_aval(x)  # its shape and dtype (a call fewer)
    if xa.dtype != aval.dtype:
        x = lax.convert_element_type(lax.real(x) if aval.dtype.kind != "c" else x, aval.dtype)
    shape = xa.shape
    if shape == aval.shape:
        return x
    lead = len(shape) - len(aval.shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(aval.shape) if n == 1 and shape[lead + i] != 1
    )
    if axes:
        x = lax.reduce_sum(x, axes)
    if get_aval(x).shape != aval.shape:
        x = lax.reshape(x, aval.shape)
    return x


# --------------------------------------------------------------------------------------
# Linearize and transpose


class UndefinedPrimal:
    """Marks a linear input of an equation being transposed."""

    __slots__ = ("aval",)

    def __init__(self, aval):
        self.aval = aval

    def __repr__(self):
        return f"UndefinedPrimal({self.aval.str_short()})"


# ``is_undefined(x)``: whether ``x`` is an UndefinedPrimal. The class's own isinstance check,
# a C function: transpose rules ask it for every operand of every equation.
is_undefined: Callable[[object], bool] = UndefinedPrimal.__instancecheck__


def linearize_flat(fun: Callable, primals: Sequence, aux_store: dict | None = None,
                   names: Sequence[str] = ()):
    """Evaluate ``fun`` at ``primals`` and stage its linear tangent map as a jaxpr.

    Returns ``(primals_out, jaxpr, consts)`` where ``jaxpr`` maps input tangents to output
    tangents and ``consts`` holds the primal values it needs (residuals).
    """
    with core.new_trace(StagingTrace, fold=True) as lin:
        tangents_in = [lin.new_arg(get_aval(p)) for p in primals]
        primals_out, tangents_out = jvp_flat(fun, primals, tangents_in, names)
        num_aux = (aux_store or {}).get("num_aux", 0)
        tangents_out = [instantiate(t) for t in tangents_out[: len(tangents_out) - num_aux]]
        jaxpr, consts = lin.to_jaxpr(tangents_in, tangents_out)
    return primals_out, jaxpr, consts


def backward_pass(jaxpr: Jaxpr, consts: Sequence, cts_out: Sequence) -> list:
    """Transpose the linear ``jaxpr``: map output cotangents to input cotangents.

    ``cts_out`` entries may be None (zero). The result has one entry per invar, None
    where the cotangent is zero.
    """
    primal_env = dict(zip(jaxpr.constvars, consts))  # residuals; every other Var is linear
    ct_env: dict[Var, object] = {}
    for v, ct in zip(jaxpr.outvars, cts_out):
        _write_ct(ct_env, primal_env, v, ct)
    # The loop body is written out (no helper calls per input): eager grad runs it for every
    # linear equation, and a Python call costs about as much as a NumPy operation on a scalar.
    for eqn in reversed(jaxpr.eqns):
        if eqn.prim.multiple_results:
            ct_arg = [ct_env.pop(v, None) for v in eqn.outputs]
            if all(ct is None for ct in ct_arg):
                continue
        else:
            ct_arg = ct_env.pop(eqn.outputs[0], None)
            if ct_arg is None:
                continue
        rule = transpose_rules.get(eqn.prim)
        if rule is None:
            raise NonlinearTangentError(
                f"reverse mode cannot transpose `{eqn.prim.name}` applied to a tangent: the "
                f"derivative rule that computed it is not linear in its tangents (a custom_jvp "
                f"rule whose output tangent is, e.g., clip, max or a power of an input tangent). "
                f"Use custom_vjp for a rule that is not linear, or forward mode (jvp, jacfwd).")
        invals = []
        for a in eqn.inputs:
            if type(a) is Literal:
                invals.append(a.val)
            else:
                val = primal_env.get(a, _LINEAR)
                if val is _LINEAR:
                    val = _UNDEFINED.get(id(a.aval)) or _undefined(a.aval)
                invals.append(val)
        cts_in = rule(ct_arg, *invals, **eqn.params)
        for a, ct, x in zip(eqn.inputs, cts_in, invals):
            # a cotangent for each linear input (None for the equation's non-linear inputs)
            if ct is not None and type(x) is UndefinedPrimal and type(ct) is not Zero:
                prev = ct_env.get(a)
                ct_env[a] = ct if prev is None else add_tangents(prev, ct)
    return [ct_env.get(v) for v in jaxpr.invars]


_LINEAR = object()  # the primal environment's answer for a linear variable


def _write_ct(ct_env, primal_env, v, ct):
    if ct is None or type(ct) is Zero or type(v) is Literal or v in primal_env:
        return
    prev = ct_env.get(v)
    ct_env[v] = ct if prev is None else add_tangents(prev, ct)


# The marker of a linear input, one shared instance per abstract value (keyed by identity:
# the entry keeps its aval alive, so the id is not reused): markers are never mutated and
# transpose rules read only their ``aval``, so no object is built per equation.
_UNDEFINED: dict[int, UndefinedPrimal] = {}


def _undefined(aval: ShapedArray) -> UndefinedPrimal:
    if len(_UNDEFINED) > 4096:
        _UNDEFINED.clear()
    u = _UNDEFINED[id(aval)] = UndefinedPrimal(aval)
    return u
