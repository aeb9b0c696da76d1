"""``funcad.autograd.tracer``: the names of autograd's tracer module that programs use outside
autograd's internals: ``getval`` (a value with the derivative dropped), ``isbox``,
``primitive`` and ``notrace_primitive``.

autograd's ``getval(x)`` unboxes ``x``: the result is the plain value, constant to every
derivative being taken. Here it is :func:`funcad.lax.stop_gradient`: outside ``jit`` and
``vmap`` the result is a concrete NumPy array, as autograd's (it may go to plain NumPy, to
``float`` or to an ``if``); under ``jit`` it stays traced, with a zero derivative. Its
``Node``/``Box``/``trace`` (the machinery of autograd's ``print_trace.py`` and
``dot_graph.py`` examples) have no counterpart: funcad's trace of a function is
:func:`funcad.make_jaxpr`, drawn by :func:`funcad.viz.graph`.

>>> import numpy
>>> import funcad.autograd.numpy as np
>>> from funcad.autograd import grad
>>> from funcad.autograd.tracer import getval, isbox
>>> def f(x):
...     scale = getval(x)                      # no derivative through the scale
...     assert isbox(x) and isinstance(scale, numpy.ndarray)
...     return np.sum(x * scale)
>>> grad(f)(np.array([1.0, 2.0]))
array([1., 2.])
"""

from __future__ import annotations

from ..core import Tracer
from ..lax.elementwise import stop_gradient
from .extend import notrace_primitive, primitive

__all__ = ["getval", "isbox", "primitive", "notrace_primitive"]


def getval(x):
    """``x`` without its derivative (autograd's unboxing): concrete outside ``jit``/``vmap``."""
    return stop_gradient(x)


def isbox(x) -> bool:
    """Whether ``x`` is a traced value (autograd's ``Box``: being differentiated), rather than
    a plain array or number."""
    return isinstance(x, Tracer)
