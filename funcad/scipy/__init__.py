"""funcad.scipy: differentiable versions of SciPy functions (integrate, linalg, special, stats)."""

from . import integrate, linalg, special, stats  # noqa: F401
