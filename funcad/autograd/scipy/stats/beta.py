"""``funcad.autograd.scipy.stats.beta``: funcad.scipy.stats.beta's functions as a module."""

from .._delegate import delegate as _delegate

__getattr__ = _delegate("beta")
