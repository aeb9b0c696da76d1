"""The ``numpy.ndarray`` methods and attributes of traced values.

Inside a transformed function an array is a tracer; its methods are funcad.numpy's functions,
so ``x.std()``, ``x.cumsum(0)`` or ``x.clip(0, 1)`` differentiate, batch and compile. Where
NumPy's method mutates (``sort``), the method returns a new array, as JAX's do (traced
values are immutable). ``item()`` and ``tolist()`` need a concrete value.
"""

from __future__ import annotations

from ..core import Tracer
from . import clip, conj, copy, dot, imag, mean, prod, ravel, real, round, squeeze, swapaxes
from . import max as _max
from . import min as _min
from . import sum as _sum
from ._array import fresh
from ._shape_ops import diagonal, repeat, take, trace
from ._stats import all, any, argmax, argmin, argsort, cumprod, cumsum, ptp, sort, std, var


def _method_clip(self, min=None, max=None, *, a_min=None, a_max=None):
    return clip(self, a_min if a_min is not None else min, a_max if a_max is not None else max)


def _method_sort(self, axis=-1, kind=None, order=None, *, stable=None):
    return sort(self, axis, kind, order)


def _method_argsort(self, axis=-1, kind=None, order=None, *, stable=None):
    return argsort(self, axis, kind, order)


def _method_nonzero(self):
    from . import nonzero

    return nonzero(self)


def _method_searchsorted(self, v, side="left", sorter=None):
    from . import searchsorted

    return searchsorted(self, v, side, sorter)


def _method_tolist(self):
    return self._concrete("tolist()").tolist()


METHODS = {
    "sum": _sum, "mean": mean, "prod": prod, "max": _max, "min": _min, "std": std, "var": var,
    "ptp": ptp, "argmax": argmax, "argmin": argmin, "cumsum": cumsum, "cumprod": cumprod,
    "round": round, "any": any, "all": all, "copy": copy, "sort": _method_sort,
    "argsort": _method_argsort, "trace": trace, "diagonal": diagonal, "repeat": repeat,
    "take": take, "conj": conj, "conjugate": conj, "clip": _method_clip, "dot": dot,
    "flatten": lambda self, order="C": fresh(ravel(self)), "ravel": ravel,
    "squeeze": squeeze, "swapaxes": swapaxes,
    "nonzero": _method_nonzero, "searchsorted": _method_searchsorted, "tolist": _method_tolist,
}

for _name, _fn in METHODS.items():
    setattr(Tracer, _name, _fn)

Tracer.real = property(real)
Tracer.imag = property(imag)
Tracer.itemsize = property(lambda self: self.aval.dtype.itemsize)
Tracer.nbytes = property(lambda self: self.aval.size * self.aval.dtype.itemsize)


