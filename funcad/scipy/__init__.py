"""funcad.scipy: differentiable versions of SciPy functions (integrate, linalg, optimize, signal, special,
stats)."""

from . import special  # noqa: F401  (first: stats uses it)
from . import integrate, linalg, optimize, signal, stats  # noqa: F401
