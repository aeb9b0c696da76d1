"""Eager transformations through a cache of transformed programs.

An eager ``fa.hessian(f)(x)`` linearizes ``f``'s Jacobian on every call: each of ``f``'s
operations goes through three trace levels, its rules run, and the linear map is staged,
cleaned and batched over the basis, all in Python, for every call (about 1.3 ms for a ten-op
logistic loss, against 2 ms of NumPy work). Here the user's Python still runs on every call
(its side effects, its control flow on these values), but only to record ``f``'s own small
program; the transformed program is a function of that program alone, so it is built once,
simplified, and looked up by the program's structure afterwards:

1. ``f`` is traced on the call's concrete values (:class:`~funcad.jaxpr.ConcreteStagingTrace`:
   an ``if`` on a value takes its branch, and the program records the branch taken);
2. the key is the program's structure: equations, parameters, literal scalars (by their bits),
   and the shapes and dtypes of inputs and captured constants, never the values of the
   captured arrays (``X`` and ``y`` in a closure), which are the program's inputs by position;
3. on a miss, the transformation is traced on abstract inputs (constants included), simplified
   (funcad/backend/simplify.py: constant folding, exact IEEE rewrites, CSE and DCE),
   generated as straight-line Python and stored, at most :data:`CACHE_SIZE` programs, least
   recently used first out;
4. the program runs on this call's constants and arguments, each equation a direct call of
   the primitive's NumPy implementation: the same calls ``eval_jaxpr`` makes at top level.

A program whose structure cannot be keyed (an equation holding a sub-program or a function,
as ``jit``, ``cond`` or ``custom_jvp`` do), one whose literal scalars change from call to call
(an annealed coefficient), and any call under ``debug_nans`` take the uncached route on the
recorded program; a function that cannot be traced on values (``float(x)``) takes the
uncached route on the function itself, as before, and its Python then runs twice in that call.
"""

from __future__ import annotations

import keyword
import struct
import threading
from collections import OrderedDict
from collections.abc import Callable

import numpy as np

from . import core
from .core import Tracer, get_aval
from .jaxpr import Jaxpr, Literal, Var, trace_to_jaxpr

CACHE_SIZE = 64
ENABLED = True  # False: every eager transformation takes the uncached route (for comparisons)
_FOLD_SIZE = 1 << 16  # constant equations with larger results run on every call...
_MAX_CONST_BYTES = 1 << 24  # ...and a program holding more in constants is not cached
_MAX_LITERAL_MISSES = 8  # programs differing only in literal scalars: then stop caching them

_cache: OrderedDict = OrderedDict()
_lock = threading.Lock()  # eager grads may run in threads (dask's workers)
_literal_misses: dict = {}
stats = {"hits": 0, "misses": 0, "uncached": 0}


class _Uncacheable(Exception):
    """The program holds something its structure key cannot capture."""


def clear() -> None:
    with _lock:
        _cache.clear()
        _literal_misses.clear()


# --------------------------------------------------------------------------------------
# The structure key


def _freeze(v):
    """A hashable stand-in for a parameter, equal only for equal values (-0.0 and 0.0 differ,
    True and 1 differ); :class:`_Uncacheable` for what it cannot capture."""
    t = type(v)
    if v is None or v is Ellipsis or t is str or t is int:
        return v
    if t is bool or isinstance(v, np.bool_):
        return ("bool", bool(v))
    if isinstance(v, (float, complex, np.floating, np.complexfloating)):
        return (t, repr(v))
    if isinstance(v, np.integer):
        return (t, int(v))
    if isinstance(v, np.dtype) or (t is type and issubclass(v, np.generic)):
        return np.dtype(v)
    if t is tuple or t is list:
        return (t, tuple(map(_freeze, v)))
    if t is dict:
        return ("dict", tuple((k, _freeze(x)) for k, x in sorted(v.items())))
    if t is np.ndarray:
        return ("ndarray", v.dtype.str, v.shape, v.tobytes())
    raise _Uncacheable(t.__name__)


_pack_double = struct.Struct("<d").pack
_PLAIN = (int, str, type(None))
_INT = {int}


def _literal_key(lit: Literal):
    v = lit.val
    if type(v) is float:  # by its bits: -0.0 and 0.0 differ, a NaN equals itself
        return ("lit", float, _pack_double(v), lit.aval.weak_type)
    if type(v) is int:
        return ("lit", int, v, lit.aval.weak_type)
    a = np.asarray(v)
    return ("lit", type(v), a.dtype.str, a.tobytes(), lit.aval.weak_type)


def _params_key(params: dict) -> tuple:
    out = []
    for k, x in params.items():
        t = type(x)
        if t in _PLAIN or (t is tuple and {*map(type, x)} <= _INT):
            out.append((k, x))  # the common case (shapes, axes): as it is
        else:
            out.append((k, _freeze(x)))
    return tuple(out)


