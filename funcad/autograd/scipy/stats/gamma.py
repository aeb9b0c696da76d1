"""``funcad.autograd.scipy.stats.gamma``: funcad.scipy.stats.gamma's functions as a module."""

from .._delegate import delegate as _delegate

__getattr__ = _delegate("gamma")
