"""The table's interpreter: the one native module every program is called through.

:func:`runtime_module` writes it as LLVM IR (table_engine.py compiles it once per machine and caches
its object code: ``table_engine._runtime``). Two functions:

* ``funcad_table_call(tuple, info)``, what Python calls (through ctypes, once per program
  call): ``tuple`` is the call's tuple of arrays (inputs, outputs, constants, status words,
  the arena) and ``info`` the program's table (``TableProgram._info``: the number of entries,
  the addresses of its kernel array, entry offsets and slots, the buffer count, CPython's and
  NumPy's field offsets, where the slots' per-call copy goes and its length). It reads each
  array's data pointer from the tuple into a buffer table preceded by the **stop word**,
  copies the slots if the program has loops (so that two threads may run it at once), then
  runs the interpreter.
* ``funcad_table_run(buffers, n, fns, offsets, slots, stop)``: for each entry ``i < n``,
  ``fns[i](buffers, slots + offsets[i])``: a kernel call (``void k(i8** buffers, i64* slots)``,
  slots holding (buffer, byte offset) per array), after which a set stop word ends the run (a
  LAPACK failure, a host step's exception); a null ``fns[i]`` is a **control entry**
  (table.Control, planned by table_control.py) whose slots say what to do:

  - ``GOTO``: ``(op, target)``: jump;
  - ``BRANCH``: ``(op, target, buffer, offset, width, k, sense)``: jump if
    ``(value > k) == sense``, the value a bool or integer scalar of ``width`` bytes;
  - ``STEP``: ``(op, target, n, counter, pairs, (slot, stride) * pairs)``: count an iteration
    of a scan; below ``n``, add each stride to its offset slot and jump back, else rewind
    those slots and fall through.

Self-contained (llvmlite only): programs differ only in their tables and kernels.
"""

from __future__ import annotations

from .loopir import for_range

# The control entries' ops (the first slot of a control entry)
GOTO, BRANCH, STEP = 0, 1, 2


