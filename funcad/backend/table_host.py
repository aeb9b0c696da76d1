"""Host steps: an equation without native code, run inside a table program by its primitive's
NumPy implementation (as eager runs it): how the table covers every program (:func:`degraded`).

A host step is a ctypes callback with the kernels' signature, ``void(i8** buffers, i64*
slots)``, whose address goes into the program's table of kernel addresses (not into the
LLVM module: the module and its disk-cache key are the same whatever the host steps are).
It ignores its arguments but to flag an error: the per-call tuple of arrays the native call
reads its buffers from is on a per-thread stack (``run`` pushes it), so the callback builds
NumPy views of its input regions from it, calls ``prim.impl``, checks the results' shapes and
dtypes and writes them into its output regions. Nested, reentrant and multi-threaded calls
each see their own tuple.

ctypes prints and swallows an exception raised in a callback: a host step catches it, keeps
it on the call's frame and sets the call's stop word (the pointer before the buffer table:
``buffers[-1]``), after which the interpreter stops; ``run`` re-raises it once the native
call has returned. A singular matrix, a callback's error or a KeyboardInterrupt reach the
caller as the same exception as eagerly.

Also here: :func:`inline_calls`, which splices custom_jvp / custom_vjp / checkpoint /
custom_lin calls into the program, their closed-over
arrays becoming the program's constants, and argmax/argmin as reductions and selects
(lax/sorting.py's ``arg_reduction_body``), so they run in loops rather than as host steps.
"""

from __future__ import annotations

import ctypes
import logging
import os
import sys
import threading

import numpy as np

from ..jaxpr import Eqn, Jaxpr, Literal, Var
from . import table

_KERNEL = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p)


class _Frames(threading.local):
    def __init__(self):
        self.stack: list = []  # per native call in progress on this thread: [buffers, error]


_frames = _Frames()


def run(entry, bufs: tuple, info: int) -> None:
    """One native call of a program with host steps; re-raises what a host step raised."""
    frame = [bufs, None]
    stack = _frames.stack
    stack.append(frame)
    try:
        entry(id(bufs), info)  # (bufs is alive until the call returns)
    finally:
        stack.pop()
    if frame[1] is not None:
        error, frame[1] = frame[1], None
        raise error


class HostStep:
    """``eqn`` run by ``eqn.prim.impl``: ``ins`` (a Region or a constant value per operand)
    read as views of the call's buffers, results written into the regions ``outs``."""

    def __init__(self, eqn, ins: list, outs: list):
        self.eqn, self.ins, self.outs = eqn, ins, outs

    def __repr__(self):
        return f"host[{self.eqn.prim.name}]"

    def bind(self):
        """The callback (a ctypes function, which the program keeps alive). The regions'
        (buffer, offset) pairs are read from the call's slots, where a loop of table_control.py
        advances them; shapes, dtypes and strides are fixed."""
        ins, n = [], 0
        for a in self.ins:
            ins.append((n, a.shape, a.dtype, a.strides) if type(a) is table.Region else a)
            n += type(a) is table.Region
        outs = [(n + j, r.shape, r.dtype, r.strides) for j, r in enumerate(self.outs)]
        words = ctypes.c_int64 * (2 * (n + len(outs)))
        prim, params = self.eqn.prim, self.eqn.params
        many = prim.multiple_results

        def step(buffers, slots):
            frame = _frames.stack[-1]
            try:
                bufs, w = frame[0], words.from_address(slots)
                out = prim.impl(*[_view(bufs, w, *a) if type(a) is tuple else a for a in ins], **params)
                out = out if many else (out,)
                if len(out) != len(outs):
                    raise _mismatch(prim, f"{len(out)} results", f"{len(outs)}")
                for o, (k, shape, dtype, strides) in zip(out, outs):
                    o = np.asarray(o)
                    if o.shape != shape or o.dtype != dtype and not np.can_cast(o.dtype, dtype, "same_kind"):
                        raise _mismatch(prim, f"a {o.dtype}{list(o.shape)} result",
                                        f"{np.dtype(dtype)}{list(shape)}")
                    if o.size:
                        _view(bufs, w, k, shape, dtype, strides)[...] = o
            except BaseException as e:  # noqa: BLE001 (re-raised by run, after the native call)
                frame[1] = e
                ctypes.c_void_p.from_address(buffers - 8).value = 1  # the stop word: the interpreter stops

        return _KERNEL(step)


def _view(bufs, w, k, shape, dtype, strides):
    """Region ``k`` of a call (its buffer and byte offset: slots ``w[2k]``, ``w[2k + 1]``)."""
    return table.array_at(bufs[w[2 * k]], w[2 * k + 1], shape, dtype, strides)


def _mismatch(prim, got, want):
    from ..errors import ShapeError

    return ShapeError(f"funcad.jit: the implementation of {prim.name} returned {got} where the "
                      f"compiled program expects {want} (its shape and dtype rule): a bug in "
                      f"{prim.name}'s rules, please report it. The function runs correctly "
                      "without jit meanwhile.")


