"""``funcad.autograd.scipy.stats.logistic``: funcad.scipy.stats.logistic's functions as a module."""

from .._delegate import delegate as _delegate

__getattr__ = _delegate("logistic")
