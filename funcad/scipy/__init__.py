"""funcad.scipy: differentiable versions of SciPy functions (integrate, linalg, signal, special, stats)."""

from . import special  # noqa: F401  (first: stats uses it)
from . import integrate, linalg, signal, stats  # noqa: F401