def degraded(plan, eqns, why) -> None:
    """A fusion item the table does not compile natively (``why``): each equation a host
    step, logged under ``FUNCAD_LOG_COMPILES=1``. (A cond, while or scan among them runs its
    body eagerly, op by op, at every call.)"""
    if os.environ.get("FUNCAD_LOG_COMPILES", "") not in ("", "0"):
        logging.getLogger("funcad.jit").warning(
            "funcad.jit: %s: host step%s (%s)", ", ".join(e.prim.name for e in eqns),
            "s"[:len(eqns) > 1], why)
    for e in eqns:
        host_rule(plan, e)


def host_rule(plan, e) -> None:
    """``e`` as a host step: operands as views (a literal, or a ``full`` read as an array, as
    a constant value), outputs in fresh regions."""
    if e.prim.impl is None:
        raise table.Unsupported(e.prim.name)
    ins = []
    for a in e.inputs:
        if type(a) is Literal:
            ins.append(np.asarray(a.val, a.aval.dtype))
        elif a in plan.consts and a not in plan.regions:
            ins.append(np.full(a.aval.shape, plan.consts[a], a.aval.dtype))
        else:
            ins.append(plan.region(a))
    outs = [plan.fresh(v) for v in e.outputs]
    plan.calls.append((HostStep(e, ins, outs), [r for r in ins if type(r) is table.Region] + outs))


table.HOST = sys.modules[__name__]  # (table.py does not import this module: dispatch does)


# --------------------------------------------------------------------------------------
# custom_jvp / custom_vjp / checkpoint / custom_lin calls: their bodies, inline


def _bodies() -> dict:
    from .. import custom_derivatives as cd
    from ..lax import sorting as so
    from ..lax.control import _trace

    def lin(e):
        return _trace(lambda *a: cd._custom_lin_forward(*a, **e.params), [a.aval for a in e.inputs])

    def arg_reduction(e):  # argmax/argmin: reductions and selects in loops, not a host step
        x = e.inputs[0].aval
        return _trace(lambda x: [so.arg_reduction_body(x, prim=e.prim, **e.params)], [x])

    return {cd.custom_jvp_call_p: lambda e: e.params["call_jaxpr"],
            cd.custom_vjp_call_p: lambda e: e.params["call_jaxpr"],
            cd.remat_p: lambda e: e.params["jaxpr"], cd.custom_lin_p: lin,
            so.argmax_p: arg_reduction, so.argmin_p: arg_reduction}


def _has_calls(p, bodies) -> bool:
    if type(p) is tuple:
        return any(_has_calls(q, bodies) for q in p)
    return type(getattr(p, "jaxpr", None)) is Jaxpr and any(_calls(e, bodies) for e in p.jaxpr.eqns)


def _calls(e, bodies) -> bool:
    """Whether ``e`` is such a call or has one in a body it holds."""
    return e.prim in bodies or any(_has_calls(p, bodies) for p in e.params.values())


def _nested(p, bodies):
    """A parameter with the calls in its closed jaxprs (a loop's body, cond's branches) inlined."""
    if type(p) is tuple:
        return tuple(_nested(q, bodies) for q in p)
    if not _has_calls(p, bodies):
        return p
    cv = p.jaxpr.constvars
    j, consts = inline_calls(Jaxpr([], cv + p.jaxpr.invars, p.jaxpr.eqns, p.jaxpr.outvars))
    return type(p)(Jaxpr(cv + j.constvars, j.invars[len(cv):], j.eqns, j.outvars),  # (a ClosedJaxpr)
                   [*p.consts, *consts.values()])


def inline_calls(jaxpr: Jaxpr) -> tuple[Jaxpr, dict]:
    """``(jaxpr, consts)``: ``jaxpr`` with every custom_jvp / custom_vjp / checkpoint /
    custom_lin call (and argmax/argmin) replaced by its body (simplified again), in nested bodies too, and
    ``{constvar: array}`` for the arrays those bodies close over."""
    bodies = _bodies()
    if not any(_calls(e, bodies) for e in jaxpr.eqns):
        return jaxpr, {}
    from .simplify import simplify

    eqns, consts = [], {}

    def atom(env, a):
        return env.get(a, a) if type(a) is Var else a

    def splice(j: Jaxpr, env: dict, rename: bool) -> None:
        for e in j.eqns:
            ins = [atom(env, a) for a in e.inputs]
            body = bodies.get(e.prim)
            if body is None:
                outs = [Var(v.aval) for v in e.outputs] if rename else e.outputs
                env.update(zip(e.outputs, outs))
                eqns.append(Eqn(e.prim, ins, {k: _nested(p, bodies) for k, p in e.params.items()}, outs))
                continue
            cj = body(e)
            inner = dict(zip(cj.jaxpr.invars, ins))
            for v, c in zip(cj.jaxpr.constvars, cj.consts):
                inner[v] = Var(v.aval)
                consts[inner[v]] = np.asarray(c, v.aval.dtype)
            splice(cj.jaxpr, inner, True)
            env.update((v, atom(inner, a)) for v, a in zip(e.outputs, cj.jaxpr.outvars))

    env: dict = {}
    splice(jaxpr, env, False)
    out = simplify(Jaxpr(list(consts), jaxpr.invars, eqns, [atom(env, a) for a in jaxpr.outvars]))
    used = {a for e in out.eqns for a in e.inputs} | set(out.outvars)
    consts = {v: c for v, c in consts.items() if v in used}
    return Jaxpr(list(consts), out.invars, out.eqns, out.outvars), consts
