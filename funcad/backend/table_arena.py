"""The table backend's arena: the bytes of a program's intermediates, reused by liveness.

A buffer of the arena is live from the first kernel call that touches it (writes it: a
fresh buffer is written before it is read) to the last one that touches it (views share
their base buffer, so they share its range); one read by the program's outputs after the
calls is live to the end. Within one call every buffer it touches is live, so a kernel never
writes a result over an operand's bytes (as codegen's in-place writes do, this backend does
not). A loop of the table (``plan.spans``: (first call, last call) of each loop body, the
control-flow lowerings') repeats its calls: a buffer live at any point of a loop stays live
for the whole loop. Buffers whose ranges do not overlap then share bytes: a linear scan over
the calls takes each buffer's bytes from the best-fitting free block (or the arena's end)
and frees them after its last call.
"""

from __future__ import annotations

import bisect
import heapq

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
