"""What generated programs import at run time: calls into NumPy implementations.

``CALLS`` maps a stable key (the primitive's name and a hash of its params, see
lowering.register_call) to ``(primitive, params, output dtypes)``; the code generator fills it before the
program module is imported, in every process, so a program loaded from the disk cache finds
its entries.
"""

from __future__ import annotations

import numpy as np

CALLS: dict = {}


def call(key: str, *args):
    """Run a primitive's NumPy implementation; return each output as a flat C-contiguous array."""
    prim, params, dtypes = CALLS[key]
    out = prim.impl(*args, **params)
    outs = out if prim.multiple_results else (out,)
    flat = tuple(np.ascontiguousarray(np.asarray(o), dtype=dt).reshape(-1) for o, dt in zip(outs, dtypes))
    return flat
