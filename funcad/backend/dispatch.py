"""Dispatch: from a jaxpr to a callable compiled program, and the per-call fast path.

:func:`executable_for` compiles a jaxpr once (memoized on the jaxpr object, which jit's
per-signature cache keeps alive): simplify -> fuse/generate -> disk cache -> Numba. The
returned :class:`Executable` is what a repeat call runs: it converts the flat arguments (a
type check per leaf) and calls the Numba dispatcher with ``(args, S)``; no tracing, no tree
walk. Programs with the same source (the same structure at another batch size) share one
compiled dispatcher, so a new batch size costs a trace but no Numba compilation.
"""

from __future__ import annotations

import logging
import os
import time
import weakref

import numpy as np

from ..jaxpr import Jaxpr, jit_p

# table_control, table_einsum and table_linalg: imported for their rules (they register into
# table.SINGLE); table_host: host steps (table.HOST); table_source sets table.DESCRIBE, a
# table program's text
from . import (  # noqa: F401
    cache,
    codegen,
    driver,
    table,
    table_control,
    table_einsum,
    table_host,
    table_linalg,
    table_source,
)
from .fusion import fuse
from .simplify import simplify

log = logging.getLogger("funcad.jit")

_executables: dict[Jaxpr, Executable] = {}  # bounded: oldest first, see _remember
_by_program: dict[str, weakref.WeakSet] = {}  # module name -> the Executables running it
stats = {"programs": 0, "compile_seconds": 0.0}


def _remember(jaxpr, exe) -> None:
    """Memoize ``exe`` for ``jaxpr``, forgetting the oldest entries past twice the program
    cache's size (jit's own per-signature cache keeps the executables it uses)."""
    _executables[jaxpr] = exe
    limit = 2 * cache.max_programs()
    while 0 < limit < len(_executables):
        del _executables[next(iter(_executables))]


def _released(name: str) -> None:
    """The program ``name`` was released (cache.release): its executables let go of it and
    load it again (from disk) if they are called."""
    for exe in _by_program.pop(name, ()):
        exe.unload()


cache._release_hooks.append(_released)


def _log_enabled() -> bool:
    return os.environ.get("FUNCAD_LOG_COMPILES", "") not in ("", "0")


def max_eqns() -> int:
    """jit compiles programs of fewer than ``$FUNCAD_JIT_MAX_EQNS`` operations (default 100,000)."""
    return int(os.environ.get("FUNCAD_JIT_MAX_EQNS", 100_000))


def _check_size(jaxpr: Jaxpr, name: str) -> None:
    n, limit = len(jaxpr.eqns), max_eqns()
    if n >= limit:
        from ..errors import ProgramTooLargeError

        raise ProgramTooLargeError(
            f"jit({name}): the traced program has {n} operations; jit compiles programs of fewer "
            f"than {limit} (set by FUNCAD_JIT_MAX_EQNS): tracing and compiling one this large takes "
            "minutes. A Python loop unrolls into operations at every iteration: write it with "
            "funcad.lax.fori_loop or funcad.lax.scan, which compile to one loop, or call the "
            "function without jit.")


def lower_jaxpr(jaxpr: Jaxpr, name: str = "program", keep_plan: bool = False):
    """``(simplified jaxpr, Program or Driven)`` for ``jaxpr``: a small program is one
    generated function; a large one a driver over deduplicated kernels (driver.py), whose
    ``source`` is the driver followed by each distinct kernel's."""
    _check_size(jaxpr, name)
    use_table = table.enabled()  # FUNCAD_JIT_BACKEND: table (the default) or numba
    simplified = simplify(jaxpr)
    if use_table:
        t0, before = time.perf_counter(), dict(table.stats)
        try:
            program = table.build(simplified, keep_plan)  # (kept for jit(f).lower's source)
        except table.Unsupported as e:
            if _log_enabled():
                log.warning("funcad.jit: %s: the table backend does not cover it (%s): "
                            "compiling with Numba", name, e)
        else:
            if _log_enabled():
                how = "loaded from the disk cache" if table.stats["loaded"] > before["loaded"] else (
                    "compiled" if table.stats["compiled"] > before["compiled"] else "reusing compiled code")
                log.warning("funcad.jit: %s: table backend, %d kernel%s %s in %.3f s", name, program.kernels,
                            "s"[:program.kernels != 1], how, time.perf_counter() - t0)
            return simplified, program
    fused = fuse(simplified)
    items = driver.items_of(fused)
    if driver.should_drive(items):
        return simplified, driver.Driven(simplified, items, name)
    return simplified, codegen.generate(simplified, name, fused=fused)


