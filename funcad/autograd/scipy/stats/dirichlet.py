"""``funcad.autograd.scipy.stats.dirichlet``: funcad.scipy.stats.dirichlet's functions as a module."""

from .._delegate import delegate as _delegate

__getattr__ = _delegate("dirichlet")
