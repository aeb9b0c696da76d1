"""Parallel loops of the table backend: a kernel's outer loop run over threads.

codegen marks the outer loop of a kernel over at least ``codegen.PARALLEL_MIN_SIZE`` elements
parallel (``Loop.parallel``, printed ``parallel_range``). Its iterations are
independent: each writes its own rows, and a reduction over every axis is a parallel loop
over at most ``codegen.CHUNKS`` chunks of the rows, each storing its partial result, combined
in order after the loop (codegen._emit_chunked), so results do not depend on the threads.
Such a kernel becomes two functions here:

* its **body** ``void body(i8** ptrs, i64 lo, i64 hi)``: the parallel loop over iterations
  ``[lo, hi)`` (the scalar assignments before the loop, such as the chunk count, repeated);
* the **kernel**: the statements before the loop, ``parallel_for(body, ptrs, n)``, the
  statements after it (the partial results' combination).

``parallel_for`` (written below in each module that needs it) starts ``threads() - 1``
workers with ``pthread_create`` (glibc's, resolved in the process), runs work itself and
joins them. The n iterations are cut into up to 4 units per thread taken from an atomic
counter, so a thread that a loaded machine delays takes fewer of them. Threads are created
per call rather than kept in a pool (benchmarks/TABLE_PARALLEL.md, loaded 2-core machine):
a launch with one worker cost 30-45 us of CPU and 70-110 us wall per call, a futex-parked
pool (prototype) 6-8 us CPU and 8-20 us wall, Numba's pools 330-385 us CPU (omp, spinning)
and 80-100 us (workqueue). Against the >= 0.3 ms of a loop past PARALLEL_MIN_SIZE (the
1e6-element chain: ~10 ms) creating them is cheap enough, and needs no care across
``fork``, for several Python threads calling at once, or per platform (futex numbers).
"""

from __future__ import annotations

import ctypes
import os

from . import loopir as ir

UNITS_PER_THREAD = 4


def threads() -> int:
    """The number of threads of a parallel loop: ``FUNCAD_NUM_THREADS``, else
    ``NUMBA_NUM_THREADS`` (the former Numba backend's setting, still honoured), else the CPUs
    this process may run on."""
    env = os.environ.get("FUNCAD_NUM_THREADS", "").strip()
    if env:
        if not (env.isdigit() and int(env) > 0):
            from ..errors import ArgumentError

            raise ArgumentError(f"FUNCAD_NUM_THREADS={env!r}: the number of threads of jit's parallel "
                                "loops must be a positive integer (unset it to use every CPU this "
                                "process may run on).")
        return int(env)
    env = os.environ.get("NUMBA_NUM_THREADS", "").strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


#: What ``parallel_for`` reads at each call: the thread count (``set_threads`` changes it).
_THREADS = ctypes.c_int64(0)  # 0: threads() when the engine is set up (symbols), not at import


def set_threads(n: int) -> int:
    """Run parallel loops on ``n`` threads (1: serial) from now on; returns the previous count."""
    before = _THREADS.value or threads()
    _THREADS.value = max(1, int(n))
    return before


def symbols() -> dict:
    """``{symbol: address}`` for llvmlite: the thread count, and glibc's pthread_create and
    pthread_join (absent elsewhere: parallel loops then run on the calling thread)."""
    if not _THREADS.value:
        _THREADS.value = threads()
    out = {"funcad_table_threads": ctypes.addressof(_THREADS)}
    try:
        libc = ctypes.CDLL(None)
        for name in ("pthread_create", "pthread_join"):
            out[f"funcad_{name}"] = ctypes.cast(getattr(libc, name), ctypes.c_void_p).value
    except (OSError, AttributeError):
        _THREADS.value = 1
        out.update(funcad_pthread_create=ctypes.cast(_NO_THREAD, ctypes.c_void_p).value,
                   funcad_pthread_join=ctypes.cast(_NO_THREAD, ctypes.c_void_p).value)
    return out


# A pthread_create that always fails (no threads: the caller does every unit itself).
_NO_THREAD = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p,
                              ctypes.c_void_p)(lambda *a: 1)


def parallel_loop(body: list):
    """The index of the top-level parallel loop of a kernel's statements, or None."""
    return next((j for j, s in enumerate(body) if type(s) is ir.Loop and s.parallel), None)


