"""``funcad.autograd.numpy.fft``: funcad.numpy.fft under autograd's module name."""

from ...numpy import fft as _fft
from ...numpy.fft import *  # noqa: F401,F403


def __getattr__(name):
    return getattr(_fft, name)
