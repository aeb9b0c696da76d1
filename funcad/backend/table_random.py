"""funcad.random's kernels, eagerly and under jit: JAX's draws, gamma and poisson samplers and
XLA's CPU exp/erf/erf_inv/fma, bit for bit, without Numba.

Each kernel (written as LLVM IR in table_random_ir.py) is a function
``funcad_random_<kind>_<dtype>(i8* arrays..., i64 sizes...)`` taking its sizes at run time,
compiled once per machine into an object file of its own (the table's disk cache, keyed as
the table's runtime) and loaded into the table's engine on first use. Eagerly it is called
with ctypes (:func:`call`: lax/random.py's implementations); under jit a program's table calls
it by its symbol (:class:`Call`, by the rules registered below), so no shape, key batch or
program costs a kernel compile. This module imports no llvmlite until a kernel is needed.
"""

from __future__ import annotations

import ctypes
import hashlib
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..lax import random as rl
from . import loopir as ir
from . import table, table_engine


def symbol(kind: str, dtype) -> str:
    return f"funcad_random_{kind}_{np.dtype(dtype).name}"


def _ir():
    from . import table_random_ir

    return table_random_ir


_addresses: dict = {}
stats = {"compiled": 0, "loaded": 0}  # kernels compiled, loaded from the disk cache


def address(kind: str, dtype) -> int:
    """The address of kernel ``symbol(kind, dtype)``, loaded (from the disk cache or compiled)
    into the process's engine for good, its symbol added to the process's (programs, in
    engines of their own, resolve it there)."""
    name = symbol(kind, dtype)
    a = _addresses.get(name)
    if a is None:
        import llvmlite.binding as ll

        engine = table_engine
        with table._lock:
            engine._setup()
            writers = engine._writers(()) + [engine._digest(Path(_ir().__file__))]  # (its IR writer)
            digest = hashlib.sha256(repr((engine._host(), writers, name)).encode()).hexdigest()
            where = engine._cache_dir()
            how = engine._load(where and where / f"random-{digest}.o", lambda: engine.compile_object(
                _ir().module(kind, np.dtype(dtype), name)))
            stats[how] += 1
            a = _addresses[name] = engine._engine.get_function_address(name)
            ll.add_symbol(name, a)
    return a


_CALLS: dict = {}


def call(kind: str, dtype, arrays: list, sizes: tuple = ()) -> None:
    """Run kernel ``(kind, dtype)`` on C-contiguous ``arrays`` (eagerly: no compile per shape)."""
    key = (kind, np.dtype(dtype), len(arrays), len(sizes))
    fn = _CALLS.get(key)
    if fn is None:
        fn = _CALLS[key] = ctypes.CFUNCTYPE(None, *[ctypes.c_void_p] * len(arrays),
                                            *[ctypes.c_int64] * len(sizes))(address(kind, dtype))
    fn(*[a.ctypes.data for a in arrays], *sizes)


# --------------------------------------------------------------------------------------
# Under jit: a table kernel calling the function, its sizes as constants

@dataclass(frozen=True)
class Call:
    name: str
    n_arrays: int
    sizes: tuple

    def describe(self) -> str:
        n = self.sizes[0]
        if len(self.sizes) == 2:  # a draw per key
            return f"{self.name} (table_random.py), {n} key{'s' * (n != 1)} x {self.sizes[1]} elements"
        return f"{self.name} (table_random.py), {n} elements"

    def emit(self, b, mod, ptrs) -> None:
        from llvmlite import ir as L

        i8p, i64 = L.IntType(8).as_pointer(), L.IntType(64)
        fn = ir.declare(mod, self.name, L.VoidType(), [i8p] * self.n_arrays + [i64] * len(self.sizes))
        b.call(fn, [b.bitcast(p, i8p) for p in ptrs] + [L.Constant(i64, s) for s in self.sizes])


def _rule(kind_dtype, sizes):
    """The rule of a primitive running kernel ``kind_dtype(e)``, with sizes ``sizes(e, n)`` for
    ``n`` elements of its first output."""
    def rule(plan, e):
        kind, dtype = kind_dtype(e)
        if np.dtype(dtype).name == "float16":
            raise table.Unsupported(f"{e.prim.name} in float16")
        ins = [plan.contiguous(plan.region(a)) for a in e.inputs]
        outs = [plan.fresh(v) for v in e.outputs]
        plan.regions.update(zip(e.outputs, outs))
        n = math.prod(outs[0].shape)
        if n:
            address(kind, dtype)  # (loaded before the program: its symbol resolves)
            name, s = symbol(kind, dtype), sizes(e, n)
            plan.call(("random", name, s), lambda: Call(name, len(ins) + len(outs), s), [*ins, *outs])
    return rule


def _per_key(e, n):  # a draw per key: (keys, elements a key)
    nk = math.prod(e.inputs[0].aval.shape)
    return nk, n // nk


rl._kernels["call"] = call  # lax/random.py's eager implementations run the same kernels
table.register_single(rl.threefry2x32_p, _rule(lambda e: ("threefry", np.uint32), lambda e, n: (
    n, *(int(math.prod(a.aval.shape) != 1) for a in e.inputs))))  # (operands of one value: step 0)
table.register_single(rl.random_draw_p, _rule(lambda e: (e.params["kind"], e.params["dtype"]), _per_key))
table.register_single(rl.random_gamma_p, _rule(lambda e: (
    "loggamma" if e.params.get("log_space") else "gamma", e.outputs[0].aval.dtype), _per_key))
table.register_single(rl.random_poisson_p, _rule(lambda e: ("poisson", e.params["dtype"]), _per_key))
