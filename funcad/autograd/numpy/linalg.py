"""``funcad.autograd.numpy.linalg``: funcad.numpy.linalg under autograd's module name."""

from ...numpy import linalg as _linalg
from ...numpy.linalg import *  # noqa: F401,F403


def __getattr__(name):
    return getattr(_linalg, name)