def structure_key(jaxpr: Jaxpr) -> tuple[tuple, list]:
    """``(key, literal_at)``: the program's structure with everything but the values of its
    constants and inputs, and the positions in ``key`` of the parts holding a literal (for
    :func:`coarse_key`). Runs on every eager call: tuples of plain values, no nesting it can
    avoid."""
    ids: dict = {}
    for v in jaxpr.constvars:
        ids[v] = len(ids)
    for v in jaxpr.invars:
        ids[v] = len(ids)
    parts = [tuple((v.aval.shape, v.aval.dtype, v.aval.weak_type) for v in jaxpr.constvars),
             tuple((v.aval.shape, v.aval.dtype, v.aval.weak_type) for v in jaxpr.invars)]
    literal_at = []  # the parts holding a literal
    for e in jaxpr.eqns:
        ins = []
        for a in e.inputs:
            if type(a) is Var:
                ins.append(ids[a])
            else:
                ins.append(_literal_key(a))
                if not literal_at or literal_at[-1] != len(parts):
                    literal_at.append(len(parts))
        for o in e.outputs:
            ids[o] = len(ids)
        parts.append((e.prim, tuple(ins), _params_key(e.params) if e.params else (),
                      tuple((o.aval.shape, o.aval.dtype, o.aval.weak_type) for o in e.outputs)))
    outs = tuple(ids[a] if type(a) is Var else _literal_key(a) for a in jaxpr.outvars)
    if any(type(a) is not Var for a in jaxpr.outvars):
        literal_at.append(len(parts))
    parts.append(outs)
    return tuple(parts), literal_at


def coarse_key(key: tuple, literal_at: list) -> tuple:
    """``key`` without the literals' values (their types and dtypes kept): programs that
    differ in literals only (an annealed coefficient) have the same coarse key."""
    def blank(atoms):  # ("lit", type[, dtype], value, weak) -> ("lit", type[, dtype], weak)
        return tuple(a if type(a) is not tuple else a[:2] + a[-1:] if a[1] in (float, int)
                     else a[:3] + a[-1:] for a in atoms)

    parts, last = list(key), len(key) - 1
    for i in literal_at:
        p = parts[i]
        parts[i] = blank(p) if i == last else (p[0], blank(p[1])) + p[2:]
    return tuple(parts)


# --------------------------------------------------------------------------------------
# The lean interpreter


def lean_program(jaxpr: Jaxpr, consts) -> Callable:
    """``run(*args) -> list``: ``eval_jaxpr(jaxpr, consts, *args)`` at top level, each equation
    a direct call of its primitive's implementation (with the weak-type rule of
    ``core.EvalTrace``), generated as a Python function (``run.source``). Outputs that are not
    computed by the program (its constants, literals, inputs), and repeats of an output, come
    back as copies, so that the caller may write into what it gets without touching the cache,
    its own arguments or another output."""
    # Equations of the program's own constants only (``full``, an iota's comparison) are
    # run here, once: their values become constants too.
    known = dict(zip(jaxpr.constvars, consts))
    eqns = []
    for e in jaxpr.eqns:
        if (e.prim not in core.EFFECTFUL and all(o.aval.size <= _FOLD_SIZE for o in e.outputs)
                and all(type(a) is Literal or a in known for a in e.inputs)):
            vals = [a.val if type(a) is Literal else known[a] for a in e.inputs]
            out = core.EvalTrace(None).process_primitive(e.prim, vals, e.params)
            known.update(zip(e.outputs, out if e.prim.multiple_results else [out]))
        else:
            eqns.append(e)
    # The rest becomes straight-line Python, one line per equation (``v7 = f3(v2, k3_1,
    # axes=p3_axes)``): no loop, list or ``**params`` per equation, 0.3 us each instead of 2.
    name = {v: f"v{i}" for i, v in enumerate(list(known) + jaxpr.invars)}
    ns = {name[v]: c for v, c in known.items()}
    ns.update(W=core._WEAK_TYPES, R=core._weak_result, copy=np.array)
    body = []
    for i, e in enumerate(eqns):
        ns[f"f{i}"] = e.prim.impl
        args = []
        for j, a in enumerate(e.inputs):
            if type(a) is Var:
                args.append(name[a])
            else:
                ns[f"k{i}_{j}"] = a.val
                args.append(f"k{i}_{j}")
        kwargs = []
        if all(k.isidentifier() and not keyword.iskeyword(k) for k in e.params):
            for k, x in e.params.items():
                ns[f"p{i}_{k}"] = x
                kwargs.append(f"{k}=p{i}_{k}")
        elif e.params:
            ns[f"p{i}"] = e.params
            kwargs.append(f"**p{i}")
        for o in e.outputs:
            name[o] = f"v{len(name)}"
        outs = ", ".join(name[o] for o in e.outputs)
        call = f"f{i}({', '.join(args + kwargs)})"
        body.append(f"{outs}{',' if e.prim.multiple_results else ''} = {call}" if outs else call)
        if not e.prim.multiple_results and e.inputs and e.inputs[0].aval.weak_type:
            # core.EvalTrace's rule: Python scalars (weakly typed) in, a Python scalar out
            body.append(f"if type({args[0]}) in W: {outs} = R({outs}, ({', '.join(args)},))")
    computed = set(name) - set(known) - set(jaxpr.invars)
    results, seen = [], set()
    for i, a in enumerate(jaxpr.outvars):  # an output given twice (repeated argnums): two arrays
        if type(a) is Literal:
            ns[f"out{i}"] = a.val
            results.append(f"copy(out{i})")
        else:
            results.append(name[a] if a in computed and a not in seen else f"copy({name[a]})")
            seen.add(a)
    params = ", ".join(name[v] for v in jaxpr.invars)
    source = "\n    ".join([f"def run({params}):", *body, f"return [{', '.join(results)}]"])
    exec(compile(source, "<funcad eager program>", "exec"), ns)  # noqa: S102 - our own text
    run = ns["run"]
    steps = eqns
    run.jaxpr, run.steps, run.source = jaxpr, len(steps), source  # for inspection (tests, docs)
    return run


