"""``funcad.autograd.scipy.stats.chi2``: funcad.scipy.stats.chi2's functions as a module."""

from .._delegate import delegate as _delegate

__getattr__ = _delegate("chi2")
