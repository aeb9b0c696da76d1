"""funcad's compiler: jaxpr -> simplify -> fuse -> ONE generated Python source -> numba.njit.

simplify.py (IR passes), fusion.py (loop-nest clusters), lowering.py (each primitive's
Numba form, a table keyed by primitive), codegen.py (the source), cache.py (the disk cache of
generated modules), dispatch.py (compile once, call fast), runtime.py (what generated
modules import). Nothing here imports Numba until the first program is compiled.
"""