def executable_for(jaxpr: Jaxpr, name: str = "program") -> Executable:
    exe = _executables.get(jaxpr)
    if exe is None:
        table.backend()  # an unknown FUNCAD_JIT_BACKEND is an error, whatever the program
        unsupported = _numba_unsupported_dtypes(jaxpr)
        if unsupported:
            exe = Interpreted(jaxpr, name, unsupported)
        else:
            t0 = time.perf_counter()
            _, program = lower_jaxpr(jaxpr, name)
            if not isinstance(program, driver.Driven | table.TableProgram):
                program = Executable(program, jaxpr, name)
            exe = program
            stats["programs"] += 1
            stats["compile_seconds"] += time.perf_counter() - t0
        _remember(jaxpr, exe)
    return exe


def _numba_unsupported_dtypes(jaxpr: Jaxpr) -> set:
    """Dtypes Numba has no arrays of (float16, complex from a library call...)."""
    avals = [v.aval for v in jaxpr.invars] + [v.aval for e in jaxpr.eqns for v in e.outputs]
    return {a.dtype.name for a in avals
            if a.dtype.kind not in "biufc" or a.dtype.itemsize < 4 and a.dtype.kind == "f"}


class Interpreted:
    """A program Numba cannot compile (it has no float16 arrays): run equation by equation
    with the NumPy implementations, exactly as eagerly. Logged when FUNCAD_LOG_COMPILES is set."""

    def __init__(self, jaxpr: Jaxpr, name: str, dtypes: set):
        self.jaxpr, self.source = jaxpr, f"# not compiled: Numba has no arrays of {sorted(dtypes)}\n"
        if os.environ.get("FUNCAD_LOG_COMPILES", "") not in ("", "0"):
            log.warning("funcad.jit: %s runs uncompiled: Numba has no %s arrays", name, sorted(dtypes))

    def __call__(self, args) -> list:
        from ..core import EvalTrace, set_current_trace
        from ..jaxpr import eval_jaxpr

        with set_current_trace(EvalTrace(None)):
            return [np.asarray(o) for o in eval_jaxpr(self.jaxpr, [], *args)]


class Executable:
    """A compiled program for one jaxpr; ``exe(args)`` -> list of output arrays."""

    __slots__ = ("name", "S", "dtypes", "compiled", "call", "source", "__weakref__")

    def __init__(self, program, jaxpr: Jaxpr, name: str):
        self.name, self.S, self.source = name, program.S, program.source
        self.dtypes = [v.aval.dtype for v in jaxpr.invars]
        self._load()

    def _load(self):
        self.compiled = cache.load(self.source)
        _by_program.setdefault(self.compiled.name, weakref.WeakSet()).add(self)
        self.call = self._first_call

    def unload(self):
        """Let go of the compiled program (released from memory); a later call loads it again."""
        self.compiled, self.call = None, self._reload

    def _reload(self, args, S):
        self._load()
        return self._first_call(args, S)

    def _first_call(self, args, S):
        t0 = time.perf_counter()
        before = len(self.compiled.fn.signatures)
        out = self.compiled.first_call(args, S)
        self.call = self.compiled.fn
        if _log_enabled():
            compiled = len(self.compiled.fn.signatures) > before
            hits = sum(self.compiled.fn.stats.cache_hits.values())
            how = "loaded from Numba's disk cache" if hits and compiled else (
                "compiled by Numba" if compiled else "reusing compiled code")
            log.warning("funcad.jit: %s: Numba backend, %s in %.3f s (module %s)", self.name, how,
                        time.perf_counter() - t0, self.compiled.name)
        return out

    def __call__(self, args) -> list:
        conv = []
        for x, dt in zip(args, self.dtypes):
            if type(x) is np.ndarray and x.dtype == dt:
                if not (x.flags.c_contiguous or x.flags.f_contiguous):
                    x = np.ascontiguousarray(x)
            else:
                x = np.asarray(x, dt)
            conv.append(x)
        return list(self.call(tuple(conv), self.S))


def compile_count() -> int:
    """How many Numba compilations (or cache loads) this process has done (for tests)."""
    return sum(len(c.fn.signatures) for c in cache._loaded.values())


def _jit_impl(*args, jaxpr: Jaxpr, name: str):
    return executable_for(jaxpr, name)(args)


jit_p.def_impl(_jit_impl)  # the jit primitive (funcad/jaxpr.py) runs its program compiled
