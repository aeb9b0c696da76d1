"""What ``jit(f).lower(*args).source`` shows of a table program (backend/table.py).

The table is printed in program order, each fusion item's entries under the jaxpr equations
they compute (as comments, named as ``print(lower(...).jaxpr)`` names them). A loop kernel is
shown once, as a ``def`` of its loop IR before its first call, its sizes as named constants
and its arrays' byte strides in its header (kernels are specialised on both); a kernel without
loop IR (``?gemm``...) is its ``describe()`` line. A call names each array it touches by the
variable it holds (``t<n>`` for a temporary no variable names, ``x+64`` for a part of ``x``'s
buffer); each equation's comment says where its result lives (``arena+256``, ``result 1``, a
view). Control entries print as their ``describe``, host steps as ``host[prim](...)``.

The text is built when ``.source`` is first read, not when the program is built.
"""

from __future__ import annotations

from ..jaxpr import Literal, _Namer, _subjaxprs, pp_eqn
from ..lax.shapes import full_p
from . import loopir as ir
from .codegen import jaxprs_in

_WHERE_MAX = 6  # a shared kernel's header names at most this many of the items calling it


def source(program, plan, jaxpr, arg_names=None) -> str:
    """The table program ``program`` (built from ``plan`` and the simplified ``jaxpr``) as
    text, ``arg_names`` naming the program's arguments (``params[0]``, ``x``...) if given."""
    name = _Namer()
    _name_all(jaxpr, name)
    regions = plan.regions
    owner, by_region = {}, {}  # buffer -> the variable filling it; region -> the variable
    for v, r in regions.items():
        by_region.setdefault(r, v)
        if r.offset == 0 and r.c_contiguous:
            owner.setdefault(r.buffer, v)
    results = {plan.regions[a].buffer: k for k, a in enumerate(plan.outvars) if a in regions}
    arena = program.n_slots - 1

    def at(r) -> str:
        v = by_region.get(r)
        if v is not None:
            return name(v)
        base = name(owner[r.buffer]) if r.buffer in owner else f"t{r.buffer}"
        return f"{base}+{r.offset}" if r.offset else base

    def where(v) -> str:
        r = regions.get(v)
        if r is None:  # a value of a fused loop that no other item reads: never stored
            return "  (a constant, inlined where it is read)" if v in constant else ""
        if owner.get(r.buffer, v) is not v:
            return f"  (a view of {name(owner[r.buffer])})"
        slot, offset = program.layout.get(r.buffer, (None, 0))
        if slot == arena:
            return f"  (arena+{offset})"
        return f"  (result {results[r.buffer]})" if r.buffer in results else ""

    # the items (marks) calling each kernel, for a shared kernel's header
    calls, marks = plan.calls, plan.marks + [(len(plan.calls), [])]
    users: dict = {}
    for m, (first, eqns) in enumerate(marks[:-1]):
        for k, _ in calls[first:marks[m + 1][0]]:
            if type(k) is int and eqns and eqns[0].outputs:
                users.setdefault(k, []).append(name(eqns[0].outputs[0]))
    targets = {getattr(k, "target", -1) for k, _ in calls if type(k) is not int}

    n_in = plan.n_in
    lines = [f"# table program {program.name}: {len(calls)} entries calling {len(plan.kernels)} "
             f"kernels, run in order by one native call",
             *_wrap("# arguments:", [f"{name(v)}:{v.aval.str_short()}" + (f" = {n}" if n else "")
                                      for v, n in zip(jaxpr.invars, arg_names or [""] * n_in)]),
             *_wrap("# results:", [at(regions[a]) if a in regions else repr(a) for a in plan.outvars]),
             *_wrap(f"# arena: {program.arena_bytes} bytes per call; temporaries:",
                    [f"t{b}:{_short(plan.buffers[b])} at arena+{program.layout[b][1]}"
                     for b in range(n_in, len(plan.buffers))
                     if b not in owner and program.layout.get(b, (None,))[0] == arena])]
    # `full` equations that fusion inlined into loops (not fusion items): shown before the
    # first item reading them
    constant = {e.outputs[0]: e for e in _all_eqns(jaxpr) if e.prim is full_p}
    shown, seen, spaced = set(), set(), False
    for m, (first, eqns) in enumerate(marks[:-1]):
        entries = calls[first:marks[m + 1][0]]
        if not spaced:
            lines.append("")
        spaced = not entries  # items without entries (views, constants) go with the next one
        consts = {a: constant[a] for e in eqns for a in e.inputs if a in constant and a not in seen}
        seen.update(consts)
        seen.update(e.outputs[0] for e in eqns if e.prim is full_p)
        lines += [f"# {pp_eqn(e, name)}{''.join(where(v) for v in e.outputs)}"
                  for e in [*consts.values(), *eqns]]
        for j, (k, rs) in enumerate(entries, first):
            if j in targets:
                lines.append(f"{j}:")
            args = ", ".join(map(at, rs))
            if type(k) is not int:  # a control entry or a host step
                lines.append(k.describe(*map(at, rs)) if hasattr(k, "describe") and hasattr(k, "target")
                             else f"{k!r}({args})")
                continue
            if k not in shown:
                shown.add(k)
                lines += _kernel(k, plan.kernels[k], users.get(k, []))
            lines.append(f"k{k}({args})")
    if len(calls) in targets:
        lines += ["", f"{len(calls)}:  # the end"]
    return "\n".join(lines) + "\n"


