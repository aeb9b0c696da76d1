"""funcad.scipy: differentiable versions of SciPy functions (linalg, signal, special, stats)."""

from . import special  # noqa: F401  (first: stats uses it)
from . import linalg, signal, stats  # noqa: F401
