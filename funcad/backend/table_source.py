"""What ``jit(f).lower(*args).source`` shows of a table program (backend/table.py).

The table is printed in program order, each fusion item's entries under the jaxpr equations
they compute (as comments, named as ``print(lower(...).jaxpr)`` names them; a branch's or
loop body's equations indented under its ``{ lambda ...`` line). A loop kernel is shown once,
as a ``def`` of its loop IR before its first call, its sizes as named constants and its
arrays' byte strides in its header (kernels are specialised on both); a kernel without loop
IR (``?gemm``...) is its ``describe()`` line. A call names each array it touches by the
variable it holds (``t<n>`` for a temporary no variable names, ``x+64`` for a part of ``x``'s
buffer, ``xs[i]`` for a scan's slice); each equation's comment says where its results live
(``arena+256``, ``result 1``, a view). Control entries print as their ``describe`` (jumps to
numbered entries), host steps as ``host[prim](...)``.

The text is built when ``.source`` is read, not when the program is built (on the LSTM-20
gradient: ~50 ms of Python, about half a cold plan, plus the plan built again: a program
does not keep its plan, which would be a fifth to a third of what it holds).
"""

from __future__ import annotations

import numpy as np

from ..core import ShapedArray
from ..jaxpr import Literal, _Namer, _subjaxprs, pp_eqn
from ..lax.shapes import full_p
from . import loopir as ir
from . import table
from .table import Region, _eqns
from .table_control import ALIAS

_WHERE_MAX = 6  # a shared kernel's header names at most this many of the items calling it


def source(program, plan, jaxpr, arg_names=None) -> str:
    """The table program ``program`` (built from ``plan`` and the simplified ``jaxpr``) as
    text, ``arg_names`` naming the program's arguments (``params[0]``, ``x``...) if given."""
    return _Text(program, plan, jaxpr).lines(arg_names)


