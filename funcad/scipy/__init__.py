"""funcad.scipy: differentiable versions of SciPy functions (linalg, signal, special, stats)."""

from . import (  # noqa: F401
    linalg,
    signal,
    special,  # noqa: F401  (first: stats uses it)
    stats,
)
