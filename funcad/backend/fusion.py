"""Fusion: group a jaxpr's equations into loop nests (kernels) and single library calls.

A :class:`Kernel` is a set of equations computed in ONE loop nest over a shape ``L``:
elementwise primitives (including ``broadcast_to``, ``full``, ``select``, conversions) whose
output has shape ``L``, and reductions of values of shape ``L``. Inside the loop every
member's value is a scalar local; an operand from outside is read from its array with
NumPy's broadcasting (a size-1 axis is read at index 0). Only values used outside the kernel
are written to arrays (:attr:`Kernel.materialized`).

Equations are grouped greedily in program order, one open kernel per loop shape. A kernel
is closed (its position in the program fixed) as soon as something outside it needs one of
its values, or an equation of the same shape needs one of its reductions; so every kernel
runs after everything it reads. Everything else (matmul, reshape, indexing, ...) is a
:class:`Single` equation, lowered on its own.
"""

from __future__ import annotations

from ..jaxpr import Eqn, Jaxpr, Var
from ..lax import reductions as red
from ..lax import shapes as sh
from .lowering import SCALAR

REDUCTIONS = {red.reduce_sum_p: "sum", red.reduce_max_p: "max", red.reduce_min_p: "min",
              red.reduce_prod_p: "prod"}


def is_loop_eqn(eqn: Eqn) -> bool:
    p = eqn.prim
    return (p in SCALAR and p is not sh.full_p and not p.multiple_results
            and (p not in (sh.transpose_p, sh.reshape_p) or is_remap_eqn(eqn)))


def is_remap_eqn(eqn: Eqn) -> bool:
    """A transpose of rank > 2, or a reshape that only inserts or removes size-1 axes: in a
    loop these are reads of the operand at permuted or re-spread indices (2-D transposes
    stay views, ``x.T``, which BLAS takes as they are)."""
    if eqn.prim is sh.transpose_p:
        return eqn.inputs[0].aval.ndim > 2
    if eqn.prim is sh.reshape_p:
        squeeze = [n for n in eqn.inputs[0].aval.shape if n != 1]
        return squeeze == [n for n in eqn.outputs[0].aval.shape if n != 1]
    return False


#: A kernel holds at most this many equations: a long unrolled elementwise chain (x = x * a + b,
#: 6,000 times) is then a sequence of identical kernels, compiled once (table.py deduplicates
#: them), rather than one loop body of 12,000 statements.
MAX_KERNEL_EQNS = 256
#: ... and reads at most this many arrays: the gradient of an RNN unrolled over 40 steps sums
#: its 40 steps' contributions to W; as kernels of 16 inputs, the sum's pieces are one kernel,
#: compiled once. (Set for the former Numba backend, whose typing of an 80-array argument
#: tuple took seconds; on the table, without the bound, the RNN-40 gradient had 11 distinct
#: kernels instead of 13 and its first call took as long, within the noise of a loaded machine.)
MAX_KERNEL_INPUTS = 16


class Kernel:
    """Equations computed in one loop nest over ``shape``."""

    def __init__(self, shape):
        self.shape = tuple(shape)
        self.eqns: list[Eqn] = []
        self.local: set[Var] = set()        # values available as scalars inside the loop
        self.inputs: set[Var] = set()       # values read from outside
        self.reduced: set[Var] = set()      # outputs of reductions (arrays, ready after the loop)
        self.materialized: set[Var] = set()  # values written to arrays

    def __repr__(self):
        return f"Kernel{self.shape}[{', '.join(e.prim.name for e in self.eqns)}]"


class Single:
    """One equation lowered on its own (a library call or a dedicated loop)."""

    def __init__(self, eqn: Eqn):
        self.eqn = eqn
        self.eqns = [eqn]  # (as a Kernel's)

    def __repr__(self):
        return f"Single[{self.eqn.prim.name}]"


def fuse(jaxpr: Jaxpr) -> list:
    """The program as an ordered list of :class:`Kernel` and :class:`Single` items.

    >>> import funcad as fa, funcad.numpy as fnp
    >>> j = fa.make_jaxpr(lambda x: fnp.sum(fnp.sin(x) * x))(fnp.ones(3)).jaxpr
    >>> fuse(j)
    [Kernel(3,)[sin, mul, reduce_sum]]
    """
    open_: dict[tuple, Kernel] = {}
    owner: dict[Var, Kernel] = {}
    items: list = []
    # ``full`` values are constants inlined into loops; an array is made only for a value
    # that a non-loop equation or the program's outputs need.
    needs_array = {a for a in jaxpr.outvars if type(a) is Var}
    for eqn in jaxpr.eqns:
        if not is_loop_eqn(eqn) and eqn.prim not in REDUCTIONS:
            needs_array.update(a for a in eqn.inputs if type(a) is Var)

    def close(k: Kernel | None):
        if k is not None and open_.get(k.shape) is k:
            del open_[k.shape]
            items.append(k)

    def kernel_for(shape, eqn) -> Kernel:
        k = open_.get(shape)
        if k is not None:
            new = {a for a in eqn.inputs if type(a) is Var and a not in k.local and a not in k.inputs}
            if len(k.eqns) >= MAX_KERNEL_EQNS or len(k.inputs) + len(new) > MAX_KERNEL_INPUTS:
                close(k)
                k = None
        if k is None:
            k = open_[shape] = Kernel(shape)
        k.inputs.update(a for a in eqn.inputs if type(a) is Var and a not in k.local)
        return k

    for eqn in jaxpr.eqns:
        if eqn.prim is sh.full_p:
            if eqn.outputs[0] in needs_array:
                items.append(Single(eqn))
            continue
        reduction = eqn.prim in REDUCTIONS and type(eqn.inputs[0]) is Var
        if is_loop_eqn(eqn) or reduction:  # (a reduction's loop: its operand's shape)
            shape = (eqn.inputs[0] if reduction else eqn.outputs[0]).aval.shape
            remap = is_remap_eqn(eqn)
            for a in eqn.inputs:
                k2 = owner.get(a) if type(a) is Var else None
                if k2 is not None and (k2.shape != shape or a in k2.reduced or remap):
                    close(k2)
            k = kernel_for(shape, eqn)
            k.eqns.append(eqn)
            (k.reduced if reduction else k.local).add(eqn.outputs[0])
            owner[eqn.outputs[0]] = k
        else:
            for a in eqn.inputs:
                if type(a) is Var:
                    close(owner.get(a))
            items.append(Single(eqn))
    for k in list(open_.values()):
        close(k)
    _mark_materialized(jaxpr, items)
    return items


def _mark_materialized(jaxpr: Jaxpr, items: list) -> None:
    """A kernel's value is written to an array if anything outside the kernel reads it."""
    used_by: dict[Var, set] = {}
    for item in items:
        for e in item.eqns:
            for a in e.inputs:
                if type(a) is Var:
                    used_by.setdefault(a, set()).add(id(item))
    outs = {a for a in jaxpr.outvars if type(a) is Var}
    for item in items:
        if isinstance(item, Kernel):
            for v in item.local:
                if v in outs or used_by.get(v, set()) - {id(item)}:
                    item.materialized.add(v)
