"""``funcad.autograd.scipy.stats.norm``: funcad.scipy.stats.norm's functions as a module."""

from .._delegate import delegate as _delegate

__getattr__ = _delegate("norm")
