"""Modules imported at their first use rather than by ``import funcad``."""

from __future__ import annotations

import importlib


class LazyModule:
    """The module ``name``, imported when an attribute is first read: ``sp =
    LazyModule("scipy.sparse")`` at the top of a module, ``sp.csr_matrix(...)`` in its
    functions. SciPy's special, linalg and sparse took ~0.35 s of CPU of ``import funcad``
    (with numpy.f2py and numpy.testing, which they pull in through scipy._lib._array_api)
    though most programs call none of them.

    >>> sc = LazyModule("scipy.special")
    >>> float(sc.expit(0.0))
    0.5
    """

    def __init__(self, name: str):
        self._name = name

    def __getattr__(self, attr):
        value = getattr(importlib.import_module(self._name), attr)
        setattr(self, attr, value)  # read directly from then on
        return value

    def __repr__(self):
        return f"<lazily imported module {self._name!r}>"
