"""``funcad.autograd.scipy.stats.t``: funcad.scipy.stats.t's functions as a module."""

from .._delegate import delegate as _delegate

__getattr__ = _delegate("t")
