"""NumPy names funcad does not implement: attribute access gives a stand-in that raises
:class:`~funcad.errors.UnsupportedFunctionError` (a clear "not supported") when called.

``funcad.numpy.fft.fft`` and ``funcad.numpy.linalg.eig`` resolve the same way, so ported
code fails at the call that needs a missing function, with its full NumPy name.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys

import numpy as _np

from .. import core
from ..core import Tracer
from ..errors import UnsupportedFunctionError


class Unsupported:
    """A NumPy function or submodule that funcad.numpy does not provide."""

    __slots__ = ("name",)

    def __init__(self, name: str):
        self.name = name

    def __call__(self, *args, **kwargs):
        if self.name.startswith("numpy.random."):
            fn = self.name.rsplit(".", 1)[1]
            raise UnsupportedFunctionError(
                f"{self.name} is not supported by funcad: use funcad.random, JAX's counter-based "
                f"random numbers with explicit keys (key = funcad.random.key(0); "
                f"funcad.random.{fn}(key, shape) where it exists; split the key for new "
                "numbers). NumPy's global random state inside jit would be drawn once at trace "
                "time and frozen into the compiled program.")
        raise UnsupportedFunctionError(
            f"{self.name} is not supported by funcad: funcad.numpy implements NumPy's array "
            "functions that have derivatives (see funcad.numpy.__all__). Compose it from "
            "supported functions, or call NumPy outside transformed functions.")

    def __getattr__(self, attr):
        if attr.startswith("__"):
            raise AttributeError(attr)
        return Unsupported(f"{self.name}.{attr}")

    def __repr__(self):
        return f"<unsupported {self.name}>"


def make_getattr(module_name: str, numpy_module):
    """A module ``__getattr__``: public names of ``numpy_module`` become :class:`Unsupported`."""
    prefix = "numpy" + module_name[len("funcad.numpy"):]

    def __getattr__(name):
        if name.startswith("_"):
            raise AttributeError(f"module {module_name!r} has no attribute {name!r}")
        # A real submodule (funcad.numpy.linalg) is imported, never shadowed: `from . import
        # linalg` consults the package's attributes first.
        module = sys.modules[module_name]
        if hasattr(module, "__path__") and importlib.util.find_spec(f"{module_name}.{name}") is not None:
            return importlib.import_module(f"{module_name}.{name}")
        if hasattr(numpy_module, name):
            return Unsupported(f"{prefix}.{name}")
        raise AttributeError(f"module {module_name!r} has no attribute {name!r}")

    return __getattr__


_ = _np


def numpy_only(np_fn, why="it has no derivative and no traceable form in funcad"):
    """NumPy's ``np_fn`` on concrete values. Traced integer/bool values run on their concrete
    value (nothing to differentiate); traced floats are refused (a derivative would be lost)."""
    name = np_fn.__name__

    def f(*args, **kwargs):
        leaves = [*args, *kwargs.values()]
        leaves = [y for x in leaves for y in (x if isinstance(x, list | tuple) else [x])]
        conc = {}
        for x in leaves:
            if isinstance(x, Tracer):
                if x.aval.dtype.kind in "fc" or core.maybe_concrete(x) is None:
                    raise UnsupportedFunctionError(
                        f"funcad.numpy.{name} was called on a traced value (shape {x.aval.shape}, "
                        f"dtype {x.aval.dtype}) inside a transformation: {why}. Call it outside "
                        "the transformed function, or compose it from supported functions.")
                conc[id(x)] = _np.asarray(core.maybe_concrete(x))

        def c(x):
            if isinstance(x, list | tuple):
                return type(x)(c(y) for y in x)
            return conc.get(id(x), x)

        return np_fn(*[c(x) for x in args], **{k: c(v) for k, v in kwargs.items()})

    f.__name__ = name
    f._funcad_numpy_only = True
    f.__doc__ = (f"``numpy.{name}`` on concrete values (NumPy's own; {why}: on a traced float "
                 "value it raises UnsupportedFunctionError).")
    return f
