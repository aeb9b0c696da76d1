"""``funcad.autograd.numpy.random``: NumPy's random module itself, as in autograd."""

from numpy.random import *  # noqa: F401,F403
from numpy.random import RandomState, default_rng, seed  # noqa: F401
