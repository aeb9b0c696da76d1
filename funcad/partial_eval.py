"""Transformations of whole jaxprs: JVP, partial evaluation, transposition and batching.

A primitive that holds a jaxpr (``cond``, ``while``, ``scan``, ``custom_jvp_call``,
``checkpoint``, ``jit``) differentiates and batches by transforming that jaxpr into another
one, traced once. Each function here takes a :class:`~funcad.jaxpr.ClosedJaxpr` and flags per
input, and returns a new closed jaxpr and flags per output:

* :func:`jvp_jaxpr` -- ``(primals, nonzero tangents) -> (primals out, nonzero tangents out)``
* :func:`partial_eval_jaxpr` -- split by which inputs are unknown into a known jaxpr (known
  inputs -> known outputs + residuals) and an unknown one (residuals + unknown inputs ->
  unknown outputs)
* :func:`transpose_jaxpr` -- a jaxpr linear in some inputs -> their cotangents
* :func:`batch_jaxpr` -- inputs with a leading batch axis -> outputs with one

Each is memoized (least recently used first out, at most :data:`MEMO_SIZE` entries per
function) on the jaxpr object, the identity of its constants and the flags, so a
transformation traced inside a loop or a jitted function's rule runs once.

>>> import numpy as np, funcad as fa, funcad.numpy as fnp
>>> from funcad import partial_eval as pe
>>> cj = fa.make_jaxpr(lambda x, y: fnp.sin(x) * y)(1.0, 2.0)
>>> known, unknown, out_uk, n_res = pe.partial_eval_jaxpr(cj, [False, True], False)
>>> [str(e.prim) for e in known.eqns], [str(e.prim) for e in unknown.eqns], out_uk, n_res
(['sin'], ['mul'], [True], 1)
>>> bool(pe.transpose_jaxpr(unknown, [False, True])(np.sin(1.0), 1.0)[0] == np.sin(1.0))
True
"""

from __future__ import annotations

import collections
import functools
import os
from collections.abc import Callable, Sequence

import numpy as np

from . import ad, core
from .ad import Zero
from .core import ShapedArray, Tracer, get_aval
from .jaxpr import ClosedJaxpr, Jaxpr, StagingTrace, eval_jaxpr, trace_to_jaxpr

__all__ = ["jvp_jaxpr", "partial_eval_jaxpr", "transpose_jaxpr", "batch_jaxpr"]

# Entries kept per transformation (each holds its jaxprs and constants alive).
MEMO_SIZE = int(os.environ.get("FUNCAD_JAXPR_MEMO_SIZE", "512"))


def _memoized(fn: Callable) -> Callable:
    """Memoize ``fn(cj, *flags)`` in a bounded LRU. The key holds the jaxpr (hashed by
    identity) and the ids of its constants; the entry keeps ``cj`` alive, so those ids stay
    unique while the entry lives. Flags may be lists (made tuples for the key)."""
    memo: collections.OrderedDict = collections.OrderedDict()

    @functools.wraps(fn)
    def wrapper(cj: ClosedJaxpr, *flags):
        key = (cj.jaxpr, tuple(map(id, cj.consts)),
               *(tuple(f) if isinstance(f, (list, tuple)) else f for f in flags))
        hit = memo.get(key)
        if hit is None:
            hit = memo[key] = (cj, fn(cj, *flags))
            while len(memo) > MEMO_SIZE:
                memo.popitem(last=False)
        else:
            memo.move_to_end(key)
        out = hit[1]  # callers may extend the flag lists: give them copies
        return tuple(list(x) if type(x) is list else x for x in out) if type(out) is tuple else out

    wrapper.cache_clear = memo.clear
    wrapper.cache_len = memo.__len__
    return wrapper


# --------------------------------------------------------------------------------------
# Helpers: evaluate and trace closed jaxprs


def eval_closed(cj: ClosedJaxpr, *args) -> list:
    return eval_jaxpr(cj.jaxpr, cj.consts, *args)


def trace_closed(fun: Callable, in_avals: Sequence[ShapedArray]) -> ClosedJaxpr:
    """Trace a derived ``fun(*flat) -> flat list`` (one closing over nothing traced)."""
    jaxpr, consts = trace_to_jaxpr(fun, list(in_avals))
    assert not any(isinstance(c, Tracer) for c in consts), "derived jaxprs close over no tracers"
    return ClosedJaxpr(jaxpr, consts)


def as_leaf(x):
    return x if isinstance(x, Tracer) else np.asarray(x)


def plain_aval(x) -> ShapedArray:
    a = get_aval(x)
    return ShapedArray(a.shape, a.dtype)


def _per_output(flag, n: int) -> list:
    return list(flag) if isinstance(flag, (list, tuple)) else [flag] * n


# --------------------------------------------------------------------------------------
# The four transformations


@_memoized
def jvp_jaxpr(cj: ClosedJaxpr, nonzeros: Sequence[bool], instantiate):
    """The JVP of ``cj``: ``(primals, nonzero tangents) -> (primals out, nonzero tangents out)``.

    ``instantiate`` (bool or one per output) forces an output tangent to be present.
    Returns the jaxpr and which output tangents it has.
    """
    avals, n = cj.in_avals, len(cj.in_avals)
    box = []

    def f(*args):
        it = iter(args[n:])
        tangents = [next(it) if nz else Zero(a) for a, nz in zip(avals, nonzeros)]
        outs, t_outs = ad.jvp_flat(lambda *xs: eval_closed(cj, *xs), list(args[:n]), tangents)
        inst = _per_output(instantiate, len(outs))
        out_nz = [type(t) is not Zero or bool(i) for t, i in zip(t_outs, inst)]
        box.append(out_nz)
        return [as_leaf(o) for o in outs] + [
            ad.instantiate(t, plain_aval(o)) for o, t, nz in zip(outs, t_outs, out_nz) if nz]

    jaxpr = trace_closed(f, list(avals) + [a for a, nz in zip(avals, nonzeros) if nz])
    return jaxpr, box[0]


