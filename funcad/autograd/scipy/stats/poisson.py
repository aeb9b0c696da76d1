"""``funcad.autograd.scipy.stats.poisson``: funcad.scipy.stats.poisson's functions as a module."""

from .._delegate import delegate as _delegate

__getattr__ = _delegate("poisson")
