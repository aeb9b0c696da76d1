"""``funcad.autograd.numpy``: funcad.numpy under autograd's module name, with ``random``
passing through to NumPy's (random numbers have no derivative), ``linalg`` and ``fft``.

>>> import funcad.autograd.numpy as np
>>> import funcad.autograd.numpy.random as npr
>>> float(np.sum(np.tanh(npr.RandomState(0).randn(3)) * 0.0))
0.0
"""

from __future__ import annotations

from ... import numpy as _fnp
from ...numpy import *  # noqa: F401,F403
from . import fft, linalg, random  # noqa: F401


def __getattr__(name):
    try:
        return getattr(_fnp, name)
    except AttributeError:
        raise AttributeError(f"funcad.autograd.numpy (funcad.numpy) has no attribute {name!r}: "
                             "funcad does not provide it yet.") from None
