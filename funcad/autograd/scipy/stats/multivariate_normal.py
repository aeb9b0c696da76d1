"""``funcad.autograd.scipy.stats.multivariate_normal``: funcad.scipy.stats.multivariate_normal's
functions as a module."""

from .._delegate import delegate as _delegate

__getattr__ = _delegate("multivariate_normal")
