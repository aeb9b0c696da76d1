"""BLAS policy of the table backend's matrix products."""

from __future__ import annotations

# A reduction-shaped product (``X.T @ Y`` over many rows into a small result: a Hessian, a
# Gram matrix) runs on one OpenBLAS thread (the table backend's Gemm). OpenBLAS's
# threads split the small result and meet at a barrier (spin-waiting) after every block of the
# long inner dimension: on this 2-core machine, shared, X.T @ Y for 400,000 x 50 took 2.2-13 s
# on two threads against 0.3 s on one (10-30x the CPU time), and the logistic Newton step's
# Hessian with it.
TALL_K = 16  # k >= 16 max(m, n) ...
SMALL_MN = 1 << 16  # ... and m n <= 65536 (a 256 x 256 result)


def tall_product(m: int, n: int, k: int) -> bool:
    """Whether ``m x k @ k x n`` is reduction-shaped (one BLAS thread: see TALL_K)."""
    return k >= TALL_K * max(m, n) and m * n <= SMALL_MN