def well_formed(body: list) -> bool:
    """Whether :func:`emit` takes a kernel's statements: parallel loops only at the top level,
    at most one, from 0, with scalar assignments alone before it (codegen's forms)."""
    k = parallel_loop(body)
    parallel = [n for s in body for n in ir.walk(s) if type(n) is ir.Loop and n.parallel]
    if k is None:
        return not parallel
    return len(parallel) == 1 and body[k].start is None and all(type(s) is ir.Assign for s in body[:k])


def emit(b, arrays: list, strides: list, sizes, body: list, ptrs: list) -> None:
    """The kernel of statements ``body`` (:func:`well_formed`) at builder ``b``: the loop's
    body function, then the calls. ``arrays`` are the loop IR arrays (``ptrs``: their first
    elements), ``strides`` their byte strides, ``sizes`` the kernel's sizes."""
    from llvmlite import ir as L

    mod, i8p, i64 = b.module, L.IntType(8).as_pointer(), L.IntType(64)
    k = parallel_loop(body)
    before, loop, after = body[:k], body[k], body[k + 1:]

    def printed(builder, pointers):
        return ir.LLVM(builder, {a.name: (p, st) for a, p, st in zip(arrays, pointers, strides)}, sizes)

    # The body: the loop over [lo, hi), its arrays' pointers read from ptrs.
    fn = L.Function(mod, _body_type(), f"{b.function.name}_body")
    fn.attributes.add("noinline")
    bb = L.IRBuilder(fn.append_basic_block("entry"))
    table, lo, hi = fn.args
    p = printed(bb, [bb.load(bb.gep(table, [L.Constant(i64, q)])) for q in range(len(arrays))])
    bounds = [ir.Local("parallel.lo", ir.INT), ir.Local("parallel.hi", ir.INT)]
    for local, arg in zip(bounds, (lo, hi)):
        p.slots[local.name] = bb.alloca(i64, name=local.name)
        bb.store(arg, p.slots[local.name])
    p.run(before + [ir.Loop(loop.var, bounds[1], loop.body, start=bounds[0])])
    bb.ret_void()
    # The kernel: the statements before, parallel_for over the loop's range, those after.
    p = printed(b, ptrs)
    p.run(before)
    table = b.alloca(i8p, len(arrays))
    for q, ptr in enumerate(ptrs):
        b.store(b.bitcast(ptr, i8p), b.gep(table, [L.Constant(i64, q)]))
    b.call(_parallel_for(mod), [fn, table, p.value(loop.stop)])
    p.run(after)


def _body_type():
    from llvmlite import ir as L

    i8p, i64 = L.IntType(8).as_pointer(), L.IntType(64)
    return L.FunctionType(L.VoidType(), [i8p.as_pointer(), i64, i64])


