"""Keep freed array memory for reuse (glibc malloc tuning), so eager programs stop paying
page faults for every large temporary.

An eager derivative program allocates and frees many arrays of the same large size (a
Hessian by vmap over 200 basis vectors makes half a dozen 1000 x 200 temporaries per call).
glibc serves blocks above its mmap threshold with fresh ``mmap`` pages and trims the heap
top back to the OS on free, so every call faults its temporaries in again: measured on the
2-core VM, the eager Newton step (d=200, n=1000) took 14 ms with glibc's defaults and 3.8 ms
with the memory kept, where the arithmetic alone is about 2.6 ms. Raising the mmap threshold
to its maximum (32 MB) and the trim threshold to 1 GB keeps such blocks in the heap for
reuse; the cost is that a process keeps up to that much freed memory, and the setting holds for
the whole process (every other library's allocations too). So it is opt-in: set the
environment variable ``FUNCAD_MALLOC_TUNING=1`` before importing funcad (or call
:func:`configure` yourself); by default funcad leaves malloc alone. Only glibc has
``mallopt``; elsewhere this does nothing.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys
import threading

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
MMAP_THRESHOLD = 32 * 1024 * 1024  # glibc's maximum on 64-bit
TRIM_THRESHOLD = 1024 * 1024 * 1024

applied = False


def configure(force: bool = False) -> bool:
    """Apply the tuning once if FUNCAD_MALLOC_TUNING=1 (or ``force``); return whether it is in
    effect. ``import funcad`` calls it, so the variable is read before the first array."""
    global applied
    wanted = force or os.environ.get("FUNCAD_MALLOC_TUNING", "0") == "1"
    if applied or not wanted or not sys.platform.startswith("linux"):
        return applied
    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    applied = (bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD))
               and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)))
    return applied


_DEFAULT_MMAP_THRESHOLD = 128 * 1024  # glibc's (DEFAULT_MMAP_THRESHOLD_MIN), fixed once set
_kept = 0  # nesting depth of `kept_for_reuse` blocks in this process
_kept_lock = threading.Lock()


@contextlib.contextmanager
def kept_for_reuse():
    """Within the block, freed memory stays in the heap for reuse; after it, the process's
    setting is back and the memory is returned to the OS (``malloc_trim``).

    For a loop of calls whose temporaries are freed and allocated again, in a process that pins
    glibc's thresholds through its environment: Dask's nanny starts each worker with
    ``MALLOC_TRIM_THRESHOLD_=65536`` (distributed's ``nanny.pre-spawn-environ``), which also
    fixes the mmap threshold at 128 KiB, so each such temporary is a fresh ``mmap`` faulted in
    page by page: 50,000 faults and 0.43 s of CPU for a 250,000 x 100 chunk of a logistic
    Newton step in 2 MiB row blocks, 0.22 s with the memory kept (benchmarks/DASK.md). Does
    nothing where funcad's tuning is applied, outside glibc, or where neither threshold is set
    in the environment (glibc then adapts its mmap threshold to such loops by itself). Blocks may
    nest and run in several threads: the first to enter raises the thresholds, the last to
    leave restores them."""
    global _kept
    env = os.environ
    if (applied or not sys.platform.startswith("linux")
            or not ("MALLOC_TRIM_THRESHOLD_" in env or "MALLOC_MMAP_THRESHOLD_" in env)):
        yield
        return
    try:
        libc = ctypes.CDLL(None)
        mallopt, trim = libc.mallopt, libc.malloc_trim
    except (OSError, AttributeError):
        yield
        return
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    with _kept_lock:
        _kept += 1
        if _kept == 1:
            mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
            mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    try:
        yield
    finally:
        with _kept_lock:
            _kept -= 1
            if _kept == 0:
                mallopt(M_MMAP_THRESHOLD, _env_int("MALLOC_MMAP_THRESHOLD_", _DEFAULT_MMAP_THRESHOLD))
                mallopt(M_TRIM_THRESHOLD, _env_int("MALLOC_TRIM_THRESHOLD_", 2 * _DEFAULT_MMAP_THRESHOLD))
                trim(ctypes.c_size_t(0))


def _env_int(name: str, default: int) -> int:
    try:
        return int(os.environ[name])
    except (KeyError, ValueError):
        return default
