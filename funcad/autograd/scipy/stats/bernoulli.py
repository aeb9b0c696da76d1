"""``funcad.autograd.scipy.stats.bernoulli``: funcad.scipy.stats.bernoulli's functions as a module."""

from .._delegate import delegate as _delegate

__getattr__ = _delegate("bernoulli")
