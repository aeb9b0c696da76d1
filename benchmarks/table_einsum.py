"""Where ``?gemm`` beats a loop nest for batched matrix products on the table backend
(backend/table_einsum.py's GEMM_MIN): per-call CPU time of ``x @ y`` for stacks of s x s
matrices (about 2^18 multiply-adds per call), each size compiled both ways in one process.

    python -m benchmarks.table_einsum
"""

from __future__ import annotations

import os
import time

import numpy as np


def main() -> None:
    os.environ["FUNCAD_JIT_BACKEND"] = "table"
    import funcad as fa
    from funcad.backend import table_einsum

    print("  s  batch  gemm us  loops us  loops/gemm")
    for s in (2, 4, 8, 12, 16, 24, 32, 48):
        batch = max(1, 2 ** 18 // s ** 3)
        rng = np.random.default_rng(0)
        x, y = rng.normal(size=(batch, s, s)), rng.normal(size=(batch, s, s))
        best = {}
        for way, gemm_min in (("gemm", 0), ("loops", 1 << 62)):
            table_einsum.GEMM_MIN = gemm_min
            f = fa.jit(lambda a, b: a @ b)
            f(x, y)
            times = []
            for _ in range(7):
                c = time.process_time()
                for _ in range(20):
                    f(x, y)
                times.append((time.process_time() - c) / 20)
            best[way] = min(times) * 1e6
        gemm, loops = best["gemm"], best["loops"]
        print(f"{s:3d} {batch:6d} {gemm:8.0f} {loops:9.0f} {loops / gemm:10.2f}")


if __name__ == "__main__":
    main()
