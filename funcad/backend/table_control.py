"""Control flow in the table backend: ``cond``/``switch``, ``while_loop``, ``scan`` (and
``fori_loop``, a scan or a while) as entries of the program's one table, no Python per
iteration.

A branch or loop body is planned into the same :class:`table.Plan` as the program around
it (its values get regions of the same buffers, its kernels join the same module), and the
table's interpreter is a tiny bytecode: besides kernel calls it has :class:`table.Control`
entries, GOTO, BRANCH (on a bool or integer scalar region) and STEP (a counted loop). Why
this and not a kernel per loop: a loop is then no new code (no compile per body, the body's
kernels are deduplicated with the program's), an iteration costs the body's calls and a
jump, and the plan stays one list of calls (the arena's liveness reads loops as spans).

* ``while``: [cond's calls; BRANCH out if the predicate is false; body's calls; the new
  carry copied into the carry's regions; GOTO the start]. The carry keeps its regions across
  iterations; a new value that is (a view of) some carry's region goes through a temporary,
  as its old value may be overwritten first.
* ``scan``: [body's calls; ys[i] copied out; carry copied; STEP]. The body reads xs[i] and
  writes ys[i] through :class:`Alias` buffers (a slice of xs or ys at ``i * stride``) that
  the loop's calls then refer to their base buffer, recording the stride in ``plan.steps``:
  STEP adds it to those offset slots (the slots are copied per call, so two threads may run
  one program) and rewinds them after the last iteration. A reverse scan starts at the last
  slice with a negative stride. The length is static: a zero-trip scan copies its carry.
* ``cond``: [BRANCH past branch 0 if index > 0; branch 0; GOTO end; BRANCH past branch 1 if
  index > 1; ...; the last branch]: the index is clamped as JAX does for free.

``plan.spans`` gets each loop's (first call, last call), nested loops' too: what a value
read in a loop must stay alive for. The calls only name real buffers (no alias survives a
loop's planning), so liveness reads them as any other call.

Measured (benchmarks/table_control.py, CPU time, one process, a loaded 2-core machine): a
scan of 10,000 tiny steps costs 10.8 ns per iteration against 52 ns on the former Numba
path, a while_loop of 1,000 iterations 34 ns against 115 ns; the first call of a scan'd
RNN-50 gradient 1.0-1.6 s CPU against 8.4-9.2 s. Carries and branch results of any dtype
are copied (float16 and long doubles as their bits); a body's constants are the program's
constant buffers. A cond, while or scan this module cannot plan (a predicate that is no
bool or integer scalar) is one host step: its primitive's implementation, the body run
eagerly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..jaxpr import Literal
from ..lax.control import cond_p, scan_p, while_p
from .simplify import simplify
from .table import (
    BRANCH,
    GOTO,
    STEP,
    Control,
    Region,
    Unsupported,
    register_single,
)

ALIAS = 1 << 40  # buffer numbers from here on: plan.aliases[buffer - ALIAS]


@dataclass(frozen=True)
class Alias:
    """A slice that is ``buffer`` at ``offset + i * stride`` bytes in iteration ``i`` of the
    scan ``loop``: a region on it is a region of ``buffer`` whose offset slot advances."""
    buffer: int
    offset: int
    loop: int
    stride: int


def resolve(plan, start: int, loop: int) -> None:
    """Point the regions of calls ``start``... on slices of ``loop`` at their base buffer
    (an enclosing loop's slice: resolved at that loop's end), recording their strides."""
    for c in range(start, len(plan.calls)):
        regions = plan.calls[c][1]
        for q, r in enumerate(regions):
            if r.buffer >= ALIAS and (a := plan.aliases[r.buffer - ALIAS]).loop == loop:
                regions[q] = Region(a.buffer, a.offset + r.offset, r.shape, r.strides, r.dtype)
                plan.steps.setdefault((c, q), []).append((loop, a.stride))


def copy(plan, dst: Region, src: Region) -> None:
    """``dst = src`` (same shape and dtype)."""
    if src.shape != dst.shape or src.dtype != dst.dtype:
        raise Unsupported(f"a carry or branch result of {src.dtype}{list(src.shape)} "
                          f"for {dst.dtype}{list(dst.shape)}")
    if dst != src:
        plan.copy(dst, src)


def inline(plan, cj, regions) -> list:
    """Plan the closed jaxpr ``cj`` on ``regions``; its outputs' regions."""
    j = simplify(cj.jaxpr)
    plan.regions.update(zip(j.constvars, map(plan.constant, cj.consts)))
    plan.regions.update(zip(j.invars, regions))
    plan.equations(j)
    outs = [plan.region(a) for a in j.outvars]
    for e in j.eqns:  # a jaxpr planned twice (the same body in two loops) gets new regions
        plan.past += [(v, plan.regions.pop(v)) for v in e.outputs if v in plan.regions]
    return outs


