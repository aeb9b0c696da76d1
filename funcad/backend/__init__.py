"""funcad's compiler: jaxpr -> simplify -> fuse -> generated Python sources -> numba.njit.

simplify.py (IR passes), fusion.py (loop-nest clusters), lowering.py (each primitive's
Numba form, a table keyed by primitive), codegen.py (a program's source, its loops as
loopir.py's IR), driver.py (a large program as kernel calls), cache.py and nbcache.py (the
disk cache), compile_worker.py (compiling in another process), dispatch.py (compile once,
call fast); generated modules import nbrt.py, vecmath.py, runtime.py and pocketfft.py;
table_random.py and table_random_ir.py are funcad.random's kernels (llvmlite IR, no Numba).
Nothing here imports Numba until the first program is compiled.
"""
