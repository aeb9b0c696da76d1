"""The table backend's arena: the bytes of a program's intermediates, reused by liveness.

A buffer of the arena is live from the first kernel call that touches it (writes it: a
fresh buffer is written before it is read) to the last one that touches it (views share
their base buffer, so they share its range); one read by the program's outputs after the
calls is live to the end. Within one call every buffer it touches is live: a kernel writes a
result over an operand's bytes only where the plan gave both one region (a loop kernel's
large output over an operand that dies there and that it reads element by element before
writing that element, :func:`overwritable`; ``symmetrize`` over its operand). A loop of the
table (``plan.spans``: (first call, last call) of each loop body, the control-flow
lowerings') repeats its calls: a buffer live at any point of a loop stays live for the whole
loop. Buffers whose ranges do not overlap then share bytes: a linear scan over the calls
takes each buffer's bytes from the best-fitting free block (or the arena's end) and frees
them after its last call.
"""

from __future__ import annotations

import bisect
import heapq

from . import loopir as ir

ALIGN = 64


def live_ranges(calls: list, buffers, to_end=(), spans=()) -> dict:
    """``{buffer: [first call, last call]}`` of ``buffers`` (those no call touches and not in
    ``to_end``: absent), each range grown over every loop ``span`` it meets."""
    wanted, ranges = set(buffers), {}
    for i, (_, regions) in enumerate(calls):
        for r in regions:
            if r.buffer in wanted:
                ranges.setdefault(r.buffer, [i, i])[1] = i
    for b in to_end:
        ranges.setdefault(b, [len(calls), len(calls)])[1] = len(calls)
    changed = bool(spans)
    while changed:  # (nested loops: a range grown over an inner loop may then meet an outer one)
        changed = False
        for lo, hi in spans:
            for r in ranges.values():
                if r[0] <= hi and r[1] >= lo and (r[0] > lo or r[1] < hi):
                    r[0], r[1], changed = min(r[0], lo), max(r[1], hi), True
    return ranges


def pack(sizes: dict, ranges: dict) -> tuple[dict, int]:
    """``({buffer: byte offset}, arena bytes)``: buffers of ``sizes`` (bytes) whose live
    ``ranges`` do not overlap may share bytes (buffers without a range: offset 0)."""
    free: list = []  # (offset, size) of free blocks below the top, sorted, never adjacent
    ends: list = []  # (last call, offset, size) of live buffers
    offsets, top = dict.fromkeys(sizes, 0), 0
    for b in sorted(ranges, key=lambda b: (ranges[b][0], -sizes[b], b)):
        first, last = ranges[b]
        while ends and ends[0][0] < first:
            _, off, size = heapq.heappop(ends)
            _release(free, off, size)
        size = total([sizes[b]])
        if size == 0:
            continue
        fits = [j for j, (_, n) in enumerate(free) if n >= size]
        if fits:
            j = min(fits, key=lambda j: free[j][1])
            off, n = free[j]
            free[j:j + 1] = [(off + size, n - size)] if n > size else []
        elif free and sum(free[-1]) == top:  # the last free block grown at the arena's end
            off = free.pop()[0]
            top = off + size
        else:
            off, top = top, top + size
        offsets[b] = off
        heapq.heappush(ends, (last, off, size))
    return offsets, top


def total(sizes) -> int:
    """The bytes of buffers of ``sizes`` side by side (aligned): an arena without reuse."""
    return sum(-(-n // ALIGN) * ALIGN for n in sizes)


def _release(free: list, off: int, size: int) -> None:
    j = bisect.bisect(free, (off, size))
    if j < len(free) and off + size == free[j][0]:  # merged with the next block
        size += free.pop(j)[1]
    if j and sum(free[j - 1]) == off:  # ... and the previous one
        off, size = free[j - 1][0], free[j - 1][1] + size
        j -= 1
        free.pop(j)
    free.insert(j, (off, size))


def overwritable(body: list, a, o) -> bool:
    """Whether the loop IR statements ``body`` may write array ``o`` over array ``a`` (the
    same bytes, strides and shape): ``o`` is only stored to (not read, not accumulated into),
    every load of ``a`` and store to ``o`` is in one statement list at one index of distinct
    loop variables, those of every loop around it (each element is touched in one iteration),
    and no load of ``a`` follows a store to ``o`` there."""
    seen = []  # (statement list, loop variables, position, a store?, index)

    def visit(stmts, loops):
        for n, s in enumerate(stmts):
            if type(s) is ir.Loop:
                seen.extend(None for x in (s.stop, s.start) if x is not None
                            for y in ir.walk(x) if type(y) is ir.Load and y.arr in (a, o))
                visit(s.body, loops + (s.var.name,))
                continue
            for x in ir.walk(s):
                if type(x) in (ir.Load, ir.Store) and x.arr in (a, o):
                    ok = x.arr == a if type(x) is ir.Load else x.arr == o and not x.aug
                    seen.append((id(stmts), loops, n, type(x) is ir.Store, x.index) if ok else None)

    visit(body, ())
    if not seen or None in seen or len({(s[0], s[1], _names(s[4])) for s in seen}) != 1:
        return False
    _, loops, _, _, index = seen[0]
    names = [i.name for i in index if type(i) is ir.Local]
    if sorted(names) != sorted(loops) or len(set(names)) != len(names) or \
            not all(type(i) is ir.Local or i == 0 for i in index):
        return False
    loads, stores = ([s[2] for s in seen if s[3] is store] for store in (False, True))
    return bool(stores) and max(loads, default=-1) <= min(stores)


def _names(index) -> tuple:
    return tuple(i.name if type(i) is ir.Local else repr(i) for i in index)


def stores_to(body: list, arrays: dict) -> list:
    """``body`` with its stores to each array of ``arrays`` made to the array it maps to."""
    def moved(s):
        if type(s) is ir.Loop:
            return ir.Loop(s.var, s.stop, [moved(x) for x in s.body], s.start, s.parallel)
        if type(s) is ir.Store and s.arr in arrays:
            return ir.Store(arrays[s.arr], s.index, s.value, s.aug)
        return s
    return [moved(s) for s in body]