def jump(plan, op, target=-1, regions=(), ints=(), loop=-1) -> Control:
    c = Control(op, target, tuple(ints), loop)
    plan.calls.append((c, list(regions)))
    return c


def branch(plan, r: Region, k: int, sense: bool) -> Control:
    """A jump (target set later) taken if ``(value > k) == sense``."""
    if r.shape != () or r.dtype.kind not in "biu" or r.dtype.itemsize not in (1, 2, 4, 8):
        raise Unsupported(f"a {r.dtype}{list(r.shape)} predicate or index")
    return jump(plan, BRANCH, regions=[r], ints=(r.dtype.itemsize, k, int(sense)))


def assign(plan, carry: list, new: list) -> None:
    """``carry = new`` at the end of an iteration: a new value on a carry's buffer (another
    carry's old value, a view of its own) goes through a temporary, copied in last."""
    on_carry = {c.buffer for c in carry}
    temps = []
    for c, r in zip(carry, new):
        if r.buffer in on_carry and r != c:
            t = plan.fresh(r.shape, r.dtype)
            copy(plan, t, r)
            temps.append((c, t))
    for c, r in zip(carry, new):
        if r.buffer not in on_carry:
            copy(plan, c, r)
    for c, t in temps:
        copy(plan, c, t)


def _cond(plan, e) -> None:
    index, *ops = e.inputs
    branches = e.params["branches"]
    outs = [plan.fresh(v) for v in e.outputs]
    ops = [plan.region(a) for a in ops]
    if type(index) is Literal:  # a known branch
        branches = [branches[int(np.clip(index.val, 0, len(branches) - 1))]]
    else:
        index = plan.region(index)
    ends = []
    for i, b in enumerate(branches):
        past = branch(plan, index, i, True) if i < len(branches) - 1 else None
        for o, r in zip(outs, inline(plan, b, ops)):
            copy(plan, o, r)
        if past is not None:
            ends.append(jump(plan, GOTO))
            past.target = len(plan.calls)
    for g in ends:
        g.target = len(plan.calls)


def _while(plan, e) -> None:
    p = e.params
    ops = [plan.region(a) for a in e.inputs]
    cc, bc = ops[:p["cond_nconsts"]], ops[p["cond_nconsts"]:p["cond_nconsts"] + p["body_nconsts"]]
    carry = [plan.fresh(v) for v in e.outputs]
    for c, r in zip(carry, ops[len(cc) + len(bc):]):
        copy(plan, c, r)
    start = len(plan.calls)
    out = branch(plan, inline(plan, p["cond_jaxpr"], cc + carry)[0], 0, False)
    assign(plan, carry, inline(plan, p["body_jaxpr"], bc + carry))
    jump(plan, GOTO, start)
    out.target = len(plan.calls)
    plan.spans.append((start, len(plan.calls) - 1))


def _scan(plan, e) -> None:
    p = e.params
    n, nc, nk = p["length"], p["num_consts"], p["num_carry"]
    ops = [plan.region(a) for a in e.inputs]
    outs = [plan.fresh(v) for v in e.outputs]
    carry, ys = outs[:nk], outs[nk:]
    for c, r in zip(carry, ops[nc:nc + nk]):
        copy(plan, c, r)
    if n == 0:
        return
    loop, plan.loops = plan.loops, plan.loops + 1

    def slice_of(r: Region) -> Region:  # r[i] in iteration i (r[n - 1 - i] reversed)
        first, step = (n - 1, -1) if p["reverse"] else (0, 1)
        plan.aliases.append(Alias(r.buffer, r.offset + first * r.strides[0], loop, step * r.strides[0]))
        return Region(ALIAS + len(plan.aliases) - 1, 0, r.shape[1:], r.strides[1:], r.dtype)

    start = len(plan.calls)
    new = inline(plan, p["jaxpr"], ops[:nc] + carry + [slice_of(x) for x in ops[nc + nk:]])
    for y, r in zip(ys, new[nk:]):  # before the carry is overwritten: a y may be its old value
        copy(plan, slice_of(y), r)
    assign(plan, carry, new[:nk])
    jump(plan, STEP, start, ints=(n,), loop=loop)
    resolve(plan, start, loop)
    plan.spans.append((start, len(plan.calls) - 1))


register_single(cond_p, _cond)
register_single(while_p, _while)
register_single(scan_p, _scan)
