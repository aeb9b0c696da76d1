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

import ctypes
import os
import sys

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