class _Text:
    def __init__(self, program, plan, jaxpr):
        self.program, self.plan, self.jaxpr = program, plan, jaxpr
        self.name = _Namer()
        _name_all(jaxpr, self.name)
        self.regions = dict(plan.regions)
        for v, r in plan.past:  # branch and loop bodies' values (a body planned twice: its first)
            self.regions.setdefault(v, r)
        self.owner, self.by_region = {}, {}  # buffer -> the variable filling it; region -> variable
        for v, r in self.regions.items():
            self.by_region.setdefault(r, v)
            if r.offset == 0 and r.c_contiguous:
                self.owner.setdefault(r.buffer, v)
        self.results = {self.regions[a].buffer: k for k, a in enumerate(plan.outvars) if a in self.regions}
        self.bounds = [m[0] for m in plan.marks[1:]] + [len(plan.calls)]  # each mark's entries: to the next
        # a region values fill in turn (written over, table_arena.overwritable): (first call, value)
        born = {v: m[0] for m, end in zip(plan.marks, self.bounds) if m[1] not in ("{", "}") and m[0] < end
                for e in _eqns(m[1]) for v in e.outputs}
        self.turns: dict = {}
        for v, r in self.regions.items():
            first = self.by_region[r]
            if first is not v and v in born:
                self.turns.setdefault(r, [(born.get(first, -1), first)]).append((born[v], v))
        self.arena = program.n_slots - 1
        # `full` equations fusion inlines into loops (not items): shown before their first reader
        self.constant = {e.outputs[0]: e for _, what, *jx in plan.marks if what == "{"
                         for e in jx[0].eqns if e.prim is full_p}

    # -- names ----------------------------------------------------------------------------

    def at(self, r, steps=(), call=None) -> str:
        """A region's name: its variable's (at entry ``call``, the one it holds then), else its
        buffer's and offset; a scan's slice (``steps``: plan.steps' (loop, byte stride) of the
        slot) as ``xs[i]``."""
        if r.buffer >= ALIAS:  # a slice while its scan is planned (a loop body's input)
            a = self.plan.aliases[r.buffer - ALIAS]
            r, steps = Region(a.buffer, a.offset, r.shape, r.strides, r.dtype), [(a.loop, a.stride)]
        v = self.by_region.get(r) if not steps else None
        if v is not None and call is not None and r in self.turns:
            v = max((t for t in self.turns[r] if t[0] < call), key=lambda t: t[0], default=(0, v))[1]
        if v is not None:
            return self.name(v)
        base = self.name(self.owner[r.buffer]) if r.buffer in self.owner else self.buffer(r.buffer)
        if steps:
            many = self.plan.loops > 1
            return base + "".join(f"[{'-1-' * (s < 0)}i{loop if many else ''}]" for loop, s in steps)
        return f"{base}+{r.offset}" if r.offset else base

    def result(self, a) -> str:
        """An output's name: its own where it fills its buffer (written over another value's
        or not), else its region's."""
        r = self.regions.get(a)
        if r is None:
            return repr(a)
        return self.name(a) if r == self.regions.get(self.owner.get(r.buffer)) else self.at(r)

    def buffer(self, b) -> str:
        """A buffer no variable fills: a constant (a literal operand: its value), a status
        word (a LAPACK kernel's ``info``: plan.checks) or a temporary ``t<b>``."""
        value = self.plan.buffers[b]
        if isinstance(value, np.ndarray):
            return repr(value.item()) if value.size == 1 else f"const{b}"
        status = [j for j, (r, _) in enumerate(self.plan.checks) if r.buffer == b]
        return f"status{status[0]}" if status else f"t{b}"

    def where(self, v) -> str:
        r = self.regions.get(v)
        if r is None:  # a value of a fused loop that no other item reads: never stored
            return "a constant, inlined where it is read" if v in self.constant else ""
        owner = self.owner.get(r.buffer, v)
        if owner is not v and self.regions[owner] == r:  # (table_arena.overwritable)
            result = f"; result {self.results[r.buffer]}" if r.buffer in self.results else ""
            turns = [u for _, u in sorted(self.turns.get(r, ()), key=lambda t: t[0])]
            before = turns[turns.index(v) - 1] if v in turns[1:] else owner
            return f"written over {self.name(before)}{result}"
        if owner is not v:
            return f"a view of {self.name(owner)}"
        slot, offset = self.program.layout.get(r.buffer, (None, 0))
        if slot == self.arena:
            return f"arena+{offset}"
        return f"result {self.results[r.buffer]}" if r.buffer in self.results else ""

    def comment(self, e) -> str:
        """``# <the equation>  (where its results live)``"""
        got = [(v, self.where(v)) for v in e.outputs]
        got = [f"{self.name(v)}: {w}" if len(got) > 1 else w for v, w in got if w]
        return f"# {pp_eqn(e, self.name)}" + (f"  ({', '.join(got)})" if got else "")

    def lambda_line(self, sub, opening: bool) -> str:
        """A branch's or loop body's ``# { lambda ; c:f64[6]. let  (c is b)`` or ``# in (d,) }``."""
        name = self.name
        if not opening:
            outs = [repr(a.val) if type(a) is Literal else name(a) for a in sub.outvars]
            return f"# in ({', '.join(outs)}{',' * (len(outs) == 1)}) }}"
        same = [f"{name(v)} is {self.at(self.regions[v])}" for v in sub.invars  # the carry, a slice...
                if v in self.regions and self.at(self.regions[v]) != name(v)]
        binders = " ".join(f"{name(v)}:{v.aval.str_short()}" for v in sub.invars)
        return f"# {{ lambda ; {binders}. let" + (f"  ({', '.join(same)})" if same else "")

    # -- the text -------------------------------------------------------------------------

    def header(self, arg_names) -> list:
        plan, program, name = self.plan, self.program, self.name
        args = [f"{name(v)}:{v.aval.str_short()}" + (f" = {n}" if n else "")
                for v, n in zip(self.jaxpr.invars, arg_names or [""] * plan.n_in)]
        temps = [f"t{b}:{ShapedArray(*plan.buffers[b][1:]).str_short()} at arena+{program.layout[b][1]}"
                 for b in range(plan.n_in, len(plan.buffers))
                 if b not in self.owner and program.layout.get(b, (None,))[0] == self.arena]
        return [f"# table program {program.name}: {len(plan.calls)} entries calling "
                f"{len(plan.kernels)} kernels, run in order by one native call",
                *_wrap("# arguments:", args),
                *_wrap("# results:", [self.result(a) for a in plan.outvars]),
                *_wrap(f"# arena: {program.arena_bytes} bytes per call" + "; temporaries:" * bool(temps),
                       temps)]

    def lines(self, arg_names) -> str:
        plan, calls, marks, bounds = self.plan, self.plan.calls, self.plan.marks, self.bounds
        users: dict = {}  # kernel -> the items calling it (by their first output), for its header
        marks = [(first, what if what in ("{", "}") else _eqns(what), *jx) for first, what, *jx in marks]
        items = [None]  # per depth, the item being shown (after a body: the rule around it)
        for (first, what, *_), end in zip(marks, bounds):
            if what == "{":
                items.append(None)
            elif what == "}":
                items.pop()
            else:
                items[-1] = self.name(what[0].outputs[0]) if what and what[0].outputs else None
            for k, _ in calls[first:end]:
                if type(k) is int and items[-1] is not None:
                    users.setdefault(k, []).append(items[-1])
        targets = {getattr(k, "target", -1) for k, _ in calls if type(k) is not int}
        lines = self.header(arg_names)
        shown, seen, labelled = set(), set(), set()
        depth, spaced = -1, False  # depth: of the jaxpr being shown (0: the program's)

        def label(j) -> None:  # a jump's target
            if j in targets and j not in labelled:
                labelled.add(j)
                lines.append(f"{j}:" + ("  # the end" if j == len(calls) else ""))

        for (first, what, *jx), end in zip(marks, bounds):
            label(first)
            opening = what == "{"
            if what in ("{", "}") and depth + opening > 0:  # a branch's or loop body's jaxpr
                lines.append("    " * (depth + opening) + self.lambda_line(jx[0], opening))
            depth += opening - (what == "}")
            pad = "    " * max(depth, 0)
            if type(what) is list:
                if not spaced:
                    lines.append("")
                consts = {a: self.constant[a] for e in what for a in e.inputs
                          if a in self.constant and a not in seen}
                seen.update(consts, (e.outputs[0] for e in what if e.prim is full_p))
                lines += [pad + self.comment(e) for e in [*consts.values(), *what]]
            # items without entries (views, constants) go with the next one
            spaced = opening and depth > 0 or type(what) is list and first == end
            for j, (k, rs) in enumerate(calls[first:end], first):
                label(j)
                names = [self.at(r, plan.steps.get((j, q), ()), j) for q, r in enumerate(rs)]
                if type(k) is not int:  # a control entry or a host step
                    lines.append(pad + (k.describe(*names) if hasattr(k, "target") else
                                        f"{k!r}({', '.join(names)})"))
                    continue
                if k not in shown:
                    shown.add(k)
                    lines += [pad + ln for ln in _kernel(k, plan.kernels[k], users.get(k, []))]
                lines.append(f"{pad}k{k}({', '.join(names)})")
        label(len(calls))
        return "\n".join(lines) + "\n"


def _kernel(j: int, k, used: list) -> list:
    """A kernel's text at its first call: a loop kernel's ``def``, another's description."""
    also = ""
    if len(used) > 1:
        distinct = list(dict.fromkeys(used))
        names = ", ".join(distinct[:_WHERE_MAX]) + (", ..." if len(distinct) > _WHERE_MAX else "")
        also = f"{len(used)} calls, for {names}"
    if not hasattr(k, "body"):  # (?gemm, LAPACK, pocketfft, a random draw)
        return [f"# k{j}: {k.describe()}" + (f"; {also}" if also else "")]
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


def _wrap(head: str, items: list, width: int = 100) -> list:
    """``head`` and the comma-separated ``items`` as comment lines of at most ``width``."""
    lines = [head]
    for j, x in enumerate(items):
        x += "," if j < len(items) - 1 else ""
        if len(lines[-1]) + len(x) >= width and lines[-1] != head:
            lines.append("#     ")
        lines[-1] += ("" if lines[-1].endswith(" ") else " ") + x
    return lines


table.DESCRIBE = source