def _kernel(j: int, k, used: list) -> list:
    """A kernel's text at its first call: a loop kernel's ``def``, another's description."""
    also = ""
    if len(used) > 1:
        names = ", ".join(used[1:_WHERE_MAX + 1]) + (", ..." if len(used) > _WHERE_MAX + 1 else "")
        also = f"{len(used)} calls: here and for {names}"
    if not hasattr(k, "body"):
        describe = getattr(k, "describe", None)
        return [f"# k{j}: {describe() if describe else type(k).__name__}" + (f"; {also}" if also else "")]
    strides = ", ".join(f"{a.name} {s}" for a, s in zip(k.arrays, k.strides))
    sizes = sorted({(n.slot, n.name) for s in k.body for n in ir.walk(s) if type(n) is ir.Size})
    lines = [f"def k{j}({', '.join(a.name for a in k.arrays)}):" + (f"  # {also}" if also else ""),
             f"    # byte strides: {strides}"]
    if sizes:
        lines.append(f"    {', '.join(n for _, n in sizes)} = {', '.join(str(k.sizes[s]) for s, _ in sizes)}")
    return lines + ["    " + ln for s in k.body for ln in ir.lines(s)]


def _name_all(jaxpr, name) -> None:
    """Name ``jaxpr``'s variables in the order ``print(jaxpr)`` names them (jaxpr.pp_jaxpr)."""
    for v in (*jaxpr.constvars, *jaxpr.invars):
        name(v)
    for e in jaxpr.eqns:
        for a in (*e.outputs, *e.inputs):
            if type(a) is not Literal:
                name(a)
        for sub in _subjaxprs(e.params):
            _name_all(sub, name)


def _all_eqns(jaxpr):
    """The equations of ``jaxpr`` and of the jaxprs its equations hold (control flow)."""
    for e in jaxpr.eqns:
        yield e
        for v in e.params.values():
            for sub in jaxprs_in(v):
                yield from _all_eqns(sub)


def _wrap(head: str, items: list, width: int = 100) -> list:
    """``head`` and the comma-separated ``items`` as comment lines of at most ``width``."""
    lines = [head.removesuffix("; temporaries:") if not items else head]
    for j, x in enumerate(items):
        x += "," if j < len(items) - 1 else ""
        if len(lines[-1]) + len(x) >= width and lines[-1] != head:
            lines.append("#     ")
        lines[-1] += ("" if lines[-1].endswith(" ") else " ") + x
    return lines


def _short(buffer) -> str:
    nbytes, shape, dtype = buffer
    return f"{dtype.name}{list(shape)}"
