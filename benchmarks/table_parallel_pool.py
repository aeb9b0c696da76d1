"""The per-call cost of a parallel launch: table_parallel's ``parallel_for`` (pthread_create
and join per call) against a persistent pool, both in LLVM IR, with an empty loop body.

    python -m benchmarks.table_parallel_pool

The pool is a prototype for this measurement only (Linux x86-64): workers parked on a futex
(``syscall(SYS_futex)``), woken by a generation counter; no fork or concurrent-caller
handling. Results in benchmarks/TABLE_PARALLEL.md.
"""

from __future__ import annotations

import ctypes
import os
import time

import numpy as np

SYS_FUTEX, WAIT, WAKE = 202, 128, 129  # x86-64; FUTEX_WAIT_PRIVATE, FUTEX_WAKE_PRIVATE


def build():
    import llvmlite.binding as ll
    from llvmlite import ir as L

    from funcad.backend import table_engine, table_parallel

    table_engine._setup()
    ll.add_symbol("funcad_syscall", ctypes.cast(ctypes.CDLL(None).syscall, ctypes.c_void_p).value)
    i8p, i32, i64 = L.IntType(8).as_pointer(), L.IntType(32), L.IntType(64)
    mod = L.Module("poolbench")
    body = L.Function(mod, table_parallel._body_type(), "body")  # an empty loop body
    L.IRBuilder(body.append_basic_block("e")).ret_void()
    per_call = L.Function(mod, L.FunctionType(L.VoidType(), [i64]), "per_call")
    b = L.IRBuilder(per_call.append_basic_block("e"))
    b.call(table_parallel._parallel_for(mod), [body, L.Constant(i8p.as_pointer(), None), per_call.args[0]])
    b.ret_void()

    syscall = L.Function(mod, L.FunctionType(i64, [i64, i32.as_pointer(), i32, i32, i8p]), "funcad_syscall")
    gen, pending, nxt, units = (L.GlobalVariable(mod, t, n) for t, n in
                                ((i32, "gen"), (i32, "pending"), (i64, "next"), (i64, "units")))
    for g in (gen, pending, nxt, units):
        g.initializer = L.Constant(g.value_type, 0)

    def futex(b, addr, op, val):
        b.call(syscall, [L.Constant(i64, SYS_FUTEX), addr, L.Constant(i32, op), val, L.Constant(i8p, None)])

    def run_units(b, fn):
        take, run, done = (fn.append_basic_block(x) for x in ("take", "run", "done"))
        b.branch(take)
        b.position_at_end(take)
        u = b.atomic_rmw("add", nxt, L.Constant(i64, 1), "monotonic")
        b.cbranch(b.icmp_signed("<", u, b.load(units)), run, done)
        b.position_at_end(run)
        b.call(body, [L.Constant(i8p.as_pointer(), None), u, b.add(u, L.Constant(i64, 1))])
        b.branch(take)
        b.position_at_end(done)

    # a worker: wait for a new generation, take units, the last one done wakes the caller
    worker = L.Function(mod, L.FunctionType(i8p, [i8p]), "worker")
    b = L.IRBuilder(worker.append_basic_block("e"))
    my = b.alloca(i32)
    b.store(L.Constant(i32, 0), my)
    top, wait, go = (worker.append_basic_block(x) for x in ("top", "wait", "go"))
    b.branch(top)
    b.position_at_end(top)
    g = b.load_atomic(gen, "acquire", 4)
    b.cbranch(b.icmp_signed("==", g, b.load(my)), wait, go)
    b.position_at_end(wait)
    futex(b, gen, WAIT, b.load(my))
    b.branch(top)
    b.position_at_end(go)
    b.store(g, my)
    run_units(b, worker)
    left = b.atomic_rmw("sub", pending, L.Constant(i32, 1), "acq_rel")
    with b.if_then(b.icmp_signed("==", left, L.Constant(i32, 1))):
        futex(b, pending, WAKE, L.Constant(i32, 1))
    b.branch(top)

    start = L.Function(mod, L.FunctionType(L.VoidType(), []), "start")  # one worker
    b = L.IRBuilder(start.append_basic_block("e"))
    b.call(mod.globals["funcad_pthread_create"], [b.alloca(i64), L.Constant(i8p, None), worker,
                                                   L.Constant(i8p, None)])
    b.ret_void()

    pooled = L.Function(mod, L.FunctionType(L.VoidType(), [i64]), "pooled")
    b = L.IRBuilder(pooled.append_basic_block("e"))
    b.store(pooled.args[0], units)
    b.store(L.Constant(i64, 0), nxt)
    b.store(L.Constant(i32, 1), pending)
    b.atomic_rmw("add", gen, L.Constant(i32, 1), "release")
    futex(b, gen, WAKE, L.Constant(i32, 2 ** 31 - 1))
    run_units(b, pooled)
    top, wait, done = (pooled.append_basic_block(x) for x in ("top", "wait", "joined"))
    b.branch(top)
    b.position_at_end(top)
    p = b.load_atomic(pending, "acquire", 4)
    b.cbranch(b.icmp_signed("==", p, L.Constant(i32, 0)), done, wait)
    b.position_at_end(wait)
    futex(b, pending, WAIT, p)
    b.branch(top)
    b.position_at_end(done)
    b.ret_void()

    m = ll.parse_assembly(str(mod))
    m.verify()
    table_engine._engine.add_module(m)
    table_engine._engine.finalize_object()
    address = table_engine._engine.get_function_address
    ctypes.CFUNCTYPE(None)(address("start"))()
    return (ctypes.CFUNCTYPE(None, ctypes.c_int64)(address("per_call")),
            ctypes.CFUNCTYPE(None, ctypes.c_int64)(address("pooled")))


def timed(f, calls=2000, rounds=7) -> str:
    w, c = [], []
    for _ in range(rounds):
        c0, t0 = time.process_time(), time.perf_counter()
        for _ in range(calls):
            f()
        w.append((time.perf_counter() - t0) / calls)
        c.append((time.process_time() - c0) / calls)
    return f"wall {np.median(w) * 1e6:.1f} us, CPU {np.median(c) * 1e6:.1f} us"


def main() -> None:
    from funcad.backend import table_parallel

    per_call, pooled = build()
    print("load", os.getloadavg()[0])
    for _ in range(2):
        table_parallel.set_threads(1)
        print("serial (1 thread)", timed(lambda: per_call(8)))
        table_parallel.set_threads(2)
        print("pthread_create per call, 1 worker", timed(lambda: per_call(8)))
        print("futex pool, 1 worker", timed(lambda: pooled(8)))


if __name__ == "__main__":
    main()
