"""funcad's compiler: jaxpr -> simplify -> fuse -> the table backend -> one llvmlite module.

simplify.py (IR passes), fusion.py (loop-nest clusters), codegen.py (a fused kernel's loops as
loopir.py's IR, elementwise rules from lowering.py), loopir.py (that IR written as LLVM IR),
table.py and table_*.py (a program as a table of kernel calls: matrix products, LAPACK, control
flow, host steps), table_random.py and table_random_ir.py (funcad.random's kernels),
cache.py (the disk cache), dispatch.py (compile once, call fast).
"""