def runtime_module(name: str = "funcad_table"):
    """The LLVM IR module every program calls through (compiled once: ``table_engine._runtime``):
    the interpreter ``<name>_run`` and the entry ``<name>_call`` Python calls."""
    from llvmlite import ir as L

    i8p, i64 = L.IntType(8).as_pointer(), L.IntType(64)
    mod = L.Module(name)
    ktype = L.FunctionType(L.VoidType(), [i8p.as_pointer(), i64.as_pointer()])
    # The interpreter: for i < n: fns[i](buffers, slots + offsets[i]), a null fns[i] being a
    # Control entry (a jump) read from its slots.
    run_type = L.FunctionType(L.VoidType(), [i8p.as_pointer(), i64, ktype.as_pointer().as_pointer(),
                                             i64.as_pointer(), i64.as_pointer(), i8p.as_pointer()])
    run = L.Function(mod, run_type, f"{name}_run")
    bufs, n, fns, offsets, slots, status = run.args
    blocks = ("entry", "cond", "body", "call", "control", "goto", "branch", "step", "end")
    entry, cond, body, call, control, goto, branch, step, end = (run.append_basic_block(x) for x in blocks)
    b = L.IRBuilder(entry)
    i = b.alloca(i64)
    b.store(L.Constant(i64, 0), i)
    b.branch(cond)
    b.position_at_end(cond)
    b.cbranch(b.icmp_signed("<", b.load(i), n), body, end)
    b.position_at_end(body)
    at = b.load(i)
    fn = b.load(b.gep(fns, [at]))
    s = b.gep(slots, [b.load(b.gep(offsets, [at]))])
    nxt = b.add(at, L.Constant(i64, 1))

    def word(k):
        return b.load(b.gep(s, [L.Constant(i64, k)]))

    b.store(nxt, i)
    b.cbranch(b.icmp_unsigned("==", b.ptrtoint(fn, i64), L.Constant(i64, 0)), control, call)
    b.position_at_end(call)
    b.call(fn, [bufs, s])  # then stop if it has set the stop word (runtime's entry, below)
    b.cbranch(b.icmp_unsigned("!=", b.load(status), L.Constant(i8p, None)), end, cond)
    b.position_at_end(control)  # GOTO: i = target
    target = word(1)
    sw = b.switch(word(0), cond)
    sw.add_case(GOTO, goto)
    sw.add_case(BRANCH, branch)
    sw.add_case(STEP, step)
    b.position_at_end(goto)
    b.store(target, i)
    b.branch(cond)
    b.position_at_end(branch)  # the scalar at (buffer, offset) compared with k
    ptr = b.gep(b.load(b.gep(bufs, [word(2)])), [word(3)])
    sw = b.switch(word(4), cond)  # its width in bytes (1, 2, 4 or 8: table_control.branch)
    for w in (1, 2, 4, 8):
        block = run.append_basic_block(f"load{w}")
        sw.add_case(w, block)
        b.position_at_end(block)
        value = b.load(b.bitcast(ptr, L.IntType(8 * w).as_pointer()))
        value = b.sext(value, i64) if w < 8 else value
        jump = b.icmp_signed("==", b.zext(b.icmp_signed(">", value, word(5)), i64), word(6))
        b.store(b.select(jump, target, nxt), i)
        b.branch(cond)
    b.position_at_end(step)  # counter += 1; slots[s[5 + 2q]] += s[6 + 2q] * (1 or 1 - n)
    count, counter = b.add(word(3), L.Constant(i64, 1)), b.gep(s, [L.Constant(i64, 3)])
    more = b.icmp_signed("<", count, word(2))
    b.store(b.select(more, count, L.Constant(i64, 0)), counter)
    factor = b.select(more, L.Constant(i64, 1), b.sub(L.Constant(i64, 1), word(2)))
    b.store(b.select(more, target, nxt), i)

    def bump(q):
        pair = b.gep(s, [b.add(L.Constant(i64, 5), b.add(q, q))])
        slot = b.gep(slots, [b.load(pair)])
        delta = b.load(b.gep(pair, [L.Constant(i64, 1)]))
        b.store(b.add(b.load(slot), b.mul(delta, factor)), slot)

    for_range(b, 0, word(4), bump)
    b.branch(cond)
    b.position_at_end(end)
    b.ret_void()
    # The entry Python calls: the buffers' data pointers read from a tuple of arrays (its
    # items, then each array's ``data`` field, at the offsets in ``info``), then the table.
    entry_fn = L.Function(mod, L.FunctionType(L.VoidType(), [i8p, i64.as_pointer()]), f"{name}_call")
    tup, info = entry_fn.args
    b = L.IRBuilder(entry_fn.append_basic_block("entry"))
    fields = (b.load(b.gep(info, [L.Constant(i64, j)])) for j in range(9))
    n, fns, offsets, slots, nbuf, item_off, data_off, copy_at, n_words = fields
    # The stop word, then the buffers: a kernel that fails (a host step that raised, LAPACK's
    # info) sets ``buffers[-1]`` and the interpreter stops after it.
    stop = b.alloca(i8p, b.add(nbuf, L.Constant(i64, 1)))
    b.store(L.Constant(i8p, None), stop)
    table = b.gep(stop, [L.Constant(i64, 1)])

    def read(j):  # table[j] = tuple item j's data pointer
        item = b.gep(tup, [b.add(item_off, b.mul(j, L.Constant(i64, 8)))])
        obj = b.load(b.bitcast(item, i8p.as_pointer()))
        b.store(b.load(b.bitcast(b.gep(obj, [data_off]), i8p.as_pointer())), b.gep(table, [j]))

    for_range(b, 0, nbuf, read)
    # A program with loops advances its slots: they are copied to the end of the arena (the
    # last buffer), so that two threads may run it at once.
    copied = b.gep(b.load(b.gep(table, [b.sub(nbuf, L.Constant(i64, 1))])), [copy_at])
    copied_at = b.ptrtoint(copied, i64)
    copy, start = entry_fn.append_basic_block("copy"), b.block
    go = entry_fn.append_basic_block("go")
    b.cbranch(b.icmp_signed(">=", copy_at, L.Constant(i64, 0)), copy, go)
    b.position_at_end(copy)
    memcpy = mod.declare_intrinsic("llvm.memcpy", [i8p, i8p, i64])
    b.call(memcpy, [copied, b.inttoptr(slots, i8p), b.mul(n_words, L.Constant(i64, 8)),
                    L.Constant(L.IntType(1), 0)])
    b.branch(go)
    b.position_at_end(go)
    slots, shared = b.phi(i64), slots
    slots.add_incoming(copied_at, copy)
    slots.add_incoming(shared, start)
    b.call(run, [table, n, b.inttoptr(fns, run_type.args[2]), b.inttoptr(offsets, run_type.args[3]),
                 b.inttoptr(slots, run_type.args[4]), stop])
    b.ret_void()
    return mod
