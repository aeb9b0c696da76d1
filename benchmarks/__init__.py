"""funcad's side-by-side benchmarks against JAX, PyTensor, PyTorch, autograd and hand NumPy.

Run ``python -m benchmarks --help``; the method and the exact command are in README.md.
Nothing here imports funcad or any peer at import time.
"""
