"""Dispatch: from a jaxpr to a callable compiled program.

:func:`executable_for` compiles a jaxpr once (memoized on the jaxpr object, which jit's
per-signature cache keeps alive): simplify -> the table backend (backend/table.py: fuse,
plan, one llvmlite module, cached on disk). The returned :class:`table.TableProgram` is what
a repeat call runs: one ctypes call per program call.
"""

from __future__ import annotations

import logging
import os
import time

import numpy as np

from ..jaxpr import Jaxpr, jit_p

# table_control, table_einsum, table_fft, table_index, table_linalg and table_random: imported
# for their rules (they register into table.SINGLE); table_host: host steps (table.HOST);
# table_source sets table.DESCRIBE, a table program's text
from . import (  # noqa: F401
    cache,
    table,
    table_control,
    table_einsum,
    table_fft,
    table_host,
    table_index,
    table_linalg,
    table_random,
    table_source,
)
from .simplify import simplify

log = logging.getLogger("funcad.jit")

_executables: dict = {}  # jaxpr -> its program; bounded: oldest first, see _remember


def _remember(jaxpr, exe) -> None:
    """Memoize ``exe`` for ``jaxpr``, forgetting the oldest entries past twice
    ``$FUNCAD_JIT_CACHE_SIZE`` (jit's own per-signature cache keeps the programs it uses)."""
    _executables[jaxpr] = exe
    limit = 2 * cache.max_programs()
    while 0 < limit < len(_executables):
        del _executables[next(iter(_executables))]


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
    """``(simplified jaxpr, program)`` for ``jaxpr``: a :class:`table.TableProgram` (its plan
    kept for ``jit(f).lower``'s source when ``keep_plan``), or an :class:`Interpreted` one for
    dtypes the compiled loops do not have."""
    _check_size(jaxpr, name)
    table.backend()  # an unknown FUNCAD_JIT_BACKEND is an error, whatever the program
    simplified, unsupported = simplify(jaxpr), _unsupported_dtypes(jaxpr)
    if unsupported:
        return simplified, Interpreted(jaxpr, name, unsupported)
    t0, before = time.perf_counter(), dict(table.stats)
    try:
        program = table.build(simplified, keep_plan)  # (kept for jit(f).lower's source)
    except table.Unsupported as e:
        from ..errors import UnsupportedFunctionError

        raise UnsupportedFunctionError(
            f"jit({name}): the compiler does not cover this program ({e}). Call the function "
            "without jit (or inside `with funcad.disable_jit():`), and report it at "
            "funcad's issue tracker with the program (funcad.make_jaxpr(f)(*args)).") from None
    if _log_enabled():
        how = "loaded from the disk cache" if table.stats["loaded"] > before["loaded"] else (
            "compiled" if table.stats["compiled"] > before["compiled"] else "reusing compiled code")
        log.warning("funcad.jit: %s: table backend, %d kernel%s %s in %.3f s", name, program.kernels,
                    "s"[:program.kernels != 1], how, time.perf_counter() - t0)
    return simplified, program


def executable_for(jaxpr: Jaxpr, name: str = "program"):
    exe = _executables.get(jaxpr)
    if exe is None:
        _, exe = lower_jaxpr(jaxpr, name)
        _remember(jaxpr, exe)
    return exe


def _unsupported_dtypes(jaxpr: Jaxpr) -> set:
    """Dtypes the compiled loops have no arithmetic for (float16, objects...)."""
    avals = [v.aval for v in jaxpr.invars] + [v.aval for e in jaxpr.eqns for v in e.outputs]
    return {a.dtype.name for a in avals
            if a.dtype.kind not in "biufc" or a.dtype.itemsize < 4 and a.dtype.kind == "f"}


class Interpreted:
    """A program of dtypes the compiled loops do not have (float16): run equation by equation
    with the NumPy implementations, exactly as eagerly. Logged when FUNCAD_LOG_COMPILES is set."""

    def __init__(self, jaxpr: Jaxpr, name: str, dtypes: set):
        self.jaxpr, self.source = jaxpr, f"# not compiled: no compiled loops of {sorted(dtypes)}\n"
        if _log_enabled():
            log.warning("funcad.jit: %s runs uncompiled: no compiled %s loops", name, sorted(dtypes))

    def __call__(self, args) -> list:
        from ..core import EvalTrace, set_current_trace
        from ..jaxpr import eval_jaxpr

        with set_current_trace(EvalTrace(None)):
            return [np.asarray(o) for o in eval_jaxpr(self.jaxpr, [], *args)]


def _jit_impl(*args, jaxpr: Jaxpr, name: str):
    return executable_for(jaxpr, name)(args)


jit_p.def_impl(_jit_impl)  # the jit primitive (funcad/jaxpr.py) runs its program compiled
