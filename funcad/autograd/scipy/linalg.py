"""``funcad.autograd.scipy.linalg``: funcad.scipy.linalg under autograd's module name."""

import importlib as _importlib

_mod = _importlib.import_module("funcad.scipy.linalg")
globals().update({k: v for k, v in vars(_mod).items() if not k.startswith("_")})


def __getattr__(name):
    return getattr(_mod, name)