def _parallel_for(mod):
    """``void parallel_for(body, i8** ptrs, i64 n)`` in module ``mod`` (once): the n
    iterations as ``units`` ranges, taken from an atomic counter by the calling thread and
    ``threads - 1`` workers (a worker that cannot be created leaves its units to the others)."""
    from llvmlite import ir as L

    name = "funcad_parallel_for"
    if name in mod.globals:
        return mod.globals[name]
    i8p, i32, i64 = L.IntType(8).as_pointer(), L.IntType(32), L.IntType(64)
    body_p = _body_type().as_pointer()
    # The job all threads share: body, ptrs, n, units, the next unit.
    job_t = L.LiteralStructType([body_p, i8p.as_pointer(), i64, i64, i64])
    worker_t = L.FunctionType(i8p, [i8p])
    create = L.Function(mod, L.FunctionType(i32, [i64.as_pointer(), i8p, worker_t.as_pointer(), i8p]),
                        "funcad_pthread_create")
    pthread_join = L.Function(mod, L.FunctionType(i32, [i64, i8p.as_pointer()]), "funcad_pthread_join")
    count = L.GlobalVariable(mod, i64, "funcad_table_threads")
    count.linkage = "external"

    def field(b, job, j):
        return b.gep(job, [L.Constant(i32, 0), L.Constant(i32, j)])

    # The worker: take units until none is left.
    worker = L.Function(mod, worker_t, "funcad_parallel_worker")
    worker.linkage = "internal"
    b = L.IRBuilder(worker.append_basic_block("entry"))
    job = b.bitcast(worker.args[0], job_t.as_pointer())
    take, run, done = (worker.append_basic_block(x) for x in ("take", "run", "done"))
    b.branch(take)
    b.position_at_end(take)
    u = b.atomic_rmw("add", field(b, job, 4), L.Constant(i64, 1), "monotonic")
    units = b.load(field(b, job, 3))
    b.cbranch(b.icmp_signed("<", u, units), run, done)
    b.position_at_end(run)
    n = b.load(field(b, job, 2))
    lo = b.sdiv(b.mul(u, n), units)
    hi = b.sdiv(b.mul(b.add(u, L.Constant(i64, 1)), n), units)
    b.call(b.load(field(b, job, 0)), [b.load(field(b, job, 1)), lo, hi])
    b.branch(take)
    b.position_at_end(done)
    b.ret(L.Constant(i8p, None))

    fn = L.Function(mod, L.FunctionType(L.VoidType(), [body_p, i8p.as_pointer(), i64]), name)
    fn.linkage = "internal"
    body, ptrs, n = fn.args
    entry, serial, spawn = (fn.append_basic_block(x) for x in ("entry", "serial", "spawn"))
    b = L.IRBuilder(entry)
    threads = b.load(count)
    units = b.mul(threads, L.Constant(i64, UNITS_PER_THREAD))
    units = b.select(b.icmp_signed("<", n, units), n, units)
    threads = b.select(b.icmp_signed("<", units, threads), units, threads)
    b.cbranch(b.icmp_signed("<=", threads, L.Constant(i64, 1)), serial, spawn)
    b.position_at_end(serial)
    b.call(body, [ptrs, L.Constant(i64, 0), n])
    b.ret_void()
    b.position_at_end(spawn)
    job = b.alloca(job_t)
    for j, v in enumerate((body, ptrs, n, units, L.Constant(i64, 0))):
        b.store(v, field(b, job, j))
    tids = b.alloca(i64, threads)
    ok = b.alloca(L.IntType(8), threads)
    arg = b.bitcast(job, i8p)

    def start(t):  # ok[t] = pthread_create(...) == 0
        rc = b.call(create, [b.gep(tids, [t]), L.Constant(i8p, None), worker, arg])
        b.store(b.zext(b.icmp_signed("==", rc, L.Constant(i32, 0)), L.IntType(8)), b.gep(ok, [t]))

    def join(t):
        with b.if_then(b.icmp_unsigned("!=", b.load(b.gep(ok, [t])), L.Constant(L.IntType(8), 0))):
            b.call(pthread_join, [b.load(b.gep(tids, [t])), L.Constant(i8p.as_pointer(), None)])

    ir.for_range(b, 1, threads, start)
    b.call(worker, [arg])  # this thread's share, then the joins
    ir.for_range(b, 1, threads, join)
    b.ret_void()
    return fn


# --------------------------------------------------------------------------------------
# A chunked reduction's scratch array of nc partial results


def scratch_shapes(stmts: list, sizes: list, names: set) -> dict:
    """``{name: shape}`` of the arrays ``names`` that a kernel's statements allocate for
    themselves (a parallel reduction's partial results): 1-D, indexed by a loop's variable,
    their length that loop's trip count (integer locals assigned at the top level, sizes
    and constants: known when the program is built)."""
    if not names:
        return {}
    env: dict = {}

    def value(e):
        t = type(e)
        if t is ir.Size:
            return sizes[e.slot]
        if t is ir.Const:
            return int(e.value)
        if t is ir.Local:
            return env[e.name]
        if t is ir.Call and e.fn == "min":
            return min(value(a) for a in e.args)
        x, y = value(e.x), value(e.y)
        return x + y if e.op == "+" else x * y if e.op == "*" else x // y

    out: dict = {}

    def visit(stmts, trips):
        for s in stmts:
            if type(s) is ir.Assign and s.target.dtype == ir.INT and not trips:
                env[s.target.name] = value(s.value)
            elif type(s) is ir.Loop:
                visit(s.body, dict(trips, **{s.var.name: (s.start, s.stop)}))
            for n in ir.walk(s) if type(s) is not ir.Loop else ():
                if type(n) in (ir.Load, ir.Store) and n.arr.name in names:
                    start, stop = trips[n.index[0].name]
                    out[n.arr.name] = (value(stop) - (value(start) if start is not None else 0),)

    visit(stmts, {})
    missing = names - set(out)
    if missing:
        raise KeyError(f"the shape of {sorted(missing)}")
    return out
