"""funcad.scipy: differentiable versions of SciPy functions (linalg, special, stats)."""

from . import linalg, special, stats  # noqa: F401