@_memoized
def partial_eval_jaxpr(cj: ClosedJaxpr, unknowns: Sequence[bool], instantiate):
    """Split ``cj`` by which inputs are unknown.

    Returns ``(known, unknown, out_unknowns, num_res)``: ``known`` maps the known inputs to
    the known outputs followed by ``num_res`` residuals; ``unknown`` maps the residuals
    followed by the unknown inputs to the unknown outputs. ``instantiate`` (bool or one per
    output) makes an output unknown even if it is known. Built with a fold-mode staging
    trace nested in a plain one: what needs only known inputs folds into the outer trace,
    and primitives holding jaxprs are split inside by their partial evaluation rules.
    """
    avals = cj.in_avals
    box = {}

    def known_fun(*known_in):
        with core.new_trace(StagingTrace, fold=True) as tr:
            uk_in = [tr.new_arg(a) for a, uk in zip(avals, unknowns) if uk]
            ki, ui = iter(known_in), iter(uk_in)
            outs = eval_closed(cj, *[next(ui) if uk else next(ki) for uk in unknowns])
            inst = _per_output(instantiate, len(outs))
            out_uk = [tr.is_staged(o) or bool(i) for o, i in zip(outs, inst)]
            jaxpr_uk, res = tr.to_jaxpr(uk_in, [o for o, u in zip(outs, out_uk) if u])
        box.update(jaxpr=jaxpr_uk, out_uk=out_uk, num_res=len(res))
        return [as_leaf(o) for o, u in zip(outs, out_uk) if not u] + list(res)

    known = trace_closed(known_fun, [a for a, uk in zip(avals, unknowns) if not uk])
    j = box["jaxpr"]
    unknown = ClosedJaxpr(Jaxpr([], j.constvars + j.invars, j.eqns, j.outvars), [])
    return known, unknown, box["out_uk"], box["num_res"]


@_memoized
def transpose_jaxpr(cj: ClosedJaxpr, linear: Sequence[bool], ct_nonzero=None) -> ClosedJaxpr:
    """``cj`` is linear in the inputs marked ``linear``; return the jaxpr
    ``(other inputs, output cotangents) -> cotangents of the linear inputs``.

    ``cj`` may also compute on its other inputs (a JVP body carrying primals): that part is
    split off by partial evaluation and computed first. ``ct_nonzero`` (one per output,
    default all) says which output cotangents the jaxpr takes; the others are zero.
    """
    n_out = len(cj.jaxpr.outvars)
    ct_nonzero = [True] * n_out if ct_nonzero is None else list(ct_nonzero)
    known, unknown, out_uk, n_res = partial_eval_jaxpr(cj, linear, False)
    uj = unknown.jaxpr
    lin_vars = uj.invars[n_res:]
    as_linear = Jaxpr(uj.invars[:n_res], lin_vars, uj.eqns, uj.outvars)
    nk_in, nk_out = linear.count(False), out_uk.count(False)

    def f(*args):
        res = eval_closed(known, *args[:nk_in])[nk_out:]
        cts = iter(args[nk_in:])
        ct_all = [next(cts) if nz else None for nz in ct_nonzero]
        cts_in = ad.backward_pass(as_linear, res, [c for c, uk in zip(ct_all, out_uk) if uk])
        return [ad.zeros_like_aval(v.aval) if c is None else c for c, v in zip(cts_in, lin_vars)]

    out_avals = [ShapedArray(v.aval.shape, v.aval.dtype) for v in cj.jaxpr.outvars]
    return trace_closed(f, [a for a, lin in zip(cj.in_avals, linear) if not lin]
                        + [a for a, nz in zip(out_avals, ct_nonzero) if nz])


@_memoized
def batch_jaxpr(cj: ClosedJaxpr, axis_size: int, in_batched: Sequence[bool], force_out):
    """``cj`` with the inputs marked ``in_batched`` carrying a leading batch axis.

    Returns the batched jaxpr and which outputs are batched (at axis 0); ``force_out``
    (bool or one per output) batches an output even if it does not vary.
    """
    from . import batching

    in_avals = [ShapedArray((axis_size,) + a.shape, a.dtype) if b else a
                for a, b in zip(cj.in_avals, in_batched)]
    box = []

    def f(*args):
        with core.new_trace(batching.BatchTrace, axis_size) as trace:
            ins = [batching.BatchTracer(trace, x, 0) if b else x for x, b in zip(args, in_batched)]
            outs = eval_closed(cj, *ins)
            pairs = [(o.val, o.bdim) if type(o) is batching.BatchTracer and o._trace is trace
                     else (o, None) for o in outs]
        out_b = [d is not None or bool(fo) for (_, d), fo in zip(pairs, _per_output(force_out, len(pairs)))]
        box.append(out_b)
        return [batching.matchaxis(as_leaf(v), d, 0, axis_size) if b else as_leaf(v)
                for (v, d), b in zip(pairs, out_b)]

    return trace_closed(f, in_avals), box[0]