# --------------------------------------------------------------------------------------
# Transformations through the cache


def _usable(leaves) -> bool:
    return (ENABLED and core.is_top_level() and core.debug_hooks.eval is None
            and core.debug_hooks.stage is None
            and not any(isinstance(x, Tracer) for x in leaves))


def run_cached(kind: Callable, flat: Callable, in_leaves, names, build: Callable,
               uncached: Callable, finish: Callable):
    """Apply a transformation to ``flat`` (a function of flat leaves to flat leaves) at
    ``in_leaves``, through the cache.

    ``build(fun_of_jaxpr, n_consts)`` runs the transformation on
    ``fun_of_jaxpr(consts, leaves)`` and returns a flat list of outputs plus whatever Python
    structure the caller needs to rebuild them (it is traced on abstract values once per
    structure); ``uncached(fn)`` runs the transformation eagerly on the function ``fn``
    (``flat`` itself or the recorded program). ``kind()`` is the rest of the key (called after
    the trace): the transformation, its settings and the trees of inputs and outputs. Returns
    ``finish(flat outputs, structure, inputs)`` (``inputs`` the constants and ``in_leaves``,
    which the outputs must not be written through) or ``uncached(...)``."""
    if not _usable(in_leaves):
        return uncached(flat)
    try:
        jaxpr, consts = trace_to_jaxpr(flat, [get_aval(x) for x in in_leaves], names,
                                       values=list(in_leaves))
    except Exception:  # noqa: BLE001 - not traceable on values: the route of old, which raises
        return uncached(flat)  # the user's error if there is one (f runs a second time)

    def recorded(*leaves):
        return _eval(jaxpr, consts, leaves)

    if any(isinstance(c, Tracer) for c in consts):  # a closure over an outer transformation's value
        return uncached(recorded)
    try:
        key, literal_at = structure_key(jaxpr)
    except _Uncacheable:
        stats["uncached"] += 1
        return uncached(recorded)
    key = (kind(), key)
    with _lock:
        entry = _cache.get(key)
        if entry is not None:
            _cache.move_to_end(key)
    if entry is None:
        coarse = (key[0], coarse_key(key[1], literal_at)) if literal_at else None
        if coarse is not None and _literal_misses.get(coarse, 0) >= _MAX_LITERAL_MISSES:
            stats["uncached"] += 1
            return uncached(recorded)
        entry = _build(jaxpr, consts, build)
        if entry is None:
            stats["uncached"] += 1
            return uncached(recorded)
        with _lock:
            stats["misses"] += 1
            if coarse is not None:
                _literal_misses[coarse] = _literal_misses.get(coarse, 0) + 1
            _cache[key] = entry
            while len(_cache) > CACHE_SIZE:
                _cache.popitem(last=False)
    else:
        stats["hits"] += 1
    run, structure = entry
    inputs = consts + list(in_leaves)
    return finish(run(*inputs), structure, inputs)


def _eval(jaxpr, consts, leaves):
    from .jaxpr import eval_jaxpr

    return eval_jaxpr(jaxpr, consts, *leaves)


def _build(jaxpr: Jaxpr, consts, build: Callable):
    """The transformation of ``jaxpr`` traced on abstract constants and inputs, simplified,
    as ``(lean program, structure)``; None when the transformation needs values."""
    from .backend.simplify import simplify

    n = len(jaxpr.constvars)
    holder: dict = {}

    def program(*xs):
        def fun_of_jaxpr(*leaves):
            return _eval(jaxpr, xs[:n], leaves)

        outs, holder["structure"] = build(fun_of_jaxpr, xs[n:])
        return outs

    avals = [v.aval for v in jaxpr.constvars] + [v.aval for v in jaxpr.invars]
    try:
        staged, staged_consts = trace_to_jaxpr(program, avals)
    except Exception:  # noqa: BLE001 - e.g. a rule that needs values: the uncached route
        return None
    if sum(np.asarray(c).nbytes for c in staged_consts) > _MAX_CONST_BYTES:
        return None  # the cache must not keep large arrays alive (a materialized basis)
    # lean_program then runs what is left of the constants' equations (``full``...) once
    return lean_program(simplify(staged), staged_consts), holder["structure"]
